import type { Clock, ConfigSource, Logger } from '@burnrate/core';
import type { Notification, NotificationReason } from '@burnrate/notify';
import { type Anomaly, type AnomalyLifecycle, lifecycleOf } from '@burnrate/schemas';
import type { DeliveryRecord, OutboxEntry, Store } from '@burnrate/store';
import type { AnomalyCache } from './anomaly-cache.ts';
import { decideAfresh, pendingReason, policyFor, type RenotifyPolicy } from './decide.ts';
import type { Delivery } from './delivery.ts';
import { inhibitionOf } from './inhibit.ts';
import { follows, type IncidentAt, joinAction } from '@burnrate/notify';
import { parentOf } from './message-view.ts';
import type { VersionFactsCache } from './version-facts.ts';

/** An active silence as the dispatcher applies it. */
export interface ActiveSilence {
  id: string;
  comment: string;
  matches(a: Anomaly): boolean;
}

/** An outbox entry that is to be sent now, with what its message needs. */
export interface Ready {
  entry: OutboxEntry;
  anomaly: Anomaly;
  reason: NotificationReason;
  lifecycle: AnomalyLifecycle;
  /** The earlier pending record of this version at this receiver (a send whose outcome was never recorded). */
  pending?: DeliveryRecord;
  /** The episode's first message to this receiver, when there is one: later messages are replies to it. */
  parentId?: string;
  escalation?: Notification['escalation'];
  /**
   * The anomaly follows from an incident the receiver already has (incidents.ts): `attach` records
   * it against the incident's message, `page` sends it as a reply there, shown in the channel.
   */
  join?: { messageId: string; action: 'attach' | 'page'; cause: Anomaly };
  /**
   * Why this version would be skipped now, had no send of it begun before a restart (`pending`):
   * the channel is asked whether that attempt got through; if it did it is recorded as sent,
   * if the channel says it did not it is recorded as skipped for this reason, and if the channel
   * cannot tell it is sent (at least once, under the same message id).
   */
  unlessDelivered?: string;
}

/** What one dispatch pass shares between the entries it reviews. */
export interface ReviewPass {
  now: Date;
  silences: readonly ActiveSilence[];
  /** Open anomalies per team, read once per pass (inhibition). */
  openByTeam: Map<string, Anomaly[]>;
  /** Entries settled without a send: written back by the pass. */
  settled: OutboxEntry[];
}

export interface ReviewDeps {
  config: ConfigSource;
  store: Pick<Store, 'listAnomalyStates' | 'listDeliveries' | 'listOutbox' | 'listAnomalies'>;
  delivery: Pick<Delivery, 'skip'>;
  anomalies: AnomalyCache;
  facts: VersionFactsCache;
  renotify: RenotifyPolicy;
  log: Logger;
  clock: Clock;
}

const iso = (ms: number): string => new Date(ms).toISOString();
// An entry whose anomaly cannot be read yet (the store is behind) is looked at again after this.
const NOT_YET_STORED_MS = 5_000;

/** An outbox row in a new state, stamped now (the latest `updated_at` wins). */
export function settleEntry(
  e: OutboxEntry,
  status: OutboxEntry['status'],
  detail: string,
  now: Date,
  extra: Partial<OutboxEntry> = {},
): OutboxEntry {
  return { ...e, ...extra, status, detail, updated_at: now.toISOString() };
}

/**
 * The dispatcher's second look at an entry when it is due: since it was queued a newer version
 * may be queued (superseded), someone may have decided (resolved: skipped; snoozed: held until the
 * snooze ends; acknowledged: an escalation is cancelled), a silence or an inhibiting anomaly may
 * apply, the receiver may have been sent it already; `decide` says again whether a human needs it.
 */
export function createReviewer(deps: ReviewDeps) {
  async function openAnomaliesOf(team: string, cache: Map<string, Anomaly[]>): Promise<Anomaly[]> {
    const known = cache.get(team);
    if (known) return known;
    // A backfill's open anomalies are about the past: they inhibit nothing and start no incident.
    const stored = await deps.store.listAnomalies({ status: 'open', team, historical: false, limit: 1000 });
    const byId = new Map(stored.map((a) => [a.id, a]));
    for (const a of deps.anomalies.openOfTeam(team)) {
      const s = byId.get(a.id);
      if (!s || a.version >= s.version) byId.set(a.id, a);
    }
    const open = [...byId.values()].filter((a) => a.status === 'open');
    cache.set(team, open);
    return open;
  }

  /** Looks at one due entry again; resolves to what to send, or settles it (into `pass.settled`). */
  async function review(e: OutboxEntry, pass: ReviewPass): Promise<Ready | undefined> {
    const { now, silences, openByTeam, settled } = pass;
    const settle = (entry: OutboxEntry, status: OutboxEntry['status'], detail: string, extra: Partial<OutboxEntry> = {}): OutboxEntry =>
      settleEntry(entry, status, detail, deps.clock.now(), extra);
    const config = deps.config.current();
    const latest = await deps.anomalies.latest(e.anomaly_id);
    const anomaly = e.purpose === 'notify' ? await deps.anomalies.version(e.anomaly_id, e.version) : latest;
    if (!anomaly || !latest) {
      settled.push(settle(e, 'queued', 'waiting for the anomaly to be readable', { due_at: iso(now.getTime() + NOT_YET_STORED_MS) }));
      return undefined;
    }
    const lifecycle = lifecycleOf(await deps.store.listAnomalyStates({ anomaly_id: e.anomaly_id }), now);
    const history = await deps.store.listDeliveries({ anomaly_id: e.anomaly_id });
    const received = history.filter((d) => d.receiver === e.receiver);
    const target = { receiver: e.receiver, channel: e.channel };
    // A send of this version began before a restart and its outcome was never recorded: it may
    // have reached the receiver, so it is not recorded as skipped without asking the channel.
    const inFlight = e.purpose === 'notify' ? received.find((d) => d.version === e.version && d.status === 'pending') : undefined;
    const skip = async (detail: string): Promise<Ready | undefined> => {
      if (inFlight) {
        const parentId = parentOf(history, e.receiver);
        return {
          entry: e,
          anomaly,
          reason: pendingReason(anomaly, received),
          lifecycle,
          pending: inFlight,
          unlessDelivered: detail,
          ...(parentId !== undefined ? { parentId } : {}),
        };
      }
      await deps.delivery.skip(anomaly, target, detail);
      settled.push(settle(e, 'done', detail));
      return undefined;
    };

    if (e.purpose === 'escalate') {
      if (latest.status === 'resolved' || lifecycle.state !== 'open') {
        const why = latest.status === 'resolved' ? 'the episode ended' : `${lifecycle.state} by ${lifecycle.decision?.by ?? 'someone'}`;
        settled.push(settle(e, 'cancelled', `no escalation: ${why}`));
        deps.log.info({ anomalyId: e.anomaly_id, receiver: e.receiver, why }, 'escalation cancelled');
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

    // A version whose send began before a crash (pending) is not skipped for a newer one: it may
    // have reached the receiver, and must be reconciled and recorded as what it is.
    if (latest.version > e.version && !inFlight) {
      const queued = await deps.store.listOutbox({ anomaly_id: e.anomaly_id, status: 'queued' });
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
    const open = await openAnomaliesOf(anomaly.subject.team, openByTeam);
    const joined = await joining(anomaly, received, open, e.receiver);
    if (joined !== undefined) {
      const action = anomaly.status === 'open' ? joinAction(anomaly, joined) : 'attach';
      return {
        entry: e,
        anomaly,
        reason: action === 'page' ? 'escalated' : 'updated',
        lifecycle,
        parentId: joined.messageId,
        join: { messageId: joined.messageId, action, cause: joined.cause },
      };
    }
    if (anomaly.status === 'open') {
      const inhibition = inhibitionOf(anomaly, open, config.inhibit);
      if (inhibition) return skip(`inhibited by ${inhibition.by.id} (${inhibition.by.kind}, ${inhibition.by.severity})`);
    }

    const sent = await deps.facts.sentVersions(anomaly, history);
    const decision = decideAfresh(anomaly, received, sent, policyFor(e.channel, deps.renotify));
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
  /**
   * The incident at this receiver that an open version joins, if any (incidents.ts): a first
   * version that follows from an anomaly the receiver already has, or a later version of an
   * anomaly that joined one (not the incident's first anomalies, whose later versions reply as
   * usual), open or resolved.
   */
  async function joining(
    a: Anomaly,
    received: readonly DeliveryRecord[],
    open: readonly Anomaly[],
    receiver: string,
  ): Promise<IncidentAt | undefined> {
    const own = parentOf(received, receiver);
    if (own !== undefined) {
      if (received.some((d) => d.version === a.version && (d.status === 'sent' || d.status === 'skipped'))) return undefined;
      const carried = await carriedBy(own, receiver);
      const first = Math.min(...carried.map((d) => Date.parse(d.at)));
      const mine = Math.min(...carried.filter((d) => d.anomaly_id === a.id).map((d) => Date.parse(d.at)));
      // One of the incident's first anomalies: its own versions reply in its thread as usual.
      if (!(mine > first)) return undefined;
      const cause = await deps.anomalies.latest(carried.find((d) => Date.parse(d.at) === first)?.anomaly_id ?? a.id);
      return { messageId: own, cause: cause ?? a, pagedCritical: a.severity === 'critical' && (await pagedCritical(carried, receiver)) };
    }
    if (a.status !== 'open') return undefined;
    let best: { messageId: string; cause: Anomaly; at: number } | undefined;
    for (const cause of open) {
      if (!follows(a, cause)) continue;
      const history = (await deps.store.listDeliveries({ anomaly_id: cause.id })).filter((d) => d.receiver === receiver);
      const messageId = parentOf(history, receiver);
      if (messageId === undefined) continue;
      const at = Math.min(...history.filter((d) => d.status === 'sent').map((d) => Date.parse(d.at)));
      if (best === undefined || at < best.at) best = { messageId, cause, at };
    }
    if (best === undefined) return undefined;
    const critical = a.severity === 'critical' && (await pagedCritical(await carriedBy(best.messageId, receiver), receiver));
    return { messageId: best.messageId, cause: best.cause, pagedCritical: critical };
  }

  async function carriedBy(messageId: string, receiver: string): Promise<DeliveryRecord[]> {
    return (await deps.store.listDeliveries({ status: 'sent', detail: messageId })).filter((d) => d.receiver === receiver);
  }

  /**
   * Whether the receiver was already sent a critical version of the incident: among the versions
   * recorded against its message, or the later versions of its first anomalies (their
   * escalations are replies recorded under their own ids). Asked only for a critical (joinAction).
   */
  async function pagedCritical(carried: readonly DeliveryRecord[], receiver: string): Promise<boolean> {
    for (const d of carried) if ((await deps.anomalies.version(d.anomaly_id, d.version))?.severity === 'critical') return true;
    const first = Math.min(...carried.map((d) => Date.parse(d.at)));
    const roots = new Set(carried.filter((d) => Date.parse(d.at) === first).map((d) => d.anomaly_id));
    for (const id of roots) {
      const sent = (await deps.store.listDeliveries({ anomaly_id: id })).filter((d) => d.receiver === receiver && d.status === 'sent');
      for (const d of sent) if ((await deps.anomalies.version(id, d.version))?.severity === 'critical') return true;
    }
    return false;
  }

  return review;
}
