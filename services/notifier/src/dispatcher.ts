import type { Clock, ConfigSource, Logger } from '@burnrate/core';
import type { Channel, Notification, NotificationReason } from '@burnrate/notify';
import { type Anomaly, type AnomalyLifecycle, lifecycleOf, SEVERITY_RANK, silenceMatches } from '@burnrate/schemas';
import type { DeliveryRecord, OutboxEntry, Store } from '@burnrate/store';
import type { AnomalyCache } from './anomaly-cache.ts';
import { decide, type RenotifyPolicy } from './decide.ts';
import type { Delivery } from './delivery.ts';
import { escalationSteps } from './escalation.ts';
import { type GroupClock, groupKeyOf } from './grouping.ts';
import { inhibitionOf } from './inhibit.ts';
import { backoffMs, type RetryPolicy } from './retry.ts';
import { groupTargets, type Target } from './routing.ts';
import type { VersionFactsCache } from './version-facts.ts';

export type DispatcherStore = Pick<
  Store,
  'listOutbox' | 'upsertOutbox' | 'listDeliveries' | 'insertDeliveries' | 'listAnomalyStates' | 'listAnomalies' | 'anomalyVersions'
>;

/** An active silence as the dispatcher applies it. */
export interface ActiveSilence {
  id: string;
  comment: string;
  matches(a: Anomaly): boolean;
}

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
}

interface Ready {
  entry: OutboxEntry;
  anomaly: Anomaly;
  reason: NotificationReason;
  lifecycle: AnomalyLifecycle;
  /** The earlier pending record of this version at this receiver (a send whose outcome was never recorded). */
  pending?: DeliveryRecord;
  /** The episode's first message to this receiver, when there is one: later messages are replies to it. */
  parentId?: string;
  escalation?: Notification['escalation'];
}

const iso = (ms: number): string => new Date(ms).toISOString();
// An entry whose anomaly cannot be read yet (the store is behind) is looked at again after this.
const NOT_YET_STORED_MS = 5_000;

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

  const settle = (e: OutboxEntry, status: OutboxEntry['status'], detail: string, extra: Partial<OutboxEntry> = {}): OutboxEntry => ({
    ...e,
    ...extra,
    status,
    detail,
    updated_at: clock.now().toISOString(),
  });

  async function waitForGap(t: Target, signal: AbortSignal): Promise<void> {
    const gap = deps.minGapMs[t.channel] ?? 0;
    const last = lastSendAt.get(t.receiver);
    if (gap <= 0 || last === undefined) return;
    const wait = last + gap - performance.now();
    if (wait > 0) await deps.retry.sleep(wait, signal);
  }

  /** The first message each receiver got of an anomaly: later versions reply in its thread. */
  function parentOf(history: readonly DeliveryRecord[], receiver: string): string | undefined {
    return history.filter((d) => d.receiver === receiver && d.status === 'sent').sort((x, y) => x.version - y.version)[0]?.detail;
  }

  /**
   * What a message shows now: its anomalies' latest versions and lifecycles. Used to update a
   * thread's parent after a reply, and by the anomaly-state consumer after a decision.
   */
  async function currentView(messageId: string, receiver: string, now: Date): Promise<Notification | undefined> {
    const carried = await store.listDeliveries({ status: 'sent', detail: messageId });
    const ids = [...new Set(carried.filter((d) => d.receiver === receiver).map((d) => d.anomaly_id))];
    const members: Anomaly[] = [];
    for (const id of ids) {
      const a = await deps.anomalies.latest(id);
      if (a) members.push(a);
    }
    const first = members[0];
    if (!first) return undefined;
    const lifecycle = lifecycleOf(await store.listAnomalyStates({ anomaly_id: first.id }), now);
    const to = carried.find((d) => d.receiver === receiver);
    return {
      anomaly: first,
      ...(members.length > 1 ? { group: members } : {}),
      reason: first.status === 'resolved' ? 'resolved' : 'updated',
      to: recipientsOf(receiver, to?.channel),
      receiver,
      lifecycle,
    };
  }

  /** A receiver's `to` from its stable name (`<channel>:<to joined by commas>`). */
  function recipientsOf(receiver: string, channel: string | undefined): string[] {
    const prefix = `${channel ?? receiver.split(':')[0]}:`;
    return receiver.startsWith(prefix) ? receiver.slice(prefix.length).split(',') : [receiver];
  }

  /** Makes the parent of a thread show the episode as it is now (Slack chat.update); a failure is logged, the reply stands. */
  async function refreshParent(t: Target, parentId: string, now: Date): Promise<void> {
    const channel = deps.channels[t.channel];
    if (!channel?.update) return;
    try {
      const view = await currentView(parentId, t.receiver, now);
      if (view) await channel.update(parentId, { ...view, to: t.to });
    } catch (err) {
      log.warn({ err, receiver: t.receiver, messageId: parentId }, 'could not update the first message of the thread');
    }
  }

  async function openAnomaliesOf(team: string, cache: Map<string, Anomaly[]>): Promise<Anomaly[]> {
    const known = cache.get(team);
    if (known) return known;
    const stored = await store.listAnomalies({ status: 'open', team, limit: 1000 });
    const byId = new Map(stored.map((a) => [a.id, a]));
    for (const a of deps.anomalies.openOfTeam(team)) {
      const s = byId.get(a.id);
      if (!s || a.version >= s.version) byId.set(a.id, a);
    }
    const open = [...byId.values()].filter((a) => a.status === 'open');
    cache.set(team, open);
    return open;
  }

  /** Queues the escalations of a critical that just reached its team. */
  async function queueEscalations(a: Anomaly, entry: OutboxEntry, sentAtMs: number): Promise<void> {
    const config = deps.config.current();
    const existing = await store.listOutbox({ anomaly_id: a.id });
    if (existing.some((e) => e.purpose === 'escalate')) return;
    const entries: OutboxEntry[] = [];
    for (const step of escalationSteps(config, a, sentAtMs)) {
      for (const t of groupTargets(config, a, step.to)) {
        if (t.receiver === entry.receiver) continue;
        entries.push({
          anomaly_id: a.id,
          version: a.version,
          receiver: t.receiver,
          purpose: 'escalate',
          channel: t.channel,
          recipients: t.to,
          via: step.to,
          group_key: `escalate:${a.id}:${t.receiver}`,
          part: entry.part,
          due_at: iso(step.dueMs),
          status: 'queued',
          attempts: 0,
          detail: `escalate to ${step.to} unless acknowledged`,
          updated_at: clock.now().toISOString(),
        });
      }
    }
    if (entries.length > 0) {
      await store.upsertOutbox(entries);
      log.info({ anomalyId: a.id, escalations: entries.map((e) => ({ receiver: e.receiver, due: e.due_at })) }, 'escalation scheduled');
    }
  }

  /** Looks at one due entry again; resolves to what to send, or settles it. */
  async function review(
    e: OutboxEntry,
    now: Date,
    silences: readonly ActiveSilence[],
    openByTeam: Map<string, Anomaly[]>,
    settled: OutboxEntry[],
  ): Promise<Ready | undefined> {
    const config = deps.config.current();
    const latest = await deps.anomalies.latest(e.anomaly_id);
    const anomaly = e.purpose === 'notify' ? await deps.anomalies.version(e.anomaly_id, e.version) : latest;
    if (!anomaly || !latest) {
      settled.push(settle(e, 'queued', 'waiting for the anomaly to be readable', { due_at: iso(now.getTime() + NOT_YET_STORED_MS) }));
      return undefined;
    }
    const lifecycle = lifecycleOf(await store.listAnomalyStates({ anomaly_id: e.anomaly_id }), now);
    const history = await store.listDeliveries({ anomaly_id: e.anomaly_id });
    const received = history.filter((d) => d.receiver === e.receiver);
    const target = { receiver: e.receiver, channel: e.channel };
    const skip = async (detail: string): Promise<undefined> => {
      await deps.delivery.skip(anomaly, target, detail);
      settled.push(settle(e, 'done', detail));
      return undefined;
    };

    if (e.purpose === 'escalate') {
      if (latest.status === 'resolved' || lifecycle.state !== 'open') {
        const why = latest.status === 'resolved' ? 'the episode ended' : `${lifecycle.state} by ${lifecycle.decision?.by ?? 'someone'}`;
        settled.push(settle(e, 'cancelled', `no escalation: ${why}`));
        log.info({ anomalyId: e.anomaly_id, receiver: e.receiver, why }, 'escalation cancelled');
        return undefined;
      }
      if (received.some((d) => d.version === latest.version && (d.status === 'sent' || d.status === 'skipped'))) {
        settled.push(settle(e, 'done', `v${latest.version} already reached ${e.receiver}`));
        return undefined;
      }
      const firstMs = Date.parse((await deps.anomalies.firstDetectedAt(e.anomaly_id)) ?? latest.detected_at);
      const pending = received.find((d) => d.version === latest.version && d.status === 'pending');
      return {
        entry: e,
        anomaly: latest,
        reason: 'new',
        lifecycle,
        ...(pending ? { pending } : {}),
        escalation: { to: e.via === 'finops' ? 'finops' : 'oncall', unacknowledgedForMs: Math.max(0, now.getTime() - firstMs) },
      };
    }

    if (e.purpose === 'reminder') {
      const parentId = parentOf(history, e.receiver);
      if (latest.status === 'resolved' || lifecycle.state !== 'open' || parentId === undefined) {
        const why =
          latest.status === 'resolved'
            ? 'the episode ended'
            : parentId === undefined
              ? 'nothing was sent'
              : `${lifecycle.state} by ${lifecycle.decision?.by ?? 'someone'}`;
        settled.push(settle(e, 'cancelled', `no reminder: ${why}`));
        return undefined;
      }
      if (silences.some((s) => s.matches(latest))) {
        settled.push(settle(e, 'cancelled', 'no reminder: silenced'));
        return undefined;
      }
      return { entry: e, anomaly: latest, reason: 'reminder', lifecycle, parentId };
    }

    if (latest.version > e.version) {
      const queued = await store.listOutbox({ anomaly_id: e.anomaly_id, status: 'queued' });
      if (queued.some((q) => q.receiver === e.receiver && q.purpose === 'notify' && q.version > e.version))
        return skip(`superseded: v${latest.version} is queued for ${e.receiver}`);
    }
    if (lifecycle.state === 'resolved') return skip(`resolved as ${lifecycle.reason ?? 'done'} by ${lifecycle.decision?.by ?? 'someone'}`);
    if (lifecycle.state === 'snoozed' && lifecycle.snoozed_until !== undefined && anomaly.status === 'open') {
      settled.push(settle(e, 'queued', `held: snoozed until ${lifecycle.snoozed_until}`, { due_at: lifecycle.snoozed_until }));
      return undefined;
    }
    const silence = silences.find((s) => s.matches(anomaly));
    if (silence) return skip(`silenced by ${silence.id}${silence.comment ? `: ${silence.comment}` : ''}`);
    if (anomaly.status === 'open') {
      const inhibition = inhibitionOf(anomaly, await openAnomaliesOf(anomaly.subject.team, openByTeam), config.inhibit);
      if (inhibition) return skip(`inhibited by ${inhibition.by.id} (${inhibition.by.kind}, ${inhibition.by.severity})`);
    }

    const sent = await deps.facts.sentVersions(anomaly, history);
    const decision = decide(anomaly, received, sent, deps.renotify);
    if (decision.action === 'done') {
      settled.push(settle(e, 'done', `v${e.version} already handled for ${e.receiver}`));
      return undefined;
    }
    if (decision.action === 'skip') return skip(decision.detail);
    const snoozeEnded = lifecycle.decision?.action === 'snoozed' && (decision.reason === 'escalated' || decision.reason === 'grown');
    const pending = received.find((d) => d.version === anomaly.version && d.status === 'pending');
    const parentId = parentOf(history, e.receiver);
    return {
      entry: e,
      anomaly,
      reason: snoozeEnded ? 'snooze_ended' : decision.reason,
      lifecycle,
      ...(pending ? { pending } : {}),
      ...(parentId !== undefined ? { parentId } : {}),
    };
  }

  /** Sends one message for `items` (one, or a group new to the receiver) and settles their entries. */
  async function send(
    items: readonly Ready[],
    n: Notification,
    signal: AbortSignal,
    result: DispatchResult,
    unavailable: Map<string, unknown>,
  ): Promise<OutboxEntry[]> {
    const head = items[0] as Ready;
    const t: Target = {
      receiver: head.entry.receiver,
      channel: head.entry.channel,
      to: head.entry.recipients,
      via: head.entry.via as Target['via'],
    };
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
      outcome = await deps.delivery.deliver(n, t, members, pending, signal, { unrecorded: reminder });
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
          await queueEscalations(r.anomaly, r.entry, now.getTime());
      }
      if (n.thread) await refreshParent(t, n.thread.parentId, now);
      const repeatMs = deps.config.current().routes.repeat_interval;
      const next = iso(now.getTime() + repeatMs);
      // Every open anomaly a receiver was told about is brought up again every repeat_interval
      // until someone acknowledges, snoozes or resolves it, or the episode ends: one reminder row
      // per anomaly and receiver, moved on each time.
      const reminders = items
        .filter((r) => r.entry.purpose === 'notify' && r.anomaly.status === 'open')
        .map((r) => ({
          ...r.entry,
          version: 0,
          purpose: 'reminder' as const,
          group_key: `reminder:${r.entry.receiver}:${r.anomaly.id}`,
          due_at: next,
          status: 'queued' as const,
          attempts: 0,
          detail: 'remind unless acknowledged',
          updated_at: now.toISOString(),
        }));
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

  const bySeverityThenImpact = (x: Ready, y: Ready): number =>
    SEVERITY_RANK[y.anomaly.severity] - SEVERITY_RANK[x.anomaly.severity] ||
    y.anomaly.impact_usd - x.anomaly.impact_usd ||
    (x.anomaly.id < y.anomaly.id ? -1 : 1);

  /** One pass over what is due. */
  async function dispatch(signal: AbortSignal): Promise<DispatchResult> {
    const result: DispatchResult = { messages: 0, carried: 0, skipped: 0, cancelled: 0, held: 0, retrying: 0 };
    const now = clock.now();
    const parts = deps.owned();
    if (parts !== undefined && parts.length === 0) return result;
    const due = await store.listOutbox({ status: 'queued', due_by: now.toISOString(), ...(parts ? { parts } : {}) });
    if (due.length === 0) return result;
    const silences = (await deps.silences?.(now)) ?? [];
    const openByTeam = new Map<string, Anomaly[]>();
    const settled: OutboxEntry[] = [];
    const groups = new Map<string, Ready[]>();
    for (const e of due) {
      if (signal.aborted) break;
      const ready = await review(e, now, silences, openByTeam, settled);
      if (!ready) continue;
      // A receiver gets one message per anomaly per pass: the latest version wins.
      const list = groups.get(e.group_key) ?? [];
      const same = list.findIndex((r) => r.anomaly.id === ready.anomaly.id && r.entry.receiver === e.receiver);
      if (same >= 0) {
        const older = list[same] as Ready;
        const [keep, drop] = older.anomaly.version >= ready.anomaly.version ? [older, ready] : [ready, older];
        list[same] = keep;
        await deps.delivery.skip(drop.anomaly, { receiver: e.receiver, channel: e.channel }, `superseded by v${keep.anomaly.version}`);
        settled.push(settle(drop.entry, 'done', `superseded by v${keep.anomaly.version}`));
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
    for (const items of groups.values()) {
      if (signal.aborted) break;
      const fresh = items.filter((r) => r.parentId === undefined).sort(bySeverityThenImpact);
      const replies = items.filter((r) => r.parentId !== undefined);
      const written: OutboxEntry[] = [];
      const head = fresh[0];
      if (head) {
        const n: Notification = {
          anomaly: head.anomaly,
          ...(fresh.length > 1 ? { group: fresh.map((r) => r.anomaly) } : {}),
          reason: head.reason,
          to: head.entry.recipients,
          receiver: head.entry.receiver,
          lifecycle: head.lifecycle,
          ...(head.escalation ? { escalation: head.escalation } : {}),
        };
        written.push(...(await send(fresh, n, signal, result, unavailable)));
      }
      for (const r of replies) {
        if (signal.aborted) break;
        const broadcast = r.reason === 'escalated' && r.anomaly.severity === 'critical';
        const n: Notification = {
          anomaly: r.anomaly,
          reason: r.reason,
          to: r.entry.recipients,
          receiver: r.entry.receiver,
          lifecycle: r.lifecycle,
          thread: { parentId: r.parentId as string, broadcast },
          ...(r.escalation ? { escalation: r.escalation } : {}),
        };
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

  return { dispatch, currentView, dueNow };
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
