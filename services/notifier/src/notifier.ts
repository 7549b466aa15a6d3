import type { Batch, BatchContext, Bus, ConsumedMessage, Subscription } from '@burnrate/bus';
import { BurnrateError, type Clock, type ConfigSource, formatPath, isRetriable, type Logger, type Service, systemClock } from '@burnrate/core';
import { createHash, randomUUID } from 'node:crypto';
import type { Channel, Notification, NotificationReason } from '@burnrate/notify';
import { Anomaly, type DlqRecord, dlqOrigin, TOPICS } from '@burnrate/schemas';
import { type DeliveryRecord, insertIsolatingRefused, type Store } from '@burnrate/store';
import { decide, DEFAULT_RENOTIFY, factsOf, type RenotifyPolicy, type VersionFacts } from './decide.ts';
import { DEFAULT_RETRY, type RetryPolicy, withRetry } from './retry.ts';
import { routeAnomaly, type Target } from './routing.ts';

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

// Facts of versions seen, so comparing v3 with v2 needs no store read in the common case.
const SEEN_MAX_ANOMALIES = 10_000;

interface Deferred {
  anomalyId: string;
  version: number;
  receiver: string;
  error: unknown;
}

/** An anomaly the store refused to record deliveries for (a non-retriable error), by its position in the input. */
interface Refused {
  index: number;
  anomaly: Anomaly;
  error: unknown;
}

export function createNotifier(deps: NotifierDeps): Notifier {
  const log = deps.log.child({ component: 'notifier' });
  const clock = deps.clock ?? systemClock;
  const retry: RetryPolicy = { ...DEFAULT_RETRY, ...deps.retry };
  const renotify: RenotifyPolicy = { ...DEFAULT_RENOTIFY, ...deps.renotify };
  const { store } = deps;
  const seen = new Map<string, Map<number, VersionFacts>>();
  const lifetime = new AbortController();
  const stats: NotifierStats = { refused: 0, dropped: 0 };
  let subscription: Subscription | undefined;

  function remember(id: string, version: number, facts: VersionFacts): void {
    const versions = seen.get(id) ?? new Map<number, VersionFacts>();
    versions.set(version, facts);
    seen.delete(id);
    seen.set(id, versions);
    if (seen.size > SEEN_MAX_ANOMALIES) {
      const oldest = seen.keys().next().value;
      if (oldest !== undefined) seen.delete(oldest);
    }
  }

  /** Facts for every version the receivers were sent; reads the store only for ones not seen here. */
  async function loadFacts(a: Anomaly, history: readonly DeliveryRecord[]): Promise<(v: number) => VersionFacts | undefined> {
    const known = () => seen.get(a.id);
    const needed = history.filter((d) => d.status === 'sent' && d.version < a.version).map((d) => d.version);
    if (needed.some((v) => !known()?.has(v))) {
      for (const stored of await store.anomalyVersions(a.id)) {
        if (!known()?.has(stored.version)) remember(a.id, stored.version, factsOf(stored));
      }
    }
    return (v) => known()?.get(v);
  }

  const record = (a: Anomaly, t: Target, status: DeliveryRecord['status'], detail: string, attempts: number): DeliveryRecord => ({
    anomaly_id: a.id,
    version: a.version,
    receiver: t.receiver,
    channel: t.channel,
    status,
    detail,
    attempts,
    at: clock.now().toISOString(),
  });

  /**
   * Asks the channel whether the attempt recorded as `pending` got through before the process
   * died. Any answer other than "yes, this message" leads to a send: when the channel cannot be
   * asked (email) or asking fails (Slack without channels:history, Slack down), the notification
   * may reach the receiver twice, which is accepted over losing it (at-least-once).
   */
  async function reconcile(
    channel: Channel,
    n: Notification,
    pending: DeliveryRecord,
    fields: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<{ delivered: { id: string } | undefined } | { stopping: BurnrateError }> {
    if (!channel.reconcile) {
      log.warn(
        { ...fields, pendingSince: pending.at },
        'an earlier attempt may have been delivered before a restart; sending again (this channel cannot be asked; same message id)',
      );
      return { delivered: undefined };
    }
    const ask = channel.reconcile.bind(channel);
    const outcome = await withRetry(() => ask(n, new Date(pending.at)), retry, {
      signal,
      onRetry: (err, attempt, waitMs) => log.warn({ ...fields, err, attempt, retryInMs: waitMs }, 'reconcile failed, retrying'),
    });
    if (outcome.ok) return { delivered: outcome.value };
    if (outcome.error instanceof BurnrateError && outcome.error.code === 'SHUTTING_DOWN') return { stopping: outcome.error };
    log.warn(
      { ...fields, err: outcome.error, pendingSince: pending.at },
      'could not check whether an earlier attempt was delivered; sending again, it may arrive twice',
    );
    return { delivered: undefined };
  }

  async function deliver(
    a: Anomaly,
    t: Target,
    reason: NotificationReason,
    previous: DeliveryRecord | undefined,
    unavailable: Set<string>,
    signal: AbortSignal,
  ): Promise<Deferred | undefined> {
    const fields = { anomalyId: a.id, version: a.version, receiver: t.receiver, reason };
    const channel = t.channel === 'log' ? undefined : deps.channels[t.channel];
    if (!channel) {
      const detail = `no ${t.channel} channel configured`;
      log.warn(fields, 'delivery skipped: no channel configured for receiver');
      await store.insertDeliveries([record(a, t, 'skipped', detail, 0)]);
      return undefined;
    }
    // Once a channel has used up its retries in this batch, the rest of the batch would only
    // hammer it; those deliveries wait for the redelivery.
    if (unavailable.has(channel.name))
      return {
        anomalyId: a.id,
        version: a.version,
        receiver: t.receiver,
        error: new BurnrateError('NOTIFY_UNAVAILABLE', `${channel.name} unavailable earlier in this batch`),
      };

    const notification: Notification = { anomaly: a, reason, to: t.to, receiver: t.receiver };
    if (previous?.status === 'pending') {
      const checked = await reconcile(channel, notification, previous, fields, signal);
      // Still pending: the redelivery after restart asks again.
      if ('stopping' in checked) return { anomalyId: a.id, version: a.version, receiver: t.receiver, error: checked.stopping };
      if (checked.delivered) {
        await store.insertDeliveries([record(a, t, 'sent', checked.delivered.id, Math.max(previous.attempts, 1))]);
        log.info({ ...fields, messageId: checked.delivered.id }, 'notification was delivered before a restart; recorded, not sent again');
        return undefined;
      }
    }

    // Recorded before the send, so a kill after the provider accepted the message leaves a trace
    // that the redelivered version reconciles against instead of sending blindly.
    const attemptId = randomUUID();
    await store.insertDeliveries([record(a, t, 'pending', `attempt ${attemptId}`, 0)]);
    const outcome = await withRetry(() => channel.send(notification), retry, {
      signal,
      onRetry: (err, attempt, waitMs) => log.warn({ ...fields, attemptId, err, attempt, retryInMs: waitMs }, 'delivery failed, retrying'),
    });
    if (outcome.ok) {
      await store.insertDeliveries([record(a, t, 'sent', outcome.value.id, outcome.attempts)]);
      log.info({ ...fields, attempts: outcome.attempts, messageId: outcome.value.id }, 'notification sent');
      return undefined;
    }
    const message = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
    if (isRetriable(outcome.error)) {
      unavailable.add(channel.name);
      if (!(outcome.error instanceof BurnrateError && outcome.error.code === 'SHUTTING_DOWN')) {
        await store.insertDeliveries([record(a, t, 'failed', `will retry: ${message}`, outcome.attempts)]);
      }
      log.warn({ ...fields, err: outcome.error, attempts: outcome.attempts }, 'delivery deferred: channel still failing after retries');
      return { anomalyId: a.id, version: a.version, receiver: t.receiver, error: outcome.error };
    }
    await store.insertDeliveries([record(a, t, 'failed', message, outcome.attempts)]);
    log.error({ ...fields, err: outcome.error, attempts: outcome.attempts }, 'delivery failed for good: receiver rejected it');
    return undefined;
  }

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
      remember(a.id, a.version, factsOf(a));
      log.debug(
        { anomalyId: a.id, version: a.version, severity: a.severity, minSeverity: route.minSeverity },
        'below min_severity, not sent',
      );
      return [];
    }
    const history = await store.listDeliveries({ anomaly_id: a.id });
    const facts = await loadFacts(a, history);
    remember(a.id, a.version, factsOf(a));

    // Settled, not raced: when one receiver's record is refused, the others still finish before
    // the anomaly is given up, instead of running on unawaited into the next one.
    const settled = await Promise.allSettled(
      route.targets.map(async (t): Promise<Deferred | undefined> => {
        const received = history.filter((d) => d.receiver === t.receiver);
        const decision = decide(a, received, facts, renotify);
        if (decision.action === 'done') return undefined;
        if (t.unroutable !== undefined) {
          log.warn({ anomalyId: a.id, version: a.version, team: a.subject.team, why: t.unroutable }, 'anomaly has no receiver');
          await store.insertDeliveries([record(a, t, 'skipped', t.unroutable, 0)]);
          return undefined;
        }
        if (decision.action === 'skip') {
          log.info({ anomalyId: a.id, version: a.version, receiver: t.receiver, why: decision.detail }, 'notification not needed');
          await store.insertDeliveries([record(a, t, 'skipped', decision.detail, 0)]);
          return undefined;
        }
        const previous = received.find((d) => d.version === a.version);
        return deliver(a, t, decision.reason, previous, unavailable, signal);
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

  function deferredError(deferred: readonly Deferred[]): BurnrateError {
    const retryAfterMs = deferred
      .map((d) => (d.error instanceof BurnrateError ? d.error.retryAfterMs : undefined))
      .filter((ms): ms is number => ms !== undefined);
    return new BurnrateError(
      'NOTIFY_UNAVAILABLE',
      `${deferred.length} deliveries deferred (${[...new Set(deferred.map((d) => d.receiver))].join(', ')}); they are sent on redelivery`,
      {
        cause: deferred[0]?.error,
        ...(retryAfterMs.length > 0 ? { retryAfterMs: Math.max(...retryAfterMs) } : {}),
        details: { deferred: deferred.map(({ anomalyId, version, receiver }) => ({ anomalyId, version, receiver })) },
      },
    );
  }

  async function handleAnomalies(anomalies: readonly Anomaly[], signal?: AbortSignal): Promise<void> {
    const { deferred, refused } = await handleAll(anomalies, signal);
    if (deferred.length > 0) throw deferredError(deferred);
    if (refused.length > 0) throw refused[0]?.error;
  }

  /** Writes DLQ rows, each with the message it is about; one the store refuses even so is logged with that origin and skipped. */
  async function deadLetter(letters: readonly { record: DlqRecord; message: ConsumedMessage }[]): Promise<void> {
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
    const valid: Anomaly[] = [];
    const messages: ConsumedMessage[] = [];
    const rejected: { record: DlqRecord; message: ConsumedMessage }[] = [];
    for (const m of batch.messages) {
      const dlq = (reason: string, issues: DlqRecord['issues']): DlqRecord => ({
        ...dlqOrigin(m.topic, m.partition, m.offset),
        received_at: clock.now().toISOString(),
        reason,
        issues,
        raw: m.value,
      });
      let json: unknown;
      try {
        json = JSON.parse(m.value);
      } catch (err) {
        rejected.push({
          record: dlq(`not JSON: ${(err as Error).message}`, [{ path: '(root)', message: (err as Error).message }]),
          message: m,
        });
        continue;
      }
      const parsed = Anomaly.safeParse(json);
      if (parsed.success) {
        valid.push(parsed.data);
        messages.push(m);
        continue;
      }
      const issues = parsed.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message }));
      rejected.push({
        record: dlq(`not a valid ${TOPICS.anomalies.name} Anomaly: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues),
        message: m,
      });
    }
    for (const { record } of rejected) log.error({ dlqId: record.dlq_id, reason: record.reason }, 'invalid anomaly record sent to the DLQ');
    const { deferred, refused } = await handleAll(valid, ctx.signal);
    const deadLetters = [
      ...rejected,
      ...refused.map((r) => {
        const message = messages[r.index] as ConsumedMessage;
        return { record: refusedAnomalyDlq(message, r, clock.now()), message };
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

/**
 * The DLQ row for an anomaly the notifier gave up on a non-retriable error: in practice the store
 * refusing its delivery records. Its id is the notifier's own for that message: the sink, which reads the same topic,
 * may dead-letter the same message for its own reason, and both rows are kept. The anomaly id is
 * quoted as JSON so a lone surrogate in it shows as an escape rather than poisoning the reason.
 */
function refusedAnomalyDlq(m: ConsumedMessage, refused: Refused, now: Date): DlqRecord {
  const message = refused.error instanceof Error ? refused.error.message : String(refused.error);
  const { anomaly } = refused;
  return {
    dlq_id: createHash('sha256').update(`notifier:${m.topic}:${m.partition}:${m.offset}`).digest('hex').slice(0, 32),
    source: dlqOrigin(m.topic, m.partition, m.offset).source,
    received_at: now.toISOString(),
    reason: `not delivered: handling anomaly ${JSON.stringify(anomaly.id)} v${anomaly.version} at ${m.topic}/${m.partition}@${m.offset} failed for good: ${message.split('\n')[0]}`,
    issues: [{ path: /value of key ([\w.]+)/.exec(message)?.[1] ?? '(record)', message }],
    raw: m.value,
  };
}
