import { BurnrateError, type Clock, isRetriable, type Logger } from '@burnrate/core';
import { randomUUID } from 'node:crypto';
import type { Channel, Notification, NotificationReason } from '@burnrate/notify';
import type { Anomaly } from '@burnrate/schemas';
import type { DeliveryRecord, Store } from '@burnrate/store';
import { type RetryPolicy, withRetry } from './retry.ts';
import type { Target } from './routing.ts';

/** A delivery that must wait for the batch to be delivered again (the channel is still failing, or the process is stopping). */
export interface Deferred {
  anomalyId: string;
  version: number;
  receiver: string;
  error: unknown;
}

export interface DeliveryDeps {
  store: Pick<Store, 'insertDeliveries'>;
  /** By channel name: the channels that are on. */
  channels: Readonly<Partial<Record<string, Channel>>>;
  retry: RetryPolicy;
  log: Logger;
  clock: Clock;
}

export interface Delivery {
  /**
   * Sends one anomaly version to one target, once: records `pending` before the send and `sent`
   * after, asks the channel about an earlier `pending` attempt first (a kill between the
   * provider's answer and our record), retries with backoff, and records the outcome. Resolves to
   * a Deferred when the channel keeps failing (redelivered later), else undefined.
   * `unavailable` holds the channels that used up their retries earlier in this batch.
   */
  deliver(
    a: Anomaly,
    t: Target,
    reason: NotificationReason,
    previous: DeliveryRecord | undefined,
    unavailable: Set<string>,
    signal: AbortSignal,
  ): Promise<Deferred | undefined>;
  /** Records that a target was not sent this version, and why. */
  skip(a: Anomaly, t: Target, detail: string): Promise<void>;
}

export function createDelivery(deps: DeliveryDeps): Delivery {
  const { store, retry, log, clock } = deps;

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

  return {
    deliver,
    skip: async (a, t, detail) => {
      await store.insertDeliveries([record(a, t, 'skipped', detail, 0)]);
    },
  };
}

/** One retriable error for a batch whose deliveries were deferred: the bus delivers it again, after the longest Retry-After asked. */
export function deferredError(deferred: readonly Deferred[]): BurnrateError {
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
