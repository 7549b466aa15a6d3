import { describe, expect, it } from 'vitest';
import { createProviderHttp, rateLimitWaitMs, retryAfterMs } from './provider-http.ts';
import { silentLog } from './test-helpers.ts';

describe('retryAfterMs', () => {
  const now = Date.parse('2026-12-07T10:00:00Z');

  it('reads delta-seconds and HTTP dates', () => {
    expect(retryAfterMs('7', now)).toBe(7000);
    expect(retryAfterMs('0.5', now)).toBe(500);
    expect(retryAfterMs('Mon, 07 Dec 2026 10:00:30 GMT', now)).toBe(30_000);
    // A date already past: no wait.
    expect(retryAfterMs('Mon, 07 Dec 2026 09:00:00 GMT', now)).toBe(0);
  });

  it('is undefined when the header is absent or unreadable, so the backoff applies', () => {
    expect(retryAfterMs(null, now)).toBeUndefined();
    expect(retryAfterMs('', now)).toBeUndefined();
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs('-3', now)).toBeUndefined();
  });
});

describe('rateLimitWaitMs', () => {
  const now = Date.parse('2026-12-07T10:00:00Z');
  const headers = (h: Record<string, string>) => new Headers(h);

  it('reads a 429 or 403 that asks to wait: Retry-After, else GitHub’s x-ratelimit-reset once none remain', () => {
    expect(rateLimitWaitMs(429, headers({ 'retry-after': '7' }), now)).toBe(7000);
    expect(rateLimitWaitMs(403, headers({ 'retry-after': '60' }), now)).toBe(60_000);
    const reset = String(now / 1000 + 90);
    expect(rateLimitWaitMs(403, headers({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset }), now)).toBe(90_000);
    expect(rateLimitWaitMs(429, headers({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset }), now)).toBe(90_000);
  });

  it('is undefined for a 403 that is not a rate limit (a token without the permission), and for other statuses', () => {
    expect(rateLimitWaitMs(403, headers({ 'x-ratelimit-remaining': '4999', 'x-ratelimit-reset': '1796637600' }), now)).toBeUndefined();
    expect(rateLimitWaitMs(403, headers({}), now)).toBeUndefined();
    expect(rateLimitWaitMs(429, headers({}), now)).toBeUndefined();
    expect(rateLimitWaitMs(500, headers({ 'retry-after': '5' }), now)).toBeUndefined();
  });
});

describe('ProviderHttp.download', () => {
  const signal = new AbortController().signal;

  it('follows only https links from a provider reached over https, and never quotes a malformed link', async () => {
    const http = createProviderHttp({ provider: 'github', baseUrl: 'https://api.github.com', headers: {}, log: silentLog });
    await expect(http.download('http://reports.example/1.ndjson?sig=s3cr3t', signal)).rejects.toThrow(
      'github linked to http://reports.example/1.ndjson: only https: is followed',
    );
    await expect(http.download('not a url sig=s3cr3t', signal)).rejects.toThrow(/^github linked to a file by a malformed URL$/);
  });
});
