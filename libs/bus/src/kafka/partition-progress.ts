import type { Admin, EachBatchPayload } from 'kafkajs';
import type { TopicPartition } from '../port.ts';
import { partitionKey } from '../port.ts';
import { partitionLag } from './batching.ts';

/** How far this member got with one partition it holds. */
export interface PartitionProgress {
  tp: TopicPartition;
  key: string;
  /** onAssigned has run for it; batches are handed to the handler only after that. */
  ready: boolean;
  /** Next offset the handler is to receive; undefined until the first batch or a start offset. */
  position: bigint | undefined;
  /** Where this member started reading when `position` is not known yet (for lag()). */
  startHint: bigint | undefined;
  /** Next offset the group has committed, as far as this member knows. */
  committed: bigint | undefined;
  highWatermark: bigint | undefined;
  failures: number;
  retryTimer: NodeJS.Timeout | undefined;
}

export function newProgress(tp: TopicPartition): PartitionProgress {
  return {
    tp,
    key: partitionKey(tp),
    ready: false,
    position: undefined,
    startHint: undefined,
    committed: undefined,
    highWatermark: undefined,
    failures: 0,
    retryTimer: undefined,
  };
}

/**
 * The partitions this member holds now, by `topic:partition`. A progress record is replaced when
 * its partition is assigned again, so `holds(p)` (not just a key lookup) tells whether `p` is
 * still the member's: work begun before a rebalance must not act on the new assignment.
 */
export interface HeldPartitions {
  get(key: string): PartitionProgress | undefined;
  holds(p: PartitionProgress): boolean;
  add(p: PartitionProgress): void;
  /** Stops holding `p` (if it still does) and cancels its pending redelivery. */
  drop(p: PartitionProgress): void;
  keys(): IterableIterator<string>;
  values(): IterableIterator<PartitionProgress>;
  /** Messages left to hand to the handler, summed over the held partitions. */
  lag(): number;
}

export function createHeldPartitions(): HeldPartitions {
  const held = new Map<string, PartitionProgress>();
  return {
    get: (key) => held.get(key),
    holds: (p) => held.get(p.key) === p,
    add: (p) => void held.set(p.key, p),
    drop(p) {
      clearTimeout(p.retryTimer);
      p.retryTimer = undefined;
      if (held.get(p.key) === p) held.delete(p.key);
    },
    keys: () => held.keys(),
    values: () => held.values(),
    lag() {
      let total = 0;
      for (const p of held.values()) total += partitionLag(p.highWatermark, p.position ?? p.startHint);
      return total;
    },
  };
}

/** The eachBatch payload's commit (see ConsumerRun.commit). */
export type CommitOffsets = EachBatchPayload['commitOffsetsIfNecessary'];

/** Commits `next` (the next offset to read) unless the group is known to be there already, and records it. */
export async function commitThrough(commit: CommitOffsets, p: PartitionProgress, next: bigint): Promise<void> {
  if (p.committed !== undefined && p.committed >= next) return;
  await commit({ topics: [{ topic: p.tp.topic, partitions: [{ partition: p.tp.partition, offset: next.toString() }] }] });
  if (p.committed === undefined || next > p.committed) p.committed = next;
}

/**
 * Start offsets and end offsets of new partitions, so lag() is right before their first batch:
 * fills only what a batch has not told yet. Partitions lost meanwhile are left alone.
 */
export async function lookUpStartOffsets(
  admin: Admin,
  groupId: string,
  added: readonly PartitionProgress[],
  held: HeldPartitions,
  fromBeginning: boolean,
): Promise<void> {
  for (const topic of new Set(added.map((p) => p.tp.topic))) {
    const [ends, groupOffsets] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
    const committed = groupOffsets.find((t) => t.topic === topic)?.partitions ?? [];
    for (const p of added) {
      if (p.tp.topic !== topic || !held.holds(p)) continue;
      const end = ends.find((e) => e.partition === p.tp.partition);
      if (end === undefined) continue;
      const mine = committed.find((c) => c.partition === p.tp.partition);
      const committedOffset = mine !== undefined && Number(mine.offset) >= 0 ? BigInt(mine.offset) : undefined;
      p.highWatermark ??= BigInt(end.high);
      p.committed ??= committedOffset;
      p.startHint ??= committedOffset ?? BigInt(fromBeginning ? end.low : end.high);
    }
  }
}
