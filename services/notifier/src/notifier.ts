import type { Batch, BatchContext, Bus, ConsumedMessage, Subscription } from '@burnrate/bus';
import { BurnrateError, type Clock, type ConfigSource, isRetriable, type Logger, type Service, systemClock } from '@burnrate/core';
import type { Channel } from '@burnrate/notify';
import { type Anomaly, TOPICS } from '@burnrate/schemas';
import { insertIsolatingRefused, type Store } from '@burnrate/store';
import { type DeadLetter, readAnomalyBatch, refusedAnomalyDlq } from './anomaly-batch.ts';
import { decide, DEFAULT_RENOTIFY, type RenotifyPolicy } from './decide.ts';
import { createDelivery, type Deferred, deferredError } from './delivery.ts';
import { DEFAULT_RETRY, type RetryPolicy } from './retry.ts';
import { routeAnomaly } from './routing.ts';
import { createVersionFactsCache } from './version-facts.ts';

/** The part of the Store the notifier uses. */
export type NotifierStore = Pick<Store, 'insertDlq' | 'insertDeliveries' | 'listDeliveries' | 'anomalyVersions'>;

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
  /** When given, start() subscribes to anomalies.v1 with handleBatch and stop() leaves the group. */
  bus?: Bus;
  groupId?: string;
}

export interface Notifier extends Service {
  /**
   * Routes and delivers anomaly versions in order. Resolves when every receiver has the version
   * (sent, or recorded as skipped / failed for good). Throws a retriable BurnrateError when some
   * delivery must be tried again later; what was delivered is recorded and is not sent again.
   * Throws the store's non-retriable error when it refused what an anomaly needs recorded (its
   * delivery records); the anomalies after it are handled all the same.
   */
  handleAnomalies(anomalies: readonly Anomaly[], signal?: AbortSignal): Promise<void>;
  /**
   * The Bus handler for anomalies.v1: bad records, and anomalies whose delivery records the store
   * refuses, go to the DLQ; the rest are delivered. Nothing in a batch blocks the partition.
   */
  handleBatch(batch: Batch, ctx: BatchContext): Promise<void>;
  stats(): NotifierStats;
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
  const facts = createVersionFactsCache(store);
  const delivery = createDelivery({ store, channels: deps.channels, retry: { ...DEFAULT_RETRY, ...deps.retry }, log, clock });
  const lifetime = new AbortController();
  const stats: NotifierStats = { refused: 0, dropped: 0 };
  let subscription: Subscription | undefined;

  async function handleOne(a: Anomaly, unavailable: Set<string>, signal: AbortSignal): Promise<Deferred[]> {
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
    const route = routeAnomaly(deps.config.current(), a);
    if (route.kind === 'below_min_severity') {
      facts.remember(a);
      log.debug(
        { anomalyId: a.id, version: a.version, severity: a.severity, minSeverity: route.minSeverity },
        'below min_severity, not sent',
      );
      return [];
    }
    const history = await store.listDeliveries({ anomaly_id: a.id });
    const sent = await facts.sentVersions(a, history);
    facts.remember(a);

    // Settled, not raced: when one receiver's record is refused, the others still finish before
    // the anomaly is given up, instead of running on unawaited into the next one.
    const settled = await Promise.allSettled(
      route.targets.map(async (t): Promise<Deferred | undefined> => {
        const received = history.filter((d) => d.receiver === t.receiver);
        const decision = decide(a, received, sent, renotify);
        if (decision.action === 'done') return undefined;
        if (t.unroutable !== undefined) {
          log.warn({ anomalyId: a.id, version: a.version, team: a.subject.team, why: t.unroutable }, 'anomaly has no receiver');
          await delivery.skip(a, t, t.unroutable);
          return undefined;
        }
        if (decision.action === 'skip') {
          log.info({ anomalyId: a.id, version: a.version, receiver: t.receiver, why: decision.detail }, 'notification not needed');
          await delivery.skip(a, t, decision.detail);
          return undefined;
        }
        const previous = received.find((d) => d.version === a.version);
        return delivery.deliver(a, t, decision.reason, previous, unavailable, signal);
      }),
    );
    const failed = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
    // A retriable failure wins: the redelivery may find the others recordable too.
    if (failed.length > 0) throw failed.find(isRetriable) ?? failed[0];
    return settled.flatMap((r) => (r.status === 'fulfilled' && r.value !== undefined ? [r.value] : []));
  }

  /**
   * Handles each anomaly in turn. A retriable error stops the batch (it is delivered again); a
   * non-retriable one (the store refused a delivery record, say for an id that is not valid
   * Unicode) gives up that anomaly alone, so one bad record never blocks the partition.
   */
  async function handleAll(anomalies: readonly Anomaly[], signal?: AbortSignal): Promise<{ deferred: Deferred[]; refused: Refused[] }> {
    const combined = signal ? AbortSignal.any([signal, lifetime.signal]) : lifetime.signal;
    const unavailable = new Set<string>();
    const deferred: Deferred[] = [];
    const refused: Refused[] = [];
    for (const [index, a] of anomalies.entries()) {
      try {
        deferred.push(...(await handleOne(a, unavailable, combined)));
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
    return { deferred, refused };
  }

  async function handleAnomalies(anomalies: readonly Anomaly[], signal?: AbortSignal): Promise<void> {
    const { deferred, refused } = await handleAll(anomalies, signal);
    if (deferred.length > 0) throw deferredError(deferred);
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

  async function handleBatch(batch: Batch, ctx: BatchContext): Promise<void> {
    const read = readAnomalyBatch(batch, clock.now());
    for (const { record } of read.rejected)
      log.error({ dlqId: record.dlq_id, reason: record.reason }, 'invalid anomaly record sent to the DLQ');
    const { deferred, refused } = await handleAll(read.anomalies, ctx.signal);
    const deadLetters = [
      ...read.rejected,
      ...refused.map((r) => {
        const message = read.messages[r.index] as ConsumedMessage;
        return { record: refusedAnomalyDlq(message, r.anomaly, r.error, clock.now()), message };
      }),
    ];
    if (deadLetters.length > 0) await deadLetter(deadLetters);
    if (deferred.length > 0) throw deferredError(deferred);
  }

  return {
    name: 'notifier',
    handleAnomalies,
    handleBatch,
    stats: () => ({ ...stats }),
    async start() {
      if (!deps.bus) return;
      subscription = deps.bus.subscribe({
        groupId: deps.groupId ?? 'notifier',
        topics: [TOPICS.anomalies.name],
        handleBatch,
      });
      await subscription.start();
    },
    async stop() {
      // Abort retry waits first so the in-flight batch ends quickly; it is not committed and is
      // delivered again after restart.
      lifetime.abort(new BurnrateError('SHUTTING_DOWN', 'notifier stopping'));
      await subscription?.stop();
    },
  };
}
