import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitUntil } from './wait-until.ts';

/** One HTTP request a stand-in received, with what it answered and why. */
export interface ReceivedRequest {
  method: string;
  path: string;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: string;
  /** The body parsed as JSON; undefined when it is not JSON. */
  json: unknown;
  /** Size of the body in bytes. */
  bytes: number;
  status: number;
  /** What the stand-in found wrong with the request (empty when it was well formed). */
  problems: string[];
  at: number;
}

/** What the next request(s) answer instead of the normal answer. */
export type HttpFailure = { status: 429; retryAfterSec?: number } | { status: number; body?: string };

export interface HttpAnswer {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  problems?: string[];
}

export interface HttpStandIn {
  /** `http://127.0.0.1:PORT`. */
  origin: string;
  requests: ReceivedRequest[];
  /** Answers the next `n` requests with `failure`, then answers normally again. */
  failNext: (n: number, failure: HttpFailure) => void;
  /** The first request `predicate` accepts, waiting up to `timeoutMs`. */
  waitFor: (predicate: (r: ReceivedRequest) => boolean, timeoutMs?: number) => Promise<ReceivedRequest>;
  close: () => Promise<void>;
}

/**
 * A local HTTP server on 127.0.0.1 (port 0) that records every request and answers with
 * `answer`, or with a queued failure. The base of the provider stand-ins (webhook receiver,
 * PagerDuty, Teams): they check the provider's documented payload shape in `answer`.
 */
export async function startHttpStandIn(
  answer: (request: Omit<ReceivedRequest, 'status' | 'problems' | 'at'>) => HttpAnswer,
): Promise<HttpStandIn> {
  const requests: ReceivedRequest[] = [];
  const failures: HttpFailure[] = [];
  const server = createServer((req, res) => {
    void readBody(req).then(
      (raw) => {
        const body = raw.toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(req.headers)) headers[name] = Array.isArray(value) ? value.join(', ') : (value ?? '');
        const received = { method: req.method ?? '', path: req.url ?? '/', headers, body, json, bytes: raw.length };
        const failure = failures.shift();
        const out: HttpAnswer = failure
          ? {
              status: failure.status,
              body: 'body' in failure && failure.body !== undefined ? failure.body : `stand-in failure ${failure.status}`,
              headers:
                'retryAfterSec' in failure && failure.retryAfterSec !== undefined ? { 'retry-after': String(failure.retryAfterSec) } : {},
            }
          : answer(received);
        requests.push({ ...received, status: out.status, problems: out.problems ?? [], at: Date.now() });
        res.writeHead(out.status, { 'content-type': 'text/plain; charset=utf-8', ...out.headers }).end(out.body ?? '');
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`stand-in failed: ${(err as Error).message}`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    failNext: (n, failure) => {
      for (let i = 0; i < n; i++) failures.push(failure);
    },
    waitFor: (predicate, timeoutMs = 5_000) =>
      waitUntil(() => requests.find(predicate), {
        timeoutMs,
        message: `no request matched within ${timeoutMs} ms (got ${requests.length})`,
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// Far above any provider's limit: a request this large is answered 413, never buffered.
const BODY_MAX = 1024 * 1024;

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > BODY_MAX) throw new Error(`request body over ${BODY_MAX} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A JSON answer. */
export function jsonAnswer(status: number, payload: unknown, problems: string[] = []): HttpAnswer {
  return { status, body: JSON.stringify(payload), headers: { 'content-type': 'application/json; charset=utf-8' }, problems };
}
