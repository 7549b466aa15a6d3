import { randomBytes, randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@burnrate/core';
import { kafkaAvailable, leaseKafka, type SuiteKafka } from '../../../infra/kafka/suite-kafka.ts';
import { declareTopics, DETECTOR_STATE_TOPIC } from '@burnrate/bus';
import { createKafkaSnapshotStore, type SnapshotChangelog } from './kafka-snapshot-store.ts';

// A broker lent by the run's pool (infra/kafka/suite-kafka.ts): KAFKA_BROKERS, else a
// testcontainers broker where a Docker engine runs, else the local one. Under CI=true a broker
// that cannot start fails the suite.
const log = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

describe.skipIf(!kafkaAvailable.shared)('detector snapshots on a compacted Kafka topic', () => {
  let broker: SuiteKafka | undefined;
  let brokers: string[];
  let admin: Admin;
  let topic: string;
  const stores: SnapshotChangelog[] = [];

  beforeAll(async () => {
    broker = await leaseKafka();
    brokers = broker.brokers.split(',');
    admin = new Kafka({ clientId: 'snapshots-int', brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    // The declared settings of detector-state.v1 (compaction, 16 MiB records) under a unique name.
    const declared = declareTopics({ replicationFactor: 1, minInsyncReplicas: 1 }).find((t) => t.name === DETECTOR_STATE_TOPIC)!;
    topic = `${DETECTOR_STATE_TOPIC}.int-${randomUUID().slice(0, 8)}`;
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic,
          numPartitions: declared.partitions,
          replicationFactor: 1,
          configEntries: Object.entries(declared.config).map(([name, value]) => ({ name, value })),
        },
      ],
    });
  });

  afterAll(async () => {
    for (const s of stores) await s.close();
    await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin?.disconnect();
    await broker?.release();
  });

  const open = (): SnapshotChangelog => {
    const s = createKafkaSnapshotStore({ brokers, topic, clientId: 'snapshots-int', log, readTimeoutMs: 15_000 });
    stores.push(s);
    return s;
  };

  it('finds nothing in an empty topic', async () => {
    expect(await open().load('detector:usage.events.v1:0')).toBeUndefined();
  });

  it('returns the latest snapshot of each key, to another instance too, with the offset it reflects', async () => {
    const a = open();
    await a.save({ key: 'detector:usage.events.v1:0', offset: '10', state: '{"v":1}' });
    await a.save({ key: 'detector:usage.events.v1:1', offset: '5', state: '{"p":1}' });
    await a.save({ key: 'detector:usage.events.v1:0', offset: '42', state: '{"v":2}' });
    const b = open();
    // Concurrent loads (a rebalance assigning several partitions) share one read.
    const [zero, one, missing] = await Promise.all([
      b.load('detector:usage.events.v1:0'),
      b.load('detector:usage.events.v1:1'),
      b.load('detector:usage.events.v1:7'),
    ]);
    expect(zero).toEqual({ offset: '42', state: '{"v":2}' });
    expect(one).toEqual({ offset: '5', state: '{"p":1}' });
    expect(missing).toBeUndefined();
  });

  it('sees a save acknowledged just before the load, however the reads are queued', async () => {
    const a = open();
    const b = open();
    const key = 'detector:usage.rollups.v1:3';
    const early = b.load(key);
    await a.save({ key, offset: '1', state: '"first"' });
    const late = b.load(key);
    // `early` may or may not see it (it was asked before the save); `late` must.
    expect([undefined, '1']).toContain((await early)?.offset);
    expect(await late).toEqual({ offset: '1', state: '"first"' });
  });

  it('round-trips a multi-megabyte state (gzip on the wire, 16 MiB records allowed)', async () => {
    const s = open();
    // Enough random content that even gzipped it is past Kafka's default 1 MiB record limit.
    const state = JSON.stringify(
      Array.from({ length: 50_000 }, (_, i) => ({ key: `acme:dev-${i % 500}`, median: i / 7, ring: randomBytes(64).toString('hex') })),
    );
    expect(state.length).toBeGreaterThan(8 * 1024 * 1024);
    await s.save({ key: 'detector:usage.events.v1:5', offset: '999', state });
    const loaded = await open().load('detector:usage.events.v1:5');
    expect(loaded?.offset).toBe('999');
    expect(loaded?.state).toBe(state);
  });

  it('leaves no reader groups behind', async () => {
    const { groups } = await admin.listGroups();
    expect(groups.filter((g) => g.groupId.includes('snapshot-reader'))).toEqual([]);
  });
});
