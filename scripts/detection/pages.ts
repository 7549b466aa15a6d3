import type { Config } from '@burnrate/core';
import { decide, factsOf, GroupClock, groupKeyOf, inhibitionOf, parentOf, policyFor, routeAnomaly } from '@burnrate/notifier';
import { channelDefinition, follows, joinAction } from '@burnrate/notify';
import type { Anomaly } from '@burnrate/schemas';
import type { DeliveryRecord } from '@burnrate/store';

/**
 * What the owning team's receivers are sent for a replay's anomalies, on the anomalies'
 * detected_at timeline, with the notifier's own rules: `routeAnomaly` (min_severity, route
 * rules), `decide` (new / escalated / grown / resolved, else skipped), `inhibitionOf` (the config's
 * inhibit rules against the team's open anomalies at send time) and `GroupClock` + `groupKeyOf`
 * (group_by, group_wait, group_interval; a critical never waits longer than group_wait, an
 * escalation goes at once). Queued versions are reviewed when due as the dispatcher does: a newer
 * version queued for the same receiver supersedes an older one, an inhibited or no-longer-news
 * version is skipped, and what is left in one group goes as one message.
 *
 * Not simulated: reminders (repeat_interval) and on-call/FinOps escalations, which depend on
 * whether someone acknowledges; silences and snoozes, which a human sets; channel outages.
 */

export interface Message {
  at: number;
  team: string;
  receiver: string;
  groupKey: string;
  items: { id: string; version: number; kind: Anomaly['kind']; severity: Anomaly['severity']; reason: string }[];
  /**
   * Whether it pages: anything but resolution notes, except a reply in a thread that is not also
   * shown in the channel on a channel whose thread replies are quiet (Slack: a reply notifies only
   * those following the thread; an email or a Teams post interrupts whatever it says).
   */
  page: boolean;
  /** A reply that is not a page: the thread of an episode or incident brought up to date. */
  threadUpdate: boolean;
  /** A reply in the thread of an earlier message (a later version, or a critical joining an incident). */
  reply: boolean;
  /** A reply also shown in the channel: a critical escalation, or a critical that makes an incident critical. */
  broadcast: boolean;
}

/** What the simulation did besides messages: versions recorded against an incident's message. */
export interface Attachment {
  at: number;
  receiver: string;
  id: string;
  version: number;
  kind: Anomaly['kind'];
  /** The incident message's index in the returned messages. */
  message: number;
}

interface Queued {
  id: string;
  version: number;
  receiver: string;
  channel: string;
  groupKey: string;
  due: number;
  seq: number;
}

const vkey = (id: string, version: number): string => `${id}#${version}`;

/** Every message the team receivers get, in send order. */
export function teamMessages(anomalies: readonly Anomaly[], config: Config): Message[] {
  return simulate(anomalies, config).messages;
}

/**
 * Every message the team receivers get, in send order, and every version recorded against an
 * incident's message instead of being sent (incidents.ts in the notifier): a version that follows
 * from an anomaly the receiver already has joins its incident, as the dispatcher does.
 */
export function simulate(anomalies: readonly Anomaly[], config: Config): { messages: Message[]; attachments: Attachment[] } {
  const order = anomalies.map((a, i) => ({ a, i, at: Date.parse(a.detected_at) })).sort((x, y) => x.at - y.at || x.i - y.i);
  const versions = new Map<string, Anomaly>();
  const latest = new Map<string, Anomaly>();
  const history = new Map<string, DeliveryRecord[]>();
  // Message id → the sent records that name it (the incident's members at one receiver).
  const carried = new Map<string, DeliveryRecord[]>();
  const outbox: Queued[] = [];
  const clock = new GroupClock();
  const messages: Message[] = [];
  const attachments: Attachment[] = [];
  let seq = 0;

  const received = (id: string, receiver: string): DeliveryRecord[] => history.get(`${id}\u0000${receiver}`) ?? [];
  const record = (a: Anomaly, receiver: string, channel: string, status: 'sent' | 'skipped', detail: string, at: number): void => {
    const key = `${a.id}\u0000${receiver}`;
    const list = (history.get(key) ?? []).filter((d) => d.version !== a.version);
    const d: DeliveryRecord = {
      anomaly_id: a.id,
      version: a.version,
      receiver,
      channel,
      status,
      detail,
      attempts: 1,
      at: new Date(at).toISOString(),
    };
    list.push(d);
    history.set(key, list);
    if (status === 'sent') carried.set(detail, [...(carried.get(detail) ?? []), d]);
  };
  const facts = (id: string) => (version: number) => {
    const v = versions.get(vkey(id, version));
    return v === undefined ? undefined : factsOf(v);
  };
  const openOfTeam = (team: string): Anomaly[] => [...latest.values()].filter((a) => a.subject.team === team && a.status === 'open');
  const firstSent = (records: readonly DeliveryRecord[]): number =>
    Math.min(...records.filter((d) => d.status === 'sent').map((d) => Date.parse(d.at)));
  const pagedCritical = (messageId: string, receiver: string): boolean =>
    [...new Set((carried.get(messageId) ?? []).map((d) => d.anomaly_id))].some((id) =>
      received(id, receiver).some((d) => d.status === 'sent' && versions.get(vkey(id, d.version))?.severity === 'critical'),
    );

  /** The notifier's review `joining`, over the simulated delivery log. */
  const joining = (a: Anomaly, receiver: string): { messageId: string; pagedCritical: boolean } | undefined => {
    const mine = received(a.id, receiver);
    const own = parentOf(mine, receiver);
    if (own !== undefined) {
      if (mine.some((d) => d.version === a.version)) return undefined;
      const onIt = (carried.get(own) ?? []).filter((d) => d.receiver === receiver);
      if (!(firstSent(onIt.filter((d) => d.anomaly_id === a.id)) > firstSent(onIt))) return undefined;
      return { messageId: own, pagedCritical: pagedCritical(own, receiver) };
    }
    if (a.status !== 'open') return undefined;
    let best: { messageId: string; at: number } | undefined;
    for (const cause of openOfTeam(a.subject.team)) {
      if (!follows(a, cause)) continue;
      const theirs = received(cause.id, receiver);
      const messageId = parentOf(theirs, receiver);
      if (messageId === undefined) continue;
      const at = firstSent(theirs);
      if (best === undefined || at < best.at) best = { messageId, at };
    }
    return best === undefined ? undefined : { messageId: best.messageId, pagedCritical: pagedCritical(best.messageId, receiver) };
  };

  const emit = (m: Omit<Message, 'page' | 'threadUpdate'>): string => {
    const id = `m${messages.length}`;
    const channel = m.receiver.slice(0, m.receiver.indexOf(':'));
    const quiet = m.reply && !m.broadcast && channelDefinition(channel)?.pagesOnly !== true;
    const news = m.items.some((i) => i.reason !== 'resolved');
    messages.push({ ...m, page: news && !quiet, threadUpdate: news && quiet });
    return id;
  };

  const dispatchDue = (until: number, inclusive: boolean): void => {
    for (;;) {
      let now = Infinity;
      for (const q of outbox) if (q.due < now) now = q.due;
      if (now === Infinity || now > until || (!inclusive && now === until)) return;
      const due = outbox.filter((q) => q.due <= now).sort((x, y) => x.seq - y.seq);
      for (const q of due) outbox.splice(outbox.indexOf(q), 1);
      const groups = new Map<string, { q: Queued; a: Anomaly; reason: string; parent: string | undefined }[]>();
      const joins: { q: Queued; a: Anomaly; messageId: string; action: 'attach' | 'page' }[] = [];
      for (const q of due) {
        const a = versions.get(vkey(q.id, q.version)) as Anomaly;
        const newest = latest.get(q.id) as Anomaly;
        // Entries due in this pass are still queued while it reviews them, as in the store.
        const queued = (o: Queued): boolean => o.id === q.id && o.receiver === q.receiver && o.version > q.version;
        if (newest.version > q.version && (outbox.some(queued) || due.some(queued))) {
          record(a, q.receiver, q.channel, 'skipped', 'superseded', now);
          continue;
        }
        const joined = joining(a, q.receiver);
        if (joined !== undefined) {
          joins.push({ q, a, messageId: joined.messageId, action: a.status === 'open' ? joinAction(a, joined) : 'attach' });
          continue;
        }
        if (a.status === 'open') {
          const inhibition = inhibitionOf(a, openOfTeam(a.subject.team), config.inhibit);
          if (inhibition) {
            record(a, q.receiver, q.channel, 'skipped', `inhibited by ${inhibition.by.id}`, now);
            continue;
          }
        }
        const history = received(q.id, q.receiver);
        const decision = decide(a, history, facts(q.id), policyFor(q.channel));
        if (decision.action === 'done') continue;
        if (decision.action === 'skip') {
          record(a, q.receiver, q.channel, 'skipped', decision.detail, now);
          continue;
        }
        const list = groups.get(q.groupKey) ?? [];
        const parent = parentOf(history, q.receiver);
        // A receiver gets one message per anomaly per pass: the latest version wins.
        const same = list.findIndex((i) => i.a.id === a.id);
        if (same >= 0) list.splice(same, 1);
        list.push({ q, a, reason: decision.reason, parent });
        groups.set(q.groupKey, list);
      }
      for (const { q, a, messageId, action } of joins) {
        if (action === 'attach') {
          record(a, q.receiver, q.channel, 'sent', messageId, now);
          attachments.push({
            at: now,
            receiver: q.receiver,
            id: a.id,
            version: a.version,
            kind: a.kind,
            message: Number(messageId.slice(1)),
          });
          continue;
        }
        emit({
          at: now,
          team: a.subject.team,
          receiver: q.receiver,
          groupKey: q.groupKey,
          items: [{ id: a.id, version: a.version, kind: a.kind, severity: a.severity, reason: 'escalated' }],
          reply: true,
          broadcast: true,
        });
        record(a, q.receiver, q.channel, 'sent', messageId, now);
        clock.sent(q.groupKey, now);
      }
      for (const [groupKey, items] of groups) {
        const fresh = items.filter((i) => i.parent === undefined);
        const replies = items.filter((i) => i.parent !== undefined);
        const head = fresh[0];
        if (head) {
          const id = emit({
            at: now,
            team: head.a.subject.team,
            receiver: head.q.receiver,
            groupKey,
            items: fresh.map(({ a, reason }) => ({ id: a.id, version: a.version, kind: a.kind, severity: a.severity, reason })),
            reply: false,
            broadcast: false,
          });
          for (const { q, a } of fresh) record(a, q.receiver, q.channel, 'sent', id, now);
        }
        for (const { q, a, reason } of replies) {
          const id = emit({
            at: now,
            team: a.subject.team,
            receiver: q.receiver,
            groupKey,
            items: [{ id: a.id, version: a.version, kind: a.kind, severity: a.severity, reason }],
            reply: true,
            broadcast: reason === 'escalated' && a.severity === 'critical',
          });
          record(a, q.receiver, q.channel, 'sent', id, now);
        }
        if (items.length > 0) clock.sent(groupKey, now);
      }
    }
  };

  for (const { a, at } of order) {
    dispatchDue(at, false);
    versions.set(vkey(a.id, a.version), a);
    const before = latest.get(a.id);
    if (before === undefined || before.version < a.version) latest.set(a.id, a);
    const route = routeAnomaly(config, a);
    if (route.kind === 'below_min_severity') continue;
    for (const t of route.targets) {
      if (t.via !== 'team' || t.channel === 'log') continue;
      const decision = decide(a, received(a.id, t.receiver), facts(a.id), policyFor(t.channel));
      if (decision.action === 'done') continue;
      if (decision.action === 'skip') {
        record(a, t.receiver, t.channel, 'skipped', decision.detail, at);
        continue;
      }
      const groupKey = groupKeyOf(a, t.receiver, config.routes.group_by);
      const grouped = clock.dueAt(groupKey, at, config.routes);
      const due =
        decision.reason === 'escalated' ? at : a.severity === 'critical' ? Math.min(grouped, at + config.routes.group_wait) : grouped;
      const existing = outbox.findIndex((q) => q.id === a.id && q.version === a.version && q.receiver === t.receiver);
      if (existing >= 0) outbox.splice(existing, 1);
      outbox.push({ id: a.id, version: a.version, receiver: t.receiver, channel: t.channel, groupKey, due, seq: seq++ });
    }
  }
  dispatchDue(Infinity, true);
  return { messages, attachments };
}

export interface TeamPages {
  team: string;
  /** Pages to the team's busiest receiver (a team with Slack and email gets each page twice; a human reads one). */
  pages: number;
  perWeek: number;
  /** Pages in the team's worst week of the period. */
  worstWeek: number;
  /** Messages carrying only resolution notes. */
  resolutionNotes: number;
  /** Quiet replies in a thread (growth of an episode on Slack): messages, not pages. */
  threadUpdates: number;
  /** Pages that carry each kind (a page grouping two kinds counts for both), most first. */
  byKind: [string, number][];
}

/** Pages per team over the period, counted per 7-day week from `from`. Teams without pages are listed with 0. */
export function pagesPerTeam(messages: readonly Message[], teams: readonly string[], from: number, weeks: number): TeamPages[] {
  const byReceiver = new Map<string, { team: string; weeks: number[]; notes: number; updates: number; kinds: Map<string, number> }>();
  for (const m of messages) {
    const r = byReceiver.get(m.receiver) ?? {
      team: m.team,
      weeks: new Array<number>(weeks).fill(0),
      notes: 0,
      updates: 0,
      kinds: new Map<string, number>(),
    };
    byReceiver.set(m.receiver, r);
    if (!m.page) {
      if (m.threadUpdate) r.updates += 1;
      else r.notes += 1;
      continue;
    }
    const w = Math.min(weeks - 1, Math.max(0, Math.floor((m.at - from) / (7 * 86_400_000))));
    r.weeks[w] = (r.weeks[w] ?? 0) + 1;
    for (const kind of new Set(m.items.filter((i) => i.reason !== 'resolved').map((i) => i.kind)))
      r.kinds.set(kind, (r.kinds.get(kind) ?? 0) + 1);
  }
  const all = [...new Set([...teams, ...[...byReceiver.values()].map((r) => r.team)])];
  return all.map((team) => {
    let best = { pages: 0, worstWeek: 0, notes: 0, updates: 0, kinds: new Map<string, number>() };
    for (const r of byReceiver.values()) {
      if (r.team !== team) continue;
      const pages = r.weeks.reduce((s, n) => s + n, 0);
      // The busiest receiver: most pages, then most thread updates.
      if (pages > best.pages || (pages === best.pages && r.updates >= best.updates))
        best = { pages, worstWeek: Math.max(...r.weeks), notes: r.notes, updates: r.updates, kinds: r.kinds };
    }
    return {
      team,
      pages: best.pages,
      perWeek: best.pages / weeks,
      worstWeek: best.worstWeek,
      resolutionNotes: best.notes,
      threadUpdates: best.updates,
      byKind: [...best.kinds].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0])),
    };
  });
}
