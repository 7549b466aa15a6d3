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
  /** The parsed JSON body of a 2xx, after waiting out 429s and retrying 5xx; throws a BurnrateError otherwise. */
  getJson(request: ProviderRequest, signal: AbortSignal): Promise<unknown>;
  /** The same for a POST of `body` as JSON. */
  postJson(request: ProviderPost, signal: AbortSignal): Promise<unknown>;
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
 * Requests with the retry rules the providers ask for: a 429 is waited out for as long as its
 * `Retry-After` says (up to `maxRetryAfterMs`; without the header, as a 5xx), a 5xx, a timeout or a
 * network failure is retried after a full-jitter exponential backoff, so pollers of several
 * Burnrate instances do not retry in step. Anything else (401/403: a wrong or non-admin key; 400)
 * is not retried: the next poll tries again.
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

  /** Sends one request with the retry rules above; `path` names it in messages. */
  const send = async (path: string, url: string, init: RequestInit, signal: AbortSignal): Promise<unknown> => {
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
      if (response.ok) {
        try {
          return await response.json();
        } catch (err) {
          throw new BurnrateError('PROVIDER_REJECTED', `${provider} ${path}: the answer is not JSON`, { cause: err });
        }
      }
      const status = response.status;
      const excerpt = (await response.text().catch(() => '')).slice(0, BODY_EXCERPT);
      if (status !== 429 && status < 500) {
        throw new BurnrateError('PROVIDER_REJECTED', `${provider} ${path} answered ${status}: ${excerpt}`, {
          details: { status },
        });
      }
      const asked = status === 429 ? retryAfterMs(response.headers.get('retry-after'), Date.now()) : undefined;
      if (attempt >= maxAttempts || (asked !== undefined && asked > maxRetryAfterMs)) {
        throw new BurnrateError('PROVIDER_UNAVAILABLE', `${provider} ${path} answered ${status} after ${attempt} tries: ${excerpt}`, {
          details: { status },
          ...(asked !== undefined ? { retryAfterMs: asked } : {}),
        });
      }
      const wait = asked ?? backoff(attempt);
      log.warn(
        { path, status, attempt, waitMs: wait },
        status === 429 ? 'provider rate limit; waiting as asked' : 'provider error; retrying',
      );
      await sleep(wait, signal);
    }
  };

  return {
    getJson: (request, signal) =>
      send(request.path, `${options.baseUrl}${request.path}?${request.query.toString()}`, { headers: options.headers }, signal),
    postJson: (request, signal) =>
      send(
        request.path,
        `${options.baseUrl}${request.path}`,
        { method: 'POST', headers: { ...options.headers, 'content-type': 'application/json' }, body: JSON.stringify(request.body) },
        signal,
      ),
  };
}
