import type { Batch, BatchContext, ConsumedMessage, OutgoingMessage, Producer, SubscribeOptions, TopicPartition } from '@burnrate/bus';
import { partitionKey } from '@burnrate/bus';
import { BurnrateError } from '@burnrate/core';
import type { Clock, Logger } from '@burnrate/core';
import { decodeSnapshot, DEFAULT_SNAPSHOT_PART_BYTES, encodeSnapshotYielding } from './snapshot-codec.ts';
import type { SnapshotHealth } from './snapshot-health.ts';
import { snapshotKey, type SnapshotStore } from './snapshots.ts';

/** Where a partition's step queues what it produced: sent, in order, before the next snapshot. */
export interface Outbox {
  push(topic: string, message: OutgoingMessage): void;
}

const DEFAULT_MAX_SNAPSHOT_EVERY_MS = 30_000;
/** A snapshot costing c ms (c at least COSTLY_SNAPSHOT_MS) is followed by the next no sooner than this many times c. */
const SNAPSHOT_COST_FACTOR = 20;
/** Cheaper snapshots keep to snapshotEveryMs (at the default 1 s, one costing up to 50 ms is 5% anyway). */
const COSTLY_SNAPSHOT_MS = 25;
/**
 * Serialising holds the partition (its batches wait), so whatever maxSnapshotEveryMs says, the
 * next snapshot is at least this many times the serialising time away: a partition of millions of
 * keys (a minute to serialise) is not snapshotted back to back.
 */
const SERIALISE_SHARE_FACTOR = 10;

/** What one stage does with its partitions' state; the consumer below does the rest. */
export interface PartitionLogic<State> {
  /** State of a partition with no snapshot. */
  create(partition: number): State;
  /** State from a snapshot's value (what `snapshot` gave, as JSON would rebuild it); throws when it cannot be read. */
  restore(partition: number, value: unknown): State;
  /** The state as plain JSON-able data, read (not kept) before the state's next step. */
  snapshot(state: State): unknown;
  /** Steps one message the state does not reflect yet, queueing its output. */
  apply(state: State, message: ConsumedMessage, out: Outbox): void;
  /** After a batch's messages, before its output is sent. */
  endBatch?(state: State, out: Outbox, partition: number): void;
  /** Fields logged when a partition is loaded. */
  describe?(state: State): Record<string, unknown>;
}

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

export interface PartitionedConsumer {
  readonly subscribeOptions: SubscribeOptions;
  /** Publishes what is pending and snapshots every partition still held. */
  stop(): Promise<void>;
  /** Messages acknowledged by the bus, per output topic (re-publications after a crash included). */
  sent(topic: string): number;
  snapshots(): number;
  snapshotHealth(): SnapshotHealth;
}

interface Held<State> {
  partition: number;
  key: string;
  state: State;
  /** Last offset the state reflects; null when it reflects nothing yet. */
  applied: bigint | null;
  /** Offset of the last saved snapshot. */
  saved: bigint | null;
  /** Last offset committed for the group (through `ctx`); the group's lag counts from it. */
  committed: bigint | null;
  /** The latest batch's context: commits of snapshots taken between batches go through it. */
  ctx: BatchContext | undefined;
  /** Snapshot and commit after a quiet period, so an idle partition's group reaches lag 0. */
  idleTimer: NodeJS.Timeout | undefined;
  /** Revoked or stopped: no more snapshots from this member, another may own the partition now. */
  released: boolean;
  /** A batch threw while being applied (a bug): the state may be half-stepped, so it is never snapshotted and the next batch fails. */
  broken: Error | undefined;
  /** Output not yet acknowledged by the bus, by topic in first-queued order; a snapshot waits until it is empty. */
  pending: Map<string, OutgoingMessage[]>;
  lastSavedAt: number;
  /** Wall time from one snapshot to the next: snapshotEveryMs, or longer after a costly one. */
  snapshotIntervalMs: number;
  /**
   * The last batch's output on its way to the bus, while the next fetch goes on: true once all of
   * it is acknowledged, false when a send failed (what did not go out stays in `pending`). Anything
   * that touches `pending` waits for it first.
   */
  flushing: Promise<boolean>;
  /** The snapshot being written (and then committed), while the next batches go on; one at a time. */
  saving: Promise<void>;
  /** Offset of the snapshot being written; null when none is. */
  savingAt: bigint | null;
  /** Serialises batches, revokes and stop on one partition. */
  lock: Promise<unknown>;
  /** The latest snapshot attempt failed (serialising or saving). */
  snapshotFailing: boolean;
}

/**
 * A consumer whose effect is a per-partition state, with exactly-once effect on state and
 * at-least-once output: each partition's state is snapshotted with the last offset it reflects,
 * and only after that snapshot is durable is the offset committed. On assignment the snapshot is
 * restored and consumption starts right after its offset, so no message is counted twice;
 * anything processed after the last snapshot is replayed and re-emits the same messages, which
 * downstream treats as duplicates. Output is published (and acknowledged) before any snapshot that
 * includes its effect, so a crash can repeat a message but never lose one.
 */
export function createPartitionedConsumer<State>(deps: PartitionedConsumerDeps, logic: PartitionLogic<State>): PartitionedConsumer {
  const { log, clock, topic } = deps;
  const maxSnapshotEveryMs = Math.max(deps.snapshotEveryMs, deps.maxSnapshotEveryMs ?? DEFAULT_MAX_SNAPSHOT_EVERY_MS);
  const partitions = new Map<number, Held<State>>();
  // onAssigned and a first batch may both ask for a partition; it is loaded once.
  const loading = new Map<number, Promise<Held<State>>>();
  const sent = new Map<string, number>();
  let snapshots = 0;
  const partBytes = Math.min(
    deps.snapshotPartBytes ?? DEFAULT_SNAPSHOT_PART_BYTES,
    deps.snapshots.maxPartBytes ?? DEFAULT_SNAPSHOT_PART_BYTES,
  );
  const health: Omit<SnapshotHealth, 'failing'> = { failures: 0, lastError: null, lastSavedAt: null };

  const withLock = <T>(p: Held<State>, fn: () => Promise<T>): Promise<T> => {
    const run = p.lock.then(fn, fn);
    p.lock = run.catch(() => undefined);
    return run;
  };

  const load = async (partition: number): Promise<Held<State>> => {
    const key = snapshotKey(topic, partition);
    const p: Held<State> = {
      partition,
      key,
      state: logic.create(partition),
      applied: null,
      saved: null,
      committed: null,
      ctx: undefined,
      idleTimer: undefined,
      released: false,
      broken: undefined,
      pending: new Map(),
      lastSavedAt: clock.now().getTime(),
      snapshotIntervalMs: deps.snapshotEveryMs,
      flushing: Promise.resolve(true),
      saving: Promise.resolve(),
      savingAt: null,
      lock: Promise.resolve(),
      snapshotFailing: false,
    };
    const started = performance.now();
    const snapshot = await deps.snapshots.load(key);
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

  const held = async (partition: number): Promise<Held<State>> => {
    const p = partitions.get(partition);
    if (p !== undefined) return p;
    let pending = loading.get(partition);
    if (pending === undefined) {
      pending = load(partition).finally(() => loading.delete(partition));
      loading.set(partition, pending);
    }
    return pending;
  };

  /** Waits for the output in flight, then sends what is still pending (a failed flush's), in order. */
  const settle = async (p: Held<State>): Promise<void> => {
    await p.flushing;
    await publishPending(p);
  };

  /** Sends the batch's output without holding the batch: the next fetch overlaps the acknowledgement. */
  const flushInBackground = (p: Held<State>): void => {
    p.flushing = publishPending(p).then(
      () => true,
      (err: unknown) => {
        // Still pending: the next batch, the idle snapshot or the release sends it first.
        log.warn({ err, partition: p.partition }, `${deps.name} output not acknowledged yet; it goes first with the next batch`);
        return false;
      },
    );
  };

  const publishPending = async (p: Held<State>): Promise<void> => {
    for (const [to, messages] of [...p.pending]) {
      await deps.producer.send(to, messages);
      p.pending.delete(to);
      sent.set(to, (sent.get(to) ?? 0) + messages.length);
    }
  };

  /**
   * Every failed snapshot is an error in the log and in /healthz, each time: while they fail the
   * partition's offsets stay at its last saved snapshot, the log behind it grows, and a restart
   * replays all of it.
   */
  const snapshotFailed = (p: Held<State>, offset: bigint, err: unknown): void => {
    health.failures += 1;
    p.snapshotFailing = true;
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
  };

  /** The state at `p.applied` as parts, the event loop let through between them; the caller holds the partition's lock. */
  const serialise = async (p: Held<State>, offset: bigint): Promise<string[] | undefined> => {
    try {
      return await encodeSnapshotYielding(logic.snapshot(p.state), partBytes);
    } catch (err) {
      snapshotFailed(p, offset, err);
      return undefined;
    }
  };

  /** Writes a snapshot's parts taken at `offset`; once the store has them all, that is the partition's restore point. */
  const write = async (p: Held<State>, offset: bigint, parts: readonly string[]): Promise<void> => {
    try {
      await deps.snapshots.save({ key: p.key, offset: offset.toString(), parts });
    } catch (err) {
      snapshotFailed(p, offset, err);
      throw err;
    }
    p.saved = offset;
    p.snapshotFailing = false;
    health.lastSavedAt = clock.now().toISOString();
    snapshots += 1;
  };

  /** Snapshots what is applied and not saved, now; false when output is still pending or the snapshot failed. */
  const save = async (p: Held<State>): Promise<boolean> => {
    await p.saving;
    if (p.pending.size > 0 || p.applied === null) return false;
    if (p.applied !== p.saved) {
      const offset = p.applied;
      const parts = await serialise(p, offset);
      if (parts === undefined) return false;
      await write(p, offset, parts);
    }
    p.lastSavedAt = clock.now().getTime();
    return true;
  };

  /**
   * Takes the snapshot now (the caller holds the partition's lock, so the state stands still
   * while it is serialised) and writes and commits it in the background: the write (compress,
   * send, acknowledgement) is most of a snapshot's time, and the partition's next batches need
   * not wait for it, as the parts already hold the state. The write waits until the output the
   * snapshot includes is acknowledged, and is dropped if it was not (the output stays pending), so
   * a snapshot never gets ahead of what was published. One write at a time; a failed one is
   * logged and counted, and the next due snapshot tries again.
   */
  const saveInBackground = async (p: Held<State>): Promise<void> => {
    if (p.applied === null || p.savingAt !== null) return;
    p.lastSavedAt = clock.now().getTime();
    if (p.applied === p.saved) return;
    const offset = p.applied;
    const started = clock.now().getTime();
    const parts = await serialise(p, offset);
    if (parts === undefined) return;
    const serialisedMs = clock.now().getTime() - started;
    const published = p.flushing;
    p.savingAt = offset;
    p.saving = (async () => {
      try {
        if (!(await published)) return;
        const writing = clock.now().getTime();
        await write(p, offset, parts);
        // Serialising, compressing and writing the whole state: ~5% of the time at most, and the
        // partition held for serialising no more than a tenth of it.
        const costMs = serialisedMs + clock.now().getTime() - writing;
        p.snapshotIntervalMs =
          costMs < COSTLY_SNAPSHOT_MS
            ? deps.snapshotEveryMs
            : Math.max(
                Math.min(maxSnapshotEveryMs, Math.max(deps.snapshotEveryMs, SNAPSHOT_COST_FACTOR * costMs)),
                SERIALISE_SHARE_FACTOR * serialisedMs,
              );
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
        p.savingAt = null;
      }
    })();
  };

  /** Commits the saved snapshot's offset; the restore starts after it anyway, so this only moves the group's lag. */
  const commitSaved = async (p: Held<State>): Promise<void> => {
    const offset = p.saved;
    if (offset === null || p.ctx === undefined || (p.committed !== null && offset <= p.committed)) return;
    await p.ctx.commit(offset.toString());
    p.committed = offset;
  };

  /** Publishes, snapshots and commits what the last batches left unsaved, once no batch came for snapshotEveryMs. */
  const armIdleSnapshot = (p: Held<State>): void => {
    clearTimeout(p.idleTimer);
    p.idleTimer = undefined;
    if (p.applied === p.saved && p.saved === p.committed) return;
    p.idleTimer = setTimeout(() => {
      p.idleTimer = undefined;
      void withLock(p, async () => {
        if (p.released) return;
        await settle(p);
        if (await save(p)) await commitSaved(p);
      }).catch((err: unknown) =>
        // A failed snapshot was logged and counted as such; this is the publish or the commit.
        // A later batch, the release or the next owner's restore covers it.
        log.warn({ err, partition: p.partition }, `${deps.name} idle snapshot did not complete; the next batch or release snapshots again`),
      );
    }, deps.snapshotEveryMs);
    p.idleTimer.unref();
  };

  const release = async (p: Held<State>): Promise<void> => {
    p.released = true;
    clearTimeout(p.idleTimer);
    p.idleTimer = undefined;
    if (p.broken !== undefined) return;
    try {
      await settle(p);
      await save(p);
    } catch (err) {
      // The last snapshot stays behind: the next owner replays from it and re-emits the same messages.
      log.error({ err, partition: p.partition }, 'could not publish and snapshot a partition on release; it will be replayed');
      return;
    }
    try {
      // Accepted on stop (the member still holds the partition); refused after a rebalance, when
      // the next owner starts from this snapshot's offset regardless.
      await commitSaved(p);
    } catch (err) {
      log.debug({ err, partition: p.partition }, 'commit on release refused; the next owner starts from the snapshot');
    }
  };

  const outboxOf = (p: Held<State>): Outbox => ({
    push(to, message) {
      const list = p.pending.get(to);
      if (list === undefined) p.pending.set(to, [message]);
      else list.push(message);
    },
  });

  /** Steps the batch's messages the state does not reflect yet and hands their output to the bus. */
  const applyBatch = (p: Held<State>, batch: Batch, ctx: BatchContext): boolean => {
    const out = outboxOf(p);
    for (const m of batch.messages) {
      if (ctx.signal.aborted) break;
      const offset = BigInt(m.offset);
      // Already in the restored state: the bus redelivered from before the snapshot's offset.
      if (p.applied !== null && offset <= p.applied) continue;
      logic.apply(p.state, m, out);
      p.applied = offset;
    }
    logic.endBatch?.(p.state, out, p.partition);
    flushInBackground(p);
    return clock.now().getTime() - p.lastSavedAt >= p.snapshotIntervalMs;
  };

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
  const handleBatch = async (batch: Batch, ctx: BatchContext): Promise<void> => {
    if (batch.topic !== topic) return;
    const p = await held(batch.partition);
    await withLock(p, async () => {
      if (p.broken !== undefined) throw p.broken;
      p.ctx = ctx;
      clearTimeout(p.idleTimer);
      p.idleTimer = undefined;
      // The last batch's output is out before this one's is made; what failed goes first, so
      // messages leave in the order they were made.
      await settle(p);
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
      if (due) await saveInBackground(p);
      armIdleSnapshot(p);
    });
  };

  const subscribeOptions: SubscribeOptions = {
    groupId: deps.groupId,
    topics: [topic],
    autoCommit: false,
    handleBatch,
    async onAssigned(assigned: readonly TopicPartition[]) {
      const starts: Record<string, string> = {};
      for (const tp of assigned) {
        if (tp.topic !== topic) continue;
        const p = await held(tp.partition);
        if (p.applied !== null) starts[partitionKey(tp)] = (p.applied + 1n).toString();
      }
      return starts;
    },
    async onRevoked(revoked: readonly TopicPartition[]) {
      for (const tp of revoked) {
        if (tp.topic !== topic) continue;
        const p = partitions.get(tp.partition);
        if (p === undefined) continue;
        await withLock(p, () => release(p));
        partitions.delete(tp.partition);
      }
    },
  };

  return {
    subscribeOptions,
    async stop() {
      for (const p of [...partitions.values()]) {
        await withLock(p, () => release(p));
        partitions.delete(p.partition);
      }
    },
    sent: (to) => sent.get(to) ?? 0,
    snapshots: () => snapshots,
    snapshotHealth: () => ({
      ...health,
      failing: [...partitions.values()].filter((p) => p.snapshotFailing).map((p) => partitionKey({ topic, partition: p.partition })),
    }),
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
