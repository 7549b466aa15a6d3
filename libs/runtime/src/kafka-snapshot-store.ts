import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createKafkaProducer, translateKafkaError } from '@burnrate/bus';
import { BurnrateError, type Logger } from '@burnrate/core';
import { type Admin, CompressionTypes, Kafka, logLevel } from 'kafkajs';

/** What the detector's SnapshotStore port asks for (structural: this package does not depend on a service). */
export interface SnapshotChangelog {
  /** The largest part a record carries, in UTF-8 bytes. */
  readonly maxPartBytes: number;
  load(key: string): Promise<{ offset: string; parts: AsyncIterable<string> } | undefined>;
  save(snapshot: { key: string; offset: string; parts: readonly string[] }): Promise<void>;
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
/** On a manifest: how many parts the snapshot has. A record of the snapshot's key without it is a whole-JSON snapshot from before parts. */
const PARTS_HEADER = 'burnrate-snapshot-parts';
/** On a manifest and each of its parts: which save they belong to. */
const GENERATION_HEADER = 'burnrate-snapshot-generation';
const END_OFFSET_ATTEMPTS = 5;
const END_OFFSET_BACKOFF_MS = 200;
/**
 * Uncompressed, so that gzipped with its headers a record is always under the topic's
 * max.message.bytes (16 MiB, infra/kafka/topics.ts) and each part is one produce request.
 */
export const MAX_SNAPSHOT_RECORD_BYTES = 8 * 1024 * 1024;

/** A manifest's value: what the snapshot's parts are and where. */
interface Manifest {
  generation: string;
  slot: 0 | 1;
  parts: number;
  bytes: number;
  sha256: string;
  /** Part keys holding data in each slot after this save, so a later save there blanks what it does not overwrite. */
  slot_parts: [number, number];
}

/** `detector:usage.events.v1:3#1.12`: part 12 in slot 1 of that snapshot key (snapshot keys hold no `#`). */
const partKey = (key: string, slot: number, part: number): string => `${key}#${slot}.${part}`;

/** What a read found for one snapshot key. */
interface Found {
  /** The key's last record: a manifest, or a whole-JSON snapshot from before parts. */
  head: { offset: string; value: Buffer; parts: number | undefined; generation: string | undefined } | undefined;
  /** Its part records by part key, the last of each (both slots: which one counts is the head's to say). */
  parts: Map<string, { value: Buffer; generation: string | undefined }>;
}

/**
 * Detector snapshots on a compacted Kafka topic instead of a table. A snapshot is its parts, each
 * a record of its own (key `<snapshot key>#<slot>.<n>`, at most 8 MiB before gzip), then a
 * manifest on the snapshot key itself (the offset the state reflects, the part count and the
 * generation in headers; slot, sizes and checksum in the value). Records go through the bus's
 * idempotent producer (acks=all, gzip), one produce request each, and `save` resolves once the
 * manifest is acknowledged.
 *
 * All or nothing under compaction: compaction keeps the last record per key, so a save writes its
 * parts into the slot (0 or 1) the current manifest does not name, and the parts a restart may
 * need are never replaced by a save that dies halfway. A slot's parts beyond the new count are
 * blanked (empty values), so a state that shrank leaves nothing large behind. `load` reads the
 * topic from its start up to the high watermark taken when the read began, takes the key's last
 * record, and yields the parts of the slot it names, checking each belongs to its generation and
 * the checksum at the end (SNAPSHOT_UNREADABLE otherwise). A last record without a parts header
 * is a whole-JSON snapshot from before parts, returned as one part.
 *
 * kafkajs cannot read partitions without a consumer group (no manual assign), so a load joins a
 * throwaway group, reads, leaves and deletes it. Loads that arrive while a read is queued share it;
 * a read always starts after the loads it serves were asked, so a snapshot saved (acknowledged)
 * before a load is always seen. Loads happen on partition assignment only; until the manifest
 * decides, a load holds the records of both slots (up to twice the state's text).
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
  /** Each key's current manifest as this instance last read or wrote it (null: none, or a whole-JSON snapshot). */
  const manifests = new Map<string, Manifest | null>();

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

  let wanted = new Set<string>();
  let queued: Promise<Map<string, Found>> | undefined;
  let previous: Promise<unknown> = Promise.resolve();

  /** Reads every wanted key's last records, from the start of the topic up to its current end. */
  const readLatest = async (keys: ReadonlySet<string>): Promise<Map<string, Found>> => {
    const found = new Map<string, Found>();
    for (const key of keys) found.set(key, { head: undefined, parts: new Map() });
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
            if (key === undefined) continue;
            const hash = key.indexOf('#');
            const entry = found.get(hash === -1 ? key : key.slice(0, hash));
            if (entry === undefined) continue;
            const generation = m.headers?.[GENERATION_HEADER]?.toString();
            if (hash !== -1) {
              // A tombstone or a blanked part: nothing there any more.
              if (m.value === null || m.value.length === 0) entry.parts.delete(key);
              else entry.parts.set(key, { value: m.value, generation });
              continue;
            }
            const offset = m.headers?.[OFFSET_HEADER]?.toString();
            // A tombstone (null value) or a record without its offset means "no usable snapshot".
            if (m.value === null || offset === undefined) entry.head = undefined;
            else {
              const parts = m.headers?.[PARTS_HEADER]?.toString();
              entry.head = { offset, value: m.value, parts: parts === undefined ? undefined : Number(parts), generation };
            }
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
      log.debug({ keys: [...keys], ms: Math.round(performance.now() - started) }, 'snapshots read');
      return found;
    } catch (err) {
      throw translateKafkaError(err, { operation: 'snapshot load', topic: options.topic, groupId });
    } finally {
      await consumer.disconnect().catch(() => undefined);
      // The group only existed for this read; left behind it would clutter group listings.
      await a.deleteGroups([groupId]).catch(() => undefined);
    }
  };

  /** The key's last records, through a read shared with the loads queued meanwhile. */
  const read = async (key: string): Promise<Found | undefined> => {
    wanted.add(key);
    if (queued === undefined) {
      const next: Promise<Map<string, Found>> = previous.then(() => {
        // From here on, new loads queue the next read: this one may already be past their saves.
        queued = undefined;
        const keys = wanted;
        wanted = new Set();
        return readLatest(keys);
      });
      queued = next;
      previous = next.catch(() => undefined);
    }
    return (await queued).get(key);
  };

  /** The manifest a head record carries; undefined for a whole-JSON snapshot. Throws SNAPSHOT_UNREADABLE if it cannot be read. */
  const manifestOf = (key: string, head: NonNullable<Found['head']>): Manifest | undefined => {
    if (head.parts === undefined) return undefined;
    let m: Manifest;
    try {
      m = JSON.parse(head.value.toString()) as Manifest;
    } catch (err) {
      throw new BurnrateError('SNAPSHOT_UNREADABLE', `detector snapshot ${key}: its manifest is not JSON`, { cause: err });
    }
    if ((m.slot !== 0 && m.slot !== 1) || m.parts !== head.parts || m.generation !== head.generation || !Array.isArray(m.slot_parts)) {
      throw new BurnrateError('SNAPSHOT_UNREADABLE', `detector snapshot ${key}: its manifest does not match its headers`);
    }
    return m;
  };

  return {
    maxPartBytes: MAX_SNAPSHOT_RECORD_BYTES,

    async load(key) {
      if (closed) throw new BurnrateError('SHUTTING_DOWN', 'the snapshot store is closed');
      const found = await read(key);
      const head = found?.head;
      if (found === undefined || head === undefined) {
        manifests.set(key, null);
        return undefined;
      }
      let manifest: Manifest | undefined;
      try {
        manifest = manifestOf(key, head);
      } catch (err) {
        manifests.set(key, null);
        return { offset: head.offset, parts: failing(err) };
      }
      manifests.set(key, manifest ?? null);
      if (manifest === undefined) return { offset: head.offset, parts: oneText(head.value) };
      // Only the manifest's slot is read; the other slot's records are let go now.
      const parts: ({ value: Buffer; generation: string | undefined } | undefined)[] = [];
      for (let n = 0; n < manifest.parts; n++) parts.push(found.parts.get(partKey(key, manifest.slot, n)));
      found.parts.clear();
      return { offset: head.offset, parts: verifiedParts(key, manifest, parts) };
    },

    async save({ key, offset, parts }) {
      if (closed) throw new BurnrateError('SHUTTING_DOWN', 'the snapshot store is closed');
      if (parts.length === 0) throw new BurnrateError('INPUT_INVALID', `detector snapshot ${key} has no parts`);
      let bytes = 0;
      parts.forEach((part, i) => {
        const size = Buffer.byteLength(part);
        if (size > MAX_SNAPSHOT_RECORD_BYTES) {
          throw new BurnrateError(
            'INPUT_TOO_LARGE',
            `detector snapshot ${key}: part ${i} is ${size} bytes, more than the ${MAX_SNAPSHOT_RECORD_BYTES} a record takes`,
          );
        }
        bytes += size;
      });
      if (!manifests.has(key)) {
        // Never read here (the detector loads a partition before it saves it): which slot is in
        // use must come from the topic, or this save could overwrite the snapshot a restart needs.
        const head = (await read(key))?.head;
        manifests.set(key, head === undefined ? null : (manifestOf(key, head) ?? null));
      }
      const current = manifests.get(key) ?? null;
      const slot: 0 | 1 = current === null ? 0 : current.slot === 0 ? 1 : 0;
      const generation = randomUUID();
      const savedAt = new Date().toISOString();
      const hash = createHash('sha256');
      // One part per send: the producer puts one send's messages in one request, which must stay under the record limit.
      for (let n = 0; n < parts.length; n++) {
        const part = parts[n] as string;
        hash.update(part);
        await producer.send(options.topic, [{ key: partKey(key, slot, n), value: part, headers: { [GENERATION_HEADER]: generation } }]);
      }
      const held = current?.slot_parts[slot] ?? 0;
      if (held > parts.length) {
        const blanks = [];
        for (let n = parts.length; n < held; n++)
          blanks.push({ key: partKey(key, slot, n), value: '', headers: { [GENERATION_HEADER]: generation } });
        await producer.send(options.topic, blanks);
      }
      const slotParts: [number, number] =
        slot === 0 ? [parts.length, current?.slot_parts[1] ?? 0] : [current?.slot_parts[0] ?? 0, parts.length];
      const manifest: Manifest = { generation, slot, parts: parts.length, bytes, sha256: hash.digest('hex'), slot_parts: slotParts };
      await producer.send(options.topic, [
        {
          key,
          value: JSON.stringify(manifest),
          headers: {
            [OFFSET_HEADER]: offset,
            [SAVED_AT_HEADER]: savedAt,
            [PARTS_HEADER]: String(parts.length),
            [GENERATION_HEADER]: generation,
          },
        },
      ]);
      manifests.set(key, manifest);
    },

    async close() {
      closed = true;
      await previous;
      await producer.close();
      if (adminReady !== undefined) await adminReady.then((a) => a.disconnect()).catch(() => undefined);
    },
  };
}

async function* oneText(value: Buffer): AsyncGenerator<string, void, undefined> {
  yield value.toString();
}

/** Parts that fail when read: an unreadable manifest is the detector's to log as an unreadable snapshot. */
function failing(err: unknown): AsyncIterable<string> {
  return {
    [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(err instanceof Error ? err : new Error(String(err))) }),
  };
}

/** The manifest's parts in order, each checked against its generation, then the checksum; each let go once yielded. */
async function* verifiedParts(
  key: string,
  manifest: Manifest,
  parts: ({ value: Buffer; generation: string | undefined } | undefined)[],
): AsyncGenerator<string, void, undefined> {
  const hash = createHash('sha256');
  for (let n = 0; n < parts.length; n++) {
    const part = parts[n];
    if (part === undefined || part.generation !== manifest.generation) {
      throw new BurnrateError(
        'SNAPSHOT_UNREADABLE',
        `detector snapshot ${key} (generation ${manifest.generation}): part ${n} of ${manifest.parts} is ${part === undefined ? 'missing' : 'from another save'}`,
      );
    }
    parts[n] = undefined;
    const text = part.value.toString();
    hash.update(text);
    yield text;
  }
  if (hash.digest('hex') !== manifest.sha256) {
    throw new BurnrateError(
      'SNAPSHOT_UNREADABLE',
      `detector snapshot ${key} (generation ${manifest.generation}): its parts do not match the checksum saved with them`,
    );
  }
}
