import type { Clock, Logger } from '@burnrate/core';
import type { HeldPartition } from './held-partition.ts';
import { DEFAULT_SNAPSHOT_PART_BYTES, encodeSnapshotYielding } from './snapshot-codec.ts';
import { nextSnapshotInterval, type SnapshotPacing } from './snapshot-pacing.ts';
import type { SnapshotTally } from './snapshot-tally.ts';
import type { SnapshotStore } from './snapshots.ts';

/**
 * Snapshots of the partitions held, and the commits that follow them: a snapshot is taken only
 * once the output it includes is acknowledged, and its offset is committed only once it is saved.
 */
export interface SnapshotWriter<State> {
  /** The partition's snapshot interval has passed since its last snapshot. */
  due(p: HeldPartition<State>): boolean;
  /** Snapshots what is applied and not saved, now; false when output is still pending or the snapshot failed. */
  save(p: HeldPartition<State>): Promise<boolean>;
  /**
   * Takes the snapshot now (the caller holds the partition's lock, so the state stands still
   * while it is serialised) and writes and commits it in the background: the write (compress,
   * send, acknowledgement) is most of a snapshot's time, and the partition's next batches need
   * not wait for it, as the parts already hold the state. The write waits until the output the
   * snapshot includes is acknowledged, and is dropped if it was not (the output stays pending), so
   * a snapshot never gets ahead of what was published. One write at a time; a failed one is
   * logged and counted, and the next due snapshot tries again.
   */
  saveInBackground(p: HeldPartition<State>): Promise<void>;
  /** Commits the saved snapshot's offset; the restore starts after it anyway, so this only moves the group's lag. */
  commitSaved(p: HeldPartition<State>): Promise<void>;
}

export interface SnapshotWriterDeps<State> {
  store: SnapshotStore;
  /** The state as plain JSON-able data (PartitionLogic.snapshot). */
  snapshot(state: State): unknown;
  log: Logger;
  clock: Clock;
  /** Names the stage in log messages. */
  name: string;
  pacing: SnapshotPacing;
  /** Where each save and failure is counted. */
  tally: SnapshotTally;
  /** Largest snapshot part, in UTF-8 bytes; the store's own limit applies too. Default 8 MiB. */
  snapshotPartBytes?: number;
}

export function createSnapshotWriter<State>(deps: SnapshotWriterDeps<State>): SnapshotWriter<State> {
  const { log, clock, pacing, tally } = deps;
  const partBytes = Math.min(deps.snapshotPartBytes ?? DEFAULT_SNAPSHOT_PART_BYTES, deps.store.maxPartBytes ?? DEFAULT_SNAPSHOT_PART_BYTES);

  /** The state at `p.applied` as parts, the event loop let through between them; the caller holds the partition's lock. */
  const serialise = async (p: HeldPartition<State>, offset: bigint): Promise<string[] | undefined> => {
    try {
      return await encodeSnapshotYielding(deps.snapshot(p.state), partBytes);
    } catch (err) {
      tally.failed(p, offset, err);
      return undefined;
    }
  };

  /** Writes a snapshot's parts taken at `offset`; once the store has them all, that is the partition's restore point. */
  const write = async (p: HeldPartition<State>, offset: bigint, parts: readonly string[]): Promise<void> => {
    try {
      await deps.store.save({ key: p.key, offset: offset.toString(), parts });
    } catch (err) {
      tally.failed(p, offset, err);
      throw err;
    }
    p.saved = offset;
    tally.saved(p);
  };

  const commitSaved = async (p: HeldPartition<State>): Promise<void> => {
    const offset = p.saved;
    if (offset === null || p.ctx === undefined || (p.committed !== null && offset <= p.committed)) return;
    await p.ctx.commit(offset.toString());
    p.committed = offset;
  };

  return {
    due: (p) => clock.now().getTime() - p.snapshot.lastSavedAt >= p.snapshot.intervalMs,

    async save(p) {
      await p.snapshot.saving;
      if (p.output.hasPending() || p.applied === null) return false;
      if (p.applied !== p.saved) {
        const offset = p.applied;
        const parts = await serialise(p, offset);
        if (parts === undefined) return false;
        await write(p, offset, parts);
      }
      p.snapshot.lastSavedAt = clock.now().getTime();
      return true;
    },

    async saveInBackground(p) {
      if (p.applied === null || p.snapshot.savingAt !== null) return;
      p.snapshot.lastSavedAt = clock.now().getTime();
      if (p.applied === p.saved) return;
      const offset = p.applied;
      const started = clock.now().getTime();
      const parts = await serialise(p, offset);
      if (parts === undefined) return;
      const serialisedMs = clock.now().getTime() - started;
      const published = p.output.flushing();
      p.snapshot.savingAt = offset;
      p.snapshot.saving = (async () => {
        try {
          if (!(await published)) return;
          const writing = clock.now().getTime();
          await write(p, offset, parts);
          const costMs = serialisedMs + clock.now().getTime() - writing;
          p.snapshot.intervalMs = nextSnapshotInterval(pacing, costMs, serialisedMs);
          if (p.released) return;
          try {
            await commitSaved(p);
          } catch (err) {
            log.warn(
              { err, partition: p.partition, offset: offset.toString() },
              `${deps.name} commit failed; the next snapshot commits again`,
            );
          }
        } catch {
          // Logged and counted by write(); the next due snapshot tries again.
        } finally {
          p.snapshot.savingAt = null;
        }
      })();
    },

    commitSaved,
  };
}
