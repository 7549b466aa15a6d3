import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Kafka, Partitioners, logLevel, type Admin, type Consumer, type KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalKafka, type LocalKafka } from './local-kafka-lib.ts';

// KAFKA_BROKERS points the suite at a broker someone already runs; otherwise it starts one.
const externalBrokers = process.env.KAFKA_BROKERS;
const onCi = process.env.CI === 'true';
const java = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
// Off CI a machine without Java or Maven skips; on CI a broker that cannot start fails the run.
const toolsPresent = externalBrokers !== undefined || (spawnSync(java, ['-version']).status === 0 && spawnSync('mvn', ['-v']).status === 0);

const MESSAGES = 1000;
const KEYS = 50;
const PARTITIONS = 3;
const FIRST_CONSUMER_STOPS_AT = 400;

interface Seen {
  partition: number;
  offset: number;
  key: string;
  n: number;
}

describe.skipIf(!onCi && !toolsPresent)('local Kafka with kafkajs 2.2.4', () => {
  let broker: LocalKafka | undefined;
  let kafka: Kafka;
  let admin: Admin;
  const topic = `local-kafka.int.${randomUUID()}`;
  const groupId = `local-kafka-int-${randomUUID()}`;

  beforeAll(async () => {
    let brokers = externalBrokers;
    if (brokers === undefined) {
      broker = await startLocalKafka({ java });
      brokers = broker.brokers;
    }
    kafka = new Kafka({ clientId: 'local-kafka-int', brokers: brokers.split(','), logLevel: logLevel.WARN });
    admin = kafka.admin();
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.disconnect();
    await broker?.stop();
  });

  it('creates a topic with 3 partitions', async () => {
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true })).toBe(true);
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(metadata.topics[0]?.partitions.map((p) => p.partitionId).sort()).toEqual([0, 1, 2]);
  });

  it('writes 1000 keyed messages exactly once with an idempotent producer', async () => {
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    try {
      for (let start = 0; start < MESSAGES; start += 100) {
        const messages = Array.from({ length: 100 }, (_, i) => ({ key: `key-${(start + i) % KEYS}`, value: String(start + i) }));
        const records = await producer.send({ topic, acks: -1, messages });
        expect(records.every((r) => r.errorCode === 0)).toBe(true);
      }
    } finally {
      await producer.disconnect();
    }
    const offsets = await admin.fetchTopicOffsets(topic);
    expect(offsets.reduce((sum, p) => sum + Number(p.high), 0)).toBe(MESSAGES);
  });

  it('resumes a consumer group from its committed offsets after a restart', async () => {
    // First member: commits each message it handles itself, then leaves part-way through.
    const first: Seen[] = [];
    const firstConsumer = kafka.consumer({ groupId });
    await consumeUntil(firstConsumer, topic, { autoCommit: false }, async (partition, message) => {
      if (first.length >= FIRST_CONSUMER_STOPS_AT) return true;
      first.push(seen(partition, message));
      await firstConsumer.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
      return first.length >= FIRST_CONSUMER_STOPS_AT;
    });
    expect(first).toHaveLength(FIRST_CONSUMER_STOPS_AT);

    const committed = committedByPartition(await admin.fetchOffsets({ groupId, topics: [topic] }), topic);
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const handled = first.filter((s) => s.partition === partition);
      expect(committed.get(partition)).toBe(handled.length === 0 ? 0 : Math.max(...handled.map((s) => s.offset)) + 1);
    }

    // Second member of the same group: must start exactly where the first one committed.
    const second: Seen[] = [];
    const secondConsumer = kafka.consumer({ groupId });
    await consumeUntil(secondConsumer, topic, { autoCommit: true }, async (partition, message) => {
      second.push(seen(partition, message));
      return first.length + second.length >= MESSAGES;
    });
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const resumedAt = Math.min(...second.filter((s) => s.partition === partition).map((s) => s.offset));
      if (Number.isFinite(resumedAt)) expect(resumedAt).toBe(committed.get(partition));
    }

    const all = [...first, ...second];
    expect(new Set(all.map((s) => `${s.partition}:${s.offset}`)).size).toBe(MESSAGES);
    expect(all.map((s) => s.n).sort((a, b) => a - b)).toEqual(Array.from({ length: MESSAGES }, (_, i) => i));
    // Keyed messages keep their order: each key lives on one partition, in send order.
    for (let k = 0; k < KEYS; k++) {
      const forKey = all.filter((s) => s.key === `key-${k}`).sort((a, b) => a.offset - b.offset);
      expect(new Set(forKey.map((s) => s.partition)).size).toBe(1);
      expect(forKey.map((s) => s.n)).toEqual([...forKey.map((s) => s.n)].sort((a, b) => a - b));
    }

    // The auto-committing member leaves every partition committed at its end.
    const end = await admin.fetchTopicOffsets(topic);
    const finalCommitted = committedByPartition(await admin.fetchOffsets({ groupId, topics: [topic] }), topic);
    for (const p of end) expect(finalCommitted.get(p.partition)).toBe(Number(p.high));
  });
});

function seen(partition: number, message: KafkaMessage): Seen {
  return { partition, offset: Number(message.offset), key: message.key?.toString() ?? '', n: Number(message.value?.toString()) };
}

/** Runs `consumer` from the group's position until `handle` returns true, then leaves the group. */
async function consumeUntil(
  consumer: Consumer,
  topic: string,
  options: { autoCommit: boolean },
  handle: (partition: number, message: KafkaMessage) => Promise<boolean>,
): Promise<void> {
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let finish: () => void = () => {};
    let fail: (err: unknown) => void = () => {};
    const done = new Promise<void>((resolve, reject) => {
      finish = resolve;
      fail = reject;
    });
    const timer = setTimeout(() => fail(new Error('consumer did not finish within 30 s')), 30_000);
    let finished = false;
    await consumer.run({
      autoCommit: options.autoCommit,
      eachMessage: async ({ partition, message }) => {
        if (finished) return;
        try {
          if (await handle(partition, message)) {
            finished = true;
            finish();
          }
        } catch (err) {
          fail(err);
        }
      },
    });
    try {
      await done;
    } finally {
      clearTimeout(timer);
    }
  } finally {
    await consumer.disconnect();
  }
}

function committedByPartition(
  offsets: Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>,
  topic: string,
): Map<number, number> {
  const byPartition = new Map<number, number>();
  for (const p of offsets.find((t) => t.topic === topic)?.partitions ?? []) {
    // -1 means nothing committed: the group would start that partition from the beginning.
    byPartition.set(p.partition, Math.max(0, Number(p.offset)));
  }
  return byPartition;
}
