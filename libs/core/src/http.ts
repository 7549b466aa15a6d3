import { timingSafeEqual } from 'node:crypto';
import { Server as NetServer } from 'node:net';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Readable, type Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { BurnrateError, type ErrorCode, isBurnrateError } from './errors.ts';
import { listenOn, type PortSharing } from './listen.ts';
import type { Logger } from './logger.ts';

/** What a route handler sees of a request; built from node:http or, in tests, from a buffer. */
export interface IncomingRequest {
  method: string;
  /** URL path without the query string, e.g. `/v1/events`. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** Values of `:name` segments in the route path. */
  params: Record<string, string>;
  /** Media type of the body, lower-cased, without parameters (`application/json`); '' when absent. */
  contentType: string;
  /** The peer's address (the socket's, not a forwarded header); '' when unknown (injected requests). */
  remoteAddress: string;
  /**
   * The body, decoded from its Content-Encoding, at most `limitBytes` (the server's limit by
   * default) both on the wire and once decompressed. Throws INPUT_TOO_LARGE past the limit
   * (and stops reading), UNSUPPORTED_MEDIA_TYPE for an unknown encoding, INPUT_INVALID for a
   * corrupt one. Calling it again returns the same bytes.
   */
  body(limitBytes?: number): Promise<Buffer>;
}

export interface HttpResponse {
  status: number;
  headers?: Record<string, string>;
  /** A string or Buffer is sent as it is; anything else is sent as JSON. */
  body?: unknown;
}

export interface Route {
  method: string;
  /** Exact path; a `:name` segment matches any one segment and lands in `req.params.name`. */
  path: string;
  handler(req: IncomingRequest): Promise<HttpResponse>;
}

export type RequestHandler = (req: IncomingRequest) => Promise<HttpResponse>;

/** Every error response has this body. `details` is present only on 4xx, never on 5xx. */
export interface ErrorBody {
  error: { code: string; message: string; retriable: boolean; details?: Record<string, unknown> };
}

const CLIENT_ERROR_STATUS: Partial<Record<ErrorCode, number>> = {
  INPUT_INVALID: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  INPUT_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
};

// Their own messages may name hosts and brokers, so the client gets a fixed sentence instead.
const UNAVAILABLE_MESSAGE: Partial<Record<ErrorCode, string>> = {
  SHUTTING_DOWN: 'the server is shutting down; retry later',
  STARTING: 'the server is starting (taking over from the previous process); retry in a few seconds',
  BUS_UNAVAILABLE: 'the event bus is unavailable, so nothing from this request was stored; retry later',
  STORE_UNAVAILABLE: 'the store is unavailable; retry later',
};

export const DEFAULT_BODY_LIMIT_BYTES = 5 * 1024 * 1024;

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers, body };
}

/**
 * Turns anything a handler threw into a response. Client errors keep their message and details;
 * everything else is logged with its cause and answered with a fixed message, so internals
 * (SQL, hosts, stack traces) never reach the client.
 */
export function errorResponse(err: unknown, log?: Logger): HttpResponse {
  if (isBurnrateError(err)) {
    const status = CLIENT_ERROR_STATUS[err.code];
    if (status !== undefined) {
      const headers: Record<string, string> = status === 401 ? { 'www-authenticate': 'Bearer' } : {};
      const error: ErrorBody['error'] = { code: err.code, message: err.message, retriable: false };
      if (err.details) error.details = err.details;
      return { status, headers, body: { error } satisfies ErrorBody };
    }
    if (err.code === 'RATE_LIMITED') {
      // 429 with Retry-After: every HTTP client and OTLP exporter backs off on it and retries.
      const seconds = String(Math.max(1, Math.ceil((err.retryAfterMs ?? 1000) / 1000)));
      return {
        status: 429,
        headers: { 'retry-after': seconds },
        body: { error: { code: err.code, message: err.message, retriable: true } } satisfies ErrorBody,
      };
    }
    const unavailable = UNAVAILABLE_MESSAGE[err.code];
    if (unavailable !== undefined) {
      log?.warn({ err }, 'request failed: dependency unavailable');
      const headers: Record<string, string> = {};
      if (err.retryAfterMs !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(err.retryAfterMs / 1000)));
      return { status: 503, headers, body: { error: { code: err.code, message: unavailable, retriable: true } } satisfies ErrorBody };
    }
  }
  log?.error({ err }, 'request failed with an internal error');
  return { status: 500, body: { error: { code: 'INTERNAL', message: 'internal error', retriable: false } } satisfies ErrorBody };
}

function splitPath(path: string): string[] {
  return path.split('/').filter((s) => s.length > 0);
}

function matchPath(pattern: readonly string[], actual: readonly string[]): Record<string, string> | undefined {
  if (pattern.length !== actual.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, seg] of pattern.entries()) {
    const got = actual[i] as string;
    if (seg.startsWith(':')) {
      try {
        params[seg.slice(1)] = decodeURIComponent(got);
      } catch {
        return undefined;
      }
    } else if (seg !== got) return undefined;
  }
  return params;
}

/**
 * Dispatches to the first route whose method and path match. A known path with another method
 * is a 405 with `Allow`; anything else a 404. Errors thrown by handlers become error responses.
 */
export function createRouter(routes: readonly Route[], options: { log?: Logger } = {}): RequestHandler {
  const route = createRouting(routes, options);
  return async (req) => (await route(req)).response;
}

/** The label of requests no route matched: their paths are whatever clients send, so they share one. */
export const UNMATCHED_ROUTE = '(unmatched)';

/** The router's answer with the path pattern that matched (`/api/anomalies/:id`), or UNMATCHED_ROUTE. */
function createRouting(
  routes: readonly Route[],
  options: { log?: Logger },
): (req: IncomingRequest) => Promise<{ response: HttpResponse; route: string }> {
  const compiled = routes.map((route) => ({ route, method: route.method.toUpperCase(), segments: splitPath(route.path) }));
  const answer = async (req: IncomingRequest): Promise<{ response: HttpResponse; route: string }> => {
    const actual = splitPath(req.path);
    const allowed: string[] = [];
    for (const { route, method, segments } of compiled) {
      const params = matchPath(segments, actual);
      if (!params) continue;
      if (method !== req.method.toUpperCase()) {
        allowed.push(method);
        continue;
      }
      try {
        return { response: await route.handler({ ...req, params }), route: route.path };
      } catch (err) {
        return { response: errorResponse(err, options.log), route: route.path };
      }
    }
    if (allowed.length > 0) {
      const response = jsonResponse(
        405,
        {
          error: {
            code: 'METHOD_NOT_ALLOWED',
            message: `${req.method} is not allowed on ${req.path}; use ${allowed.join(' or ')}`,
            retriable: false,
          },
        },
        { allow: allowed.join(', ') },
      );
      return { response, route: UNMATCHED_ROUTE };
    }
    return {
      response: jsonResponse(404, { error: { code: 'NOT_FOUND', message: `no route for ${req.method} ${req.path}`, retriable: false } }),
      route: UNMATCHED_ROUTE,
    };
  };
  return answer;
}

/** `application/json; charset=utf-8` → `application/json`. */
export function mediaType(headers: IncomingHttpHeaders): string {
  const raw = headers['content-type'];
  return (raw ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

const ENCODINGS = ['identity', 'gzip', 'deflate', 'br'] as const;
type Encoding = (typeof ENCODINGS)[number];

function contentEncoding(headers: IncomingHttpHeaders): Encoding {
  const raw = (headers['content-encoding'] ?? '').trim().toLowerCase();
  if (raw === '' || raw === 'identity') return 'identity';
  if (raw === 'x-gzip') return 'gzip';
  if ((ENCODINGS as readonly string[]).includes(raw)) return raw as Encoding;
  throw new BurnrateError('UNSUPPORTED_MEDIA_TYPE', `Content-Encoding "${raw}" is not supported; send ${ENCODINGS.join(', ')}`, {
    details: { accepted_encodings: [...ENCODINGS] },
  });
}

function decoderFor(encoding: Encoding): Transform | undefined {
  switch (encoding) {
    case 'gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    case 'identity':
      return undefined;
  }
}

function tooLarge(limitBytes: number, decompressed: boolean): BurnrateError {
  const what = decompressed ? 'once decompressed' : 'on the wire';
  return new BurnrateError(
    'INPUT_TOO_LARGE',
    `request body exceeds the limit of ${limitBytes} bytes ${what}; split it into smaller requests`,
    {
      details: { limit_bytes: limitBytes },
    },
  );
}

/**
 * Reads a request body into memory, decoding gzip, deflate or br. The limit applies to the bytes
 * received and to the bytes decompressed, and reading stops as soon as either passes it, so
 * neither a huge upload nor a small zip bomb can make the process buffer more than the limit.
 * The stream is paused, not destroyed, on error: destroying an IncomingMessage destroys its
 * socket, and the client would never see the 413.
 */
export function readBody(stream: Readable, headers: IncomingHttpHeaders, limitBytes: number): Promise<Buffer> {
  const encoding = contentEncoding(headers);
  const declared = Number(headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) return Promise.reject(tooLarge(limitBytes, false));

  return new Promise<Buffer>((resolve, reject) => {
    const decoder = decoderFor(encoding);
    const chunks: Buffer[] = [];
    let wireBytes = 0;
    let bodyBytes = 0;
    let settled = false;

    const finish = (err: BurnrateError | undefined): void => {
      if (settled) return;
      settled = true;
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
      if (err) {
        stream.pause();
        decoder?.destroy();
        reject(err);
      } else resolve(Buffer.concat(chunks, bodyBytes));
    };
    const collect = (chunk: Buffer): void => {
      if (settled) return;
      bodyBytes += chunk.length;
      if (bodyBytes > limitBytes) finish(tooLarge(limitBytes, decoder !== undefined));
      else chunks.push(chunk);
    };
    const onData = (chunk: Buffer): void => {
      wireBytes += chunk.length;
      if (wireBytes > limitBytes) return finish(tooLarge(limitBytes, false));
      if (!decoder) return collect(chunk);
      if (!decoder.write(chunk)) {
        stream.pause();
        decoder.once('drain', () => {
          if (!settled) stream.resume();
        });
      }
    };
    const onEnd = (): void => {
      if (decoder) decoder.end();
      else finish(undefined);
    };
    const onError = (err: Error): void => {
      finish(new BurnrateError('INPUT_INVALID', `could not read the request body: ${err.message}`, { cause: err }));
    };
    const onClose = (): void => {
      if (!stream.readableEnded)
        finish(new BurnrateError('INPUT_INVALID', 'the client closed the connection before the request body was complete'));
    };

    if (decoder) {
      decoder.on('data', collect);
      decoder.on('end', () => finish(undefined));
      decoder.on('error', (err: Error) => {
        finish(
          new BurnrateError('INPUT_INVALID', `request body is not valid ${encoding} data (Content-Encoding: ${encoding}): ${err.message}`, {
            cause: err,
          }),
        );
      });
    }
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
  });
}

function toIncomingRequest(
  method: string,
  url: string,
  headers: IncomingHttpHeaders,
  stream: Readable,
  defaultLimit: number,
  remoteAddress = '',
): IncomingRequest {
  const parsed = new URL(url, 'http://localhost');
  let body: Promise<Buffer> | undefined;
  return {
    method: method.toUpperCase(),
    path: parsed.pathname,
    query: parsed.searchParams,
    headers,
    params: {},
    contentType: mediaType(headers),
    remoteAddress,
    body: (limitBytes = defaultLimit) => {
      body ??= readBody(stream, headers, limitBytes);
      return body;
    },
  };
}

function serialise(res: HttpResponse): { status: number; headers: Record<string, string>; body: Buffer } {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers ?? {})) headers[k.toLowerCase()] = v;
  let body: Buffer;
  if (res.body === undefined) body = Buffer.alloc(0);
  else if (Buffer.isBuffer(res.body)) {
    body = res.body;
    headers['content-type'] ??= 'application/octet-stream';
  } else if (typeof res.body === 'string') {
    body = Buffer.from(res.body, 'utf8');
    headers['content-type'] ??= 'text/plain; charset=utf-8';
  } else {
    body = Buffer.from(JSON.stringify(res.body), 'utf8');
    headers['content-type'] ??= 'application/json';
  }
  headers['content-length'] = String(body.length);
  return { status: res.status, headers, body };
}

export interface InjectRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** The peer address the request seems to come from (default 127.0.0.1). */
  remoteAddress?: string;
}

export interface InjectedResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  text(): string;
  json<T = unknown>(): T;
}

/** One request served, as the metrics count it: `route` is the matched pattern, never the raw path. */
export interface ServedRequest {
  method: string;
  route: string;
  status: number;
  seconds: number;
}

export interface HttpAppOptions {
  routes: readonly Route[];
  log: Logger;
  /** Default limit for request bodies; a route may ask for another one through `req.body(limit)`. */
  bodyLimitBytes?: number;
  /** Told of every request served over a socket, once its answer is written (the latency histograms). */
  observe?: (request: ServedRequest) => void;
}

export interface HttpApp {
  handle: RequestHandler;
  /** The node:http request listener; `closeConnection` is asked when the response is written. */
  listener(req: IncomingMessage, res: ServerResponse, options?: { closeConnection?: () => boolean }): Promise<void>;
  /** Runs a request through the routes without a socket (bodies still go through readBody). */
  inject(req: InjectRequest): Promise<InjectedResponse>;
}

/** The routes and their HTTP plumbing, without a server, so tests run requests in memory. */
export function createHttpApp(options: HttpAppOptions): HttpApp {
  const limit = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  const log = options.log;
  const routing = createRouting(options.routes, { log });
  const route = async (req: IncomingRequest): Promise<{ response: HttpResponse; route: string }> => {
    try {
      return await routing(req);
    } catch (err) {
      return { response: errorResponse(err, log), route: UNMATCHED_ROUTE };
    }
  };
  const handle: RequestHandler = async (req) => (await route(req)).response;

  const listener = async (req: IncomingMessage, res: ServerResponse, opts: { closeConnection?: () => boolean } = {}): Promise<void> => {
    const started = performance.now();
    let response: HttpResponse;
    let pattern = UNMATCHED_ROUTE;
    try {
      const routed = await route(toIncomingRequest(req.method ?? 'GET', req.url ?? '/', req.headers, req, limit, req.socket.remoteAddress));
      response = routed.response;
      pattern = routed.route;
    } catch (err) {
      response = errorResponse(err, log);
    }
    const out = serialise(response);
    // Once the server is closing, kept-alive clients must go away. A refused body still being
    // sent is not a reason to close: the parser frames it, and lingerThenClose drains it (bounded)
    // so the client gets to read our answer.
    if (opts.closeConnection?.()) out.headers.connection = 'close';
    if (!res.headersSent && !res.destroyed) {
      res.writeHead(out.status, out.headers);
      res.end(out.body);
    }
    if (!req.complete) lingerThenClose(req);
    const seconds = (performance.now() - started) / 1000;
    options.observe?.({ method: (req.method ?? 'GET').toUpperCase(), route: pattern, status: out.status, seconds });
    log.debug({ method: req.method, path: req.url, status: out.status, ms: Math.round(seconds * 1000) }, 'http request');
  };

  const inject = async (req: InjectRequest): Promise<InjectedResponse> => {
    const headers: IncomingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers ?? {})) headers[k.toLowerCase()] = v;
    const payload = req.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body, 'utf8');
    headers['content-length'] ??= String(payload.length);
    const response = await handle(
      toIncomingRequest(req.method, req.url, headers, Readable.from([payload]), limit, req.remoteAddress ?? '127.0.0.1'),
    );
    const out = serialise(response);
    return {
      status: out.status,
      headers: out.headers,
      body: out.body,
      text: () => out.body.toString('utf8'),
      json: <T>() => JSON.parse(out.body.toString('utf8')) as T,
    };
  };

  return { handle, listener, inject };
}

const LINGER_MS = 5_000;
const LINGER_MAX_BYTES = 64 * 1024 * 1024;

/**
 * A client still sending a body we refused (413, 415) only reads our answer once its write is
 * done; closing the socket under it turns the 413 into EPIPE / ECONNRESET on its side. So, like
 * web servers' lingering close, read and discard the rest for a bounded time and size, then cut.
 */
function lingerThenClose(req: IncomingMessage): void {
  let discarded = 0;
  const cut = (): void => {
    clearTimeout(timer);
    req.socket.destroy();
  };
  const timer = setTimeout(cut, LINGER_MS);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > LINGER_MAX_BYTES) cut();
  });
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
  req.resume();
}

export interface HttpServerOptions extends HttpAppOptions {
  /** How long close() waits for in-flight requests before cutting connections; default 10 s. */
  shutdownGraceMs?: number;
}

export interface HttpServer {
  server: Server;
  app: HttpApp;
  /** Resolves with the bound port (useful with port 0); `sharing` as listenOn takes it. */
  listen(port: number, host?: string, sharing?: PortSharing): Promise<{ port: number }>;
  /**
   * Stops accepting connections, answers requests that arrive on kept-alive connections with 503
   * SHUTTING_DOWN, waits for in-flight requests (up to the grace period), then resolves.
   */
  close(): Promise<void>;
  /**
   * Closes for a successor that already listens on the port: stops accepting connections, but
   * serves every request still arriving on a kept-alive connection, answered with `Connection:
   * close` so the client opens its next one to the successor. An idle kept-alive connection is
   * left to its keep-alive timeout (clients give it up a second before), since closing it now
   * could cross a request the client is sending on it. Resolves when every connection is gone
   * (up to the grace period); a close() meanwhile waits for the same.
   */
  handOver(): Promise<void>;
}

export function createHttpServer(options: HttpServerOptions): HttpServer {
  const app = createHttpApp(options);
  const log = options.log;
  const graceMs = options.shutdownGraceMs ?? 10_000;
  let closing: Promise<void> | undefined;
  let handingOver = false;

  const server = createServer((req, res) => {
    if (closing && !handingOver) {
      const out = serialise(errorResponse(new BurnrateError('SHUTTING_DOWN', 'server is closing')));
      res.writeHead(out.status, { ...out.headers, connection: 'close' });
      res.end(out.body);
      return;
    }
    void app.listener(req, res, { closeConnection: () => closing !== undefined }).catch((err: unknown) => {
      log.error({ err }, 'http listener failed');
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });

  const listen = async (port: number, host = '127.0.0.1', sharing: PortSharing = 'exclusive'): Promise<{ port: number }> => ({
    port: await listenOn(server, port, host, sharing),
  });

  const stop = (closeIdle: boolean): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      const timer = setTimeout(() => {
        log.warn({ graceMs }, 'http requests still in flight after the grace period; closing their connections');
        server.closeAllConnections();
      }, graceMs);
      timer.unref();
      const closed = (): void => {
        clearTimeout(timer);
        resolve();
      };
      // node:http's close() also cuts idle kept-alive connections; net's stops accepting only.
      if (closeIdle) server.close(closed);
      else NetServer.prototype.close.call(server, closed);
    });
    return closing;
  };

  const handOver = (): Promise<void> => {
    if (closing === undefined) handingOver = true;
    return stop(false);
  };

  return { server, app, listen, close: () => stop(true), handOver };
}

/**
 * Whether the request carries `Authorization: Bearer <token>` (compared in constant time, as the
 * token is a shared secret); false when no token is configured.
 */
export function hasBearerToken(req: Pick<IncomingRequest, 'headers'>, token: string | undefined): boolean {
  if (!token) return false;
  const header = req.headers.authorization ?? '';
  const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/** Whether a listen address is reachable only from this machine. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
