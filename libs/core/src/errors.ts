/**
 * One catalog of error codes, each with its retry decision. Adapters translate vendor errors
 * into a BurnrateError at the boundary; consumer loops decide retry / DLQ / drop from
 * `retriable` alone, so a new vendor never changes loop logic.
 */
export const ERROR_CODES = {
  CONFIG_INVALID: { retriable: false },
  CONFIG_NOT_FOUND: { retriable: false },
  INPUT_INVALID: { retriable: false },
  INPUT_TOO_LARGE: { retriable: false },
  UNSUPPORTED_MEDIA_TYPE: { retriable: false },
  UNAUTHORIZED: { retriable: false },
  FORBIDDEN: { retriable: false },
  RATE_LIMITED: { retriable: true },
  NOT_FOUND: { retriable: false },
  STORE_UNAVAILABLE: { retriable: true },
  STORE_QUERY_FAILED: { retriable: false },
  BUS_UNAVAILABLE: { retriable: true },
  BUS_CLOSED: { retriable: false },
  NOTIFY_RATE_LIMITED: { retriable: true },
  NOTIFY_UNAVAILABLE: { retriable: true },
  NOTIFY_REJECTED: { retriable: false },
  /** A provider's usage API that is down, times out or keeps rate-limiting (5xx, network, 429). */
  PROVIDER_UNAVAILABLE: { retriable: true },
  /** A provider's usage API that refuses the request (401/403: a wrong admin key; other 4xx) or answers what cannot be read. */
  PROVIDER_REJECTED: { retriable: false },
  SHUTTING_DOWN: { retriable: true },
  /** A process still taking over from its predecessor: its receivers accept, the rest of it is not open yet. */
  STARTING: { retriable: true },
  /** A saved detector snapshot that cannot be read back (a part missing, a checksum that does not match, not JSON). */
  SNAPSHOT_UNREADABLE: { retriable: false },
  INTERNAL: { retriable: false },
} as const satisfies Record<string, { retriable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface BurnrateErrorOptions {
  cause?: unknown;
  /** Overrides the code's default, e.g. a store error that is transient this time. */
  retriable?: boolean;
  /** Milliseconds the peer asked us to wait (Slack Retry-After, HTTP 429). */
  retryAfterMs?: number;
  details?: Record<string, unknown>;
}

export class BurnrateError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: BurnrateErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BurnrateError';
    this.code = code;
    this.retriable = options.retriable ?? ERROR_CODES[code].retriable;
    this.retryAfterMs = options.retryAfterMs;
    this.details = options.details;
  }
}

export const isBurnrateError = (err: unknown): err is BurnrateError => err instanceof BurnrateError;

/** Whether an operation that threw `err` may succeed if tried again. Unknown errors are not retried. */
export const isRetriable = (err: unknown): boolean => isBurnrateError(err) && err.retriable;
