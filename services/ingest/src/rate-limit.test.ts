import { describe, expect, it } from 'vitest';
import { createTokenBuckets } from './rate-limit.ts';

const LIMIT = { requests_per_second: 2, burst: 3 };

describe('token buckets', () => {
  it('lets a burst through, then one request per refill, and says how long to wait', () => {
    const buckets = createTokenBuckets();
    expect([0, 0, 0].map(() => buckets.take('a', LIMIT, 1000).ok)).toEqual([true, true, true]);
    expect(buckets.take('a', LIMIT, 1000)).toEqual({ ok: false, retryAfterMs: 500 });
    expect(buckets.take('a', LIMIT, 1250)).toEqual({ ok: false, retryAfterMs: 250 });
    expect(buckets.take('a', LIMIT, 1500).ok).toBe(true);
    expect(buckets.take('a', LIMIT, 1500).ok).toBe(false);
  });

  it('keeps keys apart and refills no higher than the burst', () => {
    const buckets = createTokenBuckets();
    for (let i = 0; i < 3; i++) buckets.take('a', LIMIT, 0);
    expect(buckets.take('b', LIMIT, 0).ok).toBe(true);
    // An hour idle refills to the burst, not to 7,200 requests.
    const later = 3_600_000;
    expect([0, 0, 0, 0].map(() => buckets.take('a', LIMIT, later).ok)).toEqual([true, true, true, false]);
  });

  it('stays bounded when every request comes from a new address', () => {
    const buckets = createTokenBuckets(100);
    for (let i = 0; i < 10_000; i++) buckets.take(`address:${i}`, LIMIT, i);
    expect(buckets.size()).toBeLessThanOrEqual(100);
  });

  it('keeps an exhausted bucket while pruning refilled ones', () => {
    const buckets = createTokenBuckets(10);
    for (let i = 0; i < 3; i++) buckets.take('flooder', LIMIT, 0);
    // Nine quiet addresses, each one request long ago: refilled, so they are what gets pruned.
    for (let i = 0; i < 9; i++) buckets.take(`quiet:${i}`, LIMIT, 0);
    buckets.take('newcomer', LIMIT, 100);
    expect(buckets.take('flooder', LIMIT, 100).ok).toBe(false);
  });
});
