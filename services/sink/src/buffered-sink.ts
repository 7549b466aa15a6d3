import type { Batch, BatchContext, SubscribeOptions } from '@burnrate/bus';
import { isRetriable, type Logger } from '@burnrate/core';
import { type DlqCount, TOPICS } from '@burnrate/schemas';
import {
  addWritten,
  createSinkWriter,
  emptySinkRows,
  sinkSubscribeOptions,
  type SinkRows,
  type SinkStore,
  type TableKind,
} from './sink.ts';

export interface BufferedSinkDeps {
  store: SinkStore;
  log: Logger;
  groupId?: string;
  /** Flush when this many rows are buffered (default 50 000). */
  maxRows?: number;
  /** Flush when the oldest buffered row has waited this long (default 1000 ms). */
  maxDelayMs?: number;
  /** Upper bound of the retry backoff after a failed insert (default 30 s). */
  maxRetryDelayMs?: number;
}

export interface BufferedSinkStats {
  /** Rows acknowledged by the store, per table kind (dead letters count under dlq). */
  flushed: Record<TableKind, number>;
  flushes: number;
  failedFlushes: number;
  /** Rows the store refused, each written to the DLQ table with the store's error instead. */
  refused: number;
  /** DLQ rows the store refused as well: logged with their origin and skipped, never retried. */
  dropped: number;
  /** Commits the bus refused because the partition had moved to another member (its rows are redelivered there). */
  refusedCommits: number;
  /** Messages that did not parse, written to the DLQ table. */
  invalid: number;
  /** Rows not yet acknowledged by the store: buffered, waiting for a retry, or being written. */
  buffered: number;
}

export interface BufferedSink {
  /** Pass to `bus.subscribe` (autoCommit is off: offsets are committed after the flush that made them durable). */
  readonly subscribeOptions: SubscribeOptions;
  /**
   * Writes what is buffered and commits it; from then on each batch is written before its handler
   * returns. Call before the subscription stops. When the store cannot take the rows (a full disk,
   * a server down) it says so and resolves: they are not committed, so the log gives them again
   * after a restart.
   */
  drain(): Promise<void>;
  stats(): BufferedSinkStats;
  /** Why the store has not taken the rows since `since`, while it does not: for health. */
  failing(): SinkFailure | undefined;
  /** DLQ rows the sink made and stored, by source, reason and field (see SinkWriter.deadLetters). */
  deadLetters(): DlqCount[];
}

export interface SinkFailure {
  message: string;
  /** Epoch milliseconds of the first failed insert in a row. */
  since: number;
  attempts: number;
  /** Rows waiting for the store. */
  rows: number;
}

interface Rows extends SinkRows {
  count: number;
  /** Per `topic:partition`, the last offset these rows cover and the context to commit it through. */
  commits: Map<string, PendingCommit>;
}

interface PendingCommit {
  offset: string;
  ctx: BatchContext;
  /** Commits of this offset that failed while the member still held the partition. */
  failed?: number;
}

/** A commit that fails while the partition is still held (the broker restarting) is tried again this often, one flush delay apart. */
const MAX_COMMIT_ATTEMPTS = 60;

const emptyRows = (): Rows => ({ ...emptySinkRows(), count: 0, commits: new Map() });

/**
 * The sink of both modes: the same parsing and DLQ rules as `createSink`, but usage events from
 * many batches and partitions are gathered and inserted together, whichever comes first of
 * `maxRows` rows or `maxDelayMs`, because ClickHouse wants few large inserts rather than one per
 * fetched partition (or per request); a batch of any other topic is written at once. Offsets are
 * committed (per partition) only after the insert that holds their rows resolved, so a crash
 * redelivers whatever was not yet written.
 *
 * A failed insert is retried with exactly the same rows in the same order, so the store's
 * content-derived insert_deduplication_token lets ClickHouse drop a block that did land before a
 * timeout. While a retry is pending new batches keep buffering until `maxRows`; past that, a
 * batch is refused with the retriable error and the bus pauses that partition and redelivers it
 * later. A row the store refuses (a non-retriable error) never blocks anything: the block is
 * split until that row is found, it goes to the DLQ table with the store's error, the rest is
 * stored and the offsets are committed past it, so a restart does not meet it again.
 */
export function createBufferedSink(deps: BufferedSinkDeps): BufferedSink {
  const log = deps.log.child({ component: 'sink', mode: 'buffered' });
  const maxRows = deps.maxRows ?? 50_000;
  const maxDelayMs = deps.maxDelayMs ?? 1000;
  const maxRetryDelayMs = deps.maxRetryDelayMs ?? 30_000;
  const stats: BufferedSinkStats = {
    flushed: { usage_events: 0, dlq: 0, anomalies: 0, anomaly_state: 0 },
    flushes: 0,
    failedFlushes: 0,
    refused: 0,
    dropped: 0,
    refusedCommits: 0,
    invalid: 0,
    buffered: 0,
  };

  let buffer = emptyRows();
  /** Rows whose insert failed; retried as they are before anything newer is written. */
  let retrying: Rows | undefined;
  let failures = 0;
  let failingSince = 0;
  let lastError = '';
  let draining = false;
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> | undefined;

  const writer = createSinkWriter(deps.store, log);

  const pendingRows = (): number => buffer.count + (retrying?.count ?? 0);
  /** Rows of the insert under way. */
  let writing = 0;

  const schedule = (delayMs: number): void => {
    if (timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      void flush().catch(() => undefined);
    }, delayMs);
    timer.unref();
  };

  /** Commits whose rows are written but whose commit failed while the partition was still held: retried at the next flush. */
  let uncommitted = new Map<string, PendingCommit>();

  const commit = async (rows: Rows): Promise<void> => {
    for (const [partition, pending] of rows.commits) {
      const { offset, ctx } = pending;
      try {
        await ctx.commit(offset);
      } catch (err) {
        const failed = (pending.failed ?? 0) + 1;
        if (!ctx.signal.aborted && failed < MAX_COMMIT_ATTEMPTS) {
          // Still this member's (the broker was unreachable): with no newer batch to commit through,
          // the group would stay behind for good, so the same commit is tried again.
          uncommitted.set(partition, { offset, ctx, failed });
          log.debug({ err, partition, offset, attempt: failed }, 'commit after flush failed; trying again at the next flush');
          continue;
        }
        // Rebalanced away or stopped: the rows are written, the next owner re-reads from the last
        // commit and the tables collapse the repeats.
        stats.refusedCommits += 1;
        log.debug({ err, partition, offset }, 'commit after flush refused; the partition is redelivered elsewhere');
      }
    }
  };

  /** Writes the retry block (if any) then the buffer, one at a time; rejects with the first insert error. */
  const flushOnce = async (): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    while (retrying !== undefined || buffer.count > 0 || buffer.commits.size > 0) {
      const rows = retrying ?? buffer;
      if (rows === buffer) buffer = emptyRows();
      retrying = undefined;
      let outcome;
      writing = rows.count;
      try {
        outcome = await writer.write(rows);
      } catch (err) {
        // Retriable (refused rows are dealt with inside write): the same block goes again, so
        // the store's dedup token drops whatever part of it did land.
        stats.failedFlushes += 1;
        retrying = rows;
        if (failures === 0) failingSince = Date.now();
        failures += 1;
        lastError = err instanceof Error ? err.message : String(err);
        const delay = Math.min(maxRetryDelayMs, 500 * 2 ** Math.min(failures - 1, 10));
        log.warn({ err, rows: rows.count, attempt: failures, retryInMs: delay }, 'insert failed; retrying the same block');
        schedule(delay);
        throw err;
      } finally {
        writing = 0;
      }
      failures = 0;
      stats.flushes += 1;
      addWritten(stats.flushed, outcome.written);
      stats.refused += outcome.refused;
      stats.dropped += outcome.dropped;
      await commit(rows);
    }
    if (uncommitted.size > 0) {
      // A newer batch of the same partition commits past them anyway.
      for (const [partition, pending] of uncommitted) if (!buffer.commits.has(partition)) buffer.commits.set(partition, pending);
      uncommitted = new Map();
      schedule(maxDelayMs);
    }
  };

  const flush = (): Promise<void> => {
    flushing ??= flushOnce().finally(() => {
      flushing = undefined;
    });
    return flushing;
  };

  const handleBatch = async (batch: Batch, ctx: BatchContext): Promise<void> => {
    if (pendingRows() >= maxRows) {
      // Full: make room first. If the store is still failing, this batch is not taken; the bus
      // redelivers it after a backoff (the error is retriable) and other partitions go on.
      await flush();
    }
    stats.invalid += writer.collect(batch, buffer);
    buffer.count += batch.messages.length;
    const last = batch.messages.at(-1);
    if (last !== undefined) buffer.commits.set(`${batch.topic}:${batch.partition}`, { offset: last.offset, ctx });
    // Anomalies, decisions and dead letters are few and are read as soon as they exist (a
    // message's link, its buttons): they are written at once, with whatever events are buffered.
    const prompt = batch.topic !== TOPICS.usageEvents.name && batch.messages.length > 0;
    if (draining || prompt || pendingRows() >= maxRows) {
      try {
        await flush();
      } catch (err) {
        // The rows are buffered (and retried); only when draining must the batch wait for them.
        if (draining || !isRetriable(err)) throw err;
      }
    } else if (batch.messages.length > 0 || buffer.commits.size > 0) {
      schedule(maxDelayMs);
    }
  };

  return {
    subscribeOptions: { ...sinkSubscribeOptions(deps.groupId, handleBatch), autoCommit: false },
    async drain() {
      draining = true;
      if (pendingRows() === 0 && buffer.commits.size === 0) return;
      try {
        await flush();
      } catch (err) {
        if (!isRetriable(err)) throw err;
        clearTimeout(timer);
        timer = undefined;
        log.warn(
          { err, rows: pendingRows() },
          'stopping with rows the store did not take; they stay in the log and are written after a restart',
        );
      }
    },
    stats: () => ({ ...stats, flushed: { ...stats.flushed }, buffered: pendingRows() + writing }),
    failing: () =>
      failures === 0 ? undefined : { message: lastError, since: failingSince, attempts: failures, rows: pendingRows() + writing },
    deadLetters: () => writer.deadLetters(),
  };
}
