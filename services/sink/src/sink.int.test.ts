import { join } from 'node:path';
import { type Batch, type BatchContext, createInProcessBus, type Bus, type Subscription } from '@burnrate/bus';
import { createLogger } from '@burnrate/core';
import { TOPICS, type UsageEvent } from '@burnrate/schemas';
import { createChdbStore, type Store } from '@burnrate/store';
import { anomaly, tempDir, type TempDir, usageEvent, waitUntil } from '@burnrate/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBufferedSink } from './buffered-sink.ts';
import { createSink, type SinkCounters } from './sink.ts';

const log = createLogger({ level: 'silent' });
const LONE = '\ud800';

/** The embedded composition, sink only: chdb and the on-disk in-process bus in one data directory. */
interface Running {
  store: Store;
  bus: Bus;
  subscription: Subscription;
  counters: SinkCounters;
  stop(): Promise<void>;
}

async function start(dataDir: string): Promise<Running> {
  const store = await createChdbStore({ dataDir: join(dataDir, 'chdb'), log });
  await store.migrate();
  // A short retry delay: on today's failure mode the batch would be retried, not skipped.
  const bus = createInProcessBus({ dir: join(dataDir, 'bus'), log, retryDelayMs: 50, maxRetryDelayMs: 200 });
  await bus.ensureTopics([TOPICS.usageEvents.name, TOPICS.usageDlq.name, TOPICS.anomalies.name, TOPICS.anomalyState.name]);
  const sink = createSink({ store, log });
  const subscription = bus.subscribe(sink.subscribeOptions);
  await subscription.start();
  return {
    store,
    bus,
    subscription,
    counters: sink.counters,
    async stop() {
      await subscription.stop();
      await bus.close();
      await store.close();
    },
  };
}

/** `good` events, then after each `every`th one an event whose developer holds a lone surrogate. */
function round(prefix: string, good: number, every: number): { events: UsageEvent[]; good: string[]; bad: string[] } {
  const events: UsageEvent[] = [];
  const goodIds: string[] = [];
  const badIds: string[] = [];
  for (let i = 0; i < good; i += 1) {
    const e = usageEvent({ event_id: `${prefix}-good-${i}`, developer: `dev-${i % 7}@acme.com` });
    events.push(e);
    goodIds.push(e.event_id);
    if ((i + 1) % every === 0) {
      const bad = usageEvent({ event_id: `${prefix}-bad-${i}`, developer: `mallory${LONE}@acme.com` });
      events.push(bad);
      badIds.push(bad.event_id);
    }
  }
  return { events, good: goodIds, bad: badIds };
}

async function publish(running: Running, events: readonly UsageEvent[]): Promise<void> {
  // The producer side of ingest, without its checks: what an older version or another producer may have written.
  await running.bus.producer().send(
    TOPICS.usageEvents.name,
    events.map((e) => ({ key: `${e.org}:${e.developer}`, value: JSON.stringify(e) })),
  );
  await waitUntil(() => running.subscription.lag() === 0, { timeoutMs: 20_000, message: 'the sink to take every published event' });
}

async function storedIds(store: Store): Promise<string[]> {
  return (await store.listUsageEvents({})).map((e) => e.event_id).sort();
}

describe('sink on chdb: a row the store refuses never blocks the partition', () => {
  let dir: TempDir;
  let running: Running;
  const goodIds: string[] = [];
  const badIds: string[] = [];

  beforeAll(async () => {
    dir = await tempDir('burnrate-sink-bad-rows-');
  });
  afterAll(async () => {
    await running?.stop();
    await dir?.cleanup();
  });

  it('chdb itself refuses an event whose developer holds a lone surrogate', async () => {
    running = await start(dir.path);
    const poisoned = usageEvent({ event_id: 'probe', developer: `mallory${LONE}` });
    await expect(running.store.insertUsageEvents([poisoned])).rejects.toMatchObject({
      code: 'STORE_QUERY_FAILED',
      retriable: false,
      details: { clickhouseCode: 25 },
    });
  });

  it('stores every good event once and dead-letters each bad one with chdb’s reason, batch after batch', async () => {
    // Several batches: each publish is taken before the next is sent.
    for (const [n, every] of [
      [200, 50],
      [1, 1],
      [999, 333],
    ] as const) {
      const r = round(`r${goodIds.length}`, n, every);
      goodIds.push(...r.good);
      badIds.push(...r.bad);
      await publish(running, r.events);
    }
    // One batch of only a poisoned row, and events after it.
    await publish(running, [usageEvent({ event_id: 'alone-bad', developer: LONE })]);
    badIds.push('alone-bad');
    const after = round('after', 50, 1000);
    goodIds.push(...after.good);
    await publish(running, after.events);

    expect(await storedIds(running.store)).toEqual([...goodIds].sort());
    expect(await running.store.countUsageEvents()).toBe(goodIds.length);

    const dlq = await running.store.listDlq({ source: `topic:${TOPICS.usageEvents.name}`, limit: 1000 });
    expect(dlq.map((r) => (JSON.parse(r.raw) as UsageEvent).event_id).sort()).toEqual([...badIds].sort());
    for (const r of dlq) {
      expect(r.reason).toMatch(
        /^usage_events_v1 refused the record at usage\.events\.v1\/0@\d+: chdb insert into usage_events_v1: Code: 25\./,
      );
      expect(r.issues).toEqual([
        { path: 'developer', message: expect.stringContaining('missing second part of surrogate pair') as string },
      ]);
    }
    expect(running.counters).toMatchObject({ refused: badIds.length, dropped: 0, invalid: 0 });
    expect(running.counters.written.usage_events).toBe(goodIds.length);
  });

  it('does the same for an anomaly the store refuses', async () => {
    const good = anomaly();
    const bad = anomaly({ id: `session_cost:acme:mallory${LONE}:s1`, subject: { developer: `mallory${LONE}` } });
    await running.bus.producer().send(TOPICS.anomalies.name, [
      { key: bad.id, value: JSON.stringify(bad) },
      { key: good.id, value: JSON.stringify(good) },
    ]);
    await waitUntil(() => running.subscription.lag() === 0, { timeoutMs: 20_000, message: 'the sink to take the anomalies' });
    expect(await running.store.getAnomaly(good.id)).toMatchObject({ id: good.id });
    const [dead] = await running.store.listDlq({ source: `topic:${TOPICS.anomalies.name}` });
    expect(dead?.reason).toMatch(/^anomalies_v1 refused the record at anomalies\.v1\/0@\d+: .*Code: 25\./);
  });

  it('after a restart on the same data directory, starts past what it dead-lettered and keeps storing', async () => {
    const dlqBefore = (await running.store.listDlq({ limit: 1000 })).length;
    await running.stop();
    running = await start(dir.path);

    const next = round('restart', 100, 25);
    goodIds.push(...next.good);
    badIds.push(...next.bad);
    await publish(running, next.events);

    expect(await storedIds(running.store)).toEqual([...goodIds].sort());
    expect(await running.store.countUsageEvents()).toBe(goodIds.length);
    // Only the new poisoned rows were met: the committed offsets were past the old ones.
    expect(running.counters).toMatchObject({ refused: next.bad.length, dropped: 0 });
    expect((await running.store.listDlq({ limit: 1000 })).length).toBe(dlqBefore + next.bad.length);
  });

  it('the buffered sink (Kafka deployments) isolates the same rows in a block gathered from several partitions, and commits past them', async () => {
    const sink = createBufferedSink({ store: running.store, log, maxRows: 10_000, maxDelayMs: 60_000 });
    const commits: string[] = [];
    const ctx: BatchContext = { commit: async (offset) => void commits.push(offset), signal: new AbortController().signal };
    const batches: Batch[] = [0, 1, 2].map((partition) => {
      const r = round(`buffered-p${partition}`, 300, 100 + partition);
      goodIds.push(...r.good);
      badIds.push(...r.bad);
      return {
        topic: TOPICS.usageEvents.name,
        partition,
        highWatermark: String(r.events.length),
        messages: r.events.map((e, offset) => ({
          topic: TOPICS.usageEvents.name,
          partition,
          offset: String(offset),
          key: `${e.org}:${e.developer}`,
          value: JSON.stringify(e),
          headers: {},
          timestamp: Date.now(),
        })),
      };
    });
    for (const b of batches) await sink.subscribeOptions.handleBatch(b, ctx);
    await sink.drain();

    expect(await storedIds(running.store)).toEqual([...goodIds].sort());
    expect(commits).toEqual(batches.map((b) => b.messages.at(-1)?.offset));
    const bad = batches.reduce((n, b) => n + b.messages.filter((m) => m.value.includes('\\ud800')).length, 0);
    expect(bad).toBe(3 + 2 + 2);
    expect(sink.stats()).toMatchObject({
      flushes: 1,
      failedFlushes: 0,
      refused: bad,
      dropped: 0,
      flushed: { usage_events: 900, dlq: bad },
    });
  });
});
