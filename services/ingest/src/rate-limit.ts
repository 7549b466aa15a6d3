/** A token bucket's size and refill rate. */
export interface RateLimit {
  requests_per_second: number;
  burst: number;
}

export type Take = { ok: true } | { ok: false; retryAfterMs: number };

export interface TokenBuckets {
  /** Takes one token from `key`'s bucket (created full), or says how long until one is there. */
  take(key: string, limit: RateLimit, nowMs: number): Take;
  /** Buckets held (for tests and health). */
  size(): number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * One token bucket per key: a sender may make `burst` requests at once and `requests_per_second`
 * on average. Buckets refill lazily when taken from. Keys include client addresses, which anyone
 * can vary, so the map is bounded: past `maxKeys`, buckets that have refilled (and so carry no
 * memory worth keeping) are dropped, and if that is not enough, the fullest ones.
 */
export function createTokenBuckets(maxKeys = 10_000): TokenBuckets {
  const buckets = new Map<string, Bucket>();

  const prune = (limit: RateLimit, nowMs: number): void => {
    const byTokens: [string, number][] = [];
    for (const [key, b] of buckets) {
      const tokens = b.tokens + (Math.max(0, nowMs - b.at) / 1000) * limit.requests_per_second;
      if (tokens >= limit.burst) buckets.delete(key);
      else byTokens.push([key, tokens]);
    }
    if (buckets.size < maxKeys) return;
    // Still full (requests from many addresses at once): forget the fullest buckets first, so an
    // exhausted sender is the last to get a fresh allowance; leave room for the next tenth.
    byTokens.sort((a, b) => b[1] - a[1]);
    for (const [key] of byTokens) {
      if (buckets.size < maxKeys * 0.9) break;
      buckets.delete(key);
    }
  };

  return {
    take(key, limit, nowMs) {
      let b = buckets.get(key);
      if (b === undefined) {
        if (buckets.size >= maxKeys) prune(limit, nowMs);
        b = { tokens: limit.burst, at: nowMs };
        buckets.set(key, b);
      } else {
        b.tokens = Math.min(limit.burst, b.tokens + (Math.max(0, nowMs - b.at) / 1000) * limit.requests_per_second);
        b.at = nowMs;
      }
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return { ok: true };
      }
      return { ok: false, retryAfterMs: Math.ceil(((1 - b.tokens) / limit.requests_per_second) * 1000) };
    },
    size: () => buckets.size,
  };
}
