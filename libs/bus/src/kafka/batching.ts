import type { IHeaders, KafkaMessage } from 'kafkajs';
import type { ConsumedMessage, TopicPartition } from '../port.ts';
import { partitionKey } from '../port.ts';

/** Splits a fetched batch so the handler never receives more than `size` messages in one call. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunk size must be a positive integer, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Kafka commits the offset of the next message to read, not the last one processed: committing
 * `last` instead of `last + 1` redelivers one message after every restart. Offsets are 64-bit, so
 * the arithmetic is on bigint.
 */
export function nextOffset(offset: string): bigint {
  return parseOffset(offset, 'offset') + 1n;
}

export function parseOffset(value: string, what: string): bigint {
  if (!/^\d+$/.test(value)) throw new RangeError(`${what} must be a non-negative integer in decimal, got ${JSON.stringify(value)}`);
  return BigInt(value);
}

/** Messages between the next one the handler will get and the partition's end; 0 while either is unknown. */
export function partitionLag(highWatermark: bigint | undefined, position: bigint | undefined): number {
  if (highWatermark === undefined || position === undefined) return 0;
  const lag = highWatermark - position;
  return lag > 0n ? Number(lag) : 0;
}

/** Exponential backoff: `base`, `2 × base`, … capped at `max`; `attempt` starts at 1. */
export function backoffDelay(attempt: number, base: number, max: number): number {
  return Math.min(base * 2 ** Math.max(0, attempt - 1), max);
}

/** kafkajs reports an assignment as `{ topic: [partitions] }`. */
export function flattenAssignment(assignment: Readonly<Record<string, readonly number[] | undefined>>): TopicPartition[] {
  return Object.entries(assignment)
    .flatMap(([topic, partitions]) => (partitions ?? []).map((partition) => ({ topic, partition })))
    .sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
}

/**
 * kafkajs only says what a member holds after each join; what it gained and lost is the
 * difference with what it held before. Partitions kept across a rebalance are neither: nobody
 * else consumed them in between (the classic protocol hands a partition out only after every
 * member has rejoined), so their state stays valid.
 */
export function assignmentDiff(
  held: Iterable<string>,
  next: readonly TopicPartition[],
): { added: TopicPartition[]; revoked: string[]; kept: string[] } {
  const heldSet = new Set(held);
  const nextKeys = new Set(next.map(partitionKey));
  return {
    added: next.filter((tp) => !heldSet.has(partitionKey(tp))),
    revoked: [...heldSet].filter((k) => !nextKeys.has(k)),
    kept: [...heldSet].filter((k) => nextKeys.has(k)),
  };
}

export function toConsumedMessage(topic: string, partition: number, m: KafkaMessage): ConsumedMessage {
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key?.toString('utf8') ?? '',
    value: m.value?.toString('utf8') ?? '',
    headers: decodeHeaders(m.headers),
    timestamp: Number(m.timestamp),
  };
}

/** Kafka allows repeated header keys; the port has one value per key, so the last one wins (as in Java's `lastHeader`). */
export function decodeHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers === undefined) return out;
  for (const [name, value] of Object.entries(headers)) {
    const last = Array.isArray(value) ? value.at(-1) : value;
    if (last === undefined) continue;
    out[name] = typeof last === 'string' ? last : last.toString('utf8');
  }
  return out;
}
