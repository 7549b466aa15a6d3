import type { Producer, SubscribeOptions, TopicPartition } from '@burnrate/bus';
import { partitionKey } from '@burnrate/bus';
import type { Clock, Logger } from '@burnrate/core';
import { createBatchHandler } from './batch-handler.ts';
import { withLock } from './held-partition.ts';
import { createHeldPartitions } from './held-partitions.ts';
import { createIdleSnapshot } from './idle-snapshot.ts';
import type { PartitionLogic } from './partition-logic.ts';
import { createPartitionOutput } from './partition-output.ts';
import type { SnapshotHealth } from './snapshot-health.ts';
import { snapshotPacing } from './snapshot-pacing.ts';
import { createSnapshotTally } from './snapshot-tally.ts';
import { createSnapshotWriter } from './snapshot-writer.ts';
import type { SnapshotStore } from './snapshots.ts';

export type { PartitionLogic } from './partition-logic.ts';
export type { Outbox } from './partition-output.ts';

export interface PartitionedConsumerDeps {
  groupId: string;
  topic: string;
  producer: Producer;
  snapshots: SnapshotStore;
  log: Logger;
  clock: Clock;
  snapshotEveryMs: number;
  /**
   * Longest wall time between two snapshots of a busy partition. A snapshot is the partition's
   * whole state, so a large state (stage B holding a backlog's hours) is snapshotted less often:
   * after one that took 25 ms or more, at least 20 times its cost apart (about 5% of the time), but
   * no further apart than this. Default 30 s, Kafka Streams' commit interval; it bounds the replay after a crash.
   * Only a state whose serialising alone takes more than a tenth of this (seconds: millions of
   * keys) goes longer, ten times its serialising time, as its batches wait while it is serialised.
   */
  maxSnapshotEveryMs?: number;
  /** Names the stage in log messages ("detector", "team detector"). */
  name: string;
  /** Largest snapshot part, in UTF-8 bytes; the store's own limit applies too. Default 8 MiB. */
  snapshotPartBytes?: number;
}

export interface PartitionedConsumer<State = unknown> {
  readonly subscribeOptions: SubscribeOptions;
  /** Publishes what is pending and snapshots every partition still held. */
  stop(): Promise<void>;
  /** Messages acknowledged by the bus, per output topic (re-publications after a crash included). */
  sent(topic: string): number;
  snapshots(): number;
  snapshotHealth(): SnapshotHealth;
  /** The states of the partitions held now, for gauges read between batches (never to change). */
  states(): State[];
}

/**
 * A consumer whose effect is a per-partition state, with exactly-once effect on state and
 * at-least-once output: each partition's state is snapshotted with the last offset it reflects,
 * and only after that snapshot is durable is the offset committed. On assignment the snapshot is
 * restored and consumption starts right after its offset, so no message is counted twice;
 * anything processed after the last snapshot is replayed and re-emits the same messages, which
 * downstream treats as duplicates. Output is published (and acknowledged) before any snapshot that
 * includes its effect, so a crash can repeat a message but never lose one.
 *
 * Its parts: held-partition.ts (one partition's state, offsets and lock), held-partitions.ts
 * (loading from the snapshot, once, and releasing), partition-output.ts (the output on its way to
 * the bus, in order), snapshot-writer.ts (snapshots after the output they include, commits after
 * the snapshot, failures counted) with snapshot-pacing.ts, idle-snapshot.ts (a quiet partition
 * snapshotted and committed) and batch-handler.ts (a batch taken, then stepped under the lock).
 */
export function createPartitionedConsumer<State>(deps: PartitionedConsumerDeps, logic: PartitionLogic<State>): PartitionedConsumer<State> {
  const { log, clock, topic, name, snapshotEveryMs } = deps;
  const sent = new Map<string, number>();
  const tally = createSnapshotTally({ topic, log, clock, name });
  const writer = createSnapshotWriter<State>({
    store: deps.snapshots,
    snapshot: (state) => logic.snapshot(state),
    log,
    clock,
    name,
    tally,
    pacing: snapshotPacing(snapshotEveryMs, deps.maxSnapshotEveryMs),
    ...(deps.snapshotPartBytes !== undefined ? { snapshotPartBytes: deps.snapshotPartBytes } : {}),
  });
  const idle = createIdleSnapshot<State>({ log, name, snapshotEveryMs, writer });
  const partitions = createHeldPartitions<State>({
    topic,
    store: deps.snapshots,
    logic,
    log,
    clock,
    name,
    snapshotEveryMs,
    outputOf: (partition) =>
      createPartitionOutput({
        producer: deps.producer,
        log,
        name,
        partition,
        acknowledged: (to, count) => void sent.set(to, (sent.get(to) ?? 0) + count),
      }),
    writer,
    idle,
  });

  const subscribeOptions: SubscribeOptions = {
    groupId: deps.groupId,
    topics: [topic],
    autoCommit: false,
    handleBatch: createBatchHandler<State>({ topic, logic, log, name, partitions, writer, idle }),
    async onAssigned(assigned: readonly TopicPartition[]) {
      const starts: Record<string, string> = {};
      for (const tp of assigned) {
        if (tp.topic !== topic) continue;
        const p = await partitions.held(tp.partition);
        if (p.applied !== null) starts[partitionKey(tp)] = (p.applied + 1n).toString();
      }
      return starts;
    },
    async onRevoked(revoked: readonly TopicPartition[]) {
      for (const tp of revoked) {
        if (tp.topic !== topic) continue;
        const p = partitions.get(tp.partition);
        if (p === undefined) continue;
        await withLock(p, () => partitions.release(p));
        partitions.delete(tp.partition);
      }
    },
  };

  return {
    subscribeOptions,
    async stop() {
      for (const p of [...partitions.values()]) {
        await withLock(p, () => partitions.release(p));
        partitions.delete(p.partition);
      }
    },
    sent: (to) => sent.get(to) ?? 0,
    snapshots: () => tally.count(),
    states: () => [...partitions.values()].map((p) => p.state),
    snapshotHealth: () => ({
      ...tally.health(),
      failing: [...partitions.values()].filter((p) => p.snapshot.failing).map((p) => partitionKey({ topic, partition: p.partition })),
    }),
  };
}
