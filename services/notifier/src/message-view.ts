import type { Logger } from '@burnrate/core';
import type { Channel, Notification } from '@burnrate/notify';
import { type Anomaly, lifecycleOf } from '@burnrate/schemas';
import type { DeliveryRecord, Store } from '@burnrate/store';
import type { AnomalyCache } from './anomaly-cache.ts';
import type { MessageContextOf } from './message-context.ts';
import { byLikelyCause } from '@burnrate/notify';
import type { Target } from './routing.ts';

/** The first message a receiver got of an anomaly: later versions reply in its thread, and it shows the anomaly's state. */
export function parentOf(history: readonly DeliveryRecord[], receiver: string): string | undefined {
  return history.filter((d) => d.receiver === receiver && d.status === 'sent').sort((x, y) => x.version - y.version)[0]?.detail;
}

/** A receiver's `to` from its stable name (`<channel>:<to joined by commas>`). */
export function recipientsOf(receiver: string, channel: string | undefined): string[] {
  const prefix = `${channel ?? receiver.split(':')[0]}:`;
  return receiver.startsWith(prefix) ? receiver.slice(prefix.length).split(',') : [receiver];
}

export interface MessageViewDeps {
  store: Pick<Store, 'listDeliveries' | 'listAnomalyStates'>;
  anomalies: AnomalyCache;
  channels: Readonly<Partial<Record<string, Channel>>>;
  log: Logger;
  /** The message's month line and horizons, so an update in place keeps them. */
  context?: MessageContextOf;
}

/**
 * What a message already sent shows now, and bringing it up to date in place: the thread's
 * first message after a reply, and every first message after a decision (state-updates.ts).
 */
export function createMessageViews(deps: MessageViewDeps) {
  /** The message's anomalies at their latest versions, and what people decided (the delivery log says which anomalies it carried). */
  async function currentView(messageId: string, receiver: string, now: Date): Promise<Notification | undefined> {
    const carried = await deps.store.listDeliveries({ status: 'sent', detail: messageId });
    const ids = [...new Set(carried.filter((d) => d.receiver === receiver).map((d) => d.anomaly_id))];
    const members: Anomaly[] = [];
    for (const id of ids) {
      const a = await deps.anomalies.latest(id);
      if (a) members.push(a);
    }
    // An incident's message names its most likely cause first (incidents.ts).
    members.sort(byLikelyCause);
    const first = members[0];
    if (!first) return undefined;
    const lifecycle = lifecycleOf(await deps.store.listAnomalyStates({ anomaly_id: first.id }), now);
    const to = carried.find((d) => d.receiver === receiver);
    const context = await deps.context?.(members, now);
    return {
      anomaly: first,
      ...(members.length > 1 ? { group: members } : {}),
      reason: first.status === 'resolved' ? 'resolved' : 'updated',
      to: recipientsOf(receiver, to?.channel),
      receiver,
      lifecycle,
      ...(context ? { context } : {}),
    };
  }

  /** Makes the parent of a thread show the episode as it is now (Slack chat.update); a failure is logged, the reply stands. */
  async function refreshParent(t: Target, parentId: string, now: Date): Promise<void> {
    const channel = deps.channels[t.channel];
    if (!channel?.update) return;
    try {
      const view = await currentView(parentId, t.receiver, now);
      if (view) await channel.update(parentId, { ...view, to: t.to });
    } catch (err) {
      deps.log.warn({ err, receiver: t.receiver, messageId: parentId }, 'could not update the first message of the thread');
    }
  }

  return { currentView, refreshParent };
}
