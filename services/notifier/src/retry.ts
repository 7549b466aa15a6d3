import { setTimeout as delay } from 'node:timers/promises';
import { BurnrateError, isRetriable } from '@burnrate/core';

export interface RetryPolicy {
  /** Tries per send within one batch, the first included. */
  maxAttempts: number;
  baseDelayMs: number;
  /** Cap on the exponential backoff; a peer's Retry-After is honoured even when longer. */
  maxDelayMs: number;
  /** Injected so tests run without waiting; rejects when the signal aborts. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Injected so tests get fixed jitter. */
  random: () => number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 1_000,
  maxDelayMs: 30_000,
  sleep: async (ms, signal) => {
    await delay(ms, undefined, signal ? { signal } : {});
  },
  random: Math.random,
};

/**
 * The wait before attempt `attempt + 1`: the peer's Retry-After when it gave one, else
 * exponential backoff with "equal jitter" (half fixed, half random) so instances that failed
 * together do not retry together.
 */
export function backoffMs(attempt: number, err: unknown, policy: RetryPolicy): number {
  const retryAfterMs = err instanceof BurnrateError ? err.retryAfterMs : undefined;
  if (retryAfterMs !== undefined) return retryAfterMs;
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (policy.random() * ceiling) / 2);
}

export type RetryOutcome<T> = { ok: true; value: T; attempts: number } | { ok: false; error: unknown; attempts: number };

/**
 * Runs `fn` until it succeeds, fails with a non-retriable error, or has been tried
 * `maxAttempts` times. Never throws: the outcome says how it ended and after how many tries.
 * An abort while waiting ends it with a retriable SHUTTING_DOWN error.
 */
export async function withRetry<T>(
  fn: () => Promise<T>,
  policy: RetryPolicy,
  options: { signal?: AbortSignal; onRetry?: (err: unknown, attempt: number, waitMs: number) => void } = {},
): Promise<RetryOutcome<T>> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return { ok: true, value: await fn(), attempts: attempt };
    } catch (err) {
      if (!isRetriable(err) || attempt >= policy.maxAttempts) return { ok: false, error: err, attempts: attempt };
      const waitMs = backoffMs(attempt, err, policy);
      options.onRetry?.(err, attempt, waitMs);
      try {
        if (options.signal?.aborted) throw options.signal.reason;
        await policy.sleep(waitMs, options.signal);
      } catch {
        const error = new BurnrateError('SHUTTING_DOWN', 'send abandoned while waiting to retry: shutting down', { cause: err });
        return { ok: false, error, attempts: attempt };
      }
    }
  }
}
