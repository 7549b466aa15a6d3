import type { Batch, BatchContext } from '@burnrate/bus';
import { BurnrateError, createLogger, fixedClock, parseConfig, fixedConfig } from '@burnrate/core';
import { type Channel, createMemoryChannel, type MemoryChannel } from '@burnrate/notify';
import { createMemoryStore } from '@burnrate/store';
import { dlqOrigin, TOPICS } from '@burnrate/schemas';
import { anomaly } from '@burnrate/testing/builders';
import { beforeEach, describe, expect, it } from 'vitest';
import { createNotifier, type Notifier, type NotifierDeps } from './notifier.ts';

const config = parseConfig(`
org: acme
teams:
  - id: payments
    slack: { channel: "#payments-ai-spend" }
    email: [payments-leads@acme.com]
routes:
  # One message per anomaly, sent at once: these tests are about what each version needs
  # (dispatcher.test.ts is about grouping and timing).
  group_by: [anomaly]
  group_wait: 0s
  group_interval: 0s
  rules:
    - match: { severity: critical }
      notify: [team, finops]
finops: { email: [finops@acme.com] }
`);

const log = createLogger({ level: 'silent' });
const noWait = { sleep: async () => {}, random: () => 0 };

/** Routes anomalies as the bus would hand them over, then sends what is due. */
async function run(n: Notifier, anomalies: Parameters<Notifier['handleAnomalies']>[0]): Promise<void> {
  await n.handleAnomalies(anomalies);
  await n.dispatch();
}

describe('notifier', () => {
  let store: ReturnType<typeof createMemoryStore>;
  let slack: MemoryChannel;
  let email: MemoryChannel;
  let clock: ReturnType<typeof fixedClock>;
  const notifier = (overrides: Partial<NotifierDeps> = {}) =>
    createNotifier({
      config: fixedConfig(config),
      store,
      channels: { slack, email },
      log,
      clock,
      retry: noWait,
      dispatchEveryMs: 0,
      minGapMs: {},
      ...overrides,
    });

  beforeEach(() => {
    clock = fixedClock(new Date('2026-11-27T14:06:00Z'));
    store = createMemoryStore();
    slack = createMemoryChannel('slack');
    email = createMemoryChannel('email');
  });

  const v1 = anomaly({ id: 'a1', version: 1, severity: 'warning', impact_usd: 6 });
  const v2 = anomaly({ id: 'a1', version: 2, severity: 'critical', impact_usd: 80 });
  const v3 = anomaly({ id: 'a1', version: 3, severity: 'critical', impact_usd: 95 });
  const v4 = anomaly({ id: 'a1', version: 4, severity: 'critical', status: 'resolved', impact_usd: 95 });

  it('routes no historical anomaly: nothing sent, queued or recorded as a delivery, whatever its severity', async () => {
    const n = notifier();
    const found = [v1, v2, v4].map((v) => ({ ...v, id: 'found-by-backfill', historical: true as const }));
    await run(n, found);
    clock.advance(24 * 3_600_000);
    await n.dispatch();
    expect(slack.sent).toEqual([]);
    expect(email.sent).toEqual([]);
    expect(await store.listOutbox({ anomaly_id: 'found-by-backfill' })).toEqual([]);
    expect(await store.listDeliveries({ anomaly_id: 'found-by-backfill' })).toEqual([]);
    // A live anomaly after them is sent as ever.
    await run(n, [v1]);
    expect(slack.sent.map((s) => s.anomaly.id)).toEqual(['a1']);
  });

  it('sends new and escalated versions, skips a small growth, sends the resolution once', async () => {
    const n = notifier();
    await run(n, [v1]);
    await run(n, [v2]);
    await run(n, [v3]);
    await run(n, [v4]);

    expect(slack.sent.map((s) => [s.anomaly.version, s.reason, s.to])).toEqual([
      [1, 'new', ['#payments-ai-spend']],
      [2, 'escalated', ['#payments-ai-spend']],
      [4, 'resolved', ['#payments-ai-spend']],
    ]);
    expect(email.sent.map((s) => [s.anomaly.version, s.reason, s.to])).toEqual([
      [1, 'new', ['payments-leads@acme.com']],
      // finops joins at critical: v2 is the first it sees.
      [2, 'new', ['finops@acme.com']],
      [2, 'escalated', ['payments-leads@acme.com']],
      [4, 'resolved', ['finops@acme.com']],
      [4, 'resolved', ['payments-leads@acme.com']],
    ]);
    const v3Deliveries = (await store.listDeliveries({ anomaly_id: 'a1' })).filter((d) => d.version === 3);
    expect(v3Deliveries.map((d) => [d.receiver, d.status])).toEqual([
      ['email:finops@acme.com', 'skipped'],
      ['email:payments-leads@acme.com', 'skipped'],
      ['slack:#payments-ai-spend', 'skipped'],
    ]);
    expect(v3Deliveries.find((d) => d.channel === 'slack')?.detail).toBe(
      'no change a human needs since v2: still critical, impact $95 (was $80)',
    );
  });

  it('records what was sent with the provider id and the attempts', async () => {
    await run(notifier(), [v1]);
    const deliveries = await store.listDeliveries({ anomaly_id: 'a1' });
    expect(deliveries).toEqual([
      {
        anomaly_id: 'a1',
        version: 1,
        receiver: 'email:payments-leads@acme.com',
        channel: 'email',
        status: 'sent',
        detail: 'email-1',
        attempts: 1,
        at: '2026-11-27T14:06:00.000Z',
      },
      {
        anomaly_id: 'a1',
        version: 1,
        receiver: 'slack:#payments-ai-spend',
        channel: 'slack',
        status: 'sent',
        detail: 'slack-1',
        attempts: 1,
        at: '2026-11-27T14:06:00.000Z',
      },
    ]);
  });

  it('never sends a version twice, also after a restart', async () => {
    await run(notifier(), [v1]);
    await run(notifier(), [v2]);
    expect(slack.sent).toHaveLength(2);
    await run(notifier(), [v1, v2]);
    await run(notifier(), [v2]);
    expect(slack.sent).toHaveLength(2);
    expect(email.sent).toHaveLength(3);
  });

  it('sends only the latest of several versions due together', async () => {
    await run(notifier(), [v1, v2]);
    expect(slack.sent.map((s) => [s.anomaly.version, s.reason])).toEqual([[2, 'new']]);
    expect(
      (await store.listDeliveries({ anomaly_id: 'a1' }))
        .filter((d) => d.receiver.startsWith('slack'))
        .map((d) => [d.version, d.status, d.detail]),
    ).toEqual([
      [1, 'skipped', 'superseded: v2 is queued for slack:#payments-ai-spend'],
      [2, 'sent', 'slack-1'],
    ]);
  });

  it('after a restart compares with stored versions to skip a small growth', async () => {
    await run(notifier(), [v2]);
    await store.insertAnomalies([v2]);
    await run(notifier(), [v3]);
    expect(slack.sent.map((s) => s.anomaly.version)).toEqual([2]);
  });

  it('after a restart without stored versions sends an update rather than stay silent', async () => {
    await run(notifier(), [v2]);
    await run(notifier(), [v3]);
    expect(slack.sent.map((s) => [s.anomaly.version, s.reason])).toEqual([
      [2, 'new'],
      [3, 'updated'],
    ]);
  });

  it('retries a retriable failure honouring Retry-After, and delivers once', async () => {
    const waits: number[] = [];
    slack.failNext(
      new BurnrateError('NOTIFY_RATE_LIMITED', 'slow down', { retryAfterMs: 1_000 }),
      new BurnrateError('NOTIFY_UNAVAILABLE', '503'),
    );
    await run(notifier({ retry: { ...noWait, sleep: async (ms) => void waits.push(ms) } }), [v1]);
    expect(slack.attempts).toBe(3);
    expect(slack.sent).toHaveLength(1);
    expect(waits).toEqual([1_000, 1_000]);
    const d = (await store.listDeliveries({ anomaly_id: 'a1', status: 'sent' })).find((r) => r.channel === 'slack');
    expect(d).toMatchObject({ receiver: 'slack:#payments-ai-spend', attempts: 3 });
  });

  it('keeps a delivery queued with backoff while a channel keeps failing, and sends it when due, also after a restart', async () => {
    slack.failNext(...Array.from({ length: 5 }, () => new BurnrateError('NOTIFY_UNAVAILABLE', '503')));
    // What a new process reads the anomaly from: the sink has stored it.
    await store.insertAnomalies([v1]);
    await notifier().handleAnomalies([v1]);
    const pass = await notifier().dispatch();
    expect(pass).toMatchObject({ messages: 1, retrying: 1 });
    expect(slack.attempts).toBe(5);
    expect(email.sent).toHaveLength(1);
    const [queued] = await store.listOutbox({ status: 'queued' });
    expect(queued).toMatchObject({ receiver: 'slack:#payments-ai-spend', attempts: 1, detail: 'retrying: 503' });

    // Not before its backoff; then from a new process, once.
    expect(await notifier().dispatch()).toMatchObject({ messages: 0 });
    clock.advance(60_000);
    expect(await notifier().dispatch()).toMatchObject({ messages: 1, retrying: 0 });
    expect(slack.sent).toHaveLength(1);
    expect(email.sent).toHaveLength(1);
    expect((await store.listDeliveries({ anomaly_id: 'a1', status: 'sent' })).map((d) => d.receiver)).toEqual([
      'email:payments-leads@acme.com',
      'slack:#payments-ai-spend',
    ]);
    expect((await store.listOutbox({ status: 'queued' })).filter((e) => e.purpose !== 'reminder')).toEqual([]);
  });

  it('does not hammer a channel that used up its retries earlier in the pass', async () => {
    slack.failNext(...Array.from({ length: 5 }, () => new BurnrateError('NOTIFY_UNAVAILABLE', '503')));
    const other = anomaly({ id: 'a2' });
    const n = notifier();
    await n.handleAnomalies([v1, other]);
    expect(await n.dispatch()).toMatchObject({ retrying: 2 });
    expect(slack.attempts).toBe(5);
    expect(email.sent.map((s) => s.anomaly.id)).toEqual(['a1', 'a2']);
  });

  it('gives up a send it is retrying when the partition moves to another instance, which sends it once', async () => {
    slack.failNext(new BurnrateError('NOTIFY_RATE_LIMITED', 'slow down', { retryAfterMs: 60_000 }));
    // The Retry-After wait: it ends when the test says, or when the pass is aborted.
    let waiting!: () => void;
    const waited = new Promise<void>((resolve) => (waiting = resolve));
    let waitOver: () => void = () => {};
    const sleep = (_ms: number, signal?: AbortSignal) =>
      new Promise<void>((resolve, reject) => {
        waitOver = resolve;
        signal?.addEventListener('abort', () => reject(signal.reason as Error));
        waiting();
      });
    const partition = [{ topic: TOPICS.anomalies.name, partition: 0 }];
    await store.insertAnomalies([v1]);
    const before = notifier({ retry: { ...noWait, sleep } });
    await before.subscribeOptions.onAssigned?.(partition);
    await before.handleAnomalies([v1], 0);
    const pass = before.dispatch();
    await waited;

    await before.subscribeOptions.onRevoked?.(partition);
    waitOver();
    await pass;
    expect(slack.attempts).toBe(1);
    expect(slack.sent).toHaveLength(0);
    expect((await store.listOutbox({ status: 'queued' })).filter((e) => e.channel === 'slack' && e.purpose === 'notify')).toMatchObject([
      { part: 0, attempts: 1 },
    ]);

    const after = notifier();
    await after.subscribeOptions.onAssigned?.(partition);
    clock.advance(60_000);
    await after.dispatch();
    await before.dispatch();
    expect(slack.sent).toHaveLength(1);
    expect(email.sent).toHaveLength(1);
  });

  it('records a rejected delivery as failed and moves on', async () => {
    slack.failNext(new BurnrateError('NOTIFY_REJECTED', 'Slack chat.postMessage to #payments-ai-spend was rejected: channel_not_found'));
    await run(notifier(), [v1]);
    expect(slack.attempts).toBe(1);
    expect(email.sent).toHaveLength(1);
    const failed = await store.listDeliveries({ anomaly_id: 'a1', status: 'failed' });
    expect(failed).toMatchObject([
      { receiver: 'slack:#payments-ai-spend', attempts: 1, detail: expect.stringContaining('channel_not_found') },
    ]);
  });

  it('sends nothing below min_severity', async () => {
    await run(notifier(), [anomaly({ id: 'i1', severity: 'info' })]);
    expect(slack.attempts + email.attempts).toBe(0);
    expect(await store.listDeliveries({ anomaly_id: 'i1' })).toEqual([]);
  });

  it('records unattributed spend with no finops receiver as skipped to log', async () => {
    const cfg = parseConfig('org: acme\n');
    await run(notifier({ config: fixedConfig(cfg) }), [anomaly({ id: 'u1', subject: { team: 'unattributed' } })]);
    expect(await store.listDeliveries({ anomaly_id: 'u1' })).toMatchObject([
      { receiver: 'log', channel: 'log', status: 'skipped', detail: 'unattributed spend and no finops receiver configured' },
    ]);
  });

  it('records a receiver whose channel is not configured as skipped', async () => {
    await run(notifier({ channels: { slack } }), [v1]);
    const skipped = await store.listDeliveries({ anomaly_id: 'a1', status: 'skipped' });
    expect(skipped).toMatchObject([{ receiver: 'email:payments-leads@acme.com', detail: 'no email channel configured' }]);
  });

  it('routes each anomaly with the config current at the time', async () => {
    let current = config;
    const n = notifier({ config: { current: () => current, origin: 'test' } });
    current = parseConfig('org: acme\nroutes: { group_wait: 0s }\nteams:\n  - id: payments\n    slack: { channel: "#new-channel" }\n');
    await run(n, [v1]);
    expect(slack.sent.map((s) => s.to)).toEqual([['#new-channel']]);
  });

  describe('after a kill between the provider accepting a message and the sent record', () => {
    const slackReceiver = 'slack:#payments-ai-spend';
    const emailReceiver = 'email:payments-leads@acme.com';
    const pendingAt = '2026-11-27T14:05:00.000Z';
    const pending = (receiver: string, channel: 'slack' | 'email') => ({
      anomaly_id: 'a1',
      version: 1,
      receiver,
      channel,
      status: 'pending' as const,
      detail: 'attempt 7d0c1f0e',
      attempts: 0,
      at: pendingAt,
    });
    // What the killed process left: Slack has the message (or not), the store only `pending`;
    // email was recorded sent so these tests look at Slack alone.
    const crashedAfterSlackAccepted = async (slackGotIt: boolean) => {
      if (slackGotIt) await slack.send({ anomaly: v1, reason: 'new', to: ['#payments-ai-spend'], receiver: slackReceiver });
      await store.insertDeliveries([
        pending(slackReceiver, 'slack'),
        { ...pending(emailReceiver, 'email'), status: 'sent', detail: '<m@acme.com>', attempts: 1 },
      ]);
    };
    const slackRecord = async () => (await store.listDeliveries({ anomaly_id: 'a1' })).find((d) => d.receiver === slackReceiver);

    it('records the message reconcile finds and does not post it again', async () => {
      await crashedAfterSlackAccepted(true);
      await run(notifier(), [v1]);
      expect(slack.reconciles).toBe(1);
      expect(slack.attempts).toBe(1);
      expect(slack.sent).toHaveLength(1);
      expect(await slackRecord()).toMatchObject({ status: 'sent', detail: 'slack-1', attempts: 1, at: '2026-11-27T14:06:00.000Z' });
      expect(email.attempts).toBe(0);

      await run(notifier(), [v1]);
      expect(slack.reconciles).toBe(1);
      expect(slack.sent).toHaveLength(1);
    });

    it('reconciles a version cut by the kill before the newer one goes out, which then replies in its thread', async () => {
      await crashedAfterSlackAccepted(true);
      await store.insertAnomalies([v1, v2]);
      await run(notifier(), [v1, v2]);
      expect(slack.reconciles).toBe(1);
      expect(await slackRecord()).toMatchObject({ status: 'sent', detail: 'slack-1' });
      // v2 follows on the next pass, as a reply to the message v1's attempt posted.
      await notifier().dispatch();
      clock.advance(1_000);
      await notifier().dispatch();
      expect(slack.sent.map((n) => [n.anomaly.version, n.thread?.parentId])).toEqual([
        [1, undefined],
        [2, 'slack-1'],
      ]);
    });

    it('sends once when reconcile finds nothing', async () => {
      await crashedAfterSlackAccepted(false);
      await run(notifier(), [v1]);
      expect(slack.reconciles).toBe(1);
      expect(slack.sent.map((n) => [n.anomaly.id, n.anomaly.version, n.receiver])).toEqual([['a1', 1, slackReceiver]]);
      expect(await slackRecord()).toMatchObject({ status: 'sent', detail: 'slack-1' });
    });

    it('sends, and logs why, when reconcile fails', async () => {
      const lines: string[] = [];
      const captured = createLogger({ level: 'warn', destination: { write: (line: string) => void lines.push(line) } });
      slack.failReconcileNext(
        new BurnrateError('NOTIFY_REJECTED', 'Slack conversations.history for #payments-ai-spend was rejected: missing_scope'),
      );
      await crashedAfterSlackAccepted(false);
      await run(notifier({ log: captured }), [v1]);
      expect(slack.reconciles).toBe(1);
      expect(slack.sent).toHaveLength(1);
      expect(await slackRecord()).toMatchObject({ status: 'sent', detail: 'slack-1' });
      const warnings = lines.map((l) => JSON.parse(l) as { level: string; msg: string; receiver?: string; err?: { message: string } });
      expect(warnings).toContainEqual(
        expect.objectContaining({
          level: 'warn',
          receiver: slackReceiver,
          msg: 'could not check whether an earlier attempt was delivered; sending again, it may arrive twice',
          err: expect.objectContaining({ message: expect.stringContaining('missing_scope') }),
        }),
      );
    });

    it('retries a reconcile that failed for a while before deciding', async () => {
      await crashedAfterSlackAccepted(true);
      slack.failReconcileNext(new BurnrateError('NOTIFY_RATE_LIMITED', 'slow down', { retryAfterMs: 1_000 }));
      await run(notifier(), [v1]);
      expect(slack.reconciles).toBe(2);
      expect(slack.sent).toHaveLength(1);
      expect(await slackRecord()).toMatchObject({ status: 'sent', detail: 'slack-1' });
    });

    it('leaves the attempt pending, unsent, when stopped while reconciling', async () => {
      await crashedAfterSlackAccepted(false);
      slack.failReconcileNext(new BurnrateError('NOTIFY_UNAVAILABLE', '503'));
      const n = notifier();
      await n.handleAnomalies([v1]);
      await n.stop();
      expect(await n.dispatch()).toMatchObject({ messages: 0 });
      expect(slack.attempts).toBe(0);
      expect(await slackRecord()).toMatchObject({ status: 'pending' });
    });

    it('sends email again, to the same receiver, since SMTP cannot be asked', async () => {
      const smtp = createMemoryChannel('email', { reconcile: false });
      await smtp.send({ anomaly: v1, reason: 'new', to: ['payments-leads@acme.com'], receiver: emailReceiver });
      await store.insertDeliveries([
        pending(emailReceiver, 'email'),
        { ...pending(slackReceiver, 'slack'), status: 'sent', detail: 'C1:1.000001', attempts: 1 },
      ]);
      await run(notifier({ channels: { slack, email: smtp } }), [v1]);
      expect(smtp.sent.map((n) => n.receiver)).toEqual([emailReceiver, emailReceiver]);
      expect((await store.listDeliveries({ anomaly_id: 'a1', status: 'sent' })).map((d) => d.receiver)).toContain(emailReceiver);
    });

    it('handles the other anomalies when the store refuses one, then throws its non-retriable error', async () => {
      const poisoned = anomaly({ id: 'x\ud800', subject: { developer: 'x\ud800' } });
      const n = notifier();
      await expect(n.handleAnomalies([poisoned, v1])).rejects.toMatchObject({ code: 'STORE_QUERY_FAILED', retriable: false });
      await n.dispatch();
      expect(slack.sent.map((s) => s.anomaly.id)).toEqual(['a1']);
    });

    it('records pending before every send, so a kill during the send leaves a trace', async () => {
      const seen: string[][] = [];
      const watched: Channel = {
        ...slack,
        send: async (n) => {
          seen.push((await store.listDeliveries({ anomaly_id: n.anomaly.id })).map((d) => `${d.receiver}=${d.status}`));
          return slack.send(n);
        },
      };
      await run(notifier({ channels: { slack: watched } }), [v1]);
      expect(seen).toEqual([[`${emailReceiver}=skipped`, `${slackReceiver}=pending`]]);
      expect((await slackRecord())?.status).toBe('sent');
    });
  });

  describe('handleBatch', () => {
    const ctx: BatchContext = { commit: async () => {}, signal: new AbortController().signal };
    const batch = (values: string[]): Batch => ({
      topic: 'anomalies.v1',
      partition: 0,
      highWatermark: String(values.length),
      messages: values.map((value, i) => ({
        topic: 'anomalies.v1',
        partition: 0,
        offset: String(i),
        key: 'k',
        value,
        headers: {},
        timestamp: 0,
      })),
    });

    it('delivers valid anomalies and sends invalid records to the DLQ with the reason', async () => {
      const { summary: _dropped, ...missingSummary } = v1;
      const n = notifier();
      await n.handleBatch(batch([JSON.stringify(v1), '{not json', JSON.stringify({ ...missingSummary, id: 'bad' })]), ctx);
      await n.dispatch();
      expect(slack.sent).toHaveLength(1);
      const dlq = await store.listDlq();
      // The sink derives the same id and source for these messages: one row each in the store.
      const notJson = dlqOrigin('anomalies.v1', 0, '1');
      const invalid = dlqOrigin('anomalies.v1', 0, '2');
      expect(notJson.source).toBe('topic:anomalies.v1');
      expect(dlq.map((r) => [r.dlq_id, r.source]).sort()).toEqual([notJson, invalid].map((o) => [o.dlq_id, o.source]).sort());
      const byId = (id: string) => dlq.find((r) => r.dlq_id === id);
      expect(byId(notJson.dlq_id)?.reason).toMatch(/^not JSON/);
      expect(byId(invalid.dlq_id)?.reason).toMatch(/^not a valid anomalies\.v1 Anomaly: summary: /);
      expect(byId(invalid.dlq_id)?.issues[0]?.path).toBe('summary');
      expect(byId(invalid.dlq_id)?.raw).toContain('"id":"bad"');
    });

    it('dead-letters an anomaly whose delivery records the store refuses, delivers the ones around it, and completes the batch', async () => {
      const lines: string[] = [];
      const captured = createLogger({ level: 'error', destination: { write: (line: string) => void lines.push(line) } });
      // The detector builds ids from the developer: a lone surrogate there makes every delivery row unstorable.
      const poisoned = anomaly({ id: 'session_cost:acme:mallory\ud800:s1', subject: { developer: 'mallory\ud800' } });
      const after = anomaly({ id: 'a2' });
      const n = notifier({ log: captured });
      await n.handleBatch(batch([JSON.stringify(v1), JSON.stringify(poisoned), JSON.stringify(after)]), ctx);
      await n.dispatch();

      expect(slack.sent.map((s) => s.anomaly.id)).toEqual(['a1', 'a2']);
      expect(await store.listDeliveries({ anomaly_id: poisoned.id })).toEqual([]);
      const [dlq] = await store.listDlq();
      expect(dlq).toMatchObject({
        source: 'topic:anomalies.v1',
        reason: expect.stringMatching(
          /^not delivered: handling anomaly "session_cost:acme:mallory\\ud800:s1" v1 at anomalies\.v1\/0@1 failed for good: .*notification_outbox_v1/,
        ),
        raw: batch([JSON.stringify(poisoned)]).messages[0]?.value,
      });
      // Its own row: the sink may dead-letter the same message for its own reason.
      expect(dlq?.dlq_id).not.toBe(dlqOrigin('anomalies.v1', 0, '1').dlq_id);
      expect(dlq?.issues.some((i) => i.path === '(dlq)')).toBe(false);
      expect(n.stats()).toEqual({ refused: 1, dropped: 0 });
      expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toContainEqual(
        expect.objectContaining({ anomalyId: poisoned.id, msg: expect.stringContaining('it is dead-lettered and the next one goes on') }),
      );
    });

    it('logs, counts and skips a DLQ row the store refuses too', async () => {
      const lines: string[] = [];
      const captured = createLogger({ level: 'error', destination: { write: (line: string) => void lines.push(line) } });
      const refusing = {
        ...store,
        insertDlq: async () => Promise.reject(new BurnrateError('STORE_QUERY_FAILED', 'insert into dlq_v1: refused')),
      };
      const n = notifier({ log: captured, store: refusing });
      await n.handleBatch(batch(['{not json', JSON.stringify(v1)]), ctx);
      await n.dispatch();
      expect(slack.sent).toHaveLength(1);
      expect(n.stats()).toEqual({ refused: 0, dropped: 1 });
      expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toContainEqual(
        expect.objectContaining({
          origin: 'anomalies.v1/0@0',
          dlqId: dlqOrigin('anomalies.v1', 0, '0').dlq_id,
          msg: 'the store refused the DLQ row too; the record is not stored anywhere',
        }),
      );
    });

    it('fails the batch for redelivery when the store is down, rather than dead-lettering', async () => {
      const down = {
        ...store,
        upsertOutbox: async () => Promise.reject(new BurnrateError('STORE_UNAVAILABLE', 'connection refused')),
      };
      const n = notifier({ store: down });
      await expect(n.handleBatch(batch([JSON.stringify(v1)]), ctx)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', retriable: true });
      expect(await store.listDlq()).toEqual([]);
      expect(slack.sent).toEqual([]);
      expect(n.stats()).toEqual({ refused: 0, dropped: 0 });
    });
  });
});
