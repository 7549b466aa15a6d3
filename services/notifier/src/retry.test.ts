import { BurnrateError } from '@burnrate/core';
import { describe, expect, it } from 'vitest';
import { backoffMs, DEFAULT_RETRY, type RetryPolicy, withRetry } from './retry.ts';

const policy = (sleeps: number[], overrides: Partial<RetryPolicy> = {}): RetryPolicy => ({
  ...DEFAULT_RETRY,
  random: () => 1,
  sleep: async (ms) => {
    sleeps.push(ms);
  },
  ...overrides,
});

const unavailable = () => new BurnrateError('NOTIFY_UNAVAILABLE', 'down');

describe('backoffMs', () => {
  it('grows exponentially, capped, with jitter between half and all of the step', () => {
    const p = policy([]);
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffMs(n, unavailable(), p))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    expect(backoffMs(3, unavailable(), { ...p, random: () => 0 })).toBe(2_000);
  });
  it('honours Retry-After over the backoff, even beyond the cap', () => {
    const rateLimited = new BurnrateError('NOTIFY_RATE_LIMITED', 'slow down', { retryAfterMs: 45_000 });
    expect(backoffMs(1, rateLimited, policy([]))).toBe(45_000);
  });
});

describe('withRetry', () => {
  it('retries retriable errors and reports the attempts', async () => {
    const sleeps: number[] = [];
    let calls = 0;
    const outcome = await withRetry(async () => {
      calls += 1;
      if (calls < 3) throw unavailable();
      return 'ok';
    }, policy(sleeps));
    expect(outcome).toEqual({ ok: true, value: 'ok', attempts: 3 });
    expect(sleeps).toEqual([1_000, 2_000]);
  });

  it('stops after maxAttempts', async () => {
    const sleeps: number[] = [];
    const outcome = await withRetry(() => Promise.reject(unavailable()), policy(sleeps));
    expect(outcome).toMatchObject({ ok: false, attempts: 5, error: { code: 'NOTIFY_UNAVAILABLE' } });
    expect(sleeps).toHaveLength(4);
  });

  it('does not retry a non-retriable error', async () => {
    const sleeps: number[] = [];
    const outcome = await withRetry(() => Promise.reject(new BurnrateError('NOTIFY_REJECTED', 'channel_not_found')), policy(sleeps));
    expect(outcome).toMatchObject({ ok: false, attempts: 1, error: { code: 'NOTIFY_REJECTED' } });
    expect(sleeps).toEqual([]);
  });

  it('gives up waiting when aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const outcome = await withRetry(() => Promise.reject(unavailable()), { ...DEFAULT_RETRY }, { signal: controller.signal });
    expect(outcome).toMatchObject({ ok: false, attempts: 1, error: { code: 'SHUTTING_DOWN', retriable: true } });
  });
});
