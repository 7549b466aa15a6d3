import { BurnrateError } from '@burnrate/core';

export interface HttpPost {
  url: string;
  /** The JSON text sent as is: a signature covers these exact bytes. */
  body: string;
  headers?: Record<string, string>;
  /** Connection and answer together; past it the send is a retriable NOTIFY_UNAVAILABLE. */
  timeoutMs: number;
}

export interface HttpAnswer {
  status: number;
  /** The answer's body, at most BODY_MAX characters. */
  text: string;
}

// Enough of an answer to explain a refusal; a hostile or broken peer cannot fill memory.
const BODY_MAX = 4096;
// A peer's Retry-After above this is not waited out within one batch: the delivery is deferred
// and the batch redelivered, so one endpoint cannot hold the notifier for hours.
const RETRY_AFTER_MAX_MS = 15 * 60_000;

/**
 * Seconds (`Retry-After: 30`) or an HTTP date, in milliseconds from `now`; undefined when absent
 * or unreadable.
 */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header.trim());
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - now;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(0, Math.round(ms)), RETRY_AFTER_MAX_MS);
}

/**
 * The error for an HTTP status that is not success, or undefined for 2xx: 429 →
 * NOTIFY_RATE_LIMITED (with the peer's Retry-After); 408, 425 and 5xx → NOTIFY_UNAVAILABLE; a
 * redirect and every other 4xx → NOTIFY_REJECTED, which no retry can fix. `where` names the
 * receiver, never its URL: a Teams or webhook URL can carry a token.
 */
export function statusError(where: string, status: number, detail: string, retryAfter?: number): BurnrateError | undefined {
  if (status >= 200 && status < 300) return undefined;
  const details = { status };
  const said = detail ? `: ${detail}` : '';
  if (status === 429) {
    return new BurnrateError(
      'NOTIFY_RATE_LIMITED',
      `${where} was rate limited (HTTP 429${retryAfter === undefined ? '' : `, retry after ${Math.ceil(retryAfter / 1000)}s`})${said}`,
      {
        details,
        ...(retryAfter === undefined ? {} : { retryAfterMs: retryAfter }),
      },
    );
  }
  if (status >= 500 || status === 408 || status === 425) {
    return new BurnrateError('NOTIFY_UNAVAILABLE', `${where} failed with HTTP ${status}${said}`, { details });
  }
  if (status >= 300 && status < 400) {
    return new BurnrateError(
      'NOTIFY_REJECTED',
      `${where} answered HTTP ${status}, a redirect, which is not followed: configure the final URL`,
      { details },
    );
  }
  return new BurnrateError('NOTIFY_REJECTED', `${where} was refused with HTTP ${status}${said}`, { details });
}

/** A peer's answer as one short line for an error message. */
export function answerDetail(text: string, max = 300): string {
  // eslint-disable-next-line no-control-regex -- an answer's line breaks and control characters must not reach a log line
  const line = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/**
 * POSTs a JSON body with Node's fetch and a timeout, without following redirects. Resolves with
 * any answer that arrived, whatever its status (the caller classifies it, usually with
 * `statusError`); rejects only with NOTIFY_UNAVAILABLE, for a network failure or a timeout.
 */
export async function postJson(where: string, request: HttpPost): Promise<HttpAnswer & { retryAfterMs: number | undefined }> {
  let response: Response;
  try {
    response = await fetch(request.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'Burnrate', ...request.headers },
      body: request.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(request.timeoutMs),
    });
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : err instanceof Error ? err.message : String(err);
    const why = timedOut ? `timed out after ${request.timeoutMs} ms` : `failed: ${cause}`;
    throw new BurnrateError('NOTIFY_UNAVAILABLE', `${where} ${why}`, { cause: err });
  }
  let text = '';
  try {
    text = await readText(response);
  } catch {
    // The status decides; a body cut off mid-answer only loses the explanation.
  }
  return { status: response.status, text, retryAfterMs: retryAfterMs(response.headers.get('retry-after')) };
}

async function readText(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  const decoder = new TextDecoder();
  let text = '';
  try {
    while (text.length < BODY_MAX) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return text.slice(0, BODY_MAX);
}
