import { jsonAnswer, startHttpStandIn } from '@burnrate/testing';
import { describe, expect, it } from 'vitest';
import { createProviderHttp } from './provider-http.ts';
import { silentLog } from './test-helpers.ts';

const signal = new AbortController().signal;

describe('ProviderHttp against a stand-in', () => {
  it('answers null for a 204, and downloads a linked file without the provider’s headers, with the same retries', async () => {
    const server = await startHttpStandIn((request) =>
      request.path.startsWith('/files/') ? { status: 200, body: '{"a":1}\n{"a":2}\n' } : { status: 204 },
    );
    const waits: number[] = [];
    try {
      const http = createProviderHttp({
        provider: 'github',
        baseUrl: server.origin,
        headers: { authorization: 'Bearer secret-token', 'user-agent': 'burnrate-poller/0.1' },
        log: silentLog,
        sleep: (ms) => {
          waits.push(ms);
          return Promise.resolve();
        },
      });
      expect(await http.getJson({ path: '/report', query: new URLSearchParams({ day: '2026-12-06' }) }, signal)).toBeNull();
      server.failNext(1, { status: 429, retryAfterSec: 2 });
      expect(await http.download(`${server.origin}/files/1.ndjson?sig=s3cr3t`, signal)).toBe('{"a":1}\n{"a":2}\n');
      expect(waits).toEqual([2000]);
      const downloads = server.requests.filter((r) => r.path.startsWith('/files/'));
      expect(downloads.map((r) => [r.status, r.headers.authorization])).toEqual([
        [429, undefined],
        [200, undefined],
      ]);
      expect(server.requests[0]?.headers.authorization).toBe('Bearer secret-token');
    } finally {
      await server.close();
    }
  });

  it('names a failed download by its origin and path: neither the signature nor the answer is quoted', async () => {
    const server = await startHttpStandIn(() => jsonAnswer(403, { message: 'Signature sig=s3cr3t does not match' }));
    try {
      const http = createProviderHttp({ provider: 'github', baseUrl: server.origin, headers: {}, log: silentLog });
      const failed = http.download(`${server.origin}/files/1.ndjson?sig=s3cr3t`, signal);
      await expect(failed).rejects.toThrow(`github ${server.origin}/files/1.ndjson answered 403: (answer not quoted)`);
      await expect(failed).rejects.not.toThrow(/s3cr3t/);
    } finally {
      await server.close();
    }
  });

  it('waits out a GitHub rate limit, answered as a 403 with x-ratelimit-remaining 0, until its reset', async () => {
    let limited = true;
    const server = await startHttpStandIn(() => {
      if (!limited) return jsonAnswer(200, { ok: true });
      limited = false;
      const reset = Math.ceil(Date.now() / 1000) + 30;
      return {
        ...jsonAnswer(403, { message: 'API rate limit exceeded' }),
        headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) },
      };
    });
    const waits: number[] = [];
    try {
      const http = createProviderHttp({
        provider: 'github',
        baseUrl: server.origin,
        headers: {},
        log: silentLog,
        sleep: (ms) => {
          waits.push(ms);
          return Promise.resolve();
        },
      });
      expect(await http.getJson({ path: '/orgs/acme/copilot/billing/seats', query: new URLSearchParams() }, signal)).toEqual({ ok: true });
      expect(waits).toHaveLength(1);
      expect(waits[0]).toBeGreaterThan(28_000);
      expect(waits[0]).toBeLessThanOrEqual(31_000);
    } finally {
      await server.close();
    }
  });
});
