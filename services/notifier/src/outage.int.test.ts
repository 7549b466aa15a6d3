import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInProcessBus, type InProcessBus } from '@burnrate/bus';
import { createLogger, fixedConfig, parseConfig } from '@burnrate/core';
import { type Channel, createEmailChannel, createSlackChannel } from '@burnrate/notify';
import { type Anomaly, TOPICS } from '@burnrate/schemas';
import { createChdbStore, type Store } from '@burnrate/store';
import {
  anomaly,
  type SlackStandIn,
  startSlackStandIn,
  startSmtpServer,
  tempDir,
  type TempDir,
  type TestSmtpServer,
  waitUntil,
} from '@burnrate/testing';
import { createNotifier, type Notifier } from './notifier.ts';

const log = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const TEAM_CHANNEL = '#payments-ai-spend';

const config = parseConfig(`
org: acme
public_url: https://burnrate.acme.internal
teams:
  - id: payments
    members: [alice@acme.com]
    slack: { channel: "${TEAM_CHANNEL}" }
    email: [payments-leads@acme.com]
# One message per anomaly version as soon as it is due: this is about delivery, not grouping.
routes: { group_by: [anomaly], group_wait: 0s, group_interval: 0s }
`);

/** One version of an episode; each episode on a session of its own, so no critical inhibits another's warning. */
const version = (episode: string, v: number, fields: Partial<Anomaly>): Anomaly =>
  anomaly({
    id: `session_cost:acme:alice@acme.com:sess-${episode}:2026-11-27T13:00:00Z`,
    version: v,
    subject: { session: `sess-${episode}` },
    detected_at: new Date().toISOString(),
    ...fields,
  });

const warning = { severity: 'warning' as const, impact_usd: 6.2 };
const critical = { severity: 'critical' as const, impact_usd: 79.2 };
const A1 = version('a', 1, warning);
const A2 = version('a', 2, critical);
const B1 = version('b', 1, warning);
const B2 = version('b', 2, { ...warning, status: 'resolved' });
const C1 = version('c', 1, warning);
const C2 = version('c', 2, critical);
const D1 = version('d', 1, critical);
const D2 = version('d', 2, { ...critical, impact_usd: 240 });
const E1 = version('e', 1, critical);

/** `a v2`: the episode and the version, what the assertions compare. */
const key = (a: Pick<Anomaly, 'id' | 'version'>): string => `${a.id.split(':')[3]?.replace(/^sess-/, '')} v${a.version}`;

/** What one process of `burnrate start` holds: the chdb store and the on-disk bus in its data directory, its channels, its notifier. */
interface Process {
  store: Store;
  bus: InProcessBus;
  channels: Channel[];
  notifier: Notifier;
  stop(): Promise<void>;
}

describe('notifier through a Slack and SMTP outage and a restart', () => {
  let dir: TempDir;
  let slackApi: SlackStandIn;
  let smtp: TestSmtpServer;
  let running: Process | undefined;

  beforeAll(async () => {
    dir = await tempDir('burnrate-notifier-outage-');
    [slackApi, smtp] = await Promise.all([startSlackStandIn({ channels: [TEAM_CHANNEL] }), startSmtpServer()]);
  });
  afterAll(async () => {
    await running?.stop();
    await Promise.all([slackApi?.close(), smtp?.close()]);
    await dir?.cleanup();
  });

  async function start(): Promise<Process> {
    const store = await createChdbStore({ dataDir: join(dir.path, 'chdb'), log });
    await store.migrate();
    const bus = createInProcessBus({ dir: join(dir.path, 'bus'), log, retryDelayMs: 20, maxRetryDelayMs: 100 });
    await bus.ensureTopics([TOPICS.anomalies.name]);
    const slack = createSlackChannel({ token: slackApi.token, slackApiUrl: slackApi.url, log });
    const email = createEmailChannel({ url: smtp.url, from: 'Burnrate <burnrate@acme.com>', log });
    const notifier = createNotifier({
      config: fixedConfig(config),
      store,
      channels: { slack, email },
      log,
      bus,
      dispatchEveryMs: 100,
      // Two tries per pass, then the entry waits in the outbox for its backoff.
      retry: { baseDelayMs: 50, maxDelayMs: 200, maxAttempts: 2 },
    });
    await notifier.start();
    const proc: Process = {
      store,
      bus,
      channels: [slack, email],
      notifier,
      async stop() {
        // As the composition root stops: the notifier (its consumer and dispatch loop), the bus, the channels, the store.
        await notifier.stop();
        await bus.close();
        for (const c of proc.channels) await c.close();
        await store.close();
        running = undefined;
      },
    };
    running = proc;
    return proc;
  }

  /** What the detector and the sink do with a version: on anomalies.v1, and in the store. */
  async function detect(p: Process, list: readonly Anomaly[]): Promise<void> {
    await p.store.insertAnomalies(list);
    await p.bus.producer().send(
      TOPICS.anomalies.name,
      list.map((a) => ({ key: a.id, value: JSON.stringify(a) })),
    );
  }

  const queuedNotifications = async (p: Process) =>
    (await p.store.listOutbox({ status: 'queued' })).filter((e) => e.purpose !== 'reminder');
  const slackPosts = () =>
    slackApi.messages.map((m) =>
      key({ id: String(m.metadata?.event_payload.anomaly_id), version: Number(m.metadata?.event_payload.version) }),
    );
  const emails = () =>
    smtp.messages.map((m) => {
      const [id = '', v = ''] = (m.headers['x-burnrate-anomaly'] ?? '').split('; v=');
      return key({ id, version: Number(v) });
    });
  const refusedBySlack = () => slackApi.calls.filter((c) => c.status === 429 || c.status === 500);

  it('keeps every version in the outbox and delivers each that needs a human exactly once to each receiver', async () => {
    let p = await start();
    // Before the outage: the first version of two episodes, delivered at once.
    await detect(p, [A1, B1]);
    await waitUntil(() => slackApi.messages.length === 2 && smtp.messages.length === 2, {
      timeoutMs: 10_000,
      message: 'A v1 and B v1 delivered',
    });

    // Slack rate-limits once and then fails with 500s; SMTP refuses every transaction until told otherwise.
    slackApi.failNext(1, { status: 429, retryAfterSec: 1 });
    slackApi.failNext(8, { status: 500 });
    smtp.failNext(1_000_000, 451, 'mail system down for maintenance');
    const outageStarted = Date.now();
    // A escalates, B ends, C and D each get two versions while nothing can be sent.
    await detect(p, [A2, B2, C1, C2, D1, D2]);
    await waitUntil(
      async () => {
        const queued = (await queuedNotifications(p)).map((e) => `${key({ id: e.anomaly_id, version: e.version })} ${e.channel}`);
        return ['a v2', 'b v2', 'c v2', 'd v2'].every((v) => queued.includes(`${v} slack`) && queued.includes(`${v} email`));
      },
      { timeoutMs: 10_000, message: 'every new version queued for both receivers' },
    );
    await waitUntil(() => refusedBySlack().length >= 3 && smtp.refused >= 2, { timeoutMs: 15_000, message: 'Slack and SMTP refusing' });
    expect(slackApi.messages).toHaveLength(2);
    expect(smtp.messages).toHaveLength(2);

    // A restart in the middle of the outage: nothing but the store and the bus's log carries over.
    const queuedAtRestart = (await queuedNotifications(p)).length;
    await p.stop();
    p = await start();
    // A version the new process reads while Slack and SMTP may still be down.
    await detect(p, [E1]);
    await waitUntil(() => refusedBySlack().length === 9, { timeoutMs: 20_000, message: 'Slack to answer its 429 and eight 500s' });
    // SMTP back only once Slack is: both outages overlap and both outlast the restart.
    await waitUntil(() => smtp.refused >= 4, { timeoutMs: 10_000, message: 'SMTP refusing after the restart' });
    smtp.failNext(0);
    const outageMs = Date.now() - outageStarted;

    const expected = ['a v1', 'a v2', 'b v1', 'b v2', 'c v2', 'd v2', 'e v1'];
    await waitUntil(
      async () =>
        slackApi.messages.length >= expected.length &&
        smtp.messages.length >= expected.length &&
        (await queuedNotifications(p)).length === 0,
      {
        timeoutMs: 30_000,
        message: 'every version delivered and nothing but reminders left in the outbox',
      },
    );

    // Exactly once per version and receiver: the superseded first versions of C and D never sent, the rest once each.
    expect(slackPosts().sort()).toEqual(expected);
    expect(emails().sort()).toEqual(expected);
    // The later versions of A and B are replies in their episode's thread, in Slack and in mail.
    const parentOf = (id: string) =>
      slackApi.messages.find((m) => m.metadata?.event_payload.anomaly_id === id && m.threadTs === undefined)!;
    for (const [id, text] of [
      [A2.id, /^Escalated to critical/],
      [B2.id, /resolved/i],
    ] as const) {
      const replies = slackApi.repliesTo(parentOf(id).ts);
      expect(replies).toHaveLength(1);
      expect(replies[0]?.text).toMatch(text);
    }
    const mailOf = (a: Anomaly) => smtp.messages.find((m) => m.headers['x-burnrate-anomaly'] === `${a.id}; v=${a.version}`)!;
    expect(mailOf(A2).headers['in-reply-to']).toBe(mailOf(A1).messageId);
    expect(mailOf(B2).headers['in-reply-to']).toBe(mailOf(B1).messageId);

    // The delivery log says the same as the receivers: each message recorded sent with its id, the superseded versions skipped.
    const deliveries = await p.store.listDeliveries({});
    const sent = deliveries.filter((d) => d.status === 'sent');
    expect(
      sent
        .filter((d) => d.channel === 'slack')
        .map((d) => d.detail)
        .sort(),
    ).toEqual(slackApi.messages.map((m) => `${m.channel}:${m.ts}`).sort());
    expect(
      sent
        .filter((d) => d.channel === 'email')
        .map((d) => d.detail)
        .sort(),
    ).toEqual(smtp.messages.map((m) => m.messageId).sort());
    for (const a of [C1, D1]) {
      const records = deliveries.filter((d) => d.anomaly_id === a.id && d.version === a.version);
      expect(records.map((d) => [d.channel, d.status]).sort()).toEqual([
        ['email', 'skipped'],
        ['slack', 'skipped'],
      ]);
      for (const d of records) expect(d.detail).toMatch(/superseded/);
    }
    expect(deliveries.filter((d) => d.status === 'pending' || d.status === 'failed')).toEqual([]);

    // Only reminders stay queued: one per open episode and receiver (B ended, so its reminder is
    // cancelled when due rather than sent).
    const queued = await p.store.listOutbox({ status: 'queued' });
    expect(queued.every((e) => e.purpose === 'reminder')).toBe(true);
    expect(new Set(queued.filter((e) => e.anomaly_id !== B1.id).map((e) => `${e.anomaly_id.split(':')[3]} ${e.channel}`))).toEqual(
      new Set(['sess-a', 'sess-c', 'sess-d', 'sess-e'].flatMap((s) => [`${s} slack`, `${s} email`])),
    );

    // The 429's Retry-After was waited out before Slack was asked again.
    const calls = slackApi.calls;
    const limited = calls.findIndex((c) => c.status === 429);
    expect(calls[limited + 1]!.at - calls[limited]!.at).toBeGreaterThanOrEqual(990);

    console.log(
      `outage: ${expected.length} versions delivered once to each of 2 receivers (2 superseded), Slack refused ${refusedBySlack().length} calls ` +
        `(1×429, 8×500), SMTP refused ${smtp.refused} transactions, ${queuedAtRestart} notifications queued at the restart, outage ${outageMs} ms`,
    );
  });
});
