import { type Anomaly, SEVERITY_RANK, type Severity, type Subject } from '@burnrate/schemas';
import type { DecoyLabel, IncidentLabel, LabelSubject, ScenarioLabels } from './labels.ts';

/**
 * Scores a replay's anomalies against a scenario's labels. A page is a version at warning or
 * critical (what routes send by default); info is stored, not sent.
 *
 * - An incident is detected by the first page of its kind whose subject is the labelled one (or
 *   one of `also_accept`) at the same scope: a team-level label wants a team-level anomaly, a
 *   session label that session. Pages from an hour before the story to a day after it count. An
 *   episode of that kind and subject already open at warning or above when the story begins (a
 *   month already heading over budget when a campaign makes it worse) was paging about it all
 *   along: it counts as detecting the incident at its onset, and the result says since when.
 * - A page is explained when an incident touches the same subject (same team; same developer and
 *   session where both name one) from an hour before the story to a day after it, whatever its
 *   kind: a runaway agent rightly moves its developer's and team's spend too. A budget projection
 *   keeps the month's spend, so budget_forecast stays explained until that month ends.
 * - Every other page is a false page, counted per team and divided by the weeks of data.
 * - A decoy fails when any open version above info falls on its subject inside its window. The
 *   resolution of an episode that opened before the window (a month closing over budget on its
 *   first night) says that something ended, not that something new is wrong; an episode that
 *   opens inside the window counts by its open versions.
 */

export const TARGET_FALSE_PAGES_PER_TEAM_WEEK = 1;
const SLACK_BEFORE_MS = 3_600_000;
const EXPLAINED_AFTER_MS = 24 * 3_600_000;

export interface Episode {
  id: string;
  kind: Anomaly['kind'];
  subject: Subject;
  firstAt: number;
  /** detected_at of the first version at warning or above, or null if it never paged. */
  pagedAt: number | null;
  maxSeverity: Severity;
  versions: Anomaly[];
}

export interface IncidentResult {
  id: string;
  kind: string;
  subject: LabelSubject;
  detected: boolean;
  /** Only an info-level anomaly of the right kind and subject (stored, not sent). */
  info_only: boolean;
  severity: Severity | null;
  detected_at: string | null;
  /** detected_at minus the label's start (the onset of the specified condition). */
  ttd_ms: number | null;
  /** detected_at minus the story start, for context. */
  ttd_from_story_ms: number | null;
  within_ms: number | null;
  on_time: boolean | null;
  anomaly_id: string | null;
  anomaly_subject: Subject | null;
  /** Set when the detecting episode was already open and paging before the story began: its first page. */
  paging_since: string | null;
}

export interface Finding {
  id: string;
  kind: string;
  severity: Severity;
  at: string;
  subject: Subject;
  summary: string;
}

export interface DecoyResult {
  id: string;
  subject: LabelSubject;
  max_severity: Severity | 'none';
  ok: boolean;
  anomalies: Finding[];
}

export interface TeamResult {
  team: string;
  pages: number;
  false_pages: number;
  per_week: number;
  ok: boolean;
}

export interface Target {
  name: string;
  pass: boolean;
  detail: string;
}

export interface Evaluation {
  weeks: number;
  versions: number;
  episodes: number;
  pages: number;
  incidents: IncidentResult[];
  decoys: DecoyResult[];
  teams: TeamResult[];
  false_pages: Finding[];
  targets: Target[];
  pass: boolean;
}

export function toEpisodes(anomalies: readonly Anomaly[]): Episode[] {
  const byId = new Map<string, Episode>();
  for (const a of anomalies) {
    const at = Date.parse(a.detected_at);
    let ep = byId.get(a.id);
    if (ep === undefined) {
      ep = { id: a.id, kind: a.kind, subject: a.subject, firstAt: at, pagedAt: null, maxSeverity: a.severity, versions: [] };
      byId.set(a.id, ep);
    }
    ep.versions.push(a);
    if (SEVERITY_RANK[a.severity] > SEVERITY_RANK[ep.maxSeverity]) ep.maxSeverity = a.severity;
    if (a.severity !== 'info' && ep.pagedAt === null) ep.pagedAt = at;
  }
  return [...byId.values()];
}

/** Same scope: every field the label names is equal, and the anomaly names no developer or session the label leaves out. */
export function sameSubject(a: Subject, label: LabelSubject): boolean {
  if (a.org !== label.org || a.team !== label.team) return false;
  if ((label.developer ?? null) !== (a.developer ?? null)) return false;
  if ((label.session ?? null) !== (a.session ?? null)) return false;
  return label.model === undefined || label.model === a.model;
}

/** Overlapping subjects: same team, and same developer / session wherever both name one. */
export function touches(a: Subject, label: LabelSubject): boolean {
  if (a.org !== label.org || a.team !== label.team) return false;
  if (a.developer !== undefined && label.developer !== undefined && a.developer !== label.developer) return false;
  if (a.session !== undefined && label.session !== undefined && a.session !== label.session) return false;
  return true;
}

/** Within: same team, and the same developer when the decoy names one. */
function within(a: Subject, decoy: LabelSubject): boolean {
  if (a.org !== decoy.org || a.team !== decoy.team) return false;
  return decoy.developer === undefined || a.developer === decoy.developer;
}

function monthEnd(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) + 14 * 3_600_000;
}

function explains(incident: IncidentLabel, ep: Episode, at: number): boolean {
  const subjects = [incident.subject, ...incident.also_accept];
  if (!subjects.some((s) => touches(ep.subject, s))) return false;
  const from = Date.parse(incident.story_start) - SLACK_BEFORE_MS;
  const until = ep.kind === 'budget_forecast' ? monthEnd(Date.parse(incident.end)) : Date.parse(incident.end) + EXPLAINED_AFTER_MS;
  return at >= from && at <= until;
}

function finding(ep: Episode, at: number, severity: Severity): Finding {
  const v = ep.versions.find((x) => x.severity === severity) ?? ep.versions[0];
  return { id: ep.id, kind: ep.kind, severity, at: new Date(at).toISOString(), subject: ep.subject, summary: v?.summary ?? '' };
}

function scoreIncident(incident: IncidentLabel, episodes: readonly Episode[]): IncidentResult {
  const subjects = [incident.subject, ...incident.also_accept];
  const from = Date.parse(incident.story_start) - SLACK_BEFORE_MS;
  const until = Date.parse(incident.end) + EXPLAINED_AFTER_MS;
  const candidates = episodes.filter((ep) => ep.kind === incident.kind && subjects.some((s) => sameSubject(ep.subject, s)));
  const start = Date.parse(incident.start);
  let best: { ep: Episode; at: number; since?: number } | undefined;
  let infoSeen = false;
  for (const ep of candidates) {
    const since = pagingAt(ep, from);
    if (since !== null) {
      if (best === undefined || start < best.at) best = { ep, at: start, since };
      continue;
    }
    for (const v of ep.versions) {
      const at = Date.parse(v.detected_at);
      if (at < from || at > until) continue;
      if (v.severity === 'info') {
        infoSeen = true;
        continue;
      }
      if (best === undefined || at < best.at) best = { ep, at };
      break;
    }
  }
  const storyStart = Date.parse(incident.story_start);
  const ttd = best === undefined ? null : best.at - start;
  return {
    id: incident.id,
    kind: incident.kind,
    subject: incident.subject,
    detected: best !== undefined,
    info_only: best === undefined && infoSeen,
    severity:
      best === undefined
        ? null
        : (best.ep.versions.find((v) => Date.parse(v.detected_at) === (best.since ?? best.at))?.severity ?? best.ep.maxSeverity),
    detected_at: best === undefined ? null : new Date(best.at).toISOString(),
    ttd_ms: ttd,
    ttd_from_story_ms: best === undefined ? null : best.at - storyStart,
    within_ms: incident.within_ms,
    on_time: best === undefined ? null : incident.within_ms === null || (ttd ?? 0) <= incident.within_ms,
    anomaly_id: best?.ep.id ?? null,
    anomaly_subject: best?.ep.subject ?? null,
    paging_since: best?.since === undefined ? null : new Date(best.since).toISOString(),
  };
}

/** When an episode that is still open at `at` first paged (warning or above) before it; null if it was not paging then. */
function pagingAt(ep: Episode, at: number): number | null {
  let paged: number | null = null;
  for (const v of ep.versions) {
    const t = Date.parse(v.detected_at);
    if (t >= at) break;
    if (v.status === 'resolved') paged = null;
    else if (v.severity !== 'info' && paged === null) paged = t;
  }
  return paged;
}

function scoreDecoy(decoy: DecoyLabel, episodes: readonly Episode[]): DecoyResult {
  const from = Date.parse(decoy.from);
  const to = Date.parse(decoy.to);
  let max: Severity | 'none' = 'none';
  const found: Finding[] = [];
  for (const ep of episodes) {
    if (!within(ep.subject, decoy.subject)) continue;
    let epMax: Severity | undefined;
    let epAt = 0;
    for (const v of ep.versions) {
      const at = Date.parse(v.detected_at);
      if (at < from || at > to || v.status === 'resolved') continue;
      if (epMax === undefined || SEVERITY_RANK[v.severity] > SEVERITY_RANK[epMax]) {
        epMax = v.severity;
        epAt = at;
      }
    }
    if (epMax === undefined) continue;
    found.push(finding(ep, epAt, epMax));
    if (max === 'none' || SEVERITY_RANK[epMax] > SEVERITY_RANK[max]) max = epMax;
  }
  found.sort((a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || a.at.localeCompare(b.at));
  return { id: decoy.id, subject: decoy.subject, max_severity: max, ok: max === 'none' || max === 'info', anomalies: found };
}

export function evaluate(anomalies: readonly Anomaly[], labels: ScenarioLabels): Evaluation {
  const episodes = toEpisodes(anomalies);
  const incidents = labels.incidents.map((i) => scoreIncident(i, episodes));
  const decoys = labels.decoys.map((d) => scoreDecoy(d, episodes));

  const falsePages: Finding[] = [];
  const pagesByTeam = new Map<string, { pages: number; false: number }>();
  for (const team of labels.teams) pagesByTeam.set(team, { pages: 0, false: 0 });
  for (const ep of episodes) {
    if (ep.pagedAt === null) continue;
    const counts = pagesByTeam.get(ep.subject.team) ?? { pages: 0, false: 0 };
    pagesByTeam.set(ep.subject.team, counts);
    counts.pages += 1;
    const at = ep.pagedAt;
    if (labels.incidents.some((i) => explains(i, ep, at))) continue;
    counts.false += 1;
    falsePages.push(finding(ep, at, ep.versions.find((v) => v.severity !== 'info')?.severity ?? ep.maxSeverity));
  }
  falsePages.sort((a, b) => a.at.localeCompare(b.at));
  const teams: TeamResult[] = [...pagesByTeam.entries()].map(([team, c]) => {
    const perWeek = c.false / labels.weeks;
    return { team, pages: c.pages, false_pages: c.false, per_week: perWeek, ok: perWeek <= TARGET_FALSE_PAGES_PER_TEAM_WEEK };
  });

  const missed = incidents.filter((i) => !i.detected);
  const late = incidents.filter((i) => i.within_ms !== null && i.on_time !== true);
  const noisy = teams.filter((t) => !t.ok);
  const loudDecoys = decoys.filter((d) => !d.ok);
  const targets: Target[] = [
    {
      name: 'every incident detected',
      pass: missed.length === 0,
      detail: missed.length === 0 ? `${incidents.length}/${incidents.length}` : `missed: ${missed.map((i) => i.id).join(', ')}`,
    },
    {
      name: 'weekend loop, model-mix drift, context bloat within 30 min',
      pass: late.length === 0,
      detail: late.length === 0 ? 'all on time' : `late or missed: ${late.map((i) => i.id).join(', ')}`,
    },
    {
      name: `<= ${TARGET_FALSE_PAGES_PER_TEAM_WEEK} false page per team per week`,
      pass: noisy.length === 0,
      detail: teams.map((t) => `${t.team} ${t.per_week.toFixed(2)}`).join(', '),
    },
    {
      name: 'no decoy above info',
      pass: loudDecoys.length === 0,
      detail: loudDecoys.length === 0 ? 'all quiet' : loudDecoys.map((d) => `${d.id} (${d.max_severity})`).join(', '),
    },
  ];
  return {
    weeks: labels.weeks,
    versions: anomalies.length,
    episodes: episodes.length,
    pages: episodes.filter((e) => e.pagedAt !== null).length,
    incidents,
    decoys,
    teams,
    false_pages: falsePages,
    targets,
    pass: targets.every((t) => t.pass),
  };
}
