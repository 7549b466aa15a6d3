import { BurnrateError } from '@burnrate/core';
import type { Clock, Logger } from '@burnrate/core';
import { type HeldPartition, newHeldPartition } from './held-partition.ts';
import type { IdleSnapshot } from './idle-snapshot.ts';
import type { PartitionLogic } from './partition-logic.ts';
import type { PartitionOutput } from './partition-output.ts';
import { decodeSnapshot } from './snapshot-codec.ts';
import type { SnapshotWriter } from './snapshot-writer.ts';
import { snapshotKey, type SnapshotStore } from './snapshots.ts';

/** The partitions this member holds, each loaded from its snapshot once and released on revoke or stop. */
export interface HeldPartitions<State> {
  /** The partition, loaded (its snapshot restored) on first ask; onAssigned and a first batch may both ask, and it is loaded once. */
  held(partition: number): Promise<HeldPartition<State>>;
  get(partition: number): HeldPartition<State> | undefined;
  values(): IterableIterator<HeldPartition<State>>;
  /**
   * Publishes what is pending, snapshots and commits; after it no snapshot of `p` comes from this
   * member. The caller holds the partition's lock, and then forgets it (`delete`).
   */
  release(p: HeldPartition<State>): Promise<void>;
  delete(partition: number): void;
}

export interface HeldPartitionsDeps<State> {
  topic: string;
  store: SnapshotStore;
  logic: PartitionLogic<State>;
  log: Logger;
  clock: Clock;
  /** Names the stage in log messages. */
  name: string;
  snapshotEveryMs: number;
  /** A new partition's output, empty. */
  outputOf(partition: number): PartitionOutput;
  writer: Pick<SnapshotWriter<State>, 'save' | 'commitSaved'>;
  idle: Pick<IdleSnapshot<State>, 'disarm'>;
}

export function createHeldPartitions<State>(deps: HeldPartitionsDeps<State>): HeldPartitions<State> {
  const { log, clock, topic, logic, writer } = deps;
  const partitions = new Map<number, HeldPartition<State>>();
  const loading = new Map<number, Promise<HeldPartition<State>>>();

  const load = async (partition: number): Promise<HeldPartition<State>> => {
    const key = snapshotKey(topic, partition);
    const p = newHeldPartition({
      partition,
      key,
      state: logic.create(partition),
      output: deps.outputOf(partition),
      now: clock.now().getTime(),
      snapshotEveryMs: deps.snapshotEveryMs,
    });
    const started = performance.now();
    const snapshot = await deps.store.load(key);
    const read = { parts: 0, bytes: 0 };
    if (snapshot !== undefined) {
      try {
        // A store that fails while the parts are read throws its own error, which fails the
        // assignment as a failed load would; only a snapshot that cannot be read is given up on.
        const value = await decodeSnapshot(counted(snapshot.parts, read));
        p.state = logic.restore(partition, value);
        p.applied = BigInt(snapshot.offset);
        p.saved = p.applied;
      } catch (err) {
        if (err instanceof BurnrateError && err.code !== 'SNAPSHOT_UNREADABLE') throw err;
        // Better to rebuild state from new messages than to stop detecting altogether.
        log.error({ err, key, offset: snapshot.offset }, `${deps.name} snapshot unreadable; starting this partition with empty state`);
        p.state = logic.create(partition);
      }
    }
    partitions.set(partition, p);
    log.info(
      {
        partition,
        offset: p.applied?.toString() ?? null,
        ...(snapshot === undefined ? {} : { parts: read.parts, bytes: read.bytes, ms: Math.round(performance.now() - started) }),
        ...logic.describe?.(p.state),
      },
      'partition state loaded',
    );
    return p;
  };

  return {
    async held(partition) {
      const p = partitions.get(partition);
      if (p !== undefined) return p;
      let pending = loading.get(partition);
      if (pending === undefined) {
        pending = load(partition).finally(() => loading.delete(partition));
        loading.set(partition, pending);
      }
      return pending;
    },

    get: (partition) => partitions.get(partition),

    values: () => partitions.values(),

    async release(p) {
      p.released = true;
      deps.idle.disarm(p);
      if (p.broken !== undefined) return;
      try {
        await p.output.settle();
        await writer.save(p);
      } catch (err) {
        // The last snapshot stays behind: the next owner replays from it and re-emits the same messages.
        log.error({ err, partition: p.partition }, 'could not publish and snapshot a partition on release; it will be replayed');
        return;
      }
      try {
        // Accepted on stop (the member still holds the partition); refused after a rebalance, when
        // the next owner starts from this snapshot's offset regardless.
        await writer.commitSaved(p);
      } catch (err) {
        log.debug({ err, partition: p.partition }, 'commit on release refused; the next owner starts from the snapshot');
      }
    },

    delete: (partition) => void partitions.delete(partition),
  };
}

/** The parts as they go by, counted. */
async function* counted(parts: AsyncIterable<string>, count: { parts: number; bytes: number }): AsyncGenerator<string, void, undefined> {
  for await (const part of parts) {
    count.parts += 1;
    count.bytes += Buffer.byteLength(part);
    yield part;
  }
}
