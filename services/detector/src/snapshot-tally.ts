import { partitionKey } from '@burnrate/bus';
import type { Clock, Logger } from '@burnrate/core';
import type { HeldPartition } from './held-partition.ts';
import type { SnapshotHealth } from './snapshot-health.ts';

/** A partition as the tally reads and marks it. */
type Tallied = Pick<HeldPartition<unknown>, 'partition' | 'key' | 'saved' | 'snapshot'>;

/** One stage's snapshots saved and failed, for its stats and /healthz; each partition is marked failing until one of its snapshots is saved. */
export interface SnapshotTally {
  /**
   * Every failed snapshot is an error in the log and in /healthz, each time: while they fail the
   * partition's offsets stay at its last saved snapshot, the log behind it grows, and a restart
   * replays all of it.
   */
  failed(p: Tallied, offset: bigint, err: unknown): void;
  /** A snapshot of `p` is saved (`p.saved` is its offset already). */
  saved(p: Tallied): void;
  /** Snapshots saved since start. */
  count(): number;
  /** Failures and the latest save, of every partition (which partitions fail now is theirs to say). */
  health(): Omit<SnapshotHealth, 'failing'>;
}

export function createSnapshotTally(deps: { topic: string; log: Logger; clock: Clock; name: string }): SnapshotTally {
  const { log, clock, topic } = deps;
  let snapshots = 0;
  const health: Omit<SnapshotHealth, 'failing'> = { failures: 0, lastError: null, lastSavedAt: null };
  return {
    failed(p, offset, err) {
      health.failures += 1;
      p.snapshot.failing = true;
      const message = err instanceof Error ? err.message : String(err);
      health.lastError = { at: clock.now().toISOString(), partition: partitionKey({ topic, partition: p.partition }), message };
      log.error(
        {
          err,
          partition: p.partition,
          key: p.key,
          offset: offset.toString(),
          savedOffset: p.saved?.toString() ?? null,
          failures: health.failures,
        },
        `${deps.name} snapshot failed; offsets stay at the last saved snapshot until one succeeds`,
      );
    },

    saved(p) {
      p.snapshot.failing = false;
      health.lastSavedAt = clock.now().toISOString();
      snapshots += 1;
    },

    count: () => snapshots,

    health: () => ({ ...health }),
  };
}
