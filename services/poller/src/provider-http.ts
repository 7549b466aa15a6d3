import { BurnrateError, type Logger } from '@burnrate/core';

/** One GET against a provider's API: the path, and the query (arrays as repeated `name[]=`). */
export interface ProviderRequest {
  path: string;
  query: URLSearchParams;
}

/** One POST of a JSON body (Cursor's Admin API takes its window and page that way). */
export interface ProviderPost {
  path: string;
  body: unknown;
}

export interface ProviderHttp {
  /**
   * The parsed JSON body of a 2xx (null for a 204 No Content), after waiting out 429s and retrying
   * 5xx; throws a BurnrateError otherwise (its `details.status` is the HTTP status).
   */
  getJson(request: ProviderRequest, signal: AbortSignal): Promise<unknown>;
  /** The same for a POST of `body` as JSON. */
  postJson(request: ProviderPost, signal: AbortSignal): Promise<unknown>;
  /**
   * The text of a file the provider links to by absolute URL (GitHub's signed report links), with
   * the same retry rules but none of the provider's headers: the link carries its own signature,
   * and the key must not travel to another host. Messages name the URL without its query (the
   * signature).
   */
  download(url: string, signal: AbortSignal): Promise<string>;
}

export interface ProviderHttpOptions {
  /** The provider, for messages (`anthropic`, `openai`). */
  provider: string;
  baseUrl: string;
  /** Auth and version headers; their values are never logged or put in an error. */
  headers: Readonly<Record<string, string>>;
  log: Logger;
  /** Waits `ms`, or rejects when `signal` aborts (a shutdown ends a wait at once). Tests pass a recorder. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Uniform in [0, 1), for backoff jitter. */
  random?: () => number;
  /** Tries per request, the first included. */
  maxAttempts?: number;
  /** The longest `Retry-After` waited out inside one poll; a longer one fails the poll, which retries that much later. */
  maxRetryAfterMs?: number;
  timeoutMs?: number;
}

const BACKOFF_BASE_MS = 1_000;
const BACKOFF_CAP_MS = 30_000;
const BODY_EXCERPT = 300;

/**
 * How long a refused request asks to wait, or undefined when it is not a rate limit. A 429, and a
 * 403 that says it is one (GitHub answers its limits so: `x-ratelimit-remaining: 0` until the epoch
 * second `x-ratelimit-reset`, or a secondary limit with `Retry-After`). A 429 without either header
 * is a rate limit of unknown length (the caller backs off as for a 5xx).
 */
export function rateLimitWaitMs(status: number, headers: Headers, nowMs: number): number | undefined {
  if (status !== 429 && status !== 403) return undefined;
  const asked = retryAfterMs(headers.get('retry-after'), nowMs);
  if (asked !== undefined) return asked;
  const reset = Number(headers.get('x-ratelimit-reset') ?? '');
  if (headers.get('x-ratelimit-remaining') === '0' && Number.isFinite(reset) && reset > 0) return Math.max(0, reset * 1000 - nowMs);
  return undefined;
}

/** `Retry-After` in milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, nowMs: number): number | undefined {
  const text = header?.trim() ?? '';
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  // An HTTP date names its weekday and month; anything else (a negative number, nothing) is unreadable.
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

export const abortableSleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Requests with the retry rules the providers ask for: a 429 (or a 403 that says it is a rate
 * limit, `rateLimitWaitMs`) is waited out for as long as it asks (up to `maxRetryAfterMs`; a 429
 * that does not say, as a 5xx), a 5xx, a timeout or a network failure is retried after a
 * full-jitter exponential backoff, so pollers of several Burnrate instances do not retry in step.
 * Anything else (401/403: a wrong or non-admin key; 400, 404) is not retried: the next poll tries
 * again.
 */
export function createProviderHttp(options: ProviderHttpOptions): ProviderHttp {
  const sleep = options.sleep ?? abortableSleep;
  const random = options.random ?? Math.random;
  const maxAttempts = options.maxAttempts ?? 5;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 120_000;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const { provider, log } = options;

  // After the n-th failed try: up to 1 s, 2 s, 4 s… capped, uniformly drawn ("full jitter").
  const backoff = (attempt: number): number => Math.round(random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1)));

  /**
   * Sends one request with the retry rules above and reads a 2xx with `read`. `path` names it in
   * messages, with the start of an error answer unless `quote` is false (a signed link's host may
   * echo the signature).
   */
  const send = async <T>(
    request: { path: string; url: string; init: RequestInit; read: (response: Response) => Promise<T>; quote?: boolean },
    signal: AbortSignal,
  ): Promise<T> => {
    const { path, url, init, read } = request;
    for (let attempt = 1; ; attempt++) {
      let response: Response;
      try {
        response = await fetch(url, { ...init, signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) });
      } catch (err) {
        if (signal.aborted) throw err;
        if (attempt >= maxAttempts) {
          throw new BurnrateError('PROVIDER_UNAVAILABLE', `${provider} ${path}: no answer after ${attempt} tries`, {
            cause: err,
          });
        }
        const wait = backoff(attempt);
        log.warn({ err, path, attempt, waitMs: wait }, 'provider request failed; retrying');
        await sleep(wait, signal);
        continue;
      }
      if (response.ok) return await read(response);
      const status = response.status;
      const body = await response.text().catch(() => '');
      const excerpt = request.quote === false ? '(answer not quoted)' : body.slice(0, BODY_EXCERPT);
      const asked = rateLimitWaitMs(status, response.headers, Date.now());
      if (status !== 429 && status < 500 && asked === undefined) {
        throw new BurnrateError('PROVIDER_REJECTED', `${provider} ${path} answered ${status}: ${excerpt}`, {
          details: { status },
        });
      }
      if (attempt >= maxAttempts || (asked !== undefined && asked > maxRetryAfterMs)) {
        throw new BurnrateError('PROVIDER_UNAVAILABLE', `${provider} ${path} answered ${status} after ${attempt} tries: ${excerpt}`, {
          details: { status },
          ...(asked !== undefined ? { retryAfterMs: asked } : {}),
        });
      }
      const wait = asked ?? backoff(attempt);
      log.warn(
        { path, status, attempt, waitMs: wait },
        status === 429 || asked !== undefined ? 'provider rate limit; waiting as asked' : 'provider error; retrying',
      );
      await sleep(wait, signal);
    }
  };

  /** The body as JSON; null for a 204, which has none. */
  const json =
    (path: string) =>
    async (response: Response): Promise<unknown> => {
      if (response.status === 204) return null;
      try {
        return await response.json();
      } catch (err) {
        throw new BurnrateError('PROVIDER_REJECTED', `${provider} ${path}: the answer is not JSON`, { cause: err });
      }
    };

  // A link to plain http is followed only from a provider reached over plain http (a stand-in).
  const linkProtocols = new URL(options.baseUrl).protocol === 'http:' ? ['https:', 'http:'] : ['https:'];

  return {
    getJson: (request, signal) =>
      send(
        {
          path: request.path,
          url: `${options.baseUrl}${request.path}?${request.query.toString()}`,
          init: { headers: options.headers },
          read: json(request.path),
        },
        signal,
      ),
    postJson: (request, signal) =>
      send(
        {
          path: request.path,
          url: `${options.baseUrl}${request.path}`,
          init: {
            method: 'POST',
            headers: { ...options.headers, 'content-type': 'application/json' },
            body: JSON.stringify(request.body),
          },
          read: json(request.path),
        },
        signal,
      ),
    download: async (url, signal) => {
      // Not `new URL(url)`'s error: it would quote the link, signature included.
      const link = URL.canParse(url) ? new URL(url) : undefined;
      if (link === undefined) throw new BurnrateError('PROVIDER_REJECTED', `${provider} linked to a file by a malformed URL`);
      const named = `${link.origin}${link.pathname}`;
      if (!linkProtocols.includes(link.protocol)) {
        throw new BurnrateError('PROVIDER_REJECTED', `${provider} linked to ${named}: only ${linkProtocols.join(' or ')} is followed`);
      }
      return send({ path: named, url: link.href, init: {}, read: (response) => response.text(), quote: false }, signal);
    },
  };
}
