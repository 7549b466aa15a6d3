import type { Config } from '@burnrate/core';
import type { Anomaly } from '@burnrate/schemas';

type GroupLabel = Config['routes']['group_by'][number];

function label(a: Anomaly, l: GroupLabel): string {
  switch (l) {
    case 'anomaly':
      return a.id;
    case 'team':
    case 'developer':
    case 'session':
    case 'model':
      return a.subject[l] ?? '';
    case 'kind':
      return a.kind;
    case 'severity':
      return a.severity;
  }
}

/**
 * The group an anomaly's message to one receiver belongs to (Alertmanager's group_by): the
 * receiver and the values of `group_by`. Messages owed to one group and due together are sent
 * as one message.
 */
export function groupKeyOf(a: Anomaly, receiver: string, groupBy: readonly GroupLabel[]): string {
  return JSON.stringify([receiver, ...groupBy.map((l) => `${l}=${label(a, l)}`)]);
}

/**
 * When a message owed to a group is due, Alertmanager-style: a group that has nothing waiting
 * and has not been sent to for `group_interval` waits `group_wait` (so a burst gathers into one
 * message); one already waiting goes with it; one sent to recently waits for `group_interval`
 * after that message, so an ongoing incident is one message per interval, not one per anomaly.
 */
export class GroupClock {
  // group key → when its waiting messages go out.
  private readonly waiting = new Map<string, number>();
  // group key → when it was last sent a message.
  private readonly lastSent = new Map<string, number>();

  dueAt(groupKey: string, nowMs: number, routes: Pick<Config['routes'], 'group_wait' | 'group_interval'>): number {
    const waiting = this.waiting.get(groupKey);
    if (waiting !== undefined && waiting >= nowMs) return waiting;
    const last = this.lastSent.get(groupKey);
    const due = last !== undefined && nowMs - last < routes.group_interval ? last + routes.group_interval : nowMs + routes.group_wait;
    this.waiting.set(groupKey, due);
    return due;
  }

  sent(groupKey: string, atMs: number): void {
    this.waiting.delete(groupKey);
    this.lastSent.set(groupKey, atMs);
    // Bounded: a group not sent to for a day is forgotten (it would wait group_wait anyway).
    if (this.lastSent.size > 50_000) {
      for (const [key, at] of this.lastSent) if (atMs - at > 86_400_000) this.lastSent.delete(key);
    }
  }
}
