import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Batch, BatchContext, OutgoingMessage, Producer, SubscribeOptions, Subscription, TopicPartition } from '@burnrate/bus';
import { BurnrateError, type Clock, type ConfigSource, type Logger, type Service, systemClock } from '@burnrate/core';
import { type Anomaly, BackfillWindow, TOPICS, type UsageEvent } from '@burnrate/schemas';
import { type AnomalyListQuery, streamUsageEvents, type UsageEventListQuery } from '@burnrate/store';
import { decodeMessage } from '../decode-message.ts';
import { anomalyMessage } from '../detector.ts';
import { replay, reportsAfterTheirPeriod } from '../replay.ts';
import { BackfillWindows, type PendingWindow, type WindowTiming } from './backfill-windows.ts';
import { historicalFindings } from './historical.ts';

export const BACKFILL_GROUP_ID = 'burnrate-backfill';

/** The store as the runner reads it: the events to replay, and the anomalies already raised. */
export interface BackfillStore {
  listUsageEvents(query: UsageEventListQuery): Promise<UsageEvent[]>;
  listAnomalies(query: AnomalyListQuery): Promise<Anomaly[]>;
}

export interface BackfillRunnerDeps {
  /** Read per window: the detectors' settings and detectors.backfill of a reload apply to the next one. */
  config: ConfigSource;
  store: BackfillStore;
  /** Publishes the historical anomalies on anomalies.v1. */
  producer: Producer;
  log: Logger;
  clock?: Clock;
  /** How often due windows are looked for; default 1 s. 0: only when judgeDue() is called (tests). */
  checkEveryMs?: number;
}

/** What the runner has done since start, for /healthz (snake_case, as the rest of the answer). */
export interface BackfillStatus {
  /** Windows of late usage waiting for their quiet period (or for the store to have their events). */
  pending_windows: number;
  /** The window being judged now. */
  judging: { org: string; from: string; to: string } | null;
  /** Windows judged, and the late events they stood for. */
  judged_windows: number;
  late_events: number;
  /** Events replayed to judge them (warmup and follow-through included). */
  replayed_events: number;
  /** Episodes found and stored as historical anomalies. */
  historical_anomalies: number;
  /** Episodes found again that live detection had raised already: not stored twice. */
  already_live: number;
  /** Judgements that failed (the store unreadable, a send refused); each window is tried again. */
  failures: number;
  /** The latest judgement failed: late usage is waiting on it (/healthz says `degraded`). */
  failing: boolean;
  last_error: { at: string; message: string } | null;
  last_judged: { org: string; from: string; to: string; at: string; late_events: number; historical_anomalies: number } | null;
}

export interface BackfillRunner extends Service {
  /** usage.backfill.v1, group burnrate-backfill, commits only what has been judged: pass to `bus.subscribe`. */
  readonly subscribeOptions: SubscribeOptions;
  /** Judges every window that is due, one after the other; resolves to how many were judged. */
  judgeDue(): Promise<number>;
  status(): BackfillStatus;
}

/**
 * The runner and its subscription to usage.backfill.v1 as one service: the consumer starts before
 * the runner and stops after it (a window being judged finishes first), and the totals are logged.
 */
export function backfillService(runner: BackfillRunner, subscription: Subscription, log: Logger): Service {
  return {
    name: 'backfill',
    start: async () => {
      await subscription.start();
      await runner.start();
    },
    stop: async () => {
      await runner.stop();
      await subscription.stop();
      log.info(runner.status(), 'backfill totals');
    },
  };
}

/**
 * Replayed after a window, so the episodes its late events opened play out (a session's cool-down,
 * an hour that closes, a resolution) as they would have live: a day holds every detector's
 * cool-down (at most 12 h) and the engine's idle horizon (24 h) of a session still open at its end.
 */
const FOLLOW_THROUGH_MS = 24 * 3_600_000;
/** The sink writes what stage A read concurrently: a window whose last events are not stored yet is looked at again this soon… */
const STORE_RECHECK_MS = 1_000;
/** …for this long after its last message; then it is judged with what the store has, with a warning. */
const STORE_WAIT_MS = 5 * 60_000;
/** Events replayed between two turns of the event loop: a replay of weeks must not stall the process. */
const EVENTS_PER_TURN = 2_000;
/** Anomalies listed per store read when looking for what live detection raised. */
const ANOMALY_PAGE = 1_000;

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * The backfill runner: judges late usage (older than a stage-A partition's watermark minus the
 * allowed lateness: an import, a poller catching up), which live detection leaves out of its
 * windows. Stage A publishes the span of each batch's late events on usage.backfill.v1; the runner
 * gathers them into windows per org (backfill-windows.ts) and, once a window's messages stopped
 * coming, runs the backtest path over it: the stored events from `detectors.backfill.warmup`
 * before the window to a day after it, through `replay` (both stages, the live detectors' code),
 * with the config in use. The episodes that overlap the late events, less those live detection
 * raised, are published on anomalies.v1 as historical (historical.ts): the sink stores them and
 * the API lists them; the notifier never routes them. A window whose messages are all judged is
 * committed; a crash judges it again, which publishes nothing twice.
 *
 * It needs the store the sink writes to (it reads events back), so it runs where that store is:
 * in `burnrate start`, and in the distributed detector when it has CLICKHOUSE_URL.
 */
export function createBackfillRunner(deps: BackfillRunnerDeps): BackfillRunner {
  const log = deps.log.child({ component: 'backfill' });
  const clock = deps.clock ?? systemClock;
  const now = (): number => clock.now().getTime();
  const windows = new BackfillWindows();
  const lifetime = new AbortController();
  const status: Omit<BackfillStatus, 'pending_windows' | 'judging'> = {
    judged_windows: 0,
    late_events: 0,
    replayed_events: 0,
    historical_anomalies: 0,
    already_live: 0,
    failures: 0,
    failing: false,
    last_error: null,
    last_judged: null,
  };
  // Per usage.backfill.v1 partition held: how to commit it, the last offset read and the last committed.
  const partitions = new Map<number, { ctx: BatchContext; read: bigint; committed: bigint | undefined }>();
  let judging: PendingWindow | undefined;
  let running: Promise<number> | undefined;
  let timer: NodeJS.Timeout | undefined;

  const timing = (): WindowTiming => {
    const { quiet, max_wait, warmup } = deps.config.current().detectors.backfill;
    return { quietMs: quiet, maxWaitMs: max_wait, mergeGapMs: warmup };
  };

  /** Commits each partition up to just before the earliest offset a window still waits on. */
  async function commitJudged(): Promise<void> {
    for (const [partition, p] of partitions) {
      const earliest = windows.earliestOffset(partition);
      const upTo = earliest === undefined ? p.read : earliest - 1n;
      if (upTo < 0n || (p.committed !== undefined && upTo <= p.committed)) continue;
      try {
        await p.ctx.commit(upTo.toString());
        p.committed = upTo;
      } catch (err) {
        // Not committed: a restart judges these windows again, which publishes nothing twice.
        log.warn({ err, partition, offset: upTo.toString() }, 'backfill commit failed; trying again after the next window');
      }
    }
  }

  async function handleBatch(batch: Batch, ctx: BatchContext): Promise<void> {
    const t = timing();
    for (const m of batch.messages) {
      const window = decodeMessage(m, BackfillWindow, 'backfill window', log);
      if (window !== undefined) windows.add(window, { partition: batch.partition, offset: BigInt(m.offset) }, now(), t);
    }
    const last = batch.messages.at(-1);
    if (last !== undefined) {
      const known = partitions.get(batch.partition);
      partitions.set(batch.partition, { ctx, read: BigInt(last.offset), committed: known?.committed });
    }
    await commitJudged();
  }

  /** Whether the store holds the last late event of every stage-A partition in the window. */
  async function eventsStored(w: PendingWindow): Promise<boolean> {
    for (const witness of w.witnesses.values()) {
      const at = Date.parse(witness.occurred_at);
      const events = await deps.store.listUsageEvents({ org: w.org, from: witness.occurred_at, to: iso(at + 1) });
      if (!events.some((e) => e.event_id === witness.event_id)) return false;
    }
    return true;
  }

  /** The store's latest version of every anomaly detected since `since`, which a replay from then can raise again. */
  async function anomaliesSince(since: string): Promise<Anomaly[]> {
    const all: Anomaly[] = [];
    let after: AnomalyListQuery['after'];
    for (;;) {
      const page = await deps.store.listAnomalies({ since, limit: ANOMALY_PAGE, ...(after !== undefined ? { after } : {}) });
      all.push(...page);
      const last = page.at(-1);
      if (last === undefined || page.length < ANOMALY_PAGE) return all;
      after = { detected_at: last.detected_at, id: last.id };
    }
  }

  /** The events, handing the event loop back every EVENTS_PER_TURN; stops when the runner does. */
  async function* unhurried(events: AsyncIterable<UsageEvent>): AsyncGenerator<UsageEvent> {
    let n = 0;
    for await (const e of events) {
      yield e;
      n += 1;
      if (n % EVENTS_PER_TURN === 0) {
        await nextTurn();
        lifetime.signal.throwIfAborted();
      }
    }
  }

  /** Judges the window; false when it was put back to wait for the store. */
  async function judge(w: PendingWindow): Promise<boolean> {
    const config = deps.config.current();
    const t = timing();
    const span = { org: w.org, from: iso(w.from), to: iso(w.to) };
    if (!(await eventsStored(w))) {
      if (now() - w.lastAt < STORE_WAIT_MS) {
        windows.retry(w, now() + STORE_RECHECK_MS, t);
        return false;
      }
      log.warn({ ...span, waitedMs: now() - w.lastAt }, 'the store still lacks late events of this window; judging it with what it has');
    }
    const replayFrom = iso(w.from - config.detectors.backfill.warmup);
    const started = performance.now();
    const result = await replay(
      reportsAfterTheirPeriod(
        unhurried(streamUsageEvents(deps.store, { org: w.org, from: replayFrom, to: iso(w.to + FOLLOW_THROUGH_MS) })),
      ),
      config,
    );
    const findings = historicalFindings(result.anomalies, w, await anomaliesSince(replayFrom));
    const messages = findings.anomalies.map((a) => anomalyMessage(a, log)).filter((m): m is OutgoingMessage => m !== undefined);
    if (messages.length > 0) await deps.producer.send(TOPICS.anomalies.name, messages);

    windows.done(w);
    status.failing = false;
    status.judged_windows += 1;
    status.late_events += w.events;
    status.replayed_events += result.stats.events;
    status.historical_anomalies += findings.found;
    status.already_live += findings.alreadyLive;
    status.last_judged = { ...span, at: clock.now().toISOString(), late_events: w.events, historical_anomalies: findings.found };
    log.info(
      {
        ...span,
        lateEvents: w.events,
        replayedEvents: result.stats.events,
        historicalAnomalies: findings.found,
        versions: messages.length,
        alreadyLive: findings.alreadyLive,
        ms: Math.round(performance.now() - started),
      },
      findings.found > 0 ? 'backfill window judged: historical anomalies stored, not sent' : 'backfill window judged: nothing found',
    );
    return true;
  }

  async function judgeDue(): Promise<number> {
    if (running !== undefined) return running;
    running = (async () => {
      let judged = 0;
      while (!lifetime.signal.aborted) {
        const w = windows.take(now(), timing());
        if (w === undefined) break;
        judging = w;
        try {
          if (await judge(w)) judged += 1;
        } catch (err) {
          if (lifetime.signal.aborted) {
            // Stopping: left uncommitted, judged after the restart.
            windows.retry(w, now(), timing());
            break;
          }
          status.failures += 1;
          status.failing = true;
          status.last_error = { at: clock.now().toISOString(), message: err instanceof Error ? err.message : String(err) };
          log.error(
            { err, org: w.org, from: iso(w.from), to: iso(w.to), attempts: w.attempts + 1 },
            'judging a backfill window failed; trying again',
          );
          windows.retry(w, now() + timing().quietMs, timing());
        } finally {
          judging = undefined;
        }
        await commitJudged();
      }
      return judged;
    })().finally(() => {
      running = undefined;
    });
    return running;
  }

  const subscribeOptions: SubscribeOptions = {
    groupId: BACKFILL_GROUP_ID,
    topics: [TOPICS.usageBackfill.name],
    autoCommit: false,
    handleBatch,
    async onRevoked(revoked: readonly TopicPartition[]) {
      // Its next owner reads them again from the last commit; what is pending here is still judged (at least once).
      for (const tp of revoked) if (tp.topic === TOPICS.usageBackfill.name) partitions.delete(tp.partition);
    },
  };

  return {
    name: 'backfill',
    subscribeOptions,
    judgeDue,
    status: () => ({
      pending_windows: windows.pending(),
      judging: judging === undefined ? null : { org: judging.org, from: iso(judging.from), to: iso(judging.to) },
      ...status,
    }),
    async start() {
      const every = deps.checkEveryMs ?? 1_000;
      if (every > 0) {
        timer = setInterval(() => void judgeDue(), every);
        timer.unref();
      }
    },
    async stop() {
      lifetime.abort(new BurnrateError('SHUTTING_DOWN', 'backfill runner stopping'));
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}
