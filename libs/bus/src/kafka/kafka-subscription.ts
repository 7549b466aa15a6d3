import { BurnrateError, isRetriable, type Logger } from '@burnrate/core';
import type { Admin, ConsumerCrashEvent, ConsumerGroupJoinEvent, EachBatchPayload, Kafka } from 'kafkajs';
import type { Batch, BatchContext, SubscribeOptions, Subscription } from '../port.ts';
import { partitionKey } from '../port.ts';
import { assignmentDiff, backoffDelay, chunk, flattenAssignment, nextOffset, parseOffset, toConsumedMessage } from './batching.ts';
import {
  callConsumer,
  createConsumerRun,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  startConsumerRun,
  type ConsumerRun,
  type ConsumerRunConfig,
  type ConsumerRunHandlers,
  type KafkaConsumerTuning,
} from './consumer-run.ts';
import { translateKafkaError } from './kafka-errors.ts';
import { commitThrough, createHeldPartitions, lookUpStartOffsets, newProgress, type PartitionProgress } from './partition-progress.ts';
import { createRestartWatchdog, type RestartWatchdog } from './restart-watchdog.ts';

export type { KafkaConsumerTuning } from './consumer-run.ts';

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

export function createKafkaSubscription(deps: KafkaSubscriptionDeps, sub: KafkaSubscribeOptions): KafkaSubscription {
  return new KafkaGroupSubscription(deps, sub);
}

/**
 * A Bus subscription over a kafkajs consumer group. kafkajs pitfalls guarded here, each named where
 * it is handled: a rebalance listener that cannot block (tulios/kafkajs#592), commits to
 * partitions already lost (#1046), errors thrown out of eachBatch replaying every partition and
 * crashing after `retries` (#945, #587, #1592), heartbeats only between batches (#387, #447),
 * pause state that outlives an assignment (pause-book.ts), seek committing offsets (#1012), and
 * commits dropped on stop (#874).
 *
 * Its parts: consumer-run.ts (one kafkajs consumer: its settings, events and pause book),
 * partition-progress.ts (what this member holds and how far it got), pause-book.ts and
 * restart-watchdog.ts. This class decides what happens on a group join, a crash, a fetched batch,
 * a handler error and a stop.
 */
class KafkaGroupSubscription implements KafkaSubscription {
  private readonly deps: KafkaSubscriptionDeps;
  private readonly sub: KafkaSubscribeOptions;
  private readonly groupId: string;
  private readonly log: Logger;
  private readonly autoCommit: boolean;
  private readonly maxBatchSize: number;
  private readonly heartbeatIntervalMs: number;
  private readonly runConfig: ConsumerRunConfig;
  /** kafkajs's events and batches, handed to this subscription's methods. */
  private readonly handlers: ConsumerRunHandlers;
  private readonly stopController = new AbortController();
  private readonly owned = createHeldPartitions();
  private readonly counts = { restarts: 0, crashes: 0, fatalErrors: 0, retries: 0, rebalances: 0, batches: 0, messages: 0, joins: 0 };
  private readonly watchdog: RestartWatchdog<ConsumerRun>;
  /** start() resolves after the first join of any run: kafkajs or the watchdog may need several. */
  private readonly firstJoin = deferred();
  /** Assignment callbacks run one after another, in event order, never concurrently with a batch. */
  private transition: Promise<void> = Promise.resolve();
  private current: ConsumerRun | undefined;
  private state: 'idle' | 'running' | 'stopping' | 'stopped' = 'idle';

  constructor(deps: KafkaSubscriptionDeps, sub: KafkaSubscribeOptions) {
    this.deps = deps;
    this.sub = sub;
    this.groupId = sub.groupId;
    this.log = deps.log.child({ component: 'bus', adapter: 'kafka', group: sub.groupId });
    this.autoCommit = sub.autoCommit ?? true;
    this.maxBatchSize = Math.max(1, Math.floor(sub.maxBatchSize ?? 1000));
    this.heartbeatIntervalMs = deps.tuning.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    this.runConfig = {
      kafka: deps.kafka,
      log: this.log,
      groupId: sub.groupId,
      topics: sub.topics,
      fromBeginning: sub.fromBeginning ?? true,
      tuning: deps.tuning,
    };
    this.handlers = {
      onGroupJoin: (run, event) => this.onGroupJoin(run, event),
      onCrash: (run, event) => this.onCrash(run, event),
      handleFetched: (run, payload) => this.handleFetched(run, payload),
    };
    this.watchdog = createRestartWatchdog<ConsumerRun>({
      log: this.log,
      restartDelayMs: deps.restartDelayMs,
      maxRestartDelayMs: deps.maxRestartDelayMs,
      signal: this.stopController.signal,
      running: () => this.state === 'running',
      current: () => this.current,
      launch: () => this.launch(),
      end: (run) => this.endRun(run),
      restarted: () => {
        this.counts.restarts += 1;
        this.log.info({ restarts: this.counts.restarts }, 'consumer restarted');
      },
    });
  }

  // ---- the port --------------------------------------------------------------------------------

  async start(): Promise<void> {
    if (this.state !== 'idle') return;
    this.state = 'running';
    try {
      await this.launch();
      await this.firstJoin.promise;
    } catch (err) {
      this.state = 'stopping';
      this.stopController.abort();
      if (this.current !== undefined) await this.endRun(this.current);
      await this.watchdog.settled();
      this.state = 'stopped';
      throw translateKafkaError(err, { operation: 'subscribe', topic: this.sub.topics.join(','), groupId: this.groupId });
    }
  }

  async stop(): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'stopping';
    this.stopController.abort();
    // A start() still waiting for its first join gives up instead of waiting forever.
    this.firstJoin.reject(new BurnrateError('SHUTTING_DOWN', `subscription of group ${this.groupId} stopped before it joined the group`));
    if (this.current !== undefined) await this.endRun(this.current);
    await this.watchdog.settled();
    await this.transition;
    this.state = 'stopped';
  }

  lag(): number {
    return this.owned.lag();
  }

  stats(): KafkaSubscriptionStats {
    const { joins: _joins, ...rest } = this.counts;
    return { groupId: this.groupId, ...rest, assigned: [...this.owned.keys()].sort() };
  }

  // ---- assignment ------------------------------------------------------------------------------

  /**
   * kafkajs has no rebalance callback: GROUP_JOIN is emitted after every join+sync, synchronously,
   * and listeners are not awaited (tulios/kafkajs#592). Fetching starts right after, so newly
   * assigned partitions are paused here, synchronously, and resumed once onAssigned resolved and
   * its start offsets were sought; revoked ones get onRevoked first. Batches of kept partitions wait
   * in eachBatch for the same chain, so no batch runs during the callbacks.
   */
  private onGroupJoin(run: ConsumerRun, event: ConsumerGroupJoinEvent): void {
    if (run.ended) return;
    const { owned, sub, log } = this;
    this.counts.joins += 1;
    if (this.counts.joins > 1) this.counts.rebalances += 1;
    const next = flattenAssignment(event.payload.memberAssignment);
    const diff = assignmentDiff(owned.keys(), next);
    const revoked = diff.revoked.map((k) => owned.get(k)).filter((p): p is PartitionProgress => p !== undefined);
    for (const p of revoked) this.release(run, p);
    const added = diff.added.map(newProgress);
    for (const p of added) {
      owned.add(p);
      run.pauses.pause(p.tp, 'assigning');
    }
    log.info(
      { assigned: next.map(partitionKey), added: added.map((p) => p.key), revoked: revoked.map((p) => p.key) },
      'consumer joined the group',
    );
    this.enqueue(run, 'onRevoked/onAssigned', async () => {
      if (revoked.length > 0) await sub.onRevoked?.(revoked.map((p) => p.tp));
      if (added.length > 0) {
        const starts = (await sub.onAssigned?.(added.map((p) => p.tp))) ?? {};
        for (const key of Object.keys(starts)) {
          if (!added.some((p) => p.key === key))
            log.warn({ partition: key }, 'onAssigned returned a start offset for a partition it was not given; ignored');
        }
        for (const p of added) {
          if (!owned.holds(p) || run.ended) continue;
          const start = starts[p.key];
          if (start !== undefined) {
            const offset = parseOffset(start, `start offset for ${p.key} from onAssigned`);
            // Seek is only safe here: kafkajs applies it at the next fetch, and only for a
            // partition this member holds (tulios/kafkajs#1363, PR #23). With kafkajs's autoCommit
            // off, seek just moves the read position; with it on, seek would commit the offset
            // right away (tulios/kafkajs#1012), moving the group before anything was processed.
            callConsumer(log, () => run.consumer.seek({ topic: p.tp.topic, partition: p.tp.partition, offset: offset.toString() }));
            p.position = offset;
          }
          p.ready = true;
          run.pauses.resume(p.tp, 'assigning');
        }
        void this.lookUpStartPositions(added);
      }
      this.firstJoin.resolve();
    });
  }

  /** Start offsets and end offsets of new partitions, so lag() is right before their first batch. */
  private async lookUpStartPositions(added: readonly PartitionProgress[]): Promise<void> {
    try {
      await lookUpStartOffsets(await this.deps.admin(), this.groupId, added, this.owned, this.runConfig.fromBeginning);
    } catch (err) {
      this.log.debug({ err }, 'could not look up start offsets; lag() counts from the first batch');
    }
  }

  /**
   * A crash ends kafkajs's membership (it disconnects before deciding to restart), so every
   * partition is lost: another member may consume it before this one rejoins.
   */
  private onCrash(run: ConsumerRun, event: ConsumerCrashEvent): void {
    const { error, restart } = event.payload;
    const { log } = this;
    this.counts.crashes += 1;
    run.commit = undefined;
    const lost = [...this.owned.values()];
    for (const p of lost) this.release(run, p);
    // The restarted kafkajs runner builds a new consumer group with no paused partitions.
    run.pauses.forget();
    if (restart) {
      // Only if kafkajs ignored restartOnFailure; it then rejoins with this same run.
      this.counts.restarts += 1;
      log.error({ err: error }, 'kafkajs consumer crashed; kafkajs restarts it');
    } else {
      log.error({ err: error }, 'kafkajs consumer crashed; the watchdog restarts it after a backoff');
    }
    this.enqueue(run, 'onRevoked after a crash', async () => {
      if (lost.length > 0) await this.sub.onRevoked?.(lost.map((p) => p.tp));
    });
    if (!restart) {
      run.ended = true;
      // kafkajs already disconnected; only the onRevoked queued above is left to wait for.
      run.ending ??= this.transition;
      run.controller.abort();
      // Before the first join, a transient failure (the coordinator still loading) is retried;
      // one that will not go away (a missing topic) fails start() with its reason.
      const translated = translateKafkaError(error, { operation: 'join', topic: this.sub.topics.join(','), groupId: this.groupId });
      if (!translated.retriable) this.firstJoin.reject(translated);
      void this.watchdog.restartAfter(run, error);
    }
  }

  /** Queues an assignment callback behind the ones before it; a failure restarts the consumer. */
  private enqueue(run: ConsumerRun, what: string, step: () => Promise<void>): void {
    this.transition = this.transition.then(step).catch((err: unknown) => {
      this.log.error({ err }, `${what} failed; restarting the consumer`);
      this.firstJoin.reject(err);
      // Not awaited: the restart waits for `transition`, which is this very promise.
      void this.failRun(run, err);
    });
  }

  /** Stops holding `p`: no redelivery timer, no pause left behind (see pause-book.ts). */
  private release(run: ConsumerRun, p: PartitionProgress): void {
    this.owned.drop(p);
    run.pauses.resume(p.tp);
  }

  // ---- batches ---------------------------------------------------------------------------------

  private async handleFetched(run: ConsumerRun, payload: EachBatchPayload): Promise<void> {
    const { owned, sub, autoCommit } = this;
    // kafkajs builds these as closures over its runner; they are called as plain functions.
    const { batch } = payload;
    const resolveOffset = (offset: string): void => payload.resolveOffset(offset);
    const heartbeat = (): Promise<void> => payload.heartbeat();
    const isRunning = (): boolean => payload.isRunning();
    const isStale = (): boolean => payload.isStale();
    // With offsets it commits them at once; without, it commits only "if necessary", which with
    // kafkajs's autoCommit off is never. Every call here passes offsets.
    run.commit = (offsets) => payload.commitOffsetsIfNecessary(offsets);
    await settledWithHeartbeats(this.transition, heartbeat, this.heartbeatIntervalMs);
    const key = partitionKey(batch);
    const p = owned.get(key);
    // Not resolving leaves kafkajs's position where it was, so whatever is skipped here is fetched
    // again later (eachBatchAutoResolve is off: tulios/kafkajs#18).
    if (run.ended || p === undefined || !p.ready || p.retryTimer !== undefined || batch.messages.length === 0) return;
    p.highWatermark = BigInt(batch.highWatermark);
    p.startHint ??= BigInt(batch.messages[0]!.offset);
    if (autoCommit) await this.commitProgress(run, p);
    // After a rebalance kafkajs rebuilds its offset manager and fetches a kept partition again
    // from the last commit; what this member already handled there is skipped, not redelivered.
    const position = p.position;
    const fresh = position === undefined ? batch.messages : batch.messages.filter((m) => BigInt(m.offset) >= position);
    if (fresh.length === 0) {
      resolveOffset(batch.messages.at(-1)!.offset);
      return;
    }
    for (const part of chunk(fresh, this.maxBatchSize)) {
      // isStale: a seek for this partition is pending, these messages are no longer next.
      // isRunning: kafkajs is stopping. Either way, stop without resolving (tulios/kafkajs#367).
      if (!isRunning() || isStale() || run.ended || !owned.holds(p)) return;
      const first = part[0]!.offset;
      const last = part.at(-1)!.offset;
      const out: Batch = {
        topic: batch.topic,
        partition: batch.partition,
        messages: part.map((m) => toConsumedMessage(batch.topic, batch.partition, m)),
        highWatermark: batch.highWatermark,
      };
      const ctx: BatchContext = { commit: (offset) => this.commitExplicit(run, p, offset), signal: run.controller.signal };
      try {
        await sub.handleBatch(out, ctx);
      } catch (err) {
        // Stopping or rebalanced away while the handler ran: it was told through ctx.signal; the
        // batch stays uncommitted and the partition's next owner gets it.
        if (run.ended || !owned.holds(p)) return;
        // Never rethrown: an error out of eachBatch makes kafkajs refetch every partition of the
        // fetch (duplicates elsewhere, tulios/kafkajs#945) and, after `retries`, crash and rejoin
        // (#1592). The partition is paused instead, its offsets stay unresolved, and the next
        // fetch after the backoff starts at the first unprocessed message (#587).
        if (isRetriable(err)) this.retryLater(run, p, err, first);
        else this.failFatally(run, p, err, first);
        return;
      }
      p.position = BigInt(last) + 1n;
      p.failures = 0;
      this.watchdog.healthy();
      this.counts.batches += 1;
      this.counts.messages += part.length;
      resolveOffset(last);
      if (autoCommit) await this.commitProgress(run, p);
      // Heartbeats are only sent between batches (tulios/kafkajs#387, #447): a long fetch cut into
      // chunks keeps the member alive, and a rebalance is learnt here. heartbeat() then throws
      // REBALANCE_IN_PROGRESS, which kafkajs handles by rejoining; offsets up to here are committed.
      await heartbeat();
    }
  }

  /** Commits up to `position` (autoCommit). Kafka errors go to kafkajs as they are, so a rebalance makes it rejoin. */
  private async commitProgress(run: ConsumerRun, p: PartitionProgress): Promise<void> {
    if (run.commit === undefined || p.position === undefined) return;
    await commitThrough(run.commit, p, p.position);
  }

  /**
   * `ctx.commit(offset)`: everything up to `offset` is processed. The broker checks the member and
   * generation of a commit but not which partitions the member holds, so a late commit (a
   * snapshot that finished after a rebalance) would overwrite the new owner's progress
   * (tulios/kafkajs#1046). Commits are refused for partitions this member no longer holds.
   */
  private async commitExplicit(run: ConsumerRun, p: PartitionProgress, offset: string): Promise<void> {
    const next = nextOffset(offset);
    if (!this.owned.holds(p) || run.commit === undefined) {
      throw new BurnrateError(
        'BUS_UNAVAILABLE',
        `cannot commit offset ${offset} of ${p.key} for group ${this.groupId}: this member no longer holds the partition (rebalanced away, crashed or stopped); its next owner redelivers from the last commit`,
        { retriable: true },
      );
    }
    try {
      await commitThrough(run.commit, p, next);
    } catch (err) {
      throw translateKafkaError(err, { operation: 'commit', topic: p.tp.topic, groupId: this.groupId });
    }
  }

  private retryLater(run: ConsumerRun, p: PartitionProgress, err: unknown, offset: string): void {
    p.failures += 1;
    this.counts.retries += 1;
    const delay = backoffDelay(p.failures, this.deps.retryDelayMs, this.deps.maxRetryDelayMs);
    this.log.error(
      { err, topic: p.tp.topic, partition: p.tp.partition, offset, attempt: p.failures, retryInMs: delay },
      'batch handler failed; the batch will be delivered again',
    );
    run.pauses.pause(p.tp, 'retry');
    p.retryTimer = setTimeout(() => {
      p.retryTimer = undefined;
      if (this.owned.holds(p)) run.pauses.resume(p.tp, 'retry');
    }, delay);
    p.retryTimer.unref();
  }

  private failFatally(run: ConsumerRun, p: PartitionProgress, err: unknown, offset: string): void {
    this.counts.fatalErrors += 1;
    this.log.error(
      { err, topic: p.tp.topic, partition: p.tp.partition, offset },
      'batch handler failed with a non-retriable error; the batch is not committed, the consumer leaves the group and restarts after a backoff',
    );
    try {
      if (this.sub.onFatal !== undefined) this.sub.onFatal(err);
      else this.deps.onFatal(err, { groupId: this.groupId });
    } catch (hookErr) {
      this.log.error({ err: hookErr }, 'onFatal hook threw');
    }
    void this.failRun(run, err);
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  private async launch(): Promise<ConsumerRun> {
    // Current from the start: kafkajs may crash it (and the watchdog must see it) before run() returns.
    const run = (this.current = createConsumerRun(this.runConfig, this.handlers));
    await startConsumerRun(run, this.runConfig, this.handlers);
    return run;
  }

  /**
   * Stops a run in the order the port promises: no new batches, the in-flight one finishes (and
   * commits), onRevoked for everything held, then leave the group.
   */
  private endRun(run: ConsumerRun): Promise<void> {
    run.ended = true;
    run.ending ??= this.drainAndLeave(run);
    return run.ending;
  }

  private async drainAndLeave(run: ConsumerRun): Promise<void> {
    const { owned, log } = this;
    // Paused rather than just ignored: kafkajs would otherwise fetch the same unresolved
    // messages in a tight loop while onRevoked runs; its fetch loop still heartbeats meanwhile.
    for (const p of owned.values()) run.pauses.pause(p.tp, 'stopping');
    run.controller.abort();
    await Promise.allSettled([...run.inFlight]);
    await this.transition;
    if (this.autoCommit) {
      for (const p of owned.values()) {
        await this.commitProgress(run, p).catch((err: unknown) =>
          log.warn({ err, partition: p.key }, 'final commit failed; the partition will be redelivered from the previous commit'),
        );
      }
    }
    // onRevoked before the partitions are released: the member holds them until it leaves the
    // group, so a commit there (a snapshot's offset) is still accepted.
    const lost = [...owned.values()];
    if (lost.length > 0) {
      try {
        await this.sub.onRevoked?.(lost.map((p) => p.tp));
      } catch (err) {
        log.error({ err }, 'onRevoked failed while stopping');
      }
    }
    for (const p of lost) this.release(run, p);
    try {
      await run.consumer.disconnect();
    } catch (err) {
      log.warn({ err }, 'kafkajs consumer did not disconnect cleanly');
    }
  }

  private async failRun(run: ConsumerRun, err: unknown): Promise<void> {
    if (run.ending !== undefined) return;
    await this.endRun(run);
    await this.watchdog.restartAfter(run, err);
  }
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
