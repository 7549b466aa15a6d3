import { BurnrateError, type Clock, isRetriable, type Logger } from '@burnrate/core';
import { randomUUID } from 'node:crypto';
import type { Channel, Notification } from '@burnrate/notify';
import type { Anomaly } from '@burnrate/schemas';
import type { DeliveryRecord, Store } from '@burnrate/store';
import { type RetryPolicy, withRetry } from './retry.ts';
import type { Target } from './routing.ts';

export interface DeliveryDeps {
  store: Pick<Store, 'insertDeliveries'>;
  /** By channel name: the channels that are on. */
  channels: Readonly<Partial<Record<string, Channel>>>;
  retry: RetryPolicy;
  log: Logger;
  clock: Clock;
}

/** How one message ended. */
export type DeliveryOutcome =
  /** The provider has it (`id` as the channel returned it), or it was found delivered before a restart. */
  | { status: 'sent'; id: string }
  /** Nothing to send it with (no channel configured): recorded as skipped. */
  | { status: 'skipped'; detail: string }
  /** The receiver refused it for good: recorded as failed. */
  | { status: 'failed'; detail: string }
  /** Still failing after the in-process retries, or the process is stopping: try again later. */
  | { status: 'retry'; error: unknown };

export interface Delivery {
  /**
   * Sends one message — about one anomaly version, or a group of them — to one target, once:
   * records `pending` for every version it carries before the send and `sent` (with the
   * provider's message id) after; asks the channel about an earlier `pending` attempt first (a
   * kill between the provider's answer and our record); retries with backoff within the call.
   * `pending` holds the earlier pending records of the versions it carries. With `unrecorded`
   * (a reminder about versions the receiver already has) the delivery log is left as it is.
   */
  deliver(
    n: Notification,
    t: Target,
    members: readonly Anomaly[],
    pending: readonly DeliveryRecord[],
    signal: AbortSignal,
    options?: DeliverOptions,
  ): Promise<DeliveryOutcome>;
  /** Records that a target was not sent this version, and why. */
  skip(a: Anomaly, t: Pick<Target, 'receiver' | 'channel'>, detail: string): Promise<void>;
  /**
   * Records this version as part of the message `messageId` the target already has (an incident's
   * first message, see incidents.ts): no message of its own; the message's view lists it, and its
   * "Acknowledge all" covers it.
   */
  attach(a: Anomaly, t: Pick<Target, 'receiver' | 'channel'>, messageId: string): Promise<void>;
  /** Messages since start by channel and outcome: sent, skipped, failed, deferred (to retry later), attached (to an incident's message). */
  counts(): DeliveryCount[];
}

export interface DeliveryCount {
  channel: string;
  outcome: 'sent' | 'skipped' | 'failed' | 'deferred' | 'attached';
  count: number;
}

export interface DeliverOptions {
  /** A reminder about versions the receiver already has: the delivery log is left as it is. */
  unrecorded?: boolean;
  /**
   * Record the sent versions against this message id instead of the new message's own (a reply
   * that pages an incident is recorded against the incident's first message, which lists it).
   */
  recordAs?: string;
  /**
   * The message would be skipped for this reason, had no attempt begun before a restart: when
   * the channel says that attempt did not get through, it is recorded as skipped, not sent.
   */
  unlessDelivered?: string;
}

export function createDelivery(deps: DeliveryDeps): Delivery {
  const { store, retry, log, clock } = deps;
  const counts = new Map<string, DeliveryCount>();
  const count = (channel: string, outcome: DeliveryCount['outcome']): void => {
    const key = `${channel}\n${outcome}`;
    const entry = counts.get(key) ?? { channel, outcome, count: 0 };
    entry.count += 1;
    counts.set(key, entry);
  };

  const record = (
    a: Anomaly,
    t: Pick<Target, 'receiver' | 'channel'>,
    status: DeliveryRecord['status'],
    detail: string,
    attempts: number,
  ): DeliveryRecord => ({
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
  ): Promise<{ delivered: { id: string } | undefined; answered: boolean } | { stopping: BurnrateError }> {
    if (!channel.reconcile) {
      log.warn(
        { ...fields, pendingSince: pending.at },
        'an earlier attempt may have been delivered before a restart; sending again (this channel cannot be asked; same message id)',
      );
      return { delivered: undefined, answered: false };
    }
    const ask = channel.reconcile.bind(channel);
    const outcome = await withRetry(() => ask(n, new Date(pending.at)), retry, {
      signal,
      onRetry: (err, attempt, waitMs) => log.warn({ ...fields, err, attempt, retryInMs: waitMs }, 'reconcile failed, retrying'),
    });
    if (outcome.ok) return { delivered: outcome.value, answered: true };
    if (outcome.error instanceof BurnrateError && outcome.error.code === 'SHUTTING_DOWN') return { stopping: outcome.error };
    log.warn(
      { ...fields, err: outcome.error, pendingSince: pending.at },
      'could not check whether an earlier attempt was delivered; sending again, it may arrive twice',
    );
    return { delivered: undefined, answered: false };
  }

  async function deliver(
    n: Notification,
    t: Target,
    members: readonly Anomaly[],
    pending: readonly DeliveryRecord[],
    signal: AbortSignal,
    options: DeliverOptions = {},
  ): Promise<DeliveryOutcome> {
    const outcome = await deliverOnce(n, t, members, pending, signal, options);
    count(t.channel, outcome.status === 'retry' ? 'deferred' : outcome.status);
    return outcome;
  }

  async function deliverOnce(
    n: Notification,
    t: Target,
    members: readonly Anomaly[],
    pending: readonly DeliveryRecord[],
    signal: AbortSignal,
    options: DeliverOptions,
  ): Promise<DeliveryOutcome> {
    const insertDeliveries = (records: DeliveryRecord[]): Promise<void> =>
      options.unrecorded ? Promise.resolve() : store.insertDeliveries(records);
    const fields = {
      anomalyIds: members.map((m) => m.id),
      version: members.length === 1 ? members[0]?.version : undefined,
      receiver: t.receiver,
      reason: n.reason,
    };
    const channel = t.channel === 'log' ? undefined : deps.channels[t.channel];
    if (!channel) {
      const detail = `no ${t.channel} channel configured`;
      log.warn(fields, 'delivery skipped: no channel configured for receiver');
      await insertDeliveries(members.map((a) => record(a, t, 'skipped', detail, 0)));
      return { status: 'skipped', detail };
    }

    const earlier = pending[0];
    if (earlier) {
      const checked = await reconcile(channel, n, earlier, fields, signal);
      if ('stopping' in checked) return { status: 'retry', error: checked.stopping };
      if (checked.delivered) {
        const id = checked.delivered.id;
        await insertDeliveries(members.map((a) => record(a, t, 'sent', options.recordAs ?? id, Math.max(earlier.attempts, 1))));
        log.info({ ...fields, messageId: id }, 'notification was delivered before a restart; recorded, not sent again');
        return { status: 'sent', id };
      }
      if (options.unlessDelivered !== undefined) {
        if (checked.answered) {
          await insertDeliveries(members.map((a) => record(a, t, 'skipped', options.unlessDelivered as string, 0)));
          log.info({ ...fields, why: options.unlessDelivered }, 'an attempt begun before a restart did not get through; not needed now');
          return { status: 'skipped', detail: options.unlessDelivered };
        }
        // It may have reached the receiver already: sent again under the same message id rather
        // than logged as never sent.
        log.warn({ ...fields, why: options.unlessDelivered }, 'sending a version begun before a restart that would now be skipped');
      }
    }

    // Recorded before the send, so a kill after the provider accepted the message leaves a trace
    // that the next attempt reconciles against instead of sending blindly.
    const attemptId = randomUUID();
    await insertDeliveries(members.map((a) => record(a, t, 'pending', `attempt ${attemptId}`, 0)));
    const outcome = await withRetry(() => channel.send(n), retry, {
      signal,
      onRetry: (err, attempt, waitMs) => log.warn({ ...fields, attemptId, err, attempt, retryInMs: waitMs }, 'delivery failed, retrying'),
    });
    if (outcome.ok) {
      const id = outcome.value.id;
      await insertDeliveries(members.map((a) => record(a, t, 'sent', options.recordAs ?? id, outcome.attempts)));
      log.info({ ...fields, attempts: outcome.attempts, messageId: id }, 'notification sent');
      return { status: 'sent', id };
    }
    const message = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
    if (isRetriable(outcome.error)) {
      if (!(outcome.error instanceof BurnrateError && outcome.error.code === 'SHUTTING_DOWN')) {
        await insertDeliveries(members.map((a) => record(a, t, 'failed', `will retry: ${message}`, outcome.attempts)));
      }
      log.warn({ ...fields, err: outcome.error, attempts: outcome.attempts }, 'delivery deferred: channel still failing after retries');
      return { status: 'retry', error: outcome.error };
    }
    await insertDeliveries(members.map((a) => record(a, t, 'failed', message, outcome.attempts)));
    log.error({ ...fields, err: outcome.error, attempts: outcome.attempts }, 'delivery failed for good: receiver rejected it');
    return { status: 'failed', detail: message };
  }

  return {
    deliver,
    skip: async (a, t, detail) => {
      await store.insertDeliveries([record(a, t, 'skipped', detail, 0)]);
      count(t.channel, 'skipped');
    },
    attach: async (a, t, messageId) => {
      await store.insertDeliveries([record(a, t, 'sent', messageId, 0)]);
      count(t.channel, 'attached');
    },
    counts: () => [...counts.values()].map((c) => ({ ...c })),
  };
}
