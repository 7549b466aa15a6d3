import type { BatchContext } from '@burnrate/bus';
import type { PartitionOutput } from './partition-output.ts';

/** Where one partition's snapshots are: when the last was taken, when the next is due, the one being written. */
export interface SnapshotProgress {
  /** Wall time the interval to the next snapshot counts from: the last one taken, or found not needed. */
  lastSavedAt: number;
  /** Wall time from one snapshot to the next: snapshotEveryMs, or longer after a costly one. */
  intervalMs: number;
  /** The snapshot being written (and then committed), while the next batches go on; one at a time. */
  saving: Promise<void>;
  /** Offset of the snapshot being written; null when none is. */
  savingAt: bigint | null;
  /** The latest snapshot attempt failed (serialising or saving). */
  failing: boolean;
}

/** One partition this member holds: its state, how far the state, its snapshot and the group's commit got, and its output. */
export interface HeldPartition<State> {
  readonly partition: number;
  /** Its snapshot's key. */
  readonly key: string;
  state: State;
  /** Last offset the state reflects; null when it reflects nothing yet. */
  applied: bigint | null;
  /** Offset of the last saved snapshot. */
  saved: bigint | null;
  /** Last offset committed for the group (through `ctx`); the group's lag counts from it. */
  committed: bigint | null;
  /** The latest batch's context: commits of snapshots taken between batches go through it. */
  ctx: BatchContext | undefined;
  /** What the partition's steps produced, until the bus acknowledges it. */
  readonly output: PartitionOutput;
  readonly snapshot: SnapshotProgress;
  /** Snapshot and commit after a quiet period, so an idle partition's group reaches lag 0. */
  idleTimer: NodeJS.Timeout | undefined;
  /** Revoked or stopped: no more snapshots from this member, another may own the partition now. */
  released: boolean;
  /** A batch threw while being applied (a bug): the state may be half-stepped, so it is never snapshotted and the next batch fails. */
  broken: Error | undefined;
  /** Serialises batches, revokes and stop on one partition. */
  lock: Promise<unknown>;
}

/** A partition whose state reflects nothing yet; `now` is the wall time the first snapshot interval counts from. */
export function newHeldPartition<State>(init: {
  partition: number;
  key: string;
  state: State;
  output: PartitionOutput;
  now: number;
  snapshotEveryMs: number;
}): HeldPartition<State> {
  return {
    partition: init.partition,
    key: init.key,
    state: init.state,
    applied: null,
    saved: null,
    committed: null,
    ctx: undefined,
    output: init.output,
    snapshot: { lastSavedAt: init.now, intervalMs: init.snapshotEveryMs, saving: Promise.resolve(), savingAt: null, failing: false },
    idleTimer: undefined,
    released: false,
    broken: undefined,
    lock: Promise.resolve(),
  };
}

/** Runs `fn` once everything queued on the partition before it has finished (or failed). */
export function withLock<State, T>(p: HeldPartition<State>, fn: () => Promise<T>): Promise<T> {
  const run = p.lock.then(fn, fn);
  p.lock = run.catch(() => undefined);
  return run;
}
