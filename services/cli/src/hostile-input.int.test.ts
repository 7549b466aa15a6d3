import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@burnrate/core';
import type { DlqRecord } from '@burnrate/schemas';
import { createChdbStore } from '@burnrate/store';
import { type SlackStandIn, type TestSmtpServer, waitUntil } from '@burnrate/testing';
import {
  type BurnrateProcess,
  INGEST_AUTH,
  postJson,
  startBurnrate,
  startSurroundings,
  type Surroundings,
  waitForCaughtUp,
} from '../test-support/burnrate-process.ts';

const FIXTURE = new URL('../../ingest/fixtures/claude-code-otlp/logs.json', import.meta.url);

interface Rejected {
  index: number;
  field: string;
  message: string;
}

// Defects found by attacking `burnrate start` (issue: hostile and broken input), each through the
// real HTTP port, with the embedded store read back after the process stopped.
describe('burnrate start refuses hostile input and stays whole', () => {
  let around: Surroundings;
  let slack: SlackStandIn;
  let smtp: TestSmtpServer;
  let burnrate: BurnrateProcess | undefined;
  const now = Date.now();
  const at = (minutesAgo: number) => new Date(now - minutesAgo * 60_000).toISOString();
  const record = (overrides: Record<string, unknown>) => ({
    occurred_at: at(60),
    developer_email: 'alice@acme.com',
    model: 'claude-opus-4-5',
    cost_usd: 1,
    ...overrides,
  });
  const events = (body: unknown) => postJson(`${burnrate!.url}/v1/events`, body);
  const rejectedOf = (res: { body: unknown }): Rejected[] => (res.body as { rejected: Rejected[] }).rejected;

  beforeAll(async () => {
    around = await startSurroundings();
    ({ slack, smtp } = around);
    burnrate = await startBurnrate(around.env);
  });

  afterAll(async () => {
    await burnrate?.stop();
    await around?.close();
  });

  it('1: a lone surrogate is refused at the door, and storage goes on', async () => {
    const res = await events([
      record({ event_id: 'good-before', session_id: 's-ok' }),
      record({ event_id: 'surrogate-dev', developer: 'mallory\ud800', developer_email: undefined }),
      record({ event_id: 'surrogate-session', session_id: 'sess\udc00' }),
      record({ event_id: 'good-after', session_id: 's-ok' }),
    ]);
    expect(res.status).toBe(400);
    expect(rejectedOf(res).map((r) => [r.index, r.field])).toEqual([
      [1, 'developer'],
      [2, 'session_id'],
    ]);
    for (const r of rejectedOf(res)) expect(r.message).toMatch(/surrogate|Unicode/i);
    expect((await events([record({ event_id: 'good-later' })])).status).toBe(200);
  });

  it('4: absurd costs and token counts are refused, and money reads as money', async () => {
    const res = await events([
      record({ event_id: 'cost-1e308', cost_usd: 1e308 }),
      record({ event_id: 'tokens-1e300', cost_usd: undefined, input_tokens: 1e300 }),
      record({ event_id: 'cost-over-limit', cost_usd: 100_001 }),
    ]);
    expect(res.status).toBe(400);
    expect(rejectedOf(res).map((r) => r.field)).toEqual(['cost_usd', 'input_tokens', 'cost_usd']);
    expect(rejectedOf(res)[2]?.message).toMatch(/100000/);

    // The largest cost a record may carry still makes a valid, readable alert.
    expect((await events([record({ event_id: 'big-but-allowed', session_id: 'big-session', cost_usd: 99_999.5 })])).status).toBe(200);
    const alert = await slack.waitFor((m) => JSON.stringify(m.blocks).includes('big-session'), 15_000);
    for (const text of [alert.text, JSON.stringify(alert.blocks)]) {
      expect(text).not.toMatch(/e\+\d|Infinity|NaN/);
      expect(text).toMatch(/\$100,000/); // $99,999.50 in whole dollars
    }
  });

  it('5: event times outside [now − 400 days, now + 1 day] are refused, on /v1/events and /v1/logs', async () => {
    const res = await events([
      record({ event_id: 'year-0', occurred_at: '0000-01-01T00:00:00Z' }),
      record({ event_id: 'year-9999', occurred_at: '9999-12-31T23:59:59Z' }),
      record({ event_id: 'past-2106', occurred_at: '2107-01-01T00:00:00Z' }),
      record({ event_id: 'before-ttl', occurred_at: new Date(now - 401 * 86_400_000).toISOString() }),
      record({ event_id: 'tomorrow-plus', occurred_at: new Date(now + 2 * 86_400_000).toISOString() }),
      record({ event_id: 'in-range', occurred_at: at(5) }),
    ]);
    expect(res.status).toBe(400);
    expect(rejectedOf(res).map((r) => [r.index, r.field])).toEqual([
      [0, 'occurred_at'],
      [1, 'occurred_at'],
      [2, 'occurred_at'],
      [3, 'occurred_at'],
      [4, 'occurred_at'],
    ]);

    const fixture = await readFile(FIXTURE, 'utf8');
    for (const stamp of ['0', '12', 'May 32']) {
      const export_ = JSON.parse(fixture) as {
        resourceLogs: { scopeLogs: { logRecords: { attributes: { key: string; value: unknown }[] }[] }[] }[];
      };
      for (const r of export_.resourceLogs[0]!.scopeLogs[0]!.logRecords) {
        for (const a of r.attributes) if (a.key === 'event.timestamp') a.value = { stringValue: stamp };
        for (const a of r.attributes) if (a.key === 'event.sequence') a.value = { intValue: 1000 + stamp.length };
      }
      const logs = await postJson(`${burnrate!.url}/v1/logs`, export_);
      expect(logs.status).toBe(200);
      expect(logs.body).toMatchObject({
        partialSuccess: { rejectedLogRecords: '1', errorMessage: expect.stringContaining('event.timestamp') as unknown },
      });
    }
  });

  it('8: deep JSON is refused alone, /v1/logs has a record cap, fields have lengths, __proto__ is named', async () => {
    const deep = `${'['.repeat(6000)}${']'.repeat(6000)}`;
    const ndjson = await fetch(`${burnrate!.url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', ...INGEST_AUTH },
      body: [JSON.stringify(record({ event_id: 'beside-deep' })), deep].join('\n'),
    });
    expect(ndjson.status).toBe(400);
    const ndjsonBody = (await ndjson.json()) as { accepted: number; rejected: Rejected[] };
    expect(ndjsonBody.accepted).toBe(1);
    expect(ndjsonBody.rejected).toEqual([expect.objectContaining({ index: 1, message: expect.stringMatching(/nest/i) as unknown })]);

    // 15,000 small log records: under the body limit, over the record limit.
    const logRecords = Array.from({ length: 15_000 }, (_, i) => ({ eventName: 'claude_code.user_prompt', timeUnixNano: String(i) }));
    const flood = await postJson(`${burnrate!.url}/v1/logs`, { resourceLogs: [{ scopeLogs: [{ logRecords }] }] });
    expect(flood.status).toBe(413);
    expect(JSON.stringify(flood.body)).toMatch(/15000 log records; the limit is 5000/);

    const res = await events([
      record({ event_id: 'long-email', developer_email: `${'a'.repeat(2_000_000)}@acme.com` }),
      record({ event_id: 'long-session', session_id: 's'.repeat(600) }),
    ]);
    expect(res.status).toBe(400);
    expect(rejectedOf(res).map((r) => [r.index, r.field])).toEqual([
      [0, 'developer_email'],
      [1, 'session_id'],
    ]);
    expect(JSON.stringify(res.body).length).toBeLessThan(5000);

    const proto = await postJson(
      `${burnrate!.url}/v1/events`,
      `[${JSON.stringify(record({ event_id: 'proto', attributes: { keep: 'x' } })).replace('"keep"', '"__proto__"')}]`,
    );
    expect(proto.status).toBe(400);
    expect(rejectedOf(proto)[0]).toMatchObject({ field: expect.stringContaining('__proto__') as unknown });
  });

  it('8: Slack text and email carry hostile text as text', async () => {
    const hostile = '<!channel> <https://evil.example|click> <script>x</script>';
    // Newer than anything sent so far: an event later than the allowed lateness opens no session.
    const res = await events([record({ event_id: 'hostile-session', occurred_at: at(1), session_id: hostile, cost_usd: 30 })]);
    expect(res.status).toBe(200);
    const message = await slack.waitFor(
      (m) => m.text.includes('evil.example') || JSON.stringify(m.blocks).includes('evil.example'),
      15_000,
    );
    for (const text of [message.text, JSON.stringify(message.blocks)]) {
      expect(text).not.toContain('<!channel>');
      expect(text).not.toContain('<https://evil');
    }
    expect(message.text).toContain('&lt;!channe');
    await waitUntil(() => smtp.messages.some((m) => m.html.includes('evil.example')), { timeoutMs: 15_000, message: 'the email' });
    for (const m of smtp.messages) {
      expect(m.html).not.toContain('<script>');
      expect(m.subject).not.toMatch(/[\r\n]/);
    }
  });

  it('keeps what it accepted and dead-letters what it refused, with reasons', async () => {
    await waitForCaughtUp(burnrate!.url, 30_000);
    expect(await burnrate!.stop()).toBe(0);
    burnrate = undefined;
    const store = await createChdbStore({ dataDir: around.chdbDir, log: createLogger({ level: 'silent' }) });
    try {
      const ids = (await store.listUsageEvents({ limit: 10_000 })).map((e) => e.event_id);
      expect(ids.filter((id) => !id.startsWith('claude_code_otel:')).sort()).toEqual(
        ['beside-deep', 'big-but-allowed', 'good-after', 'good-before', 'good-later', 'hostile-session', 'in-range'].sort(),
      );
      const dlq: DlqRecord[] = await store.listDlq({ limit: 1000 });
      const reasons = dlq.map((d) => d.reason).join('\n');
      for (const id of [
        'surrogate-dev',
        'surrogate-session',
        'cost-1e308',
        'tokens-1e300',
        'year-9999',
        'before-ttl',
        'long-session',
        'proto',
      ]) {
        expect(
          dlq.some((d) => d.raw.includes(`"${id}"`)),
          `${id} is dead-lettered: ${dlq.map((d) => `${d.reason.slice(0, 60)} ${d.raw.slice(0, 60)}`).join(' | ')}`,
        ).toBe(true);
      }
      expect(reasons).toMatch(/occurred_at/);
      // The spend view agrees with the events: nothing refused reached it.
      const spend = await store.spendByHour({ org: 'acme' });
      const events = await store.listUsageEvents({ limit: 10_000 });
      expect(spend.reduce((s, r) => s + r.cost_usd, 0)).toBeCloseTo(
        events.reduce((s, e) => s + e.cost_usd, 0),
        6,
      );
    } finally {
      await store.close();
    }
  });
});
