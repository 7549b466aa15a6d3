import type { Batch, BatchContext, Bus, ConsumedMessage, SubscribeOptions, Subscription, TopicPartition } from '@burnrate/bus';
import { BurnrateError, type Clock, type ConfigSource, isRetriable, type Logger, type Service, systemClock } from '@burnrate/core';
import type { Channel } from '@burnrate/notify';
import { type Anomaly, TOPICS } from '@burnrate/schemas';
import { insertIsolatingRefused, type OutboxEntry, type Store } from '@burnrate/store';
import { AnomalyCache } from './anomaly-cache.ts';
import { type DeadLetter, readAnomalyBatch, refusedAnomalyDlq } from './anomaly-batch.ts';
import { decide, DEFAULT_RENOTIFY, policyFor, type RenotifyPolicy } from './decide.ts';
import { createDelivery, type DeliveryCount } from './delivery.ts';
import { type ActiveSilence, createDispatcher, type DispatchResult, type DispatcherStore, outboxEntry } from './dispatcher.ts';
import { GroupClock } from './grouping.ts';
import { createMessageContext, type MessageContextDeps } from './message-context.ts';
import { DEFAULT_RETRY, type RetryPolicy } from './retry.ts';
import { routeAnomaly } from './routing.ts';
import { createStateUpdates } from './state-updates.ts';
import { createVersionFactsCache } from './version-facts.ts';

/** The part of the Store the notifier uses. */
export type NotifierStore = Pick<Store, 'insertDlq' | 'getAnomaly' | 'reconciliation'> & DispatcherStore;

export interface NotifierDeps {
  /** Read per anomaly: a reloaded config routes the next one. */
  config: ConfigSource;
  store: NotifierStore;
  /** By channel name (`slack`, `pagerduty`, …): the channels that are on (buildChannels in @burnrate/runtime). */
  channels: Readonly<Partial<Record<string, Channel>>>;
  log: Logger;
  clock?: Clock;
  retry?: Partial<RetryPolicy>;
  renotify?: Partial<RenotifyPolicy>;
  /** When given, start() subscribes to anomalies.v1 and anomaly-state.v1, and stop() leaves the groups. */
  bus?: Bus;
  groupId?: string;
  /** How often the outbox is looked at for what is due (default 1 s); 0 = only when dispatch() is called (tests). */
  dispatchEveryMs?: number;
  /** The silences in force at an instant (the store's, through the API's schema); none when not given. */
  silences?(now: Date): Promise<readonly ActiveSilence[]>;
  /** Shortest gap between two messages to one receiver, per channel; default Slack 1 s (its per-channel rate limit). */
  minGapMs?: Readonly<Record<string, number>>;
  /** How long a team's month-to-date spend is cached, and waited for, for the month line of its messages (message-context.ts). */
  monthToDate?: Pick<MessageContextDeps, 'cacheMs' | 'timeoutMs'>;
}

export interface Notifier extends Service {
  /**
   * Routes anomaly versions in order and queues in the outbox what each receiver needs (or
   * records why it needs nothing). Resolves once that is durable; `dispatch` sends it when due.
   * Throws the store's non-retriable error when it refused what an anomaly needs recorded; the
   * anomalies after it are handled all the same. `part` is the anomalies.v1 partition they came from.
   */
  handleAnomalies(anomalies: readonly Anomaly[], part?: number): Promise<void>;
  /**
   * The Bus handler for anomalies.v1: bad records, and anomalies whose records the store
   * refuses, go to the DLQ; the rest are queued. Nothing in a batch blocks the partition.
   */
  handleBatch(batch: Batch, ctx: BatchContext): Promise<void>;
  /** The Bus handler for anomaly-state.v1: messages already sent show the decision (Slack chat.update, PagerDuty acknowledge). */
  handleStateBatch(batch: Batch, ctx: BatchContext): Promise<void>;
  /** anomalies.v1 with partition ownership, for a composition root that subscribes itself. */
  readonly subscribeOptions: SubscribeOptions;
  readonly stateSubscribeOptions: SubscribeOptions;
  /** Sends what the outbox has due now (the loop started by start() calls it every dispatchEveryMs). */
  dispatch(): Promise<DispatchResult>;
  /** Outbox entries due now and not yet sent: what /healthz reports as the notifier's outbox lag. */
  dueNow(): Promise<number>;
  stats(): NotifierStats;
  /** Messages since start by channel and outcome (for /metrics). */
  deliveries(): DeliveryCount[];
}

export interface NotifierStats {
  /** Anomalies not delivered because the store refused their delivery records; each is in the DLQ. */
  refused: number;
  /** DLQ rows the store refused as well: logged with their origin and skipped, never retried. */
  dropped: number;
}

/** An anomaly the store refused to record deliveries for (a non-retriable error), by its position in the input. */
interface Refused {
  index: number;
  anomaly: Anomaly;
  error: unknown;
}

/**
 * The notifier: for each anomaly version, in order, routes it (routing.ts), decides per receiver
 * whether a human needs it (decide.ts) and delivers it once (delivery.ts). What it reads of the
 * bus is parsed in anomaly-batch.ts; what is refused goes to the DLQ.
 */
export function createNotifier(deps: NotifierDeps): Notifier {
  const log = deps.log.child({ component: 'notifier' });
  const clock = deps.clock ?? systemClock;
  const renotify: RenotifyPolicy = { ...DEFAULT_RENOTIFY, ...deps.renotify };
  const { store } = deps;
  const retry: RetryPolicy = { ...DEFAULT_RETRY, ...deps.retry };
  const facts = createVersionFactsCache(store);
  const anomalies = new AnomalyCache(store);
  const groups = new GroupClock();
  const delivery = createDelivery({ store, channels: deps.channels, retry, log, clock });
  const lifetime = new AbortController();
  const stats: NotifierStats = { refused: 0, dropped: 0 };
  const subscriptions: Subscription[] = [];
  // anomalies.v1 partitions assigned to this instance; undefined until a group assigns any (one notifier owns all).
  let owned: Set<number> | undefined;
  const context = createMessageContext({ config: deps.config, store, log, ...deps.monthToDate });
  const dispatcher = createDispatcher({
    config: deps.config,
    store,
    channels: deps.channels,
    delivery,
    anomalies,
    facts,
    groups,
    renotify,
    retry,
    log,
    clock,
    owned: () => (owned ? [...owned] : undefined),
    ...(deps.silences ? { silences: (now: Date) => deps.silences?.(now) ?? Promise.resolve([]) } : {}),
    minGapMs: deps.minGapMs ?? { slack: 1_000 },
    context,
  });
  const stateUpdates = createStateUpdates({ store, channels: deps.channels, currentView: dispatcher.currentView, log, clock });

  async function handleOne(a: Anomaly, part: number): Promise<void> {
    if (a.historical === true) {
      // A backfill's finding is about the past: stored and listed, never routed, and kept out of
      // the cache, whose open anomalies inhibit live ones and gather them into incidents.
      log.info(
        { anomalyId: a.id, version: a.version, kind: a.kind, severity: a.severity, subject: a.subject, summary: a.summary },
        'historical anomaly (found by a backfill): stored, not sent',
      );
      return;
    }
    // The log is a receiver too: every version is on record with what a human would read, even
    // where no Slack or SMTP is configured.
    log.info(
      {
        anomalyId: a.id,
        version: a.version,
        kind: a.kind,
        severity: a.severity,
        status: a.status,
        subject: a.subject,
        impactUsd: a.impact_usd,
        projectedUsd: a.projected_usd,
        summary: a.summary,
      },
      'anomaly',
    );
    anomalies.remember(a);
    const config = deps.config.current();
    const route = routeAnomaly(config, a);
    if (route.kind === 'below_min_severity') {
      facts.remember(a);
      log.debug(
        { anomalyId: a.id, version: a.version, severity: a.severity, minSeverity: route.minSeverity },
        'below min_severity, not sent',
      );
      return;
    }
    const history = await store.listDeliveries({ anomaly_id: a.id });
    const sent = await facts.sentVersions(a, history);
    facts.remember(a);

    const now = clock.now();
    const queued: OutboxEntry[] = [];
    // Settled, not raced: when one receiver's record is refused, the others still finish before
    // the anomaly is given up.
    const settled = await Promise.allSettled(
      route.targets.map(async (t) => {
        const received = history.filter((d) => d.receiver === t.receiver);
        const decision = decide(a, received, sent, policyFor(t.channel, renotify));
        if (decision.action === 'done') return;
        if (t.unroutable !== undefined) {
          log.warn({ anomalyId: a.id, version: a.version, team: a.subject.team, why: t.unroutable }, 'anomaly has no receiver');
          await delivery.skip(a, t, t.unroutable);
          return;
        }
        if (decision.action === 'skip') {
          log.info({ anomalyId: a.id, version: a.version, receiver: t.receiver, why: decision.detail }, 'notification not needed');
          await delivery.skip(a, t, decision.detail);
          return;
        }
        // A higher severity is news now; everything else waits for its group (group_wait /
        // group_interval), so a burst of related anomalies becomes one message.
        const entry = outboxEntry(a, t, decision.reason, part, 0, config.routes.group_by, now.toISOString());
        // A new critical never waits longer than group_wait, even in a group sent to a moment ago.
        const grouped = groups.dueAt(entry.group_key, now.getTime(), config.routes);
        const dueMs =
          decision.reason === 'escalated'
            ? now.getTime()
            : a.severity === 'critical'
              ? Math.min(grouped, now.getTime() + config.routes.group_wait)
              : grouped;
        queued.push({ ...entry, due_at: new Date(dueMs).toISOString() });
      }),
    );
    const failed = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
    if (failed.length > 0) throw failed.find(isRetriable) ?? failed[0];
    if (queued.length > 0) {
      await store.upsertOutbox(queued);
      log.debug({ anomalyId: a.id, version: a.version, queued: queued.map((q) => ({ receiver: q.receiver, due: q.due_at })) }, 'queued');
      if (queued.some((q) => Date.parse(q.due_at) <= now.getTime())) kick();
    }
  }

  /**
   * Handles each anomaly in turn. A retriable error stops the batch (it is delivered again); a
   * non-retriable one (the store refused a delivery record, say for an id that is not valid
   * Unicode) gives up that anomaly alone, so one bad record never blocks the partition.
   */
  async function handleAll(batch: readonly Anomaly[], part: number): Promise<{ refused: Refused[] }> {
    const refused: Refused[] = [];
    for (const [index, a] of batch.entries()) {
      try {
        await handleOne(a, part);
      } catch (err) {
        if (isRetriable(err)) throw err;
        refused.push({ index, anomaly: a, error: err });
        stats.refused += 1;
        log.error(
          { anomalyId: a.id, version: a.version, err },
          'handling this anomaly failed for good (the store refused its records); it is dead-lettered and the next one goes on',
        );
      }
    }
    return { refused };
  }

  async function handleAnomalies(batch: readonly Anomaly[], part = 0): Promise<void> {
    const { refused } = await handleAll(batch, part);
    if (refused.length > 0) throw refused[0]?.error;
  }

  /** Writes DLQ rows, each with the message it is about; one the store refuses even so is logged with that origin and skipped. */
  async function deadLetter(letters: readonly DeadLetter[]): Promise<void> {
    const { refused } = await insertIsolatingRefused(
      letters.map((l) => l.record),
      (rows) => store.insertDlq(rows),
    );
    for (const r of refused) {
      const m = letters[r.index]?.message;
      stats.dropped += 1;
      log.error(
        { origin: m && `${m.topic}/${m.partition}@${m.offset}`, dlqId: r.row.dlq_id, reason: r.row.reason, err: r.error },
        'the store refused the DLQ row too; the record is not stored anywhere',
      );
    }
  }

  async function handleBatch(batch: Batch, _ctx: BatchContext): Promise<void> {
    const read = readAnomalyBatch(batch, clock.now());
    for (const { record } of read.rejected)
      log.error({ dlqId: record.dlq_id, reason: record.reason }, 'invalid anomaly record sent to the DLQ');
    const { refused } = await handleAll(read.anomalies, batch.partition);
    const deadLetters = [
      ...read.rejected,
      ...refused.map((r) => {
        const message = read.messages[r.index] as ConsumedMessage;
        return { record: refusedAnomalyDlq(message, r.anomaly, r.error, clock.now()), message };
      }),
    ];
    if (deadLetters.length > 0) await deadLetter(deadLetters);
  }

  // The dispatch loop: one pass at a time, every dispatchEveryMs, and at once when something is due now.
  const everyMs = deps.dispatchEveryMs ?? 1_000;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<DispatchResult> | undefined;
  // Aborts the pass in flight alone (onRevoked); the lifetime aborts every pass.
  let pass: AbortController | undefined;
  let again = false;
  const empty: DispatchResult = { messages: 0, carried: 0, skipped: 0, cancelled: 0, held: 0, retrying: 0, attached: 0 };

  function dispatch(): Promise<DispatchResult> {
    if (running) {
      again = true;
      return running;
    }
    pass = new AbortController();
    const signal = AbortSignal.any([lifetime.signal, pass.signal]);
    running = dispatcher
      .dispatch(signal)
      .catch((err: unknown) => {
        if (!signal.aborted) log.warn({ err }, 'outbox dispatch failed; trying again on the next pass');
        return empty;
      })
      .finally(() => {
        running = undefined;
        pass = undefined;
        if (again && !lifetime.signal.aborted) {
          again = false;
          void dispatch();
        }
      });
    return running;
  }

  function kick(): void {
    if (timer !== undefined) void dispatch();
  }

  const subscribeOptions: SubscribeOptions = {
    groupId: deps.groupId ?? 'notifier',
    topics: [TOPICS.anomalies.name],
    handleBatch,
    async onAssigned(partitions: readonly TopicPartition[]) {
      owned ??= new Set();
      for (const p of partitions) if (p.topic === TOPICS.anomalies.name) owned.add(p.partition);
      kick();
    },
    async onRevoked(partitions: readonly TopicPartition[]) {
      for (const p of partitions) if (p.topic === TOPICS.anomalies.name) owned?.delete(p.partition);
      // The pass in flight read its entries while it owned these partitions, and their new owner
      // is already sending them: a send it is still retrying (waiting out a Retry-After) would go
      // out a second time. Aborted, what it has not sent stays queued for the new owner.
      pass?.abort(new BurnrateError('SHUTTING_DOWN', 'partitions revoked'));
      await running;
    },
  };
  const stateSubscribeOptions: SubscribeOptions = {
    groupId: `${deps.groupId ?? 'notifier'}-state`,
    topics: [TOPICS.anomalyState.name],
    handleBatch: (batch, ctx) => stateUpdates.handleBatch(batch, ctx),
  };

  return {
    name: 'notifier',
    handleAnomalies,
    handleBatch,
    handleStateBatch: (batch, ctx) => stateUpdates.handleBatch(batch, ctx),
    subscribeOptions,
    stateSubscribeOptions,
    dispatch,
    dueNow: () => dispatcher.dueNow(),
    stats: () => ({ ...stats }),
    deliveries: () => delivery.counts(),
    async start() {
      if (deps.bus) {
        for (const options of [subscribeOptions, stateSubscribeOptions]) {
          const subscription = deps.bus.subscribe(options);
          subscriptions.push(subscription);
          await subscription.start();
        }
      }
      if (everyMs > 0) {
        timer = setInterval(() => void dispatch(), everyMs);
        timer.unref();
        void dispatch();
      }
    },
    async stop() {
      // Abort retry waits first so an in-flight send ends quickly; its entry stays queued and is
      // sent after restart (a pending delivery record makes that a reconcile, not a blind resend).
      lifetime.abort(new BurnrateError('SHUTTING_DOWN', 'notifier stopping'));
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      for (const subscription of subscriptions) await subscription.stop();
      await running;
    },
  };
}
