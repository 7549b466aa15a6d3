import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiRoutes } from '@burnrate/api';
import { createKafkaBus, declareTopics, type KafkaBus, partitionFor } from '@burnrate/bus';
import { createHttpServer, createLogger, fixedConfig, type HttpServer, parseConfig } from '@burnrate/core';
import { type Channel, createEmailChannel, createSlackChannel, type Notification } from '@burnrate/notify';
import { openKafkaBus } from '@burnrate/runtime';
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
import { createDeclaredTopics, kafkaAvailable, leaseKafka, type SuiteKafka } from '../../../infra/kafka/suite-kafka.ts';
import { createNotifier, type Notifier } from './notifier.ts';

// Distributed mode on a real broker lent by the run's pool (infra/kafka/suite-kafka.ts): two
// notifier instances in one consumer group, each on a Kafka bus of its own, and the API routes
// (what the ingest process serves) putting decisions on anomaly-state.v1 through a third bus.
// In production every instance and the API share one ClickHouse server; there is none on this
// machine and chdb binds one data directory per process, so they share one chdb store opened
// once in this process. Under CI=true a broker that cannot start fails the suite.

const log = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const GROUP_ID = 'burnrate-notifier';
const TEAM_CHANNEL = '#payments-ai-spend';
const ONCALL_CHANNEL = '#payments-oncall';
const ESCALATE_AFTER_MS = 4_000;
const ANOMALIES = 12;
// Short timings so a member joining or leaving rebalances in a fraction of a second.
const CONSUMER = { heartbeatIntervalMs: 300, sessionTimeoutMs: 6000, rebalanceTimeoutMs: 10_000, maxWaitTimeMs: 200 };

const config = parseConfig(`
org: acme
public_url: https://burnrate.acme.internal
teams:
  - id: payments
    members: [alice@acme.com]
    slack: { channel: "${TEAM_CHANNEL}" }
    email: [payments-leads@acme.com]
    oncall: { slack: { channel: "${ONCALL_CHANNEL}" } }
routes: { group_by: [anomaly], group_wait: 0s, escalate_after: 4s }
`);

const anomaliesPartitions = declareTopics({ replicationFactor: 1, minInsyncReplicas: 1 }).find(
  (t) => t.name === TOPICS.anomalies.name,
)!.partitions;

/** What one instance's channels did: every message sent and every message edited. */
interface Book {
  sent: { anomalyId: string; version: number; receiver: string; at: number }[];
  updated: { anomalyId: string; state: string }[];
}

/** The instance's real channel, with what it sends and edits written down: the channels are a port we own. */
function counted(inner: Channel, book: Book): Channel {
  const receiverOf = (n: Notification): string => n.receiver ?? `${inner.name}:${n.to.join(',')}`;
  return {
    name: inner.name,
    async send(n) {
      const result = await inner.send(n);
      for (const a of n.group ?? [n.anomaly])
        book.sent.push({ anomalyId: a.id, version: a.version, receiver: receiverOf(n), at: Date.now() });
      return result;
    },
    ...(inner.reconcile ? { reconcile: (n: Notification, since: Date) => inner.reconcile!(n, since) } : {}),
    ...(inner.update
      ? {
          update: async (messageId: string, n: Notification) => {
            await inner.update!(messageId, n);
            book.updated.push({ anomalyId: n.anomaly.id, state: n.lifecycle?.state ?? 'open' });
          },
        }
      : {}),
    close: () => inner.close(),
  };
}

interface Instance {
  name: string;
  bus: KafkaBus;
  notifier: Notifier;
  channels: Channel[];
  book: Book;
}

/** Criticals of distinct sessions, `wanted[p]` of them keyed to anomalies.v1 partition p. */
function criticals(name: string, wanted: readonly number[]): Anomaly[] {
  const left = [...wanted];
  const out: Anomaly[] = [];
  for (let i = 0; left.some((n) => n > 0); i += 1) {
    const session = `sess-${name}-${i}`;
    const id = `session_cost:acme:alice@acme.com:${session}:2026-11-27T13:00:00Z`;
    const p = partitionFor(id, anomaliesPartitions);
    if ((left[p] ?? 0) <= 0) continue;
    left[p] = (left[p] ?? 0) - 1;
    out.push(
      anomaly({
        id,
        severity: 'critical',
        subject: { session },
        observed: { value: 104.2 + i, unit: 'usd' },
        impact_usd: 79.2 + i,
        detected_at: new Date().toISOString(),
      }),
    );
  }
  return out;
}

describe.skipIf(!kafkaAvailable.shared)('two notifier instances over Kafka, acknowledged through the API', () => {
  let broker: SuiteKafka | undefined;
  let dir: TempDir;
  let store: Store;
  let slackApi: SlackStandIn;
  let smtp: TestSmtpServer;
  let apiBus: KafkaBus | undefined;
  let detectorBus: KafkaBus | undefined;
  let http: HttpServer | undefined;
  let apiUrl: string;
  const instances: Instance[] = [];

  beforeAll(async () => {
    broker = await leaseKafka();
    // As `burnrate topics apply` declares them: the partition count is what the group splits.
    await createDeclaredTopics(broker.brokers, [TOPICS.anomalies.name, TOPICS.anomalyState.name]);
    dir = await tempDir('burnrate-notifier-dist-');
    store = await createChdbStore({ dataDir: join(dir.path, 'chdb'), log });
    await store.migrate();
    [slackApi, smtp] = await Promise.all([startSlackStandIn({ channels: [TEAM_CHANNEL, ONCALL_CHANNEL] }), startSmtpServer()]);

    apiBus = createKafkaBus({ brokers: broker.brokers, clientId: 'burnrate-ingest', log });
    detectorBus = createKafkaBus({ brokers: broker.brokers, clientId: 'burnrate-detector', log });
    http = createHttpServer({ routes: createApiRoutes({ store, producer: apiBus.producer(), log }), log });
    const { port } = await http.listen(0, '127.0.0.1');
    apiUrl = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    // Reverse of the data flow: the API, then the notifiers (consumers, then their channels), then the store.
    await http?.close();
    await apiBus?.close();
    await detectorBus?.close();
    for (const i of [...instances]) await stopInstance(i);
    await store?.close();
    await Promise.all([slackApi?.close(), smtp?.close()]);
    await dir?.cleanup();
    await broker?.release();
  });

  function startInstance(name: string): Instance {
    const bus = openKafkaBus({ brokers: broker!.brokers.split(','), service: `notifier-${name}`, log, consumer: CONSUMER });
    const book: Book = { sent: [], updated: [] };
    const slack = counted(createSlackChannel({ token: slackApi.token, slackApiUrl: slackApi.url, log }), book);
    const email = counted(createEmailChannel({ url: smtp.url, from: 'Burnrate <burnrate@acme.com>', log }), book);
    const notifier = createNotifier({
      config: fixedConfig(config),
      store,
      channels: { slack, email },
      log,
      bus,
      groupId: GROUP_ID,
      dispatchEveryMs: 200,
      retry: { baseDelayMs: 50, maxDelayMs: 200, maxAttempts: 3 },
    });
    const instance = { name, bus, notifier, channels: [slack, email], book };
    instances.push(instance);
    return instance;
  }

  async function stopInstance(i: Instance): Promise<void> {
    instances.splice(instances.indexOf(i), 1);
    await i.notifier.stop();
    await i.bus.close();
    for (const c of i.channels) await c.close();
  }

  /** Waits until every partition of both groups is held by exactly one of `members`, each holding some. */
  async function balanced(members: readonly Instance[]): Promise<void> {
    await waitUntil(
      () =>
        [GROUP_ID, `${GROUP_ID}-state`].every((g) => {
          const held = members.flatMap((i) => assigned(i, g));
          return (
            members.every((i) => assigned(i, g).length > 0) && held.length === anomaliesPartitions && new Set(held).size === held.length
          );
        }),
      {
        timeoutMs: 30_000,
        message: `${members.map((i) => i.name).join(' and ')} to hold the partitions of anomalies.v1 and anomaly-state.v1`,
      },
    );
  }

  /** `topic:partition` this instance holds in `groupId`. */
  const assigned = (i: Instance, groupId: string): string[] =>
    i.bus.stats().subscriptions.find((s) => s.groupId === groupId)?.assigned ?? [];
  const partitionsOf = (i: Instance): number[] =>
    assigned(i, GROUP_ID)
      .map((tp) => Number(tp.slice(tp.lastIndexOf(':') + 1)))
      .sort((x, y) => x - y);

  const ack = async (id: string): Promise<void> => {
    const res = await fetch(`${apiUrl}/api/anomalies/${encodeURIComponent(id)}/ack`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ by: 'bob@acme.com', note: 'looking at it' }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(((await res.json()) as { anomaly: { state: string } }).anomaly.state).toBe('acknowledged');
  };

  it('splits the work by partition, sends each anomaly once, shows each ack and escalates only the rest', async () => {
    const [a, b] = [startInstance('a'), startInstance('b')];
    await Promise.all([a.notifier.start(), b.notifier.start()]);
    await balanced([a, b]);
    const owner = new Map<number, Instance>();
    for (const i of [a, b]) for (const p of partitionsOf(i)) owner.set(p, i);

    // Two keyed to each partition, so each instance has work whatever the split.
    const list = criticals(
      'split',
      Array.from({ length: anomaliesPartitions }, () => ANOMALIES / anomaliesPartitions),
    );
    const acked = new Set(list.filter((_, n) => n % 2 === 0).map((x) => x.id));
    // The sink's part: the API reads anomalies from the store (it answers 404 for one it does not know).
    await store.insertAnomalies(list);
    await detectorBus!.producer().send(
      TOPICS.anomalies.name,
      list.map((x) => ({ key: x.id, value: JSON.stringify(x) })),
    );

    // Acknowledged as soon as its message is in the channel, well within escalate_after.
    const teamPost = (id: string) =>
      slackApi.messages.find(
        (m) => m.channelName === TEAM_CHANNEL && m.metadata?.event_payload.anomaly_id === id && m.threadTs === undefined,
      );
    const pendingAcks = new Set(acked);
    const acks: Promise<void>[] = [];
    await waitUntil(
      () => {
        for (const id of pendingAcks) {
          if (!teamPost(id)) continue;
          pendingAcks.delete(id);
          acks.push(ack(id));
        }
        return list.every((x) => teamPost(x.id));
      },
      { timeoutMs: 20_000, message: 'every anomaly posted to the team channel' },
    );
    await Promise.all(acks);

    const oncallPosts = () => slackApi.messages.filter((m) => m.channelName === ONCALL_CHANNEL);
    await waitUntil(() => oncallPosts().length >= list.length - acked.size, {
      timeoutMs: 20_000,
      message: `${list.length - acked.size} escalations to ${ONCALL_CHANNEL}`,
    });
    await waitUntil(
      () => [...acked].every((id) => slackApi.callsTo('chat.update').some((c) => c.args.ts === teamPost(id)?.ts && c.status === 200)),
      { timeoutMs: 15_000, message: 'every acknowledged message updated' },
    );
    // Every escalation settled (sent, or cancelled by the ack) before the quiet side is judged.
    await waitUntil(
      async () => {
        const queued = await store.listOutbox({ status: 'queued' });
        return !queued.some((e) => e.purpose === 'escalate');
      },
      { timeoutMs: 15_000, message: 'no escalation left queued' },
    );
    await waitUntil(() => smtp.messages.length >= list.length, { timeoutMs: 10_000, message: 'every team email' });

    // Each anomaly in the team channel once, a top-level post, from the instance that owns its partition.
    const teamPosts = slackApi.messages.filter((m) => m.channelName === TEAM_CHANNEL);
    expect(teamPosts.map((m) => m.metadata?.event_payload.anomaly_id).sort()).toEqual(list.map((x) => x.id).sort());
    expect(teamPosts.every((m) => m.threadTs === undefined)).toBe(true);
    expect(smtp.messages.map((m) => m.headers['x-burnrate-anomaly']).sort()).toEqual(list.map((x) => `${x.id}; v=1`).sort());
    for (const x of list) {
      const by = owner.get(partitionFor(x.id, anomaliesPartitions))!;
      const other = by === a ? b : a;
      expect(by.book.sent.filter((s) => s.anomalyId === x.id && s.receiver !== `slack:${ONCALL_CHANNEL}`)).toHaveLength(2);
      expect(other.book.sent.filter((s) => s.anomalyId === x.id)).toEqual([]);
    }
    // The outbox row of every message carries the anomaly's partition.
    const entries = await store.listOutbox({});
    for (const e of entries) expect(e.part, `${e.anomaly_id} → ${e.receiver}`).toBe(partitionFor(e.anomaly_id, anomaliesPartitions));

    // Acknowledged: the message shows who, and on-call never heard of it; the escalation was cancelled.
    for (const id of acked) {
      const post = teamPost(id)!;
      expect(post.updates).toBeGreaterThanOrEqual(1);
      expect(JSON.stringify(post.blocks)).toContain('Acknowledged by bob@acme.com');
      expect(oncallPosts().filter((m) => m.metadata?.event_payload.anomaly_id === id)).toEqual([]);
      expect(entries.filter((e) => e.anomaly_id === id && e.purpose === 'escalate')).toMatchObject([
        { status: 'cancelled', receiver: `slack:${ONCALL_CHANNEL}` },
      ]);
    }
    // Not acknowledged: on-call got it once, no sooner than escalate_after after the team did; the team message unchanged.
    for (const x of list.filter((y) => !acked.has(y.id))) {
      const escalations = oncallPosts().filter((m) => m.metadata?.event_payload.anomaly_id === x.id);
      expect(escalations, x.id).toHaveLength(1);
      const sends = instances.flatMap((i) => i.book.sent).filter((s) => s.anomalyId === x.id);
      const reachedTeam = Math.min(...sends.filter((s) => s.receiver !== `slack:${ONCALL_CHANNEL}`).map((s) => s.at));
      const reachedOncall = sends.find((s) => s.receiver === `slack:${ONCALL_CHANNEL}`)!.at;
      expect(reachedOncall - reachedTeam).toBeGreaterThanOrEqual(ESCALATE_AFTER_MS - 50);
      expect(teamPost(x.id)!.updates).toBe(0);
    }
    expect(oncallPosts()).toHaveLength(list.length - acked.size);

    // The work really was split: both instances sent messages.
    const messages = instances.map((i) => i.book.sent.length);
    expect(messages.every((n) => n > 0)).toBe(true);
    expect(messages.reduce((x, y) => x + y, 0)).toBe(2 * list.length + (list.length - acked.size));

    const updates = slackApi.callsTo('chat.update').filter((c) => c.status === 200).length;
    const edits = instances.flatMap((i) => i.book.updated);
    expect(new Set(edits.map((u) => u.anomalyId))).toEqual(acked);
    expect(edits.every((u) => u.state === 'acknowledged')).toBe(true);
    // Decisions are consumed in a group of their own: whoever holds the anomaly-state.v1 partition
    // edits the message, reading it from the shared store, so it need not be the anomaly's owner.
    const updatedByOwner = [...acked].filter((id) =>
      owner.get(partitionFor(id, anomaliesPartitions))!.book.updated.some((u) => u.anomalyId === id),
    ).length;
    // Each instance keeps Slack's one message per second per channel on its own; together they may not.
    const postTimes = slackApi
      .callsTo('chat.postMessage')
      .filter((c) => c.args.channel === TEAM_CHANNEL && c.status === 200)
      .map((c) => c.at);
    const minGapMs = Math.min(...postTimes.slice(1).map((t, n) => t - postTimes[n]!));
    console.log(
      `distributed notifier: ${list.length} anomalies, partitions ${instances.map((i) => `${i.name}=[${partitionsOf(i).join(',')}]`).join(' ')}, ` +
        `messages ${instances.map((i) => `${i.name}=${i.book.sent.length}`).join(' ')}, ${oncallPosts().length} escalations, ` +
        `${updates} updates (${updatedByOwner}/${acked.size} by the anomaly's owner), shortest gap between team-channel posts ${minGapMs} ms`,
    );
  });

  it('sends once what an instance was retrying when its partition moved to another', async () => {
    for (const i of [...instances]) await stopInstance(i);
    // One instance holds every partition and is waiting out a Slack Retry-After for X when a
    // second joins and is given X's partition. Y, on partition 0, keeps the load level with X's
    // partition 1, so the load-aware split stays the round robin by member id: the second member
    // gets the odd partitions.
    const c = startInstance('c');
    await c.notifier.start();
    await balanced([c]);
    const [x] = criticals('moved', [0, 1, 0, 0, 0, 0]);
    const [y] = criticals('kept', [1, 0, 0, 0, 0, 0]);
    const publish = async (a: Anomaly) => {
      await store.insertAnomalies([a]);
      await detectorBus!.producer().send(TOPICS.anomalies.name, [{ key: a.id, value: JSON.stringify(a) }]);
    };
    slackApi.failNext(1, { status: 429, retryAfterSec: 5 }, 'chat.postMessage');
    await publish(x!);
    const limited = await waitUntil(() => slackApi.callsTo('chat.postMessage').find((call) => call.status === 429), {
      timeoutMs: 10_000,
      message: 'Slack to rate-limit the post of X',
    });
    expect((limited.args.metadata as { event_payload: { anomaly_id: string } }).event_payload.anomaly_id).toBe(x!.id);
    await publish(y!);
    const d = startInstance('d');
    await d.notifier.start();
    await balanced([c, d]);
    expect(partitionsOf(d)).toContain(partitionFor(x!.id, anomaliesPartitions));
    expect(partitionsOf(c)).toContain(partitionFor(y!.id, anomaliesPartitions));

    const ids = new Set([x!.id, y!.id]);
    const postsTo = (channel: string, id: string) =>
      slackApi.messages.filter((m) => m.channelName === channel && m.metadata?.event_payload.anomaly_id === id);
    await waitUntil(() => [...ids].every((id) => postsTo(TEAM_CHANNEL, id).length > 0 && postsTo(ONCALL_CHANNEL, id).length > 0), {
      timeoutMs: 30_000,
      message: 'X and Y posted to the team and escalated to on-call',
    });
    // The Retry-After is over and whatever either instance had in hand is sent or back in the outbox.
    await waitUntil(() => Date.now() > limited.at + 5_500, { timeoutMs: 10_000 });
    await waitUntil(
      async () => (await store.listOutbox({ status: 'queued' })).every((e) => !ids.has(e.anomaly_id) || e.purpose === 'reminder'),
      { timeoutMs: 15_000, message: 'nothing but reminders left queued' },
    );
    await Promise.all([c.notifier.dispatch(), d.notifier.dispatch()]);

    const counts = (channel: string) => [...ids].map((id) => postsTo(channel, id).length);
    const mails = [...ids].map((id) => smtp.messages.filter((m) => m.headers['x-burnrate-anomaly'] === `${id}; v=1`).length);
    console.log(
      `partition moved mid-retry: X on partition ${partitionFor(x!.id, anomaliesPartitions)} moved from c=[${partitionsOf(c).join(',')}] ` +
        `to d=[${partitionsOf(d).join(',')}]; team posts X=${counts(TEAM_CHANNEL)[0]} Y=${counts(TEAM_CHANNEL)[1]}, ` +
        `escalations X=${counts(ONCALL_CHANNEL)[0]} Y=${counts(ONCALL_CHANNEL)[1]}, emails X=${mails[0]} Y=${mails[1]}`,
    );
    expect(counts(TEAM_CHANNEL)).toEqual([1, 1]);
    expect(counts(ONCALL_CHANNEL)).toEqual([1, 1]);
    expect(mails).toEqual([1, 1]);
  });
});
