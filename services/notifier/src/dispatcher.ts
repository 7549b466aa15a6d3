import type { Clock, ConfigSource, Logger } from '@burnrate/core';
import type { Channel, Notification, NotificationReason } from '@burnrate/notify';
import { type Anomaly, lifecycleOf, SEVERITY_RANK, silenceMatches } from '@burnrate/schemas';
import type { OutboxEntry, Store } from '@burnrate/store';
import type { AnomalyCache } from './anomaly-cache.ts';
import type { RenotifyPolicy } from './decide.ts';
import type { Delivery } from './delivery.ts';
import { queueEscalations, reminderEntries } from './follow-ups.ts';
import { type GroupClock, groupKeyOf } from './grouping.ts';
import type { MessageContextOf } from './message-context.ts';
import { createMessageViews } from './message-view.ts';
import { backoffMs, type RetryPolicy } from './retry.ts';
import { type ActiveSilence, createReviewer, type Ready, settleEntry } from './review.ts';
import type { Target } from './routing.ts';
import type { VersionFactsCache } from './version-facts.ts';

export type { ActiveSilence } from './review.ts';

export type DispatcherStore = Pick<
  Store,
  'listOutbox' | 'upsertOutbox' | 'listDeliveries' | 'insertDeliveries' | 'listAnomalyStates' | 'listAnomalies' | 'anomalyVersions'
>;

export interface DispatcherDeps {
  config: ConfigSource;
  store: DispatcherStore;
  channels: Readonly<Partial<Record<string, Channel>>>;
  delivery: Delivery;
  anomalies: AnomalyCache;
  facts: VersionFactsCache;
  groups: GroupClock;
  renotify: RenotifyPolicy;
  retry: RetryPolicy;
  log: Logger;
  clock: Clock;
  /** The anomalies.v1 partitions this instance owns; undefined = all (one notifier, no group). */
  owned(): readonly number[] | undefined;
  /** The silences in force now; none when not given. */
  silences?(now: Date): Promise<readonly ActiveSilence[]>;
  /** Shortest gap between two messages to one receiver of a channel (Slack: 1 message per second per channel). */
  minGapMs: Readonly<Record<string, number>>;
  /** Month-to-date spend and the projection's horizon for a message (message-context.ts); none when not given. */
  context?: MessageContextOf;
}

/** What one dispatch did: messages sent (a group message counts once), and entries settled otherwise. */
export interface DispatchResult {
  messages: number;
  /** Anomaly versions the messages carried. */
  carried: number;
  skipped: number;
  cancelled: number;
  held: number;
  retrying: number;
  /** Anomaly versions recorded against the message of the incident they follow from, without a message of their own. */
  attached: number;
}

const iso = (ms: number): string => new Date(ms).toISOString();

const targetOf = (e: OutboxEntry): Target => ({ receiver: e.receiver, channel: e.channel, to: e.recipients, via: e.via as Target['via'] });

/**
 * Sends what the outbox says is due: the notifier's second half. Each pass reads the due,
 * queued entries of the partitions this instance owns; for each it looks again at what changed
 * since it was queued (a newer version, an acknowledgement, a snooze, a silence, an inhibiting
 * anomaly, what the receiver has been sent meanwhile), then sends what is left as few messages as
 * the group settings allow: the anomalies new to a receiver and due together in one group as one
 * message, later versions of an episode as replies in the thread of its first message. Every
 * entry ends `done` (sent or recorded as skipped), `cancelled`, or stays queued with a later due
 * time (snoozed, or the channel is failing: backoff), so a restart resumes where it stopped.
 */
export function createDispatcher(deps: DispatcherDeps) {
  const { store, log, clock } = deps;
  const lastSendAt = new Map<string, number>();
  const views = createMessageViews(deps);
  const review = createReviewer(deps);
  const settle = (e: OutboxEntry, status: OutboxEntry['status'], detail: string, extra: Partial<OutboxEntry> = {}): OutboxEntry =>
    settleEntry(e, status, detail, clock.now(), extra);

  async function waitForGap(t: Target, signal: AbortSignal): Promise<void> {
    const gap = deps.minGapMs[t.channel] ?? 0;
    const last = lastSendAt.get(t.receiver);
    if (gap <= 0 || last === undefined) return;
    const wait = last + gap - performance.now();
    if (wait > 0) await deps.retry.sleep(wait, signal);
  }

  /** Whether someone decided about the message's first anomaly after it was reviewed for this send. */
  async function decidedMeanwhile(head: Ready, now: Date): Promise<boolean> {
    if (!deps.channels[head.entry.channel]?.update) return false;
    const latest = lifecycleOf(await store.listAnomalyStates({ anomaly_id: head.anomaly.id }), now).decision;
    const shown = head.lifecycle.decision;
    return (
      latest !== undefined && (shown === undefined || latest.at !== shown.at || latest.action !== shown.action || latest.by !== shown.by)
    );
  }

  /** Sends one message for `items` (one, or a group new to the receiver) and settles their entries. */
  async function send(
    items: readonly Ready[],
    n: Notification,
    signal: AbortSignal,
    result: DispatchResult,
    unavailable: Map<string, unknown>,
    recordAs?: string,
  ): Promise<OutboxEntry[]> {
    const head = items[0] as Ready;
    const t = targetOf(head.entry);
    // A channel that used up its retries in this pass is not tried again until the next one:
    // the rest of its messages wait with the same backoff instead of hammering it.
    const down = unavailable.get(t.channel);
    let outcome: Awaited<ReturnType<Delivery['deliver']>>;
    if (down !== undefined) outcome = { status: 'retry', error: down };
    else {
      await waitForGap(t, signal);
      const members = items.map((r) => r.anomaly);
      const pending = items.flatMap((r) => (r.pending ? [r.pending] : []));
      const reminder = head.entry.purpose === 'reminder';
      const context = await deps.context?.(n.group ?? [n.anomaly], clock.now());
      outcome = await deps.delivery.deliver(context ? { ...n, context } : n, t, members, pending, signal, {
        unrecorded: reminder,
        ...(head.unlessDelivered !== undefined ? { unlessDelivered: head.unlessDelivered } : {}),
        ...(recordAs !== undefined ? { recordAs } : {}),
      });
      if (outcome.status !== 'skipped') lastSendAt.set(t.receiver, performance.now());
      if (outcome.status === 'retry') unavailable.set(t.channel, outcome.error);
    }
    const now = clock.now();
    if (outcome.status === 'retry') {
      result.retrying += items.length;
      return items.map((r) => {
        const attempts = r.entry.attempts + 1;
        const wait = Math.max(backoffMs(attempts, outcome.error, deps.retry), 1_000);
        const message = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
        return settle(r.entry, 'queued', `retrying: ${message}`, { attempts, due_at: iso(now.getTime() + wait) });
      });
    }
    if (outcome.status === 'sent') {
      result.messages += 1;
      result.carried += items.length;
      deps.groups.sent(head.entry.group_key, now.getTime());
      for (const r of items) {
        if (r.entry.purpose === 'notify' && r.entry.via === 'team' && (r.reason === 'new' || r.reason === 'escalated'))
          await queueEscalations({ store, config: deps.config.current(), clock, log }, r.anomaly, r.entry, now.getTime());
      }
      if (n.thread) await views.refreshParent(t, n.thread.parentId, now);
      // A decision made while this first message was on its way found nothing to edit: the
      // message shows it now instead.
      else if (await decidedMeanwhile(head, now)) await views.refreshParent(t, outcome.id, now);
      const repeatMs = deps.config.current().routes.repeat_interval;
      const next = iso(now.getTime() + repeatMs);
      const reminders = reminderEntries(items, now, repeatMs);
      if (reminders.length > 0) await store.upsertOutbox(reminders);
      return items.map((r) =>
        r.entry.purpose === 'reminder'
          ? settle(r.entry, 'queued', `reminded as ${outcome.id}`, { due_at: next })
          : settle(r.entry, 'done', `sent as ${outcome.id}`),
      );
    }
    result.skipped += items.length;
    return items.map((r) => settle(r.entry, 'done', outcome.detail));
  }

  /** The message about one ready entry (with its escalation, if any); `extra` adds a thread or a group. */
  const notificationOf = (r: Ready, extra: Pick<Notification, 'thread' | 'group'>): Notification => ({
    anomaly: r.anomaly,
    reason: r.reason,
    to: r.entry.recipients,
    receiver: r.entry.receiver,
    lifecycle: r.lifecycle,
    ...(r.escalation ? { escalation: r.escalation } : {}),
    ...extra,
  });

  const bySeverityThenImpact = (x: Ready, y: Ready): number =>
    SEVERITY_RANK[y.anomaly.severity] - SEVERITY_RANK[x.anomaly.severity] ||
    y.anomaly.impact_usd - x.anomaly.impact_usd ||
    (x.anomaly.id < y.anomaly.id ? -1 : 1);

  /** One pass over what is due. */
  async function dispatch(signal: AbortSignal): Promise<DispatchResult> {
    const result: DispatchResult = { messages: 0, carried: 0, skipped: 0, cancelled: 0, held: 0, retrying: 0, attached: 0 };
    const now = clock.now();
    const parts = deps.owned();
    if (parts !== undefined && parts.length === 0) return result;
    const due = await store.listOutbox({ status: 'queued', due_by: now.toISOString(), ...(parts ? { parts } : {}) });
    if (due.length === 0) return result;
    const silences = (await deps.silences?.(now)) ?? [];
    const settled: OutboxEntry[] = [];
    const pass = { now, silences, openByTeam: new Map<string, Anomaly[]>(), settled };
    const groups = new Map<string, Ready[]>();
    const joins: Ready[] = [];
    // Versions a restart left pending that would now be skipped: each settled on its own.
    const unsettled: Ready[] = [];
    for (const e of due) {
      if (signal.aborted) break;
      const ready = await review(e, pass);
      if (!ready) continue;
      if (ready.join) {
        joins.push(ready);
        continue;
      }
      if (ready.unlessDelivered !== undefined) {
        unsettled.push(ready);
        continue;
      }
      // A receiver gets one message per anomaly per pass: the latest version wins.
      const list = groups.get(e.group_key) ?? [];
      const same = list.findIndex((r) => r.anomaly.id === ready.anomaly.id && r.entry.receiver === e.receiver);
      if (same >= 0) {
        const older = list[same] as Ready;
        const [keep, drop] = older.anomaly.version >= ready.anomaly.version ? [older, ready] : [ready, older];
        if (drop.pending) {
          // The older version's send began before a crash: it goes first (reconciled, so it is
          // recorded as sent if it got through), and the newer one follows in its thread.
          list[same] = drop;
          settled.push(
            settle(keep.entry, 'queued', `after v${drop.anomaly.version}'s earlier attempt is settled`, {
              due_at: iso(now.getTime() + 1_000),
            }),
          );
        } else {
          list[same] = keep;
          await deps.delivery.skip(drop.anomaly, { receiver: e.receiver, channel: e.channel }, `superseded by v${keep.anomaly.version}`);
          settled.push(settle(drop.entry, 'done', `superseded by v${keep.anomaly.version}`));
        }
      } else list.push(ready);
      groups.set(e.group_key, list);
    }
    for (const s of settled) {
      if (s.status === 'cancelled') result.cancelled += 1;
      else if (s.status === 'queued') result.held += 1;
      else result.skipped += 1;
    }
    if (settled.length > 0) await store.upsertOutbox(settled);

    const unavailable = new Map<string, unknown>();
    const attached = new Map<string, Target>();
    for (const r of joins) {
      if (signal.aborted) break;
      const join = r.join as NonNullable<Ready['join']>;
      const t = targetOf(r.entry);
      if (join.action === 'attach') {
        await deps.delivery.attach(r.anomaly, t, join.messageId);
        attached.set(`${t.receiver}\u0000${join.messageId}`, t);
        result.attached += 1;
        await store.upsertOutbox([settle(r.entry, 'done', `attached to incident message ${join.messageId} (follows ${join.cause.id})`)]);
        continue;
      }
      const n = notificationOf(r, { thread: { parentId: join.messageId, broadcast: true } });
      await store.upsertOutbox(await send([r], n, signal, result, unavailable, join.messageId));
    }
    for (const [key, t] of attached) await views.refreshParent(t, key.slice(key.indexOf('\u0000') + 1), clock.now());
    for (const r of unsettled) {
      if (signal.aborted) break;
      const n = notificationOf(r, r.parentId !== undefined ? { thread: { parentId: r.parentId, broadcast: false } } : {});
      await store.upsertOutbox(await send([r], n, signal, result, unavailable));
    }
    for (const items of groups.values()) {
      if (signal.aborted) break;
      const fresh = items.filter((r) => r.parentId === undefined).sort(bySeverityThenImpact);
      const replies = items.filter((r) => r.parentId !== undefined);
      const written: OutboxEntry[] = [];
      const head = fresh[0];
      if (head) {
        const n = notificationOf(head, fresh.length > 1 ? { group: fresh.map((r) => r.anomaly) } : {});
        written.push(...(await send(fresh, n, signal, result, unavailable)));
      }
      for (const r of replies) {
        if (signal.aborted) break;
        const broadcast = r.reason === 'escalated' && r.anomaly.severity === 'critical';
        const n = notificationOf(r, { thread: { parentId: r.parentId as string, broadcast } });
        written.push(...(await send([r], n, signal, result, unavailable)));
      }
      await store.upsertOutbox(written);
    }
    if (result.messages + result.retrying > 0) log.debug({ ...result }, 'outbox dispatched');
    return result;
  }

  /** Messages owed and due now on this instance's partitions: 0 means everything due has been sent (or settled). */
  async function dueNow(): Promise<number> {
    const parts = deps.owned();
    if (parts !== undefined && parts.length === 0) return 0;
    const due = await store.listOutbox({ status: 'queued', due_by: clock.now().toISOString(), ...(parts ? { parts } : {}) });
    return due.length;
  }

  return { dispatch, currentView: views.currentView, dueNow };
}

export type Dispatcher = ReturnType<typeof createDispatcher>;

/** The first outbox entry for a version a receiver needs: due when its group says. */
export function outboxEntry(
  a: Anomaly,
  t: Target,
  reason: NotificationReason,
  part: number,
  dueMs: number,
  groupBy: Parameters<typeof groupKeyOf>[2],
  nowIso: string,
): OutboxEntry {
  return {
    anomaly_id: a.id,
    version: a.version,
    receiver: t.receiver,
    purpose: 'notify',
    channel: t.channel,
    recipients: t.to,
    via: t.via,
    group_key: groupKeyOf(a, t.receiver, groupBy),
    part,
    due_at: iso(dueMs),
    status: 'queued',
    attempts: 0,
    detail: `queued: ${reason}`,
    updated_at: nowIso,
  };
}

/** The silences in force, read from the store on every dispatch pass (they are few, and set by hand). */
export function storeSilences(store: Pick<Store, 'listSilences'>): (now: Date) => Promise<ActiveSilence[]> {
  return async (now) =>
    (await store.listSilences({ active_at: now.toISOString() })).map((s) => ({
      id: s.id,
      comment: s.comment,
      matches: (a: Anomaly) => silenceMatches(s, a, now),
    }));
}
