/** The instance the on-call commands talk to when BURNRATE_URL is not set: `burnrate start` on this machine. */
export const DEFAULT_URL = 'http://127.0.0.1:8787';

/** How long one call waits for an answer: a command someone is typing should not hang. */
const TIMEOUT_MS = 15_000;

/** A call that did not get what it asked for; the message is what the person at the terminal reads. */
export class ApiCallError extends Error {
  /** The HTTP status, when the instance answered. */
  readonly status: number | undefined;
  /** The parsed JSON answer, when there was one (a replay's 400 lists which records were rejected). */
  readonly body: unknown;
  constructor(message: string, status?: number, body?: unknown) {
    super(message);
    this.name = 'ApiCallError';
    this.status = status;
    this.body = body;
  }
}

export interface ApiClient {
  /** Where it talks to, for messages. */
  readonly url: string;
  /** The parsed JSON answer of a 2xx; anything else throws an ApiCallError saying what to do. */
  call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T>;
}

export interface ApiClientOptions {
  url?: string | undefined;
  token?: string | undefined;
  /** The transport; tests pass one that runs requests through the routes in memory. */
  fetch?: typeof fetch;
}

/** The on-call commands' HTTP client for a running instance's API (BURNRATE_URL, BURNRATE_API_TOKEN). */
export function createApiClient(options: ApiClientOptions): ApiClient {
  const url = baseUrl(options.url);
  const send = options.fetch ?? fetch;
  const token = options.token || undefined;
  return {
    url,
    async call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (token) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      let res: Response;
      try {
        res = await send(`${url}${path}`, {
          method,
          headers,
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
      } catch (err) {
        throw new ApiCallError(unreachable(url, err));
      }
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      if (res.ok && parsed !== undefined) return parsed as T;
      if (res.status === 401) {
        throw new ApiCallError(
          token
            ? `Burnrate at ${url} refused BURNRATE_API_TOKEN: it is not the token that instance was started with`
            : `Burnrate at ${url} needs an API token: set BURNRATE_API_TOKEN to the one it was started with`,
          401,
        );
      }
      const message = errorMessage(parsed);
      if (message === undefined) {
        throw new ApiCallError(
          `${method} ${url}${path} answered ${res.status} without Burnrate's JSON: is BURNRATE_URL (${url}) a Burnrate instance?`,
          res.status,
        );
      }
      throw new ApiCallError(message, res.status, parsed);
    },
  };
}

function baseUrl(raw: string | undefined): string {
  const text = raw?.trim() || DEFAULT_URL;
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw new ApiCallError(`BURNRATE_URL must be a URL such as ${DEFAULT_URL}, not ${JSON.stringify(text)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ApiCallError(`BURNRATE_URL must be an http or https URL such as ${DEFAULT_URL}, not ${JSON.stringify(text)}`);
  }
  return text.replace(/\/+$/, '');
}

function unreachable(url: string, err: unknown): string {
  // fetch fails with "fetch failed"; what happened is in its cause.
  const cause = (err as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  const code = cause?.code ?? (err as { code?: string } | undefined)?.code;
  const name = (err as { name?: string } | undefined)?.name;
  const why =
    name === 'TimeoutError'
      ? `no answer within ${TIMEOUT_MS / 1000} s`
      : code === 'ECONNREFUSED'
        ? 'connection refused'
        : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
          ? 'host not found'
          : (code ?? cause?.message ?? (err instanceof Error ? err.message : String(err)));
  return `cannot reach Burnrate at ${url} (${why}): is it running (burnrate start)? Set BURNRATE_URL to reach another instance`;
}

function errorMessage(body: unknown): string | undefined {
  const error = (body as { error?: { message?: unknown } } | undefined)?.error;
  return typeof error?.message === 'string' ? error.message : undefined;
}
