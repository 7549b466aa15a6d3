import { randomBytes, randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@burnrate/core';
import { kafkaAvailable, leaseKafka, type SuiteKafka } from '../../../infra/kafka/suite-kafka.ts';
import { declareTopics, DETECTOR_STATE_TOPIC } from '@burnrate/bus';
import { createKafkaSnapshotStore, MAX_SNAPSHOT_RECORD_BYTES, type SnapshotChangelog } from './kafka-snapshot-store.ts';

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

  /** The parts of what `load` found, read through (and checked) as the detector reads them. */
  const read = async (loaded: { offset: string; parts: AsyncIterable<string> } | undefined) => {
    if (loaded === undefined) return undefined;
    const parts: string[] = [];
    for await (const part of loaded.parts) parts.push(part);
    return { offset: loaded.offset, parts };
  };
  const partsOf = (seed: string, count: number): string[] => Array.from({ length: count }, (_, i) => `["${seed}",${i}]`);

  /** Records written the way an older Burnrate or an interrupted save leaves them. */
  const produceRaw = async (messages: { key: string; value: string; headers?: Record<string, string> }[]): Promise<void> => {
    const producer = new Kafka({ clientId: 'snapshots-int-raw', brokers, logLevel: logLevel.NOTHING }).producer({
      allowAutoTopicCreation: false,
    });
    await producer.connect();
    try {
      await producer.send({ topic, messages, acks: -1 });
    } finally {
      await producer.disconnect();
    }
  };

  it('finds nothing in an empty topic', async () => {
    expect(await open().load('detector:usage.events.v1:0')).toBeUndefined();
  });

  it('returns the latest snapshot of each key, to another instance too, with the offset it reflects', async () => {
    const a = open();
    await a.save({ key: 'detector:usage.events.v1:0', offset: '10', parts: ['{"v":1}'] });
    await a.save({ key: 'detector:usage.events.v1:1', offset: '5', parts: partsOf('p', 3) });
    await a.save({ key: 'detector:usage.events.v1:0', offset: '42', parts: partsOf('v2', 2) });
    const b = open();
    // Concurrent loads (a rebalance assigning several partitions) share one read.
    const [zero, one, missing] = await Promise.all([
      b.load('detector:usage.events.v1:0'),
      b.load('detector:usage.events.v1:1'),
      b.load('detector:usage.events.v1:7'),
    ]);
    expect(await read(zero)).toEqual({ offset: '42', parts: partsOf('v2', 2) });
    expect(await read(one)).toEqual({ offset: '5', parts: partsOf('p', 3) });
    expect(missing).toBeUndefined();
  });

  it('sees a save acknowledged just before the load, however the reads are queued', async () => {
    const a = open();
    const b = open();
    const key = 'detector:usage.rollups.v1:3';
    const early = b.load(key);
    await a.save({ key, offset: '1', parts: ['"first"'] });
    const late = b.load(key);
    // `early` may or may not see it (it was asked before the save); `late` must.
    expect([undefined, '1']).toContain((await early)?.offset);
    expect(await read(await late)).toEqual({ offset: '1', parts: ['"first"'] });
  });

  it('round-trips a state of many megabytes as parts of up to 8 MiB (gzip on the wire, 16 MiB records allowed)', async () => {
    const s = open();
    // Random content, so even gzipped the largest part is past Kafka's default 1 MiB record limit.
    const full = randomBytes(MAX_SNAPSHOT_RECORD_BYTES / 2 - 16).toString('hex');
    expect(Buffer.byteLength(full)).toBeLessThanOrEqual(MAX_SNAPSHOT_RECORD_BYTES);
    const parts = [full, randomBytes(1024 * 1024).toString('hex'), '["end"]'];
    await s.save({ key: 'detector:usage.events.v1:5', offset: '999', parts });
    const loaded = await read(await open().load('detector:usage.events.v1:5'));
    expect(loaded?.offset).toBe('999');
    expect(loaded?.parts).toEqual(parts);
    await expect(
      s.save({ key: 'detector:usage.events.v1:5', offset: '1000', parts: ['x'.repeat(MAX_SNAPSHOT_RECORD_BYTES + 1)] }),
    ).rejects.toMatchObject({
      code: 'INPUT_TOO_LARGE',
    });
    expect((await open().load('detector:usage.events.v1:5'))?.offset).toBe('999');
  });

  it('loads the last save as snapshots grow and shrink, from instance to instance', async () => {
    const key = 'detector:usage.events.v1:8';
    const counts = [6, 2, 4, 1, 5];
    for (const [n, count] of counts.entries()) {
      // A new instance each time: the slot in use comes from the topic, not from memory.
      const s = open();
      if (n % 2 === 0) await s.load(key);
      await s.save({ key, offset: String(n), parts: partsOf(`gen${n}`, count) });
      expect(await read(await open().load(key))).toEqual({ offset: String(n), parts: partsOf(`gen${n}`, count) });
    }
  });

  it('keeps the previous snapshot when a save dies before its manifest, and refuses parts another save overwrote', async () => {
    const key = 'detector:usage.events.v1:9';
    const s = open();
    await s.load(key);
    await s.save({ key, offset: '100', parts: partsOf('kept', 3) });
    // A save that died after writing its parts to the free slot (1), before its manifest.
    await produceRaw(
      partsOf('lost', 4).map((value, n) => ({ key: `${key}#1.${n}`, value, headers: { 'burnrate-snapshot-generation': 'lost' } })),
    );
    expect(await read(await open().load(key))).toEqual({ offset: '100', parts: partsOf('kept', 3) });
    // A writer that overwrote part 1 of the slot in use (slot 0): detected, never mixed in.
    await produceRaw([{ key: `${key}#0.1`, value: '["other"]', headers: { 'burnrate-snapshot-generation': 'other' } }]);
    await expect(read(await open().load(key))).rejects.toMatchObject({
      code: 'SNAPSHOT_UNREADABLE',
      message: expect.stringContaining('part 1 of 3') as unknown,
    });
  });

  it('reads a whole-JSON snapshot saved before parts, and saves over it', async () => {
    const key = 'detector:usage.rollups.v1:4';
    await produceRaw([
      { key, value: '{"format":1,"old":true}', headers: { 'burnrate-offset': '77', 'burnrate-saved-at': new Date().toISOString() } },
    ]);
    const s = open();
    expect(await read(await s.load(key))).toEqual({ offset: '77', parts: ['{"format":1,"old":true}'] });
    await s.save({ key, offset: '78', parts: partsOf('new', 2) });
    expect(await read(await open().load(key))).toEqual({ offset: '78', parts: partsOf('new', 2) });
  });

  it('leaves no reader groups behind', async () => {
    const { groups } = await admin.listGroups();
    expect(groups.filter((g) => g.groupId.includes('snapshot-reader'))).toEqual([]);
  });
});
