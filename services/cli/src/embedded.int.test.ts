import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Client, credentials, Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { otlpTypes } from '@burnrate/ingest';
import { createLogger } from '@burnrate/core';
import { createChdbStore, type Store } from '@burnrate/store';
import { type SlackStandIn, startPagerDutyStandIn, type TestSmtpServer, waitUntil } from '@burnrate/testing';
import {
  type BurnrateProcess,
  INGEST_AUTH,
  postJson,
  startBurnrate,
  startSurroundings,
  type Surroundings,
  TEST_CONFIG,
  waitForCaughtUp,
} from '../test-support/burnrate-process.ts';

const FIXTURE = new URL('../../ingest/fixtures/claude-code-otlp/logs.json', import.meta.url);
const CAPTURED_SESSION = '28b333cc-5c7f-40da-90a0-4dca26f1b4f5';
const PROTOBUF_SESSION = '0b8f1a52-2c57-4a55-9f3e-6d1c2a7e9b01';
const GRPC_SESSION = '7d2e4f60-1b3c-4e8a-a5d9-0c6b8e2f4a13';

// One burnrate process for the whole file, driven only through its HTTP port, with a real SMTP
// server and a Slack Web API stand-in. The store is read after the process stopped, because the
// embedded engine belongs to one process at a time.
describe('burnrate start (embedded), end to end', () => {
  let around: Surroundings;
  let smtp: TestSmtpServer;
  let slack: SlackStandIn;
  let burnrate: BurnrateProcess;
  let store: Store | undefined;

  beforeAll(async () => {
    around = await startSurroundings();
    ({ smtp, slack } = around);
    burnrate = await startBurnrate(around.env);
  });

  afterAll(async () => {
    await burnrate?.stop();
    await store?.close();
    await around?.close();
  });

  const session = (n: number, costs: number[], from = 0) =>
    costs.map((cost_usd, i) => ({
      occurred_at: new Date(Date.UTC(2026, 10, 27, 10, from + i)).toISOString(),
      developer_email: 'alice@acme.com',
      model: 'claude-opus-4-5',
      session_id: `session-${n}`,
      cost_usd,
    }));

  it('answers /healthz', async () => {
    const res = await fetch(`${burnrate.url}/healthz`);
    expect(res.status).toBe(200);
    const health = (await res.json()) as Record<string, unknown>;
    // Without BURNRATE_API_TOKEN nobody is told the config path or the org.
    expect(health.org).toBeUndefined();
    expect(health.config).toBeUndefined();
    expect(health).toMatchObject({
      status: 'ok',
      mode: 'embedded',
      lag: { sink: expect.any(Number), detector: expect.any(Number), team_detector: expect.any(Number), notifier: expect.any(Number) },
    });
  });

  it('turns a session crossing $25 then $100 into one anomaly, v1 warning then v2 critical, on Slack and email', async () => {
    const first = await postJson(`${burnrate.url}/v1/events`, session(1, [10, 10, 10]));
    expect(first).toEqual({ status: 200, body: { accepted: 3, duplicates: 0, rejected: [] } });
    const warning = await slack.waitFor((m) => m.channelName === '#payments-ai-spend', 15_000);
    expect(warning.text).toMatch(/warning/i);

    const second = await postJson(`${burnrate.url}/v1/events`, session(1, [40, 35], 3));
    expect(second.status).toBe(200);
    await waitUntil(() => slack.messages.length >= 2, { timeoutMs: 15_000, message: 'the critical Slack message' });
    await waitUntil(() => smtp.messages.length >= 2, { timeoutMs: 15_000, message: 'two emails' });

    const listed = (await (await fetch(`${burnrate.url}/api/anomalies`)).json()) as { anomalies: Record<string, unknown>[] };
    expect(listed.anomalies).toHaveLength(1);
    expect(listed.anomalies[0]).toMatchObject({
      kind: 'session_cost',
      severity: 'critical',
      version: 2,
      status: 'open',
      subject: { org: 'acme', team: 'payments', developer: 'alice@acme.com', session: 'session-1' },
    });

    expect(slack.messages.map((m) => m.channelName)).toEqual(['#payments-ai-spend', '#payments-ai-spend']);
    expect(slack.messages[1]?.text).toMatch(/critical/i);
    expect(slack.callsTo('chat.postMessage').every((c) => c.authorization === `Bearer ${slack.token}`)).toBe(true);
    expect(smtp.messages.map((m) => m.to)).toEqual([['payments-leads@acme.com'], ['payments-leads@acme.com']]);
    expect(smtp.messages[1]?.headers['x-burnrate-severity']).toBe('critical');
    expect(smtp.messages[1]?.subject).toMatch(/^Re: \[Burnrate\] Session cost/);
    expect(smtp.messages[1]?.html).toContain('alice@acme.com');
    expect(smtp.messages[1]?.text).toContain('alice@acme.com');
  });

  it('accepts gzip and NDJSON, and a version that changes nothing a human needs is not sent again', async () => {
    const ndjson = session(1, [5], 10)
      .map((r) => JSON.stringify(r))
      .join('\n');
    const res = await fetch(`${burnrate.url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip', ...INGEST_AUTH },
      body: gzipSync(ndjson),
    });
    expect(res.status).toBe(200);
    // Once every stage has handled the event, anything it made the notifier send has been sent.
    await waitForCaughtUp(burnrate.url);
    expect(slack.messages).toHaveLength(2);
    expect(smtp.messages).toHaveLength(2);
  });

  it('keeps the 7 good records of a batch of 10, reports the 3 bad by index, and dead-letters them', async () => {
    const batch: unknown[] = session(2, [1, 1, 1, 1, 1, 1, 1]);
    batch.splice(2, 0, { occurred_at: 'yesterday', developer_email: 'bob@acme.com', model: 'claude-opus-4-5', cost_usd: 1 });
    batch.splice(5, 0, { occurred_at: '2026-11-27T10:00:00Z', model: 'claude-opus-4-5', cost_usd: 1 });
    batch.splice(8, 0, { occurred_at: '2026-11-27T10:00:00Z', developer_email: 'bob@acme.com', model: 'claude-opus-4-5', cost_usd: -3 });
    const res = await postJson(`${burnrate.url}/v1/events`, batch);
    expect(res.status).toBe(400);
    const body = res.body as { accepted: number; rejected: { index: number; field: string; message: string }[] };
    expect(body.accepted).toBe(7);
    expect(body.rejected.map((r) => [r.index, r.field])).toEqual([
      [2, 'occurred_at'],
      [5, 'developer_email'],
      [8, 'cost_usd'],
    ]);
    for (const r of body.rejected) expect(r.message.length).toBeGreaterThan(5);
  });

  it('gives clear 4xx errors for malformed JSON, wrong content type and oversize bodies, and keeps serving', async () => {
    const malformed = await postJson(`${burnrate.url}/v1/events`, '[{"occurred_at": ');
    expect(malformed.status).toBe(400);
    expect(JSON.stringify(malformed.body)).toMatch(/JSON/);

    const wrongType = await fetch(`${burnrate.url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'text/csv', ...INGEST_AUTH },
      body: 'a,b',
    });
    expect(wrongType.status).toBe(415);
    expect(await wrongType.text()).toMatch(/application\/json/);

    const huge = await postJson(`${burnrate.url}/v1/events`, 'x'.repeat(6 * 1024 * 1024));
    expect(huge.status).toBe(413);
    expect(JSON.stringify(huge.body)).toMatch(/limit/i);

    expect((await fetch(`${burnrate.url}/healthz`)).status).toBe(200);
  });

  it('ingests the Claude Code OTLP capture', async () => {
    const res = await postJson(`${burnrate.url}/v1/logs`, await readFile(FIXTURE, 'utf8'));
    expect(res.status).toBe(200);
  });

  it('ingests the capture over OTLP/HTTP protobuf and OTLP/gRPC too', async () => {
    const fixture = await readFile(FIXTURE, 'utf8');
    const { request } = otlpTypes('logs');
    const asSession = (id: string): Buffer =>
      Buffer.from(
        request.encode(request.fromObject(JSON.parse(fixture.replaceAll(CAPTURED_SESSION, id)) as Record<string, unknown>)).finish(),
      );

    const res = await fetch(`${burnrate.url}/v1/logs`, {
      method: 'POST',
      headers: { ...INGEST_AUTH, 'content-type': 'application/x-protobuf' },
      body: asSession(PROTOBUF_SESSION),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-protobuf');

    expect(burnrate.grpcUrl).toBeDefined();
    const client = new Client(burnrate.grpcUrl!.replace('http://', ''), credentials.createInsecure());
    const metadata = new Metadata();
    metadata.set('authorization', INGEST_AUTH.authorization);
    try {
      const err = await new Promise<Error | null>((resolve) =>
        client.makeUnaryRequest(
          '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
          (b: Buffer) => b,
          (b: Buffer) => b,
          asSession(GRPC_SESSION),
          metadata,
          (e) => resolve(e ?? null),
        ),
      );
      expect(err).toBeNull();
    } finally {
      client.close();
    }
  });

  it('has everything in chdb after a clean stop', async () => {
    expect(await burnrate.stop()).toBe(0);
    store = await createChdbStore({ dataDir: around.chdbDir, log: createLogger({ level: 'silent' }) });

    // 3 + 2 + 1 of session 1, 7 of session 2, 1 from the OTLP capture (and 1 each over protobuf and gRPC).
    expect(await store.countUsageEvents()).toBe(16);
    expect(await store.countUsageEvents({ session_id: PROTOBUF_SESSION })).toBe(1);
    expect(await store.countUsageEvents({ session_id: GRPC_SESSION })).toBe(1);
    const [anomaly] = await store.listAnomalies();
    expect(anomaly?.kind).toBe('session_cost');
    const versions = await store.anomalyVersions(anomaly!.id);
    expect(versions.map((v) => [v.version, v.severity])).toEqual([
      [1, 'warning'],
      [2, 'critical'],
    ]);
    const sent = await store.listDeliveries({ anomaly_id: anomaly!.id, status: 'sent' });
    expect(sent.map((d) => `${d.version} ${d.receiver}`).sort()).toEqual([
      '1 email:payments-leads@acme.com',
      '1 slack:#payments-ai-spend',
      '2 email:payments-leads@acme.com',
      '2 slack:#payments-ai-spend',
    ]);

    const dlq = await store.listDlq({ source: 'http_events' });
    expect(dlq.map((d) => d.index).sort()).toEqual([2, 5, 8]);

    const otlp = await store.countUsageEvents({ session_id: '28b333cc-5c7f-40da-90a0-4dca26f1b4f5' });
    expect(otlp).toBe(1);
    const [event] = (await store.listUsageEvents({ limit: 100 })).filter((e) => e.source === 'claude_code_otel');
    expect(event).toMatchObject({
      provider: 'anthropic',
      tool: 'claude-code',
      model: 'claude-sonnet-4-5',
      input_tokens: 1200,
      output_tokens: 40,
      cache_read_tokens: 20000,
      cache_write_tokens: 5000,
      cost_usd: 0.02895,
      cost_source: 'reported',
      prompt_id: '9154c933-2892-4667-b727-581d70f1be80',
    });
  });
});

describe('burnrate start with a PagerDuty receiver', () => {
  it('refuses to start while the routing key variable is unset, naming the receiver and the variable; starts once it is set', async () => {
    const around = await startSurroundings();
    const pd = await startPagerDutyStandIn();
    try {
      const config = join(around.dir.path, 'with-pagerduty.yaml');
      await writeFile(
        config,
        TEST_CONFIG.replace(
          '    email: [payments-leads@acme.com]\n',
          '    email: [payments-leads@acme.com]\n    receivers: [{ channel: pagerduty, name: payments, routing_key_env: PD_PAYMENTS }]\n',
        ),
      );
      const env = { ...around.env, BURNRATE_CONFIG: config, PAGERDUTY_EVENTS_URL: pd.url };
      const refused = await startBurnrate(env).then(
        (b) => b.stop().then(() => 'started'),
        (err: unknown) => (err as Error).message,
      );
      expect(refused).toContain('burnrate exited with 1 before listening');
      expect(refused).toContain(
        'teams[0].receivers[0]: pagerduty receiver "payments" needs PD_PAYMENTS (its routing_key_env), which is not set',
      );

      const burnrate = await startBurnrate({ ...env, PD_PAYMENTS: 'R0123456789abcdef0123456789abcde' });
      try {
        const listening = JSON.parse(burnrate.logs.find((l) => l.includes('"burnrate is listening"')) ?? '{}') as Record<string, unknown>;
        expect(listening).toMatchObject({
          slack: 'on',
          email: expect.stringMatching(/^on/),
          pagerduty: 'on (1 receiver)',
          webhook: 'off (no webhook receivers)',
        });
        expect(JSON.stringify(burnrate.logs)).not.toContain('R0123456789abcdef0123456789abcde');
      } finally {
        await burnrate.stop();
      }
    } finally {
      await pd.close();
      await around.close();
    }
  });
});
