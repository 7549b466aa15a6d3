import { createInProcessBus } from '@burnrate/bus';
import { createLogger, parseConfig, fixedConfig } from '@burnrate/core';
import { type Channel, createEmailChannel, createSlackChannel } from '@burnrate/notify';
import { type Anomaly, TOPICS } from '@burnrate/schemas';
import { join } from 'node:path';
import { createChdbStore, createMemoryStore, type Store } from '@burnrate/store';
import {
  anomaly,
  channelId,
  startSlackStandIn,
  startSmtpServer,
  tempDir,
  waitUntil,
  type SlackStandIn,
  type TestSmtpServer,
} from '@burnrate/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createNotifier, type Notifier } from './notifier.ts';

/** Routes anomalies as the bus would hand them over, then sends what is due. */
async function run(n: Notifier, anomalies: readonly Anomaly[]): Promise<void> {
  await n.handleAnomalies(anomalies);
  await n.dispatch();
}

const config = parseConfig(`
org: acme
teams:
  - id: payments
    members: [alice@acme.com]
    slack: { channel: "#payments-ai-spend" }
    email: [payments-leads@acme.com, tech-lead@acme.com]
public_url: https://burnrate.acme.internal
# One message per anomaly version, sent as soon as it is due: these tests are about delivery
# (grouping and timing are in dispatcher.test.ts).
routes: { group_by: [anomaly], group_wait: 0s, group_interval: 0s }
`);

const log = createLogger({ level: 'silent' });

describe('notifier with real Slack client and SMTP', () => {
  let slackApi: SlackStandIn;
  let smtp: TestSmtpServer;
  let store: Store;
  let slack: Channel;
  let email: Channel;

  beforeAll(async () => {
    slackApi = await startSlackStandIn({ channels: ['#payments-ai-spend'] });
    smtp = await startSmtpServer({ auth: { user: 'burnrate', pass: 'pw' } });
  });
  afterAll(async () => {
    await slackApi.close();
    await smtp.close();
  });
  beforeEach(() => {
    slackApi.calls.length = 0;
    slackApi.messages.length = 0;
    smtp.messages.length = 0;
    store = createMemoryStore();
    slack = createSlackChannel({ token: slackApi.token, slackApiUrl: slackApi.url, log });
    email = createEmailChannel({ url: smtp.url, from: 'Burnrate <burnrate@acme.com>', log });
  });
  afterEach(async () => {
    await email.close();
  });

  // Real waits, kept short: the point is that retries happen, not how long they take.
  const notifier = () =>
    createNotifier({
      config: fixedConfig(config),
      store,
      channels: { slack, email },
      log,
      retry: { baseDelayMs: 50, maxDelayMs: 200, maxAttempts: 3 },
      dispatchEveryMs: 0,
      minGapMs: {},
    });

  const posts = () => slackApi.callsTo('chat.postMessage');

  it('notifies a warning and its escalation to critical once each, and a replay not at all', async () => {
    const v1 = anomaly({ id: 'sc-1', version: 1, severity: 'warning', observed: { value: 31.2, unit: 'usd' } });
    const v2 = anomaly({ id: 'sc-1', version: 2, severity: 'critical', observed: { value: 104.2, unit: 'usd' }, impact_usd: 79.2 });

    const n = notifier();
    await run(n, [v1]);
    await run(n, [v2]);

    // The escalation is a reply in the thread of the first message, broadcast to the channel, and
    // the first message now shows the critical version.
    const [first, second] = posts();
    expect(first?.args).toMatchObject({ channel: '#payments-ai-spend' });
    expect(first?.args.thread_ts).toBeUndefined();
    expect(second?.args).toMatchObject({ thread_ts: slackApi.messages[0]?.ts, reply_broadcast: 'true' });
    expect(String(second?.args.text)).toMatch(/^Escalated to critical/);
    const updates = slackApi.callsTo('chat.update');
    expect(updates.map((c) => c.args.ts)).toEqual([slackApi.messages[0]?.ts]);
    expect(String(updates[0]?.args.text)).toContain('$104 ');
    // Emails of the episode thread: one subject, Re: and In-Reply-To / References on the reply.
    expect(smtp.messages.map((m) => [m.subject, m.to, m.headers['x-burnrate-severity']])).toEqual([
      ['[Burnrate] Session cost for alice@acme.com (payments)', ['payments-leads@acme.com', 'tech-lead@acme.com'], 'warning'],
      ['Re: [Burnrate] Session cost for alice@acme.com (payments)', ['payments-leads@acme.com', 'tech-lead@acme.com'], 'critical'],
    ]);
    expect(smtp.messages[1]?.headers['in-reply-to']).toBe(smtp.messages[0]?.messageId);
    expect(smtp.messages[1]?.headers.references).toBe(smtp.messages[0]?.messageId);

    await run(n, [v2]);
    await run(notifier(), [v1, v2]);
    expect(posts()).toHaveLength(2);
    expect(smtp.messages).toHaveLength(2);

    const sent = await store.listDeliveries({ anomaly_id: 'sc-1', status: 'sent' });
    const slackIds = sent.filter((d) => d.channel === 'slack').map((d) => d.detail);
    expect(slackIds).toEqual(slackApi.messages.map((m) => `${m.channel}:${m.ts}`));
    expect(
      sent
        .filter((d) => d.channel === 'email')
        .map((d) => d.detail)
        .sort(),
    ).toEqual(smtp.messages.map((m) => m.messageId).sort());
  });

  it('waits out a Slack 429 with Retry-After: 1 and delivers once', async () => {
    slackApi.failNext(1, { status: 429, retryAfterSec: 1 });
    const started = Date.now();
    await run(notifier(), [anomaly({ id: 'rl-1' })]);
    const elapsed = Date.now() - started;

    expect(posts().map((c) => c.status)).toEqual([429, 200]);
    expect(slackApi.messages).toHaveLength(1);
    expect(elapsed).toBeGreaterThanOrEqual(1_000);
    const [d] = await store.listDeliveries({ anomaly_id: 'rl-1', status: 'sent' }).then((r) => r.filter((x) => x.channel === 'slack'));
    expect(d?.attempts).toBe(2);
  });

  it('retries an SMTP 4xx and delivers the email once', async () => {
    smtp.failNext(1, 451);
    await run(notifier(), [anomaly({ id: 'tmp-1' })]);
    expect(smtp.refused).toBe(1);
    expect(smtp.messages).toHaveLength(1);
    const [d] = await store.listDeliveries({ anomaly_id: 'tmp-1', status: 'sent' }).then((r) => r.filter((x) => x.channel === 'email'));
    expect(d?.attempts).toBe(2);
  });

  it('delays but never drops a delivery through an outage longer than its retries', async () => {
    slackApi.failNext(4, { status: 503 });
    const a = anomaly({ id: 'out-1' });
    await store.insertAnomalies([a]);
    const first = notifier();
    await first.handleAnomalies([a]);
    expect(await first.dispatch()).toMatchObject({ retrying: 1 });
    expect(slackApi.messages).toHaveLength(0);
    expect(smtp.messages).toHaveLength(1);

    // A new process sends it once its backoff is over.
    await waitUntil(async () => (await notifier().dispatch()).messages === 1, { timeoutMs: 10_000 });
    expect(posts().map((c) => c.status)).toEqual([503, 503, 503, 503, 200]);
    expect(slackApi.messages).toHaveLength(1);
    expect(smtp.messages).toHaveLength(1);
  });

  it('records channel_not_found as failed and still sends the email', async () => {
    const wrong = parseConfig(`
org: acme
teams:
  - id: payments
    slack: { channel: "#does-not-exist" }
    email: [payments-leads@acme.com]
routes: { group_wait: 0s }
`);
    await run(createNotifier({ config: fixedConfig(wrong), store, channels: { slack, email }, log }), [anomaly({ id: 'nf-1' })]);
    expect(posts()).toHaveLength(1);
    expect(smtp.messages).toHaveLength(1);
    const failed = await store.listDeliveries({ anomaly_id: 'nf-1', status: 'failed' });
    expect(failed).toMatchObject([
      { receiver: 'slack:#does-not-exist', attempts: 1, detail: expect.stringContaining('channel_not_found') },
    ]);
  });

  describe('after a kill between the provider accepting a message and the sent record', () => {
    const slackReceiver = 'slack:#payments-ai-spend';
    const emailReceiver = 'email:payments-leads@acme.com,tech-lead@acme.com';
    const pendingRow = (a: Anomaly, receiver: string, channel: 'slack' | 'email', at: Date) => ({
      anomaly_id: a.id,
      version: a.version,
      receiver,
      channel,
      status: 'pending' as const,
      detail: 'attempt before the kill',
      attempts: 0,
      at: at.toISOString(),
    });
    const sentRow = (a: Anomaly, receiver: string, channel: 'slack' | 'email') => ({
      ...pendingRow(a, receiver, channel, new Date()),
      status: 'sent' as const,
      detail: 'recorded',
      attempts: 1,
    });
    const postsOf = (a: Anomaly) =>
      posts().filter((c) => {
        const payload = (c.args.metadata as { event_payload?: { anomaly_id?: string; version?: number } } | undefined)?.event_payload;
        return payload?.anomaly_id === a.id && payload.version === a.version;
      });

    it('finds the Slack message the killed process posted and records it instead of posting again', async () => {
      const a = anomaly({ id: 'kill-1', version: 2, severity: 'critical' });
      // The killed process: pending recorded, Slack accepted the post, then nothing.
      const attemptAt = new Date();
      await store.insertDeliveries([pendingRow(a, slackReceiver, 'slack', attemptAt), sentRow(a, emailReceiver, 'email')]);
      const before = createSlackChannel({ token: slackApi.token, slackApiUrl: slackApi.url, log });
      const { id } = await before.send({ anomaly: a, reason: 'new', to: ['#payments-ai-spend'], receiver: slackReceiver });

      // Another message of the same anomaly in between must not be taken for it.
      await before.send({ anomaly: { ...a, version: 1 }, reason: 'new', to: ['#payments-ai-spend'], receiver: slackReceiver });

      await run(notifier(), [a]);

      expect(postsOf(a)).toHaveLength(1);
      const history = slackApi.callsTo('conversations.history');
      expect(history).toHaveLength(1);
      expect(history[0]?.args).toMatchObject({
        channel: channelId('#payments-ai-spend'),
        include_all_metadata: 'true',
        limit: '200',
        oldest: ((attemptAt.getTime() - 60_000) / 1000).toFixed(6),
      });
      const [slackDelivery] = (await store.listDeliveries({ anomaly_id: a.id, status: 'sent' })).filter((d) => d.channel === 'slack');
      expect(slackDelivery?.detail).toBe(id);
      expect(smtp.messages).toHaveLength(0);

      await run(notifier(), [a]);
      expect(postsOf(a)).toHaveLength(1);
      expect(slackApi.callsTo('conversations.history')).toHaveLength(1);
    });

    it('posts once when the killed process never reached Slack', async () => {
      const a = anomaly({ id: 'kill-2' });
      await store.insertDeliveries([pendingRow(a, slackReceiver, 'slack', new Date()), sentRow(a, emailReceiver, 'email')]);
      await run(notifier(), [a]);
      expect(slackApi.callsTo('conversations.history')).toHaveLength(1);
      expect(postsOf(a)).toHaveLength(1);
      const [slackDelivery] = (await store.listDeliveries({ anomaly_id: a.id, status: 'sent' })).filter((d) => d.channel === 'slack');
      expect(slackDelivery?.detail).toBe(`${slackApi.messages[0]?.channel}:${slackApi.messages[0]?.ts}`);
    });

    it('posts when the token may not read the channel (missing_scope): at least once', async () => {
      const a = anomaly({ id: 'kill-3' });
      await store.insertDeliveries([pendingRow(a, slackReceiver, 'slack', new Date()), sentRow(a, emailReceiver, 'email')]);
      slackApi.failNext(1, { error: 'missing_scope' });
      await run(notifier(), [a]);
      expect(slackApi.calls.map((c) => [c.method, c.error])).toEqual([
        ['conversations.list', 'missing_scope'],
        ['chat.postMessage', undefined],
      ]);
      expect(postsOf(a)).toHaveLength(1);
    });

    it('sends the email again with the same Message-ID, since SMTP cannot be asked', async () => {
      const a = anomaly({ id: 'kill-4' });
      await store.insertDeliveries([pendingRow(a, emailReceiver, 'email', new Date()), sentRow(a, slackReceiver, 'slack')]);
      const { id } = await email.send({
        anomaly: a,
        reason: 'new',
        to: ['payments-leads@acme.com', 'tech-lead@acme.com'],
        receiver: emailReceiver,
      });

      await run(notifier(), [a]);

      expect(smtp.messages.map((m) => m.messageId)).toEqual([id, id]);
      expect(id).toMatch(/^<burnrate\.kill-4\.v1\.[0-9a-f]{12}@acme\.com>$/);
      const [emailDelivery] = (await store.listDeliveries({ anomaly_id: a.id, status: 'sent' })).filter((d) => d.channel === 'email');
      expect(emailDelivery?.detail).toBe(id);
    });
  });

  it('consumes anomalies.v1 from the bus and is redelivered until Slack is back', async () => {
    const bus = createInProcessBus({ log, retryDelayMs: 20, maxRetryDelayMs: 100 });
    await bus.ensureTopics([TOPICS.anomalies.name]);
    const n = createNotifier({
      config: fixedConfig(config),
      store,
      channels: { slack, email },
      log,
      bus,
      retry: { baseDelayMs: 10, maxDelayMs: 20, maxAttempts: 2 },
    });
    slackApi.failNext(5, { status: 502 });
    await n.start();
    try {
      const a = anomaly({ id: 'bus-1' });
      await bus.producer().send(TOPICS.anomalies.name, [
        { key: a.id, value: JSON.stringify(a) },
        { key: 'broken', value: '{"id":"broken"}' },
      ]);
      await slackApi.waitFor((m) => m.text.includes('Session cost'), 10_000);
      await waitUntil(async () => (await store.listDlq()).length === 1, { timeoutMs: 5_000 });
    } finally {
      await n.stop();
      await bus.close();
    }
    expect(slackApi.messages).toHaveLength(1);
    expect(smtp.messages).toHaveLength(1);
    const [dlq] = await store.listDlq();
    expect(dlq?.reason).toMatch(/^not a valid anomalies\.v1 Anomaly/);
  });

  it('on chdb, dead-letters an anomaly whose delivery records chdb refuses, delivers the rest, and does not meet it again after a restart', async () => {
    const dir = await tempDir('burnrate-notifier-bad-rows-');
    const open = async () => {
      const chdb = await createChdbStore({ dataDir: join(dir.path, 'chdb'), log });
      await chdb.migrate();
      const bus = createInProcessBus({ dir: join(dir.path, 'bus'), log, retryDelayMs: 20, maxRetryDelayMs: 100 });
      await bus.ensureTopics([TOPICS.anomalies.name]);
      const n = createNotifier({
        config: fixedConfig(config),
        store: chdb,
        channels: { slack, email },
        log,
        bus,
        retry: { baseDelayMs: 10, maxDelayMs: 20, maxAttempts: 2 },
      });
      await n.start();
      const send = (list: Anomaly[]) =>
        bus.producer().send(
          TOPICS.anomalies.name,
          list.map((a) => ({ key: a.id, value: JSON.stringify(a) })),
        );
      return { chdb, n, send, stop: async () => (await n.stop(), await bus.close(), await chdb.close()) };
    };
    const slackIds = () => slackApi.messages.map((m) => m.metadata?.event_payload.anomaly_id);
    let run = await open();
    try {
      // The detector keys anomaly ids by developer: a lone surrogate there reaches the delivery rows.
      const poisoned = anomaly({ id: 'session_cost:acme:mallory\ud800:s1', subject: { developer: 'mallory\ud800' } });
      // Separate sessions: anomalies of one session would be one incident, and one message.
      await run.send([
        anomaly({ id: 'chdb-1', subject: { session: 'chdb-1' } }),
        poisoned,
        anomaly({ id: 'chdb-2', subject: { session: 'chdb-2' } }),
      ]);
      await waitUntil(() => slackApi.messages.length === 2, {
        timeoutMs: 10_000,
        message: 'the anomalies around the poisoned one to reach Slack',
      });
      const [dead] = await waitUntil(async () => {
        const rows = await run.chdb.listDlq();
        return rows.length === 1 && rows;
      });
      expect(slackIds()).toEqual(['chdb-1', 'chdb-2']);
      expect(dead).toMatchObject({
        source: 'topic:anomalies.v1',
        reason: expect.stringMatching(
          /^not delivered: handling anomaly .* failed for good: chdb insert into notification_outbox_v1: Code: 25\./,
        ) as string,
        raw: JSON.stringify(poisoned),
      });
      expect(run.n.stats()).toEqual({ refused: 1, dropped: 0 });

      await run.stop();
      run = await open();
      await run.send([anomaly({ id: 'chdb-3', subject: { session: 'chdb-3' } })]);
      await waitUntil(() => slackApi.messages.length === 3, { timeoutMs: 10_000, message: 'the next anomaly after a restart' });
      expect(slackIds()).toEqual(['chdb-1', 'chdb-2', 'chdb-3']);
      expect(run.n.stats()).toEqual({ refused: 0, dropped: 0 });
      expect(await run.chdb.listDlq()).toHaveLength(1);
    } finally {
      await run.stop();
      await dir.cleanup();
    }
  });
});
