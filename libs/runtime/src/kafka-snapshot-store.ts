import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createKafkaProducer, translateKafkaError } from '@burnrate/bus';
import { BurnrateError, type Logger } from '@burnrate/core';
import { type Admin, CompressionTypes, Kafka, logLevel } from 'kafkajs';

/** What the detector's SnapshotStore port asks for (structural: this package does not depend on a service). */
export interface SnapshotChangelog {
  load(key: string): Promise<{ offset: string; state: string } | undefined>;
  save(snapshot: { key: string; offset: string; state: string }): Promise<void>;
  close(): Promise<void>;
}

export interface KafkaSnapshotStoreOptions {
  brokers: readonly string[];
  /** The compacted changelog topic (detector-state.v1); `burnrate topics apply` creates it. */
  topic: string;
  clientId: string;
  log: Logger;
  /** A load that has not reached the topic's end by then fails (retriable). Default 30 s. */
  readTimeoutMs?: number;
  /** A save Kafka has not acknowledged by then fails (retriable); snapshots reach 16 MiB. Default 30 s. */
  saveTimeoutMs?: number;
}

const OFFSET_HEADER = 'burnrate-offset';
const SAVED_AT_HEADER = 'burnrate-saved-at';
const END_OFFSET_ATTEMPTS = 5;
const END_OFFSET_BACKOFF_MS = 200;

/**
 * Detector snapshots on a compacted Kafka topic instead of a table: `save` produces the state with
 * key = snapshot key (the bus's idempotent producer, acks=all, gzip) and resolves once Kafka has it; `load`
 * reads the topic from its start up to the high watermark taken when the read began and returns
 * the last record of the key. Compaction keeps only the latest record per key, so the read stays
 * short. The offset the state reflects travels in a header, so the value is the state text as is.
 *
 * kafkajs cannot read partitions without a consumer group (no manual assign), so a load joins a
 * throwaway group, reads, leaves and deletes it. Loads that arrive while a read is queued share it;
 * a read always starts after the loads it serves were asked, so a snapshot saved (acknowledged)
 * before a load is always seen. Loads happen on partition assignment only.
 */
export function createKafkaSnapshotStore(options: KafkaSnapshotStoreOptions): SnapshotChangelog {
  const log = options.log.child({ component: 'snapshots', adapter: 'kafka', topic: options.topic });
  const readTimeoutMs = options.readTimeoutMs ?? 30_000;
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    logLevel: logLevel.WARN,
    logCreator: () => (entry) => {
      if (entry.level === logLevel.ERROR && entry.namespace !== 'Connection') log.error({ namespace: entry.namespace }, entry.log.message);
      else log.warn({ namespace: entry.namespace }, entry.log.message);
    },
  });
  // The bus's producer, not a plain kafkajs one: a plain one can acknowledge a save it never wrote
  // after a request whose answer was lost (see kafka-producer.ts), and the detector would then
  // commit past state that no snapshot holds.
  const producer = createKafkaProducer({
    kafka,
    log,
    sendTimeoutMs: options.saveTimeoutMs ?? 30_000,
    compression: CompressionTypes.GZIP,
  });
  let adminReady: Promise<Admin> | undefined;
  let closed = false;

  const admin = (): Promise<Admin> => {
    adminReady ??= (async () => {
      const a = kafka.admin();
      await a.connect();
      return a;
    })().catch((err: unknown) => {
      adminReady = undefined;
      throw translateKafkaError(err, { operation: 'connect snapshot admin', topic: options.topic });
    });
    return adminReady;
  };

  type Found = Map<string, { offset: string; state: string }>;
  let wanted = new Set<string>();
  let queued: Promise<Found> | undefined;
  let previous: Promise<unknown> = Promise.resolve();

  /** Reads every wanted key's latest record, from the start of the topic up to its current end. */
  const readLatest = async (keys: ReadonlySet<string>): Promise<Found> => {
    const found: Found = new Map();
    const a = await admin();
    let ends: { partition: number; high: string; low: string }[] | undefined;
    // Right after the topic was created (a first deploy) its leader may not be known yet
    // (NOT_LEADER_FOR_PARTITION, LEADER_NOT_AVAILABLE): kafkajs calls those retriable, and a few
    // short waits settle it.
    for (let attempt = 1; ends === undefined; attempt++) {
      try {
        ends = await a.fetchTopicOffsets(options.topic);
      } catch (err) {
        if (attempt >= END_OFFSET_ATTEMPTS || (err as { retriable?: unknown }).retriable !== true) {
          throw translateKafkaError(err, { operation: 'snapshot load: end offsets', topic: options.topic });
        }
        await sleep(END_OFFSET_BACKOFF_MS * attempt);
      }
    }
    const targets = new Map(ends.filter((e) => BigInt(e.high) > BigInt(e.low)).map((e) => [e.partition, BigInt(e.high)]));
    if (targets.size === 0) return found;
    const groupId = `${options.clientId}.snapshot-reader.${randomUUID()}`;
    const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 200 });
    const started = performance.now();
    let finish: () => void = () => {};
    const done = new Promise<void>((resolve) => (finish = resolve));
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [options.topic], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const target = targets.get(batch.partition);
          if (target === undefined) return;
          for (const m of batch.messages) {
            if (BigInt(m.offset) >= target) break;
            const key = m.key?.toString();
            if (key === undefined || !keys.has(key)) continue;
            const offset = m.headers?.[OFFSET_HEADER]?.toString();
            // A tombstone (null value) or a record without its offset means "no usable snapshot".
            if (m.value === null || offset === undefined) found.delete(key);
            else found.set(key, { offset, state: m.value.toString() });
          }
          if (BigInt(batch.lastOffset()) + 1n >= target) targets.delete(batch.partition);
          if (targets.size === 0) finish();
        },
      });
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), readTimeoutMs)));
      const outcome = await Promise.race([done.then(() => 'done' as const), timedOut]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        throw new BurnrateError(
          'BUS_UNAVAILABLE',
          `reading detector snapshots from ${options.topic} did not reach its end within ${readTimeoutMs} ms (partitions left: ${[...targets.keys()].join(', ')})`,
        );
      }
      log.debug({ keys: [...keys], found: [...found.keys()], ms: Math.round(performance.now() - started) }, 'snapshots read');
      return found;
    } catch (err) {
      throw translateKafkaError(err, { operation: 'snapshot load', topic: options.topic, groupId });
    } finally {
      await consumer.disconnect().catch(() => undefined);
      // The group only existed for this read; left behind it would clutter group listings.
      await a.deleteGroups([groupId]).catch(() => undefined);
    }
  };

  return {
    async load(key) {
      if (closed) throw new BurnrateError('SHUTTING_DOWN', 'the snapshot store is closed');
      wanted.add(key);
      if (queued === undefined) {
        const read: Promise<Found> = previous.then(() => {
          // From here on, new loads queue the next read: this one may already be past their saves.
          queued = undefined;
          const keys = wanted;
          wanted = new Set();
          return readLatest(keys);
        });
        queued = read;
        previous = read.catch(() => undefined);
      }
      const found = await queued;
      return found.get(key);
    },

    async save({ key, offset, state }) {
      if (closed) throw new BurnrateError('SHUTTING_DOWN', 'the snapshot store is closed');
      // Detector state is JSON with many repeated field names; gzip makes it several times smaller.
      await producer.send(options.topic, [
        { key, value: state, headers: { [OFFSET_HEADER]: offset, [SAVED_AT_HEADER]: new Date().toISOString() } },
      ]);
    },

    async close() {
      closed = true;
      await previous;
      await producer.close();
      if (adminReady !== undefined) await adminReady.then((a) => a.disconnect()).catch(() => undefined);
    },
  };
}
