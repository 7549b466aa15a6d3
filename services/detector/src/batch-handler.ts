import type { Batch, BatchContext, SubscribeOptions } from '@burnrate/bus';
import { BurnrateError } from '@burnrate/core';
import type { Logger } from '@burnrate/core';
import { type HeldPartition, withLock } from './held-partition.ts';
import type { HeldPartitions } from './held-partitions.ts';
import type { IdleSnapshot } from './idle-snapshot.ts';
import type { PartitionLogic } from './partition-logic.ts';
import type { SnapshotWriter } from './snapshot-writer.ts';

export interface BatchHandlerDeps<State> {
  topic: string;
  logic: Pick<PartitionLogic<State>, 'apply' | 'endBatch'>;
  log: Logger;
  /** Names the stage in log messages. */
  name: string;
  partitions: Pick<HeldPartitions<State>, 'held'>;
  writer: Pick<SnapshotWriter<State>, 'due' | 'saveInBackground'>;
  idle: IdleSnapshot<State>;
}

/**
 * Takes a batch, and returns before stepping it: kafkajs fetches again only once every batch of
 * its last fetch has returned, so a batch stepped after returning overlaps the next fetch's
 * round trip instead of following it (the Java consumer's prefetch). One batch per partition
 * is in hand at a time: the next waits until this one is stepped. What can fail stays before the
 * return: the last batch's output still not acknowledged fails this batch, which the bus
 * delivers again. Stepping cannot fail (a detector's error is caught per event); if it does
 * all the same, the partition is marked broken and its next batch fails fatally, so the
 * consumer restarts from the last snapshot instead of going on from a half-stepped state.
 */
export function createBatchHandler<State>(deps: BatchHandlerDeps<State>): SubscribeOptions['handleBatch'] {
  const { log, logic, writer, idle } = deps;

  /** Steps the batch's messages the state does not reflect yet and hands their output to the bus; true when a snapshot is due. */
  const applyBatch = (p: HeldPartition<State>, batch: Batch, ctx: BatchContext): boolean => {
    const out = p.output.outbox;
    for (const m of batch.messages) {
      if (ctx.signal.aborted) break;
      const offset = BigInt(m.offset);
      // Already in the restored state: the bus redelivered from before the snapshot's offset.
      if (p.applied !== null && offset <= p.applied) continue;
      logic.apply(p.state, m, out);
      p.applied = offset;
    }
    logic.endBatch?.(p.state, out, p.partition);
    p.output.flushInBackground();
    return writer.due(p);
  };

  return async (batch, ctx) => {
    if (batch.topic !== deps.topic) return;
    const p = await deps.partitions.held(batch.partition);
    await withLock(p, async () => {
      if (p.broken !== undefined) throw p.broken;
      p.ctx = ctx;
      idle.disarm(p);
      // The last batch's output is out before this one's is made; what failed goes first, so
      // messages leave in the order they were made.
      await p.output.settle();
    });
    void withLock(p, async () => {
      // After kafkajs has sent its next fetch, which it does in the microtasks after this return.
      await new Promise((resolve) => setImmediate(resolve));
      let due: boolean;
      try {
        due = applyBatch(p, batch, ctx);
      } catch (err) {
        p.broken = new BurnrateError('INTERNAL', `${deps.name} failed stepping a batch of ${p.key}; it restarts from the last snapshot`, {
          cause: err,
        });
        log.error(
          { err, partition: p.partition, offset: p.applied?.toString() ?? null },
          `${deps.name} failed stepping a batch; the partition restarts from its last snapshot`,
        );
        return;
      }
      if (due) await writer.saveInBackground(p);
      idle.arm(p);
    });
  };
}
