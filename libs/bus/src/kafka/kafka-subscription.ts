import { BurnrateError, isRetriable, type Logger } from '@burnrate/core';
import type { Admin, Consumer, ConsumerCrashEvent, ConsumerGroupJoinEvent, EachBatchPayload, Kafka } from 'kafkajs';
import { PartitionAssigners } from 'kafkajs';
import { loadAwareAssigner } from './load-aware-assigner.ts';
import type { Batch, BatchContext, SubscribeOptions, Subscription, TopicPartition } from '../port.ts';
import { partitionKey } from '../port.ts';
import {
  assignmentDiff,
  backoffDelay,
  chunk,
  flattenAssignment,
  nextOffset,
  parseOffset,
  partitionLag,
  toConsumedMessage,
} from './batching.ts';
import { translateKafkaError } from './kafka-errors.ts';
import { abortableSleep } from '../abortable-sleep.ts';

export interface KafkaConsumerTuning {
  /** The broker drops a member it has not heard from for this long (default 30 s; brokers accept 6 s–5 min). */
  sessionTimeoutMs?: number;
  /** How often the member proves it is alive, between chunks and while idle (default 3 s). */
  heartbeatIntervalMs?: number;
  /** How long the group waits for every member to rejoin during a rebalance (default 60 s). */
  rebalanceTimeoutMs?: number;
  /** Longest a fetch waits for new data; also bounds how long stop() waits for the fetch loop (default 1 s). */
  maxWaitTimeMs?: number;
  /** Bytes fetched per partition per request: the largest buffer one partition holds in memory (default 1 MiB). */
  maxBytesPerPartition?: number;
  /** Bytes per fetch across partitions (default 10 MiB). */
  maxBytes?: number;
  /** Partitions whose batches run concurrently (default 1; order within a partition always holds). */
  partitionsConsumedConcurrently?: number;
}

export interface KafkaSubscribeOptions extends SubscribeOptions {
  /**
   * Called when handleBatch throws an error that is not retriable. The batch is not committed; the
   * consumer leaves the group and a watchdog starts a new one after a growing backoff.
   */
  onFatal?(err: unknown): void;
}

export interface KafkaSubscriptionStats {
  groupId: string;
  /** Consumers started again after a crash or a fatal handler error (by kafkajs or the watchdog). */
  restarts: number;
  /** kafkajs consumer crashes (its retries ran out, or a non-retriable client error). */
  crashes: number;
  fatalErrors: number;
  /** Batches left unresolved for redelivery after a retriable handler error. */
  retries: number;
  /** Group joins after the first one. */
  rebalances: number;
  batches: number;
  messages: number;
  /** `topic:partition` this member holds now. */
  assigned: string[];
}

export interface KafkaSubscription extends Subscription {
  stats(): KafkaSubscriptionStats;
}

export interface KafkaSubscriptionDeps {
  kafka: Kafka;
  log: Logger;
  /** The bus's shared admin client, connected on first use (start offsets for lag()). */
  admin(): Promise<Admin>;
  tuning: KafkaConsumerTuning;
  retryDelayMs: number;
  maxRetryDelayMs: number;
  restartDelayMs: number;
  maxRestartDelayMs: number;
  onFatal(err: unknown, info: { groupId: string }): void;
}

type PauseReason = 'assigning' | 'retry' | 'stopping';

interface PartitionProgress {
  tp: TopicPartition;
  key: string;
  /** onAssigned has run for it; batches are handed to the handler only after that. */
  ready: boolean;
  /** Next offset the handler is to receive; undefined until the first batch or a start offset. */
  position: bigint | undefined;
  /** Where this member started reading when `position` is not known yet (for lag()). */
  startHint: bigint | undefined;
  /** Next offset the group has committed, as far as this member knows. */
  committed: bigint | undefined;
  highWatermark: bigint | undefined;
  failures: number;
  retryTimer: NodeJS.Timeout | undefined;
}

/** One kafkajs consumer, from connect to disconnect or crash; the watchdog replaces it with a new one. */
interface ConsumerRun {
  id: number;
  consumer: Consumer;
  /** Aborted when this run ends (stop, fatal error, crash): the handler's `ctx.signal`. */
  controller: AbortController;
  /**
   * The eachBatch payload's commit. Unlike `consumer.commitOffsets`, which silently does nothing
   * once the runner stopped (kafkajs src/consumer/runner.js `commitOffsets`, cf. tulios/kafkajs#874),
   * it still commits while stop() drains, so the last batch's offsets are not lost.
   */
  commit: EachBatchPayload['commitOffsetsIfNecessary'] | undefined;
  pauses: Map<string, Set<PauseReason>>;
  inFlight: Set<Promise<void>>;
  /** No more batches for this run; set synchronously when it starts ending. */
  ended: boolean;
  /** The one endRun() of this run, so stop(), a fatal error and a failed start share it. */
  ending: Promise<void> | undefined;
}

let runIds = 0;

/**
 * A Bus subscription over a kafkajs consumer group. kafkajs pitfalls guarded here, each named where
 * it is handled: a rebalance listener that cannot block (tulios/kafkajs#592), commits to
 * partitions already lost (#1046), errors thrown out of eachBatch replaying every partition and
 * crashing after `retries` (#945, #587, #1592), heartbeats only between batches (#387, #447),
 * pause state that outlives an assignment, seek committing offsets (#1012), and commits dropped
 * on stop (#874).
 */
export function createKafkaSubscription(deps: KafkaSubscriptionDeps, sub: KafkaSubscribeOptions): KafkaSubscription {
  const groupId = sub.groupId;
  const log = deps.log.child({ component: 'bus', adapter: 'kafka', group: groupId });
  const autoCommit = sub.autoCommit ?? true;
  const fromBeginning = sub.fromBeginning ?? true;
  const maxBatchSize = Math.max(1, Math.floor(sub.maxBatchSize ?? 1000));
  const heartbeatIntervalMs = deps.tuning.heartbeatIntervalMs ?? 3000;
  const stopController = new AbortController();
  const owned = new Map<string, PartitionProgress>();
  const stats = { restarts: 0, crashes: 0, fatalErrors: 0, retries: 0, rebalances: 0, batches: 0, messages: 0, joins: 0 };
  // Assignment callbacks run one after another, in event order, never concurrently with a batch.
  let transition: Promise<void> = Promise.resolve();
  let current: ConsumerRun | undefined;
  let state: 'idle' | 'running' | 'stopping' | 'stopped' = 'idle';
  let consecutiveFailures = 0;
  let restartLoop: Promise<void> | undefined;
  let restartLooping = false;
  // start() resolves after the first join of any run: kafkajs or the watchdog may need several.
  const firstJoin = deferred();

  const enqueue = (run: ConsumerRun, what: string, step: () => Promise<void>): void => {
    transition = transition.then(step).catch((err: unknown) => {
      log.error({ err }, `${what} failed; restarting the consumer`);
      firstJoin.reject(err);
      // Not awaited: the restart waits for `transition`, which is this very promise.
      void failRun(run, err);
    });
  };

  // ---- pause bookkeeping -------------------------------------------------------------------
  // kafkajs keeps paused partitions in its SubscriptionState across rebalances
  // (src/consumer/subscriptionState.js): a partition paused when it was revoked comes back paused
  // and is never fetched again. So every pause has a reason, and losing a partition clears them.

  const pause = (run: ConsumerRun, tp: TopicPartition, reason: PauseReason): void => {
    const key = partitionKey(tp);
    let reasons = run.pauses.get(key);
    if (reasons === undefined) run.pauses.set(key, (reasons = new Set()));
    const wasPaused = reasons.size > 0;
    reasons.add(reason);
    if (!wasPaused) callConsumer(() => run.consumer.pause([{ topic: tp.topic, partitions: [tp.partition] }]));
  };

  const resume = (run: ConsumerRun, tp: TopicPartition, reason?: PauseReason): void => {
    const key = partitionKey(tp);
    const reasons = run.pauses.get(key);
    if (reasons === undefined) return;
    if (reason === undefined) reasons.clear();
    else reasons.delete(reason);
    if (reasons.size > 0) return;
    run.pauses.delete(key);
    callConsumer(() => run.consumer.resume([{ topic: tp.topic, partitions: [tp.partition] }]));
  };

  const callConsumer = (fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      // pause/resume/seek throw only while kafkajs has no consumer group (between a crash and its
      // restart); the restart starts from a clean state anyway.
      log.debug({ err }, 'kafkajs consumer not running; pause/resume/seek skipped');
    }
  };

  const release = (run: ConsumerRun, p: PartitionProgress): void => {
    clearTimeout(p.retryTimer);
    p.retryTimer = undefined;
    resume(run, p.tp);
    if (owned.get(p.key) === p) owned.delete(p.key);
  };

  const newProgress = (tp: TopicPartition): PartitionProgress => ({
    tp,
    key: partitionKey(tp),
    ready: false,
    position: undefined,
    startHint: undefined,
    committed: undefined,
    highWatermark: undefined,
    failures: 0,
    retryTimer: undefined,
  });

  // ---- assignment ------------------------------------------------------------------------------

  /**
   * kafkajs has no rebalance callback: GROUP_JOIN is emitted after every join+sync, synchronously,
   * and listeners are not awaited (tulios/kafkajs#592). Fetching starts right after, so newly
   * assigned partitions are paused here, synchronously, and resumed once onAssigned resolved and
   * its start offsets were sought; revoked ones get onRevoked first. Batches of kept partitions wait
   * in eachBatch for the same chain, so no batch runs during the callbacks.
   */
  const onGroupJoin = (run: ConsumerRun, event: ConsumerGroupJoinEvent): void => {
    if (run.ended) return;
    stats.joins += 1;
    if (stats.joins > 1) stats.rebalances += 1;
    const next = flattenAssignment(event.payload.memberAssignment);
    const diff = assignmentDiff(owned.keys(), next);
    const revoked = diff.revoked.map((k) => owned.get(k)).filter((p): p is PartitionProgress => p !== undefined);
    for (const p of revoked) release(run, p);
    const added = diff.added.map(newProgress);
    for (const p of added) {
      owned.set(p.key, p);
      pause(run, p.tp, 'assigning');
    }
    log.info(
      { assigned: next.map(partitionKey), added: added.map((p) => p.key), revoked: revoked.map((p) => p.key) },
      'consumer joined the group',
    );
    enqueue(run, 'onRevoked/onAssigned', async () => {
      if (revoked.length > 0) await sub.onRevoked?.(revoked.map((p) => p.tp));
      if (added.length > 0) {
        const starts = (await sub.onAssigned?.(added.map((p) => p.tp))) ?? {};
        for (const key of Object.keys(starts)) {
          if (!added.some((p) => p.key === key))
            log.warn({ partition: key }, 'onAssigned returned a start offset for a partition it was not given; ignored');
        }
        for (const p of added) {
          if (owned.get(p.key) !== p || run.ended) continue;
          const start = starts[p.key];
          if (start !== undefined) {
            const offset = parseOffset(start, `start offset for ${p.key} from onAssigned`);
            // Seek is only safe here: kafkajs applies it at the next fetch, and only for a
            // partition this member holds (tulios/kafkajs#1363, PR #23). With kafkajs's autoCommit
            // off, seek just moves the read position; with it on, seek would commit the offset
            // right away (tulios/kafkajs#1012), moving the group before anything was processed.
            callConsumer(() => run.consumer.seek({ topic: p.tp.topic, partition: p.tp.partition, offset: offset.toString() }));
            p.position = offset;
          }
          p.ready = true;
          resume(run, p.tp, 'assigning');
        }
        void lookUpStartPositions(added);
      }
      firstJoin.resolve();
    });
  };

  /** Start offsets and end offsets of new partitions, so lag() is right before their first batch. */
  const lookUpStartPositions = async (added: readonly PartitionProgress[]): Promise<void> => {
    try {
      const admin = await deps.admin();
      for (const topic of new Set(added.map((p) => p.tp.topic))) {
        const [ends, groupOffsets] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
        const committed = groupOffsets.find((t) => t.topic === topic)?.partitions ?? [];
        for (const p of added) {
          if (p.tp.topic !== topic || owned.get(p.key) !== p) continue;
          const end = ends.find((e) => e.partition === p.tp.partition);
          if (end === undefined) continue;
          const mine = committed.find((c) => c.partition === p.tp.partition);
          const committedOffset = mine !== undefined && Number(mine.offset) >= 0 ? BigInt(mine.offset) : undefined;
          p.highWatermark ??= BigInt(end.high);
          p.committed ??= committedOffset;
          p.startHint ??= committedOffset ?? BigInt(fromBeginning ? end.low : end.high);
        }
      }
    } catch (err) {
      log.debug({ err }, 'could not look up start offsets; lag() counts from the first batch');
    }
  };

  /**
   * A crash ends kafkajs's membership (it disconnects before deciding to restart), so every
   * partition is lost: another member may consume it before this one rejoins.
   */
  const onCrash = (run: ConsumerRun, event: ConsumerCrashEvent): void => {
    const { error, restart } = event.payload;
    stats.crashes += 1;
    run.commit = undefined;
    const lost = [...owned.values()];
    for (const p of lost) release(run, p);
    // The restarted kafkajs runner builds a new consumer group with no paused partitions.
    run.pauses.clear();
    if (restart) {
      // Only if kafkajs ignored restartOnFailure; it then rejoins with this same run.
      stats.restarts += 1;
      log.error({ err: error }, 'kafkajs consumer crashed; kafkajs restarts it');
    } else {
      log.error({ err: error }, 'kafkajs consumer crashed; the watchdog restarts it after a backoff');
    }
    enqueue(run, 'onRevoked after a crash', async () => {
      if (lost.length > 0) await sub.onRevoked?.(lost.map((p) => p.tp));
    });
    if (!restart) {
      run.ended = true;
      // kafkajs already disconnected; only the onRevoked queued above is left to wait for.
      run.ending ??= transition;
      run.controller.abort();
      // Before the first join, a transient failure (the coordinator still loading) is retried;
      // one that will not go away (a missing topic) fails start() with its reason.
      const translated = translateKafkaError(error, { operation: 'join', topic: sub.topics.join(','), groupId });
      if (!translated.retriable) firstJoin.reject(translated);
      void restartLater(run, error);
    }
  };

  // ---- batches ---------------------------------------------------------------------------------

  const eachBatch =
    (run: ConsumerRun) =>
    async (payload: EachBatchPayload): Promise<void> => {
      const work = handleFetched(run, payload);
      run.inFlight.add(work);
      try {
        await work;
      } finally {
        run.inFlight.delete(work);
      }
    };

  const handleFetched = async (run: ConsumerRun, payload: EachBatchPayload): Promise<void> => {
    // kafkajs builds these as closures over its runner; they are called as plain functions.
    const { batch } = payload;
    const resolveOffset = (offset: string): void => payload.resolveOffset(offset);
    const heartbeat = (): Promise<void> => payload.heartbeat();
    const isRunning = (): boolean => payload.isRunning();
    const isStale = (): boolean => payload.isStale();
    // With offsets it commits them at once; without, it commits only "if necessary", which with
    // kafkajs's autoCommit off is never. Every call here passes offsets.
    run.commit = (offsets) => payload.commitOffsetsIfNecessary(offsets);
    await settledWithHeartbeats(transition, heartbeat, heartbeatIntervalMs);
    const key = partitionKey(batch);
    const p = owned.get(key);
    // Not resolving leaves kafkajs's position where it was, so whatever is skipped here is fetched
    // again later (eachBatchAutoResolve is off: tulios/kafkajs#18).
    if (run.ended || p === undefined || !p.ready || p.retryTimer !== undefined || batch.messages.length === 0) return;
    p.highWatermark = BigInt(batch.highWatermark);
    p.startHint ??= BigInt(batch.messages[0]!.offset);
    if (autoCommit) await commitProgress(run, p);
    // After a rebalance kafkajs rebuilds its offset manager and fetches a kept partition again
    // from the last commit; what this member already handled there is skipped, not redelivered.
    const position = p.position;
    const fresh = position === undefined ? batch.messages : batch.messages.filter((m) => BigInt(m.offset) >= position);
    if (fresh.length === 0) {
      resolveOffset(batch.messages.at(-1)!.offset);
      return;
    }
    for (const part of chunk(fresh, maxBatchSize)) {
      // isStale: a seek for this partition is pending, these messages are no longer next.
      // isRunning: kafkajs is stopping. Either way, stop without resolving (tulios/kafkajs#367).
      if (!isRunning() || isStale() || run.ended || owned.get(key) !== p) return;
      const first = part[0]!.offset;
      const last = part.at(-1)!.offset;
      const out: Batch = {
        topic: batch.topic,
        partition: batch.partition,
        messages: part.map((m) => toConsumedMessage(batch.topic, batch.partition, m)),
        highWatermark: batch.highWatermark,
      };
      const ctx: BatchContext = { commit: (offset) => commitExplicit(run, p, offset), signal: run.controller.signal };
      try {
        await sub.handleBatch(out, ctx);
      } catch (err) {
        // Stopping or rebalanced away while the handler ran: it was told through ctx.signal; the
        // batch stays uncommitted and the partition's next owner gets it.
        if (run.ended || owned.get(key) !== p) return;
        // Never rethrown: an error out of eachBatch makes kafkajs refetch every partition of the
        // fetch (duplicates elsewhere, tulios/kafkajs#945) and, after `retries`, crash and rejoin
        // (#1592). The partition is paused instead, its offsets stay unresolved, and the next
        // fetch after the backoff starts at the first unprocessed message (#587).
        if (isRetriable(err)) retryLater(run, p, err, first);
        else failFatally(run, p, err, first);
        return;
      }
      p.position = BigInt(last) + 1n;
      p.failures = 0;
      consecutiveFailures = 0;
      stats.batches += 1;
      stats.messages += part.length;
      resolveOffset(last);
      if (autoCommit) await commitProgress(run, p);
      // Heartbeats are only sent between batches (tulios/kafkajs#387, #447): a long fetch cut into
      // chunks keeps the member alive, and a rebalance is learnt here. heartbeat() then throws
      // REBALANCE_IN_PROGRESS, which kafkajs handles by rejoining; offsets up to here are committed.
      await heartbeat();
    }
  };

  /** Commits up to `position` (autoCommit). Kafka errors go to kafkajs as they are, so a rebalance makes it rejoin. */
  const commitProgress = async (run: ConsumerRun, p: PartitionProgress): Promise<void> => {
    if (run.commit === undefined || p.position === undefined) return;
    if (p.committed !== undefined && p.committed >= p.position) return;
    const offset = p.position;
    await run.commit({ topics: [{ topic: p.tp.topic, partitions: [{ partition: p.tp.partition, offset: offset.toString() }] }] });
    if (p.committed === undefined || offset > p.committed) p.committed = offset;
  };

  /**
   * `ctx.commit(offset)`: everything up to `offset` is processed. The broker checks the member and
   * generation of a commit but not which partitions the member holds, so a late commit (a
   * snapshot that finished after a rebalance) would overwrite the new owner's progress
   * (tulios/kafkajs#1046). Commits are refused for partitions this member no longer holds.
   */
  const commitExplicit = async (run: ConsumerRun, p: PartitionProgress, offset: string): Promise<void> => {
    const next = nextOffset(offset);
    if (owned.get(p.key) !== p || run.commit === undefined) {
      throw new BurnrateError(
        'BUS_UNAVAILABLE',
        `cannot commit offset ${offset} of ${p.key} for group ${groupId}: this member no longer holds the partition (rebalanced away, crashed or stopped); its next owner redelivers from the last commit`,
        { retriable: true },
      );
    }
    if (p.committed !== undefined && next <= p.committed) return;
    try {
      await run.commit({ topics: [{ topic: p.tp.topic, partitions: [{ partition: p.tp.partition, offset: next.toString() }] }] });
    } catch (err) {
      throw translateKafkaError(err, { operation: 'commit', topic: p.tp.topic, groupId });
    }
    if (p.committed === undefined || next > p.committed) p.committed = next;
  };

  const retryLater = (run: ConsumerRun, p: PartitionProgress, err: unknown, offset: string): void => {
    p.failures += 1;
    stats.retries += 1;
    const delay = backoffDelay(p.failures, deps.retryDelayMs, deps.maxRetryDelayMs);
    log.error(
      { err, topic: p.tp.topic, partition: p.tp.partition, offset, attempt: p.failures, retryInMs: delay },
      'batch handler failed; the batch will be delivered again',
    );
    pause(run, p.tp, 'retry');
    p.retryTimer = setTimeout(() => {
      p.retryTimer = undefined;
      if (owned.get(p.key) === p) resume(run, p.tp, 'retry');
    }, delay);
    p.retryTimer.unref();
  };

  const failFatally = (run: ConsumerRun, p: PartitionProgress, err: unknown, offset: string): void => {
    stats.fatalErrors += 1;
    log.error(
      { err, topic: p.tp.topic, partition: p.tp.partition, offset },
      'batch handler failed with a non-retriable error; the batch is not committed, the consumer leaves the group and restarts after a backoff',
    );
    try {
      if (sub.onFatal !== undefined) sub.onFatal(err);
      else deps.onFatal(err, { groupId });
    } catch (hookErr) {
      log.error({ err: hookErr }, 'onFatal hook threw');
    }
    void failRun(run, err);
  };

  // ---- lifecycle -------------------------------------------------------------------------------

  const launch = async (): Promise<ConsumerRun> => {
    const consumer = deps.kafka.consumer({
      groupId,
      sessionTimeout: deps.tuning.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: heartbeatIntervalMs,
      rebalanceTimeout: deps.tuning.rebalanceTimeoutMs ?? 60_000,
      maxWaitTimeInMs: deps.tuning.maxWaitTimeMs ?? 1000,
      maxBytesPerPartition: deps.tuning.maxBytesPerPartition ?? 1024 * 1024,
      maxBytes: deps.tuning.maxBytes ?? 10 * 1024 * 1024,
      allowAutoTopicCreation: false,
      // Skewed keys make some partitions far heavier than others: spread them by load, with
      // kafkajs's round robin for a group whose other members know only that.
      partitionAssigners: [loadAwareAssigner(log), PartitionAssigners.roundRobin],
      // kafkajs restarts a consumer that crashed on a retriable error after that error's last
      // retry delay, which does not grow: a missing topic made it crash and rejoin ten times a
      // second. The watchdog restarts it instead, with a growing backoff and a count
      // (restart loops: tulios/kafkajs#1271, #1299; restart decision: #885).
      retry: { restartOnFailure: async () => false },
    });
    // Current from the start: kafkajs may crash it (and the watchdog must see it) before run() returns.
    const run: ConsumerRun = (current = {
      id: ++runIds,
      consumer,
      controller: new AbortController(),
      commit: undefined,
      pauses: new Map(),
      inFlight: new Set(),
      ended: false,
      ending: undefined,
    });
    consumer.on(consumer.events.GROUP_JOIN, (event) => onGroupJoin(run, event));
    consumer.on(consumer.events.CRASH, (event) => onCrash(run, event));
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [...sub.topics], fromBeginning });
      await consumer.run({
        // Offsets are this adapter's to commit: kafkajs's autoCommit would also commit on seek
        // (tulios/kafkajs#1012) and commit resolved offsets from its own timers and on errors.
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: deps.tuning.partitionsConsumedConcurrently ?? 1,
        eachBatch: eachBatch(run),
      });
    } catch (err) {
      run.ended = true;
      run.ending = consumer.disconnect().catch(() => undefined);
      await run.ending;
      throw translateKafkaError(err, { operation: 'subscribe', topic: sub.topics.join(','), groupId });
    }
    return run;
  };

  /**
   * Stops a run in the order the port promises: no new batches, the in-flight one finishes (and
   * commits), onRevoked for everything held, then leave the group.
   */
  const endRun = (run: ConsumerRun): Promise<void> => {
    run.ended = true;
    run.ending ??= drainAndLeave(run);
    return run.ending;
  };

  const drainAndLeave = async (run: ConsumerRun): Promise<void> => {
    // Paused rather than just ignored: kafkajs would otherwise fetch the same unresolved
    // messages in a tight loop while onRevoked runs; its fetch loop still heartbeats meanwhile.
    for (const p of owned.values()) pause(run, p.tp, 'stopping');
    run.controller.abort();
    await Promise.allSettled([...run.inFlight]);
    await transition;
    if (autoCommit) {
      for (const p of owned.values()) {
        await commitProgress(run, p).catch((err: unknown) =>
          log.warn({ err, partition: p.key }, 'final commit failed; the partition will be redelivered from the previous commit'),
        );
      }
    }
    // onRevoked before the partitions are released: the member holds them until it leaves the
    // group, so a commit there (a snapshot's offset) is still accepted.
    const lost = [...owned.values()];
    if (lost.length > 0) {
      try {
        await sub.onRevoked?.(lost.map((p) => p.tp));
      } catch (err) {
        log.error({ err }, 'onRevoked failed while stopping');
      }
    }
    for (const p of lost) release(run, p);
    try {
      await run.consumer.disconnect();
    } catch (err) {
      log.warn({ err }, 'kafkajs consumer did not disconnect cleanly');
    }
  };

  const failRun = async (run: ConsumerRun, err: unknown): Promise<void> => {
    if (run.ending !== undefined) return;
    await endRun(run);
    await restartLater(run, err);
  };

  /** The watchdog: a new consumer after a growing backoff, until one stays up or the subscription stops. */
  const restartLater = (run: ConsumerRun, err: unknown): Promise<void> => {
    // One loop at a time: a run that crashes while the loop is launching it is seen by the loop.
    if (current !== run || state !== 'running' || restartLooping) return restartLoop ?? Promise.resolve();
    restartLooping = true;
    restartLoop = (async () => {
      try {
        let cause = err;
        while (state === 'running') {
          consecutiveFailures += 1;
          const delay = backoffDelay(consecutiveFailures, deps.restartDelayMs, deps.maxRestartDelayMs);
          log.warn({ err: cause, attempt: consecutiveFailures, restartInMs: delay }, 'restarting the consumer');
          await abortableSleep(delay, stopController.signal);
          if (state !== 'running') return;
          try {
            const next = await launch();
            if (state !== 'running') return await endRun(next);
            if (!next.ended) {
              stats.restarts += 1;
              log.info({ restarts: stats.restarts }, 'consumer restarted');
              return;
            }
            cause = new Error('the restarted consumer crashed while joining');
          } catch (launchErr) {
            cause = launchErr;
          }
        }
      } finally {
        restartLooping = false;
      }
    })();
    return restartLoop;
  };

  return {
    async start() {
      if (state !== 'idle') return;
      state = 'running';
      try {
        await launch();
        await firstJoin.promise;
      } catch (err) {
        state = 'stopping';
        stopController.abort();
        if (current !== undefined) await endRun(current);
        await restartLoop;
        state = 'stopped';
        throw translateKafkaError(err, { operation: 'subscribe', topic: sub.topics.join(','), groupId });
      }
    },
    async stop() {
      if (state !== 'running') return;
      state = 'stopping';
      stopController.abort();
      // A start() still waiting for its first join gives up instead of waiting forever.
      firstJoin.reject(new BurnrateError('SHUTTING_DOWN', `subscription of group ${groupId} stopped before it joined the group`));
      if (current !== undefined) await endRun(current);
      await restartLoop;
      await transition;
      state = 'stopped';
    },
    lag() {
      let total = 0;
      for (const p of owned.values()) total += partitionLag(p.highWatermark, p.position ?? p.startHint);
      return total;
    },
    stats() {
      const { joins: _joins, ...rest } = stats;
      return { groupId, ...rest, assigned: [...owned.keys()].sort() };
    },
  };
}

/** Waits for `promise`, heartbeating meanwhile so a slow onAssigned does not get the member dropped. */
async function settledWithHeartbeats(promise: Promise<void>, heartbeat: () => Promise<void>, intervalMs: number): Promise<void> {
  let settled = false;
  const done = promise.then(() => {
    settled = true;
  });
  while (!settled) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<void>((resolve) => (timer = setTimeout(resolve, intervalMs)))]);
    clearTimeout(timer);
    if (!settled) await heartbeat();
  }
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

function deferred(): Deferred {
  let resolve: () => void = () => {};
  let reject: (err: unknown) => void = () => {};
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Rejections matter only to start(); once settled, later ones are no-ops.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}
