import type { Logger } from '@burnrate/core';
import { type HeldPartition, withLock } from './held-partition.ts';
import type { SnapshotWriter } from './snapshot-writer.ts';

/**
 * Publishes, snapshots and commits what the last batches left unsaved, once no batch came for
 * snapshotEveryMs, under the same lock and in the same order as a batch: an idle partition's group
 * reaches lag 0.
 */
export interface IdleSnapshot<State> {
  /** Starts the quiet period again after a batch; nothing waits when everything applied is saved and committed. */
  arm(p: HeldPartition<State>): void;
  /** Cancels the quiet period: a batch came, or the partition is released. */
  disarm(p: HeldPartition<State>): void;
}

export interface IdleSnapshotDeps<State> {
  log: Logger;
  /** Names the stage in log messages. */
  name: string;
  snapshotEveryMs: number;
  writer: Pick<SnapshotWriter<State>, 'save' | 'commitSaved'>;
}

export function createIdleSnapshot<State>(deps: IdleSnapshotDeps<State>): IdleSnapshot<State> {
  const { log, writer } = deps;

  const disarm = (p: HeldPartition<State>): void => {
    clearTimeout(p.idleTimer);
    p.idleTimer = undefined;
  };

  return {
    arm(p) {
      disarm(p);
      if (p.applied === p.saved && p.saved === p.committed) return;
      p.idleTimer = setTimeout(() => {
        p.idleTimer = undefined;
        void withLock(p, async () => {
          if (p.released) return;
          await p.output.settle();
          if (await writer.save(p)) await writer.commitSaved(p);
        }).catch((err: unknown) =>
          // A failed snapshot was logged and counted as such; this is the publish or the commit.
          // A later batch, the release or the next owner's restore covers it.
          log.warn(
            { err, partition: p.partition },
            `${deps.name} idle snapshot did not complete; the next batch or release snapshots again`,
          ),
        );
      }, deps.snapshotEveryMs);
      p.idleTimer.unref();
    },

    disarm,
  };
}
