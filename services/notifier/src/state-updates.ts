import type { Batch, BatchContext } from '@burnrate/bus';
import { BurnrateError, type Clock, isRetriable, type Logger } from '@burnrate/core';
import type { Channel, Notification } from '@burnrate/notify';
import { AnomalyState } from '@burnrate/schemas';
import type { DeliveryRecord, Store } from '@burnrate/store';

export interface StateUpdatesDeps {
  store: Pick<Store, 'listDeliveries'>;
  channels: Readonly<Partial<Record<string, Channel>>>;
  /** What a sent message shows now (the dispatcher's view of its anomalies and their lifecycle). */
  currentView(messageId: string, receiver: string, now: Date): Promise<Notification | undefined>;
  log: Logger;
  clock: Clock;
}

/**
 * The consumer of anomaly-state.v1 in the notifier: after a human acknowledges, snoozes or
 * resolves an anomaly, every first message of it that a channel can change shows the decision
 * (Slack: chat.update — who acknowledged, until when snoozed; PagerDuty: acknowledge / resolve).
 * The update renders the message from the store, so applying a decision twice (a redelivery
 * after a crash) shows the same thing; it is never a second message. A channel that keeps
 * failing fails the batch, which the bus delivers again.
 */
// How long a decision waits for a first message that is being sent (a send and its retries in one pass).
const SENDING_WAIT_MS = 60_000;

export function createStateUpdates(deps: StateUpdatesDeps) {
  const log = deps.log.child({ component: 'anomaly-state' });

  /** The first message per receiver of an anomaly: the one its thread hangs off and that shows its state. */
  function parents(history: readonly DeliveryRecord[]): DeliveryRecord[] {
    const first = new Map<string, DeliveryRecord>();
    for (const d of [...history].sort((x, y) => x.version - y.version))
      if (d.status === 'sent' && !first.has(d.receiver)) first.set(d.receiver, d);
    return [...first.values()];
  }

  async function apply(decision: AnomalyState): Promise<void> {
    const now = deps.clock.now();
    const history = await deps.store.listDeliveries({ anomaly_id: decision.anomaly_id });
    // Only a send begun moments ago is waited for: a pending record left by a process that died
    // is settled by the dispatcher, and must not hold the decisions of this partition meanwhile.
    const sending = history.filter(
      (d) =>
        d.status === 'pending' &&
        now.getTime() - Date.parse(d.at) < SENDING_WAIT_MS &&
        !history.some((s) => s.receiver === d.receiver && s.status === 'sent'),
    );
    if (sending.length > 0) {
      // The first message to a receiver is on its way: once it is recorded it can be edited, so the
      // decision waits for that (the bus delivers it again) instead of being applied to nothing.
      throw new BurnrateError(
        'NOTIFY_UNAVAILABLE',
        `a first message of ${decision.anomaly_id} is being sent to ${sending.map((d) => d.receiver).join(', ')}; the decision is shown once it is recorded`,
        { retryAfterMs: 500 },
      );
    }
    for (const d of parents(history)) {
      const channel = deps.channels[d.channel];
      if (!channel?.update) continue;
      const view = await deps.currentView(d.detail, d.receiver, now);
      if (!view) continue;
      await channel.update(d.detail, view);
      log.info(
        { anomalyId: decision.anomaly_id, action: decision.action, receiver: d.receiver, messageId: d.detail },
        'message updated with the decision',
      );
    }
  }

  async function handleBatch(batch: Batch, _ctx: BatchContext): Promise<void> {
    // Decisions about one message collapse: updating it once with the latest state is enough.
    const latest = new Map<string, AnomalyState>();
    for (const m of batch.messages) {
      let parsed;
      try {
        parsed = AnomalyState.safeParse(JSON.parse(m.value));
      } catch {
        parsed = undefined;
      }
      if (!parsed?.success) {
        log.warn({ origin: `${m.topic}/${m.partition}@${m.offset}` }, 'not an anomaly decision; skipped (the sink dead-letters it)');
        continue;
      }
      latest.set(parsed.data.anomaly_id, parsed.data);
    }
    for (const decision of latest.values()) {
      try {
        await apply(decision);
      } catch (err) {
        if (isRetriable(err)) throw err;
        log.error({ err, anomalyId: decision.anomaly_id }, 'the channel refused to update the message; the decision stands');
      }
    }
  }

  return { handleBatch, apply };
}
