import { join } from 'node:path';
import { BurnrateError, isBurnrateError, type Logger } from '@burnrate/core';
import type {
  Batch,
  BatchContext,
  Bus,
  ConsumedMessage,
  OutgoingMessage,
  Producer,
  SubscribeOptions,
  Subscription,
  TopicPartition,
} from '../port.ts';
import { partitionKey } from '../port.ts';
import type { LogFs } from './log-fs.ts';
import { PartitionLog } from './partition-log.ts';
import { partitionFor } from '../partitioner.ts';
import { abortableSleep } from '../abortable-sleep.ts';

export interface InProcessBusOptions {
  /** Where the log lives (embedded mode: `$BURNRATE_DATA_DIR/bus`). Without it the bus is memory-only. */
  dir?: string;
  /** Partitions per topic; keys map to partitions as in Kafka, so order per key holds. */
  partitions?: number;
  /** fdatasync every group commit (default true when `dir` is set). */
  fsync?: boolean;
  /** Roll a segment file past this size (default 64 MiB). */
  segmentBytes?: number;
  log: Logger;
  /** Delay before a failed batch is handed to the handler again; grows to `maxRetryDelayMs`. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** The file system under `dir`; a test passes one that fails on purpose. */
  fs?: LogFs;
}

/** The in-process bus, which can also say what keeps it from working (for /healthz). */
export interface InProcessBus extends Bus {
  /**
   * One sentence per current problem, empty when there is none: a partition that cannot be
   * written (a full disk: sends fail with a retriable BUS_UNAVAILABLE until it can), or a group
   * whose batches or commits keep failing on a partition (it backs off and tries again).
   */
  problems(): string[];
}

interface Failing {
  message: string;
  since: number;
  attempts: number;
}

const MAX_PROBLEM_LENGTH = 300;

function problemMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.length > MAX_PROBLEM_LENGTH ? `${text.slice(0, MAX_PROBLEM_LENGTH - 1)}…` : text;
}

const sinceText = (f: Failing): string => `since ${new Date(f.since).toISOString()}, ${f.attempts} attempt${f.attempts === 1 ? '' : 's'}`;

/**
 * The Bus port in one process, with Kafka's semantics where Burnrate relies on them: keyed
 * partitions, per-group committed offsets that survive a restart, at-least-once redelivery of
 * anything not committed, and no send acknowledged before it is on disk. A handler that throws
 * gets the same batch again after a backoff; nothing is skipped.
 */
export function createInProcessBus(options: InProcessBusOptions): InProcessBus {
  const partitions = options.partitions ?? 1;
  const fsync = options.fsync ?? options.dir !== undefined;
  const segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024;
  const logs = new Map<string, Promise<PartitionLog>>();
  const opened = new Set<PartitionLog>();
  const groups = new Set<string>();
  const subscriptions = new Set<Subscription>();
  // Per group, the partitions whose batches (or commits) currently fail; read by problems().
  const failing = new Map<string, Map<PartitionLog, Failing>>();
  let closed = false;

  const partitionLog = (topic: string, partition: number): Promise<PartitionLog> => {
    const id = `${topic}/${partition}`;
    let log = logs.get(id);
    if (!log) {
      const pl = new PartitionLog({
        topic,
        partition,
        dir: options.dir ? join(options.dir, topic, String(partition)) : undefined,
        fsync,
        segmentBytes,
        ...(options.fs ? { fs: options.fs } : {}),
      });
      log = pl.open().then(
        () => {
          opened.add(pl);
          return pl;
        },
        (err: unknown) => {
          // Not kept: the next send or subscription tries to open it again.
          logs.delete(id);
          throw isBurnrateError(err)
            ? err
            : new BurnrateError('BUS_UNAVAILABLE', `cannot open partition ${id}: ${(err as Error).message}`, {
                cause: err,
                retryAfterMs: 1_000,
              });
        },
      );
      logs.set(id, log);
    }
    return log;
  };

  const producer: Producer = {
    async send(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
      if (closed) throw new BurnrateError('BUS_CLOSED', 'the in-process bus is closed');
      if (messages.length === 0) return;
      const byPartition = new Map<number, OutgoingMessage[]>();
      for (const m of messages) {
        const p = partitionFor(m.key, partitions);
        let list = byPartition.get(p);
        if (!list) byPartition.set(p, (list = []));
        list.push(m);
      }
      const now = Date.now();
      await Promise.all([...byPartition].map(async ([p, list]) => (await partitionLog(topic, p)).append(list, now)));
    },
  };

  const subscribe = (sub: SubscribeOptions): Subscription => {
    const log = options.log.child({ component: 'bus', group: sub.groupId });
    const controller = new AbortController();
    const loops: Promise<void>[] = [];
    // Next offset to hand to the handler, per partition log; read by lag().
    const positions = new Map<PartitionLog, number>();
    const failures = new Map<PartitionLog, Failing>();
    let started = false;
    const assigned: TopicPartition[] = sub.topics.flatMap((topic) =>
      Array.from({ length: partitions }, (_, partition) => ({ topic, partition })),
    );

    const runPartition = async (pl: PartitionLog, startAt: number): Promise<void> => {
      let position = startAt;
      positions.set(pl, position);
      const max = sub.maxBatchSize ?? 1000;
      // Every failure (a handler error, a commit that cannot be written, a closed log) waits a
      // growing, abortable delay before the next try: the loop never spins, and stop() ends it.
      const backOff = async (err: unknown, what: string, offset: string | undefined): Promise<void> => {
        const now = Date.now();
        const f = failures.get(pl) ?? { message: '', since: now, attempts: 0 };
        f.message = problemMessage(err);
        f.attempts += 1;
        failures.set(pl, f);
        const delay = Math.min((options.retryDelayMs ?? 200) * 2 ** Math.min(f.attempts - 1, 30), options.maxRetryDelayMs ?? 30_000);
        log.error({ err, topic: pl.topic, partition: pl.partition, offset, attempt: f.attempts, retryInMs: delay }, what);
        await abortableSleep(delay, controller.signal);
      };
      while (!controller.signal.aborted) {
        let messages: ConsumedMessage[];
        try {
          messages = await pl.read(Math.max(position, pl.earliestOffset), max, controller.signal);
        } catch (err) {
          await backOff(err, 'cannot read the partition; trying again', String(position));
          continue;
        }
        if (messages.length === 0) {
          // read() returns nothing only when stopping; should that change, wait rather than spin.
          await abortableSleep(options.retryDelayMs ?? 200, controller.signal);
          continue;
        }
        const last = messages.at(-1) as ConsumedMessage;
        const batch: Batch = { topic: pl.topic, partition: pl.partition, messages, highWatermark: String(pl.highWatermark) };
        const ctx: BatchContext = {
          commit: (offset: string) => pl.commit(sub.groupId, Number(offset) + 1),
          signal: controller.signal,
        };
        try {
          await sub.handleBatch(batch, ctx);
          if (sub.autoCommit ?? true) await pl.commit(sub.groupId, Number(last.offset) + 1);
          position = Number(last.offset) + 1;
          positions.set(pl, position);
          failures.delete(pl);
        } catch (err) {
          await backOff(err, 'batch handler or commit failed; the batch will be delivered again', messages[0]?.offset);
        }
      }
    };

    const subscription: Subscription = {
      async start() {
        if (started) return;
        if (groups.has(sub.groupId)) {
          throw new BurnrateError(
            'INTERNAL',
            `group ${sub.groupId} already has a consumer; the in-process bus runs one consumer per group`,
          );
        }
        groups.add(sub.groupId);
        failing.set(sub.groupId, failures);
        started = true;
        subscriptions.add(subscription);
        const pls = await Promise.all(assigned.map((tp) => partitionLog(tp.topic, tp.partition)));
        const overrides = (await sub.onAssigned?.(assigned)) ?? {};
        const starts = await Promise.all(
          pls.map(async (pl, i) => {
            const tp = assigned[i] as TopicPartition;
            const override = overrides[partitionKey(tp)];
            const committed = pl.committedOffset(sub.groupId);
            const startAt = override !== undefined ? Number(override) : (committed ?? (sub.fromBeginning === false ? pl.highWatermark : 0));
            // Retention follows the slowest known group; a group becomes known by its first commit.
            // Commit the start position now, so a group that has not finished a batch yet (or only
            // commits with its snapshots) still holds back retention instead of losing what it
            // has not read to another group's progress.
            if (committed === undefined) await pl.commit(sub.groupId, Math.max(startAt, pl.earliestOffset));
            return startAt;
          }),
        );
        pls.forEach((pl, i) => loops.push(runPartition(pl, starts[i] as number)));
      },
      async stop() {
        if (!started) return;
        started = false;
        controller.abort();
        await Promise.all(loops);
        await sub.onRevoked?.(assigned);
        groups.delete(sub.groupId);
        failing.delete(sub.groupId);
        subscriptions.delete(subscription);
      },
      lag() {
        let total = 0;
        for (const [pl, position] of positions) total += Math.max(0, pl.highWatermark - Math.max(position, pl.earliestOffset));
        return total;
      },
    };
    return subscription;
  };

  const problems = (): string[] => {
    const out: string[] = [];
    for (const pl of opened) {
      const f = pl.writeFailure();
      if (f) out.push(`cannot write ${pl.topic}/${pl.partition}: ${f.message} (${sinceText(f)})`);
    }
    for (const [group, byLog] of failing) {
      for (const [pl, f] of byLog) out.push(`${group} cannot process ${pl.topic}/${pl.partition}: ${f.message} (${sinceText(f)})`);
    }
    return out;
  };

  return {
    producer: () => producer,
    problems,
    subscribe,
    async ensureTopics(topics) {
      await Promise.all(topics.flatMap((t) => Array.from({ length: partitions }, (_, p) => partitionLog(t, p))));
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...subscriptions].map((s) => s.stop()));
      await Promise.all([...logs.values()].map(async (l) => (await l).close()));
    },
  };
}
