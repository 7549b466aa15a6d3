import type { Config } from '@burnrate/core';
import { decide, factsOf, GroupClock, groupKeyOf, inhibitionOf, routeAnomaly } from '@burnrate/notifier';
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
  /** A message that carries only resolution notes is not a page. */
  page: boolean;
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
  const order = anomalies.map((a, i) => ({ a, i, at: Date.parse(a.detected_at) })).sort((x, y) => x.at - y.at || x.i - y.i);
  const versions = new Map<string, Anomaly>();
  const latest = new Map<string, Anomaly>();
  const history = new Map<string, DeliveryRecord[]>();
  const outbox: Queued[] = [];
  const clock = new GroupClock();
  const messages: Message[] = [];
  let seq = 0;

  const received = (id: string, receiver: string): DeliveryRecord[] => history.get(`${id}\u0000${receiver}`) ?? [];
  const record = (a: Anomaly, receiver: string, channel: string, status: 'sent' | 'skipped', detail: string, at: number): void => {
    const key = `${a.id}\u0000${receiver}`;
    const list = (history.get(key) ?? []).filter((d) => d.version !== a.version);
    list.push({ anomaly_id: a.id, version: a.version, receiver, channel, status, detail, attempts: 1, at: new Date(at).toISOString() });
    history.set(key, list);
  };
  const facts = (id: string) => (version: number) => {
    const v = versions.get(vkey(id, version));
    return v === undefined ? undefined : factsOf(v);
  };
  const openOfTeam = (team: string): Anomaly[] => [...latest.values()].filter((a) => a.subject.team === team && a.status === 'open');

  const dispatchDue = (until: number, inclusive: boolean): void => {
    for (;;) {
      let now = Infinity;
      for (const q of outbox) if (q.due < now) now = q.due;
      if (now === Infinity || now > until || (!inclusive && now === until)) return;
      const due = outbox.filter((q) => q.due <= now).sort((x, y) => x.seq - y.seq);
      for (const q of due) outbox.splice(outbox.indexOf(q), 1);
      const groups = new Map<string, { q: Queued; a: Anomaly; reason: string }[]>();
      for (const q of due) {
        const a = versions.get(vkey(q.id, q.version)) as Anomaly;
        const newest = latest.get(q.id) as Anomaly;
        // Entries due in this pass are still queued while it reviews them, as in the store.
        const queued = (o: Queued): boolean => o.id === q.id && o.receiver === q.receiver && o.version > q.version;
        if (newest.version > q.version && (outbox.some(queued) || due.some(queued))) {
          record(a, q.receiver, q.channel, 'skipped', 'superseded', now);
          continue;
        }
        if (a.status === 'open') {
          const inhibition = inhibitionOf(a, openOfTeam(a.subject.team), config.inhibit);
          if (inhibition) {
            record(a, q.receiver, q.channel, 'skipped', `inhibited by ${inhibition.by.id}`, now);
            continue;
          }
        }
        const decision = decide(a, received(q.id, q.receiver), facts(q.id));
        if (decision.action === 'done') continue;
        if (decision.action === 'skip') {
          record(a, q.receiver, q.channel, 'skipped', decision.detail, now);
          continue;
        }
        const list = groups.get(q.groupKey) ?? [];
        list.push({ q, a, reason: decision.reason });
        groups.set(q.groupKey, list);
      }
      for (const [groupKey, items] of groups) {
        const head = items[0] as (typeof items)[number];
        for (const { q, a } of items) record(a, q.receiver, q.channel, 'sent', 'sent', now);
        clock.sent(groupKey, now);
        messages.push({
          at: now,
          team: head.a.subject.team,
          receiver: head.q.receiver,
          groupKey,
          items: items.map(({ a, reason }) => ({ id: a.id, version: a.version, kind: a.kind, severity: a.severity, reason })),
          page: items.some((i) => i.reason !== 'resolved'),
        });
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
      const decision = decide(a, received(a.id, t.receiver), facts(a.id));
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
  return messages;
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
  /** Pages that carry each kind (a page grouping two kinds counts for both), most first. */
  byKind: [string, number][];
}

/** Pages per team over the period, counted per 7-day week from `from`. Teams without pages are listed with 0. */
export function pagesPerTeam(messages: readonly Message[], teams: readonly string[], from: number, weeks: number): TeamPages[] {
  const byReceiver = new Map<string, { team: string; weeks: number[]; notes: number; kinds: Map<string, number> }>();
  for (const m of messages) {
    const r = byReceiver.get(m.receiver) ?? {
      team: m.team,
      weeks: new Array<number>(weeks).fill(0),
      notes: 0,
      kinds: new Map<string, number>(),
    };
    byReceiver.set(m.receiver, r);
    if (!m.page) {
      r.notes += 1;
      continue;
    }
    const w = Math.min(weeks - 1, Math.max(0, Math.floor((m.at - from) / (7 * 86_400_000))));
    r.weeks[w] = (r.weeks[w] ?? 0) + 1;
    for (const kind of new Set(m.items.filter((i) => i.reason !== 'resolved').map((i) => i.kind)))
      r.kinds.set(kind, (r.kinds.get(kind) ?? 0) + 1);
  }
  const all = [...new Set([...teams, ...[...byReceiver.values()].map((r) => r.team)])];
  return all.map((team) => {
    let best = { pages: 0, worstWeek: 0, notes: 0, kinds: new Map<string, number>() };
    for (const r of byReceiver.values()) {
      if (r.team !== team) continue;
      const pages = r.weeks.reduce((s, n) => s + n, 0);
      if (pages >= best.pages) best = { pages, worstWeek: Math.max(...r.weeks), notes: r.notes, kinds: r.kinds };
    }
    return {
      team,
      pages: best.pages,
      perWeek: best.pages / weeks,
      worstWeek: best.worstWeek,
      resolutionNotes: best.notes,
      byKind: [...best.kinds].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0])),
    };
  });
}
