import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaBus, type KafkaBus, type Subscription } from '@burnrate/bus';
import { createLogger, fixedConfig, parseConfig } from '@burnrate/core';
import { Anomaly, TOPICS, usageEventKey, type UsageEvent } from '@burnrate/schemas';
import { createChdbStore, type Store } from '@burnrate/store';
import { tempDir, type TempDir, usageEvent, waitUntil } from '@burnrate/testing';
import { createDeclaredTopics, kafkaAvailable, leaseKafka, type SuiteKafka } from '../../../../infra/kafka/suite-kafka.ts';
import { createDetector } from '../detector.ts';
import { createMemorySnapshotStore } from '../snapshots.ts';
import { BACKFILL_GROUP_ID, createBackfillRunner } from './backfill-runner.ts';

// Distributed mode on a real broker lent by the run's pool: stage A and the backfill runner each
// on a Kafka bus of their own, as the detector's threads and its main thread run them. There is no
// ClickHouse server on this machine, so the store the sink would fill is chdb, and the test stores
// the events itself, as the sink would. Under CI=true a broker that cannot start fails the suite.

const log = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const CONSUMER = { heartbeatIntervalMs: 300, sessionTimeoutMs: 6000, rebalanceTimeoutMs: 10_000, maxWaitTimeMs: 200 };
const TOPIC_NAMES: readonly string[] = [
  TOPICS.usageEvents.name,
  TOPICS.usageRollups.name,
  TOPICS.usageBackfill.name,
  TOPICS.anomalies.name,
];

const config = fixedConfig(
  parseConfig(`
org: acme
teams:
  - id: payments
    members: [alice@acme.com]
detectors:
  backfill: { quiet: 1s, max_wait: 1m, warmup: 14d }
`),
);

describe.skipIf(!kafkaAvailable.shared)('the backfill runner over Kafka', () => {
  let broker: SuiteKafka | undefined;
  let dir: TempDir;
  let store: Store;
  const buses: KafkaBus[] = [];
  const subscriptions: Subscription[] = [];
  const published: Anomaly[] = [];

  const bus = (clientId: string): KafkaBus => {
    const b = createKafkaBus({ brokers: broker?.brokers ?? '', clientId, log, consumer: CONSUMER });
    buses.push(b);
    return b;
  };
  const start = async (s: Subscription): Promise<void> => {
    subscriptions.push(s);
    await s.start();
  };

  beforeAll(async () => {
    broker = await leaseKafka();
    await createDeclaredTopics(broker.brokers, TOPIC_NAMES);
    dir = await tempDir('burnrate-backfill-int-');
    store = await createChdbStore({ dataDir: join(dir.path, 'chdb'), log });
    await store.migrate();
  });

  afterAll(async () => {
    for (const s of subscriptions.reverse()) await s.stop();
    for (const b of buses) await b.close();
    await store?.close();
    await dir?.cleanup();
    await broker?.release();
  });

  it('judges a month-old import stage A found late, publishes historical anomalies and commits what it judged', async () => {
    const detectorBus = bus('burnrate-detector');
    const detector = createDetector({ config, producer: detectorBus.producer(), snapshots: createMemorySnapshotStore(), log });
    await start(detectorBus.subscribe(detector.subscribeOptions));

    const runnerBus = bus('burnrate-detector-backfill');
    const runner = createBackfillRunner({ config, store, producer: runnerBus.producer(), log });
    await start(runnerBus.subscribe(runner.subscribeOptions));
    await runner.start();

    const reader = bus('anomalies-reader');
    await start(
      reader.subscribe({
        groupId: 'backfill-int-reader',
        topics: [TOPICS.anomalies.name],
        handleBatch: async (batch) => {
          for (const m of batch.messages) published.push(Anomaly.parse(JSON.parse(m.value)));
        },
      }),
    );

    const now = Date.now();
    const at = (ms: number) => new Date(ms).toISOString();
    const today = usageEvent({ event_id: 'today', occurred_at: at(now - 60_000), ingested_at: at(now), cost_usd: 0.05 });
    const monthAgo = now - 30 * 86_400_000;
    const imported: UsageEvent[] = Array.from({ length: 12 }, (_, i) =>
      usageEvent({
        event_id: `old-${i}`,
        occurred_at: at(monthAgo + i * 60_000),
        ingested_at: at(now),
        session_id: 'last-month',
        cost_usd: 10,
      }),
    );
    // What the sink does beside the detector: the events are in the store.
    await store.insertUsageEvents([today, ...imported]);
    const producer = detectorBus.producer();
    const send = (events: readonly UsageEvent[]) =>
      producer.send(
        TOPICS.usageEvents.name,
        events.map((e) => ({ key: usageEventKey(e), value: JSON.stringify(e) })),
      );
    await send([today]);
    await send(imported.slice(0, 6));
    await send(imported.slice(6));

    await waitUntil(() => published.some((a) => a.severity === 'critical'), {
      timeoutMs: 60_000,
      intervalMs: 100,
      message: 'a critical historical anomaly on anomalies.v1',
    });
    expect(published.every((a) => a.historical === true && a.subject.session === 'last-month')).toBe(true);
    expect(detector.stats()).toMatchObject({ late: 12 });
    expect(detector.stats().backfillWindows).toBeGreaterThanOrEqual(1);

    // Committed once judged: the group's position is the end of usage.backfill.v1.
    const admin = new Kafka({
      clientId: 'backfill-int-check',
      brokers: (broker?.brokers ?? '').split(','),
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    try {
      await waitUntil(
        async () => {
          const ends = await admin.fetchTopicOffsets(TOPICS.usageBackfill.name);
          const [committed] = await admin.fetchOffsets({ groupId: BACKFILL_GROUP_ID, topics: [TOPICS.usageBackfill.name] });
          return ends.every(
            (end) => end.high === '0' || committed?.partitions.find((p) => p.partition === end.partition)?.offset === end.high,
          );
        },
        { timeoutMs: 10_000, intervalMs: 200, message: 'the backfill group committed every window it judged' },
      );
    } finally {
      await admin.disconnect();
    }
    expect(runner.status()).toMatchObject({ pending_windows: 0, failures: 0, late_events: 12 });
    await runner.stop();
  }, 120_000);
});
