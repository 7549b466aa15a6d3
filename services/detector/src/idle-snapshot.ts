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

/** The longest wait between two tries of an idle snapshot that keeps failing (a broker down for long). */
const MAX_IDLE_RETRY_MS = 30_000;

export function createIdleSnapshot<State>(deps: IdleSnapshotDeps<State>): IdleSnapshot<State> {
  const { log, writer } = deps;
  /** Idle snapshots in a row that did not complete, per partition: the next try waits longer. */
  const failures = new WeakMap<HeldPartition<State>, number>();

  const disarm = (p: HeldPartition<State>): void => {
    clearTimeout(p.idleTimer);
    p.idleTimer = undefined;
  };

  const arm = (p: HeldPartition<State>): void => {
    disarm(p);
    if (p.applied === p.saved && p.saved === p.committed) {
      failures.delete(p);
      return;
    }
    const failed = failures.get(p) ?? 0;
    const delay = failed === 0 ? deps.snapshotEveryMs : Math.min(MAX_IDLE_RETRY_MS, Math.max(deps.snapshotEveryMs, 100) * 2 ** failed);
    p.idleTimer = setTimeout(() => {
      p.idleTimer = undefined;
      void withLock(p, async () => {
        if (p.released) return;
        await p.output.settle();
        if (await writer.save(p)) await writer.commitSaved(p);
      })
        .catch((err: unknown) =>
          // A failed snapshot was logged and counted as such; this is the publish or the commit.
          log.warn({ err, partition: p.partition }, `${deps.name} idle snapshot did not complete; trying again`),
        )
        .finally(() => {
          // Not saved and committed yet (the output or the commit failed, the broker was away):
          // with no batch coming to try again, the quiet partition tries again itself, so its
          // group still reaches lag 0. A batch that comes meanwhile re-arms it anyway.
          if (p.released || p.idleTimer !== undefined) return;
          if (p.applied !== p.saved || p.saved !== p.committed) failures.set(p, failed + 1);
          arm(p);
        });
    }, delay);
    p.idleTimer.unref();
  };

  return { arm, disarm };
}
