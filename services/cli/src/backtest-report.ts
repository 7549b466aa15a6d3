import type { ScoreUnit } from '@burnrate/detector';
import { type Anomaly, type AnomalyKind, SEVERITY_RANK, type Severity, type Subject } from '@burnrate/schemas';

/** One anomaly episode as a backtest reports it: its final state plus what it reached on the way. */
export interface AnomalySummary {
  id: string;
  kind: AnomalyKind;
  /** The team of the last version (a session first seen unattributed takes its owner later). */
  team: string;
  subject: Subject;
  /** The highest severity any version reached: what would have paged. */
  severity: Severity;
  status: 'open' | 'resolved';
  /** detected_at of the first version: when the config would have raised it. */
  first_detected_at: string;
  last_detected_at: string;
  /** The union of the versions' windows: the span of events the episode is about. */
  window: { start: string; end: string };
  /** ISO week (`2026-W48`) of first detection in the team's timezone. */
  week: string;
  versions: number;
  impact_usd: number;
  projected_usd: number;
  /** The last version's one-sentence summary. */
  summary: string;
}

export type SeverityCounts = Record<Severity, number>;

export interface GroupCounts {
  anomalies: number;
  by_severity: SeverityCounts;
  /** Only kinds that occur, in name order. */
  by_kind: Record<string, number>;
}

export interface TeamWeekGroup extends GroupCounts {
  team: string;
  week: string;
}

export type ChangedField = 'severity' | 'first_detected_at';

export interface AnomalyChange {
  /** `id` when both configs produced the same id; `episode` when paired by subject and overlapping time (see diffRuns). */
  matched_by: 'id' | 'episode';
  changed: ChangedField[];
  baseline: AnomalySummary;
  proposed: AnomalySummary;
}

export interface BacktestDiff {
  /** Raised only with the proposed config. */
  new: AnomalySummary[];
  /** Raised only with the baseline config. */
  gone: AnomalySummary[];
  changed: AnomalyChange[];
  unchanged: number;
}

/** Resolves the timezone a team's weeks are counted in. */
export type TeamZone = (team: string) => string;

/** Most severe first, the order reports list them in. */
export const SEVERITIES: readonly Severity[] = ['critical', 'warning', 'info'];

/**
 * Collapses every emitted version into one summary per anomaly id, in report order (team, week,
 * first detection, kind, id). Versions are taken in emission order, so the "last" version is
 * the last one emitted, exactly what a consumer keeping the highest version would hold.
 */
export function summarise(anomalies: readonly Anomaly[], zoneOf: TeamZone): AnomalySummary[] {
  const byId = new Map<string, { last: Anomaly; severity: Severity; versions: number; firstAt: string; start: string; end: string }>();
  for (const a of anomalies) {
    const seen = byId.get(a.id);
    if (seen === undefined) {
      byId.set(a.id, { last: a, severity: a.severity, versions: 1, firstAt: a.detected_at, start: a.window.start, end: a.window.end });
      continue;
    }
    seen.last = a;
    seen.versions += 1;
    if (SEVERITY_RANK[a.severity] > SEVERITY_RANK[seen.severity]) seen.severity = a.severity;
    if (a.detected_at < seen.firstAt) seen.firstAt = a.detected_at;
    if (a.window.start < seen.start) seen.start = a.window.start;
    if (a.window.end > seen.end) seen.end = a.window.end;
  }
  const out: AnomalySummary[] = [];
  for (const { last, severity, versions, firstAt, start, end } of byId.values()) {
    const team = last.subject.team;
    out.push({
      id: last.id,
      kind: last.kind,
      team,
      subject: last.subject,
      severity,
      status: last.status,
      first_detected_at: firstAt,
      last_detected_at: last.detected_at,
      window: { start, end },
      week: isoWeekIn(Date.parse(firstAt), zoneOf(team)),
      versions,
      impact_usd: last.impact_usd,
      projected_usd: last.projected_usd,
      summary: last.summary,
    });
  }
  return out.sort(compareSummaries);
}

export function compareSummaries(a: AnomalySummary, b: AnomalySummary): number {
  return (
    cmp(a.team, b.team) || cmp(a.week, b.week) || cmp(a.first_detected_at, b.first_detected_at) || cmp(a.kind, b.kind) || cmp(a.id, b.id)
  );
}

export function emptyCounts(): GroupCounts {
  return { anomalies: 0, by_severity: { critical: 0, warning: 0, info: 0 }, by_kind: {} };
}

export function countAll(summaries: readonly AnomalySummary[]): GroupCounts {
  const counts = emptyCounts();
  for (const s of summaries) add(counts, s);
  return sortKinds(counts);
}

/** Counts per (team, week), ordered by team then week. */
export function groupByTeamWeek(summaries: readonly AnomalySummary[]): TeamWeekGroup[] {
  const groups = new Map<string, TeamWeekGroup>();
  for (const s of summaries) {
    const key = `${s.team}\u001f${s.week}`;
    let g = groups.get(key);
    if (g === undefined) {
      g = { team: s.team, week: s.week, ...emptyCounts() };
      groups.set(key, g);
    }
    add(g, s);
  }
  return [...groups.values()].map((g) => sortKinds(g)).sort((a, b) => cmp(a.team, b.team) || cmp(a.week, b.week));
}

/**
 * The difference between two runs. Anomalies are matched by id first: ids are kind + subject +
 * episode start, so the same episode raised by both configs has the same id. A threshold change
 * moves the episode start, though (a session crossing $50 instead of $25 opens its episode on a
 * later event), so what is left unmatched is paired a second time by episode: same kind, same
 * subject (the session when there is one, else team + developer + model), overlapping in time.
 * Without that second pass, raising a cap would read as one alert gone and another new, when the
 * practitioner's question is "does this session still page, and how hard".
 */
export function diffRuns(baseline: readonly AnomalySummary[], proposed: readonly AnomalySummary[]): BacktestDiff {
  const proposedById = new Map(proposed.map((p) => [p.id, p]));
  const changed: AnomalyChange[] = [];
  let unchanged = 0;
  const baselineLeft: AnomalySummary[] = [];
  const matchedIds = new Set<string>();
  for (const b of baseline) {
    const p = proposedById.get(b.id);
    if (p === undefined) {
      baselineLeft.push(b);
      continue;
    }
    matchedIds.add(b.id);
    const fields = changedFields(b, p);
    if (fields.length === 0) unchanged += 1;
    else changed.push({ matched_by: 'id', changed: fields, baseline: b, proposed: p });
  }

  const proposedLeft = new Map<string, AnomalySummary[]>();
  for (const p of proposed) {
    if (matchedIds.has(p.id)) continue;
    const key = episodeKey(p);
    const list = proposedLeft.get(key);
    if (list === undefined) proposedLeft.set(key, [p]);
    else list.push(p);
  }
  const gone: AnomalySummary[] = [];
  const paired = new Set<string>();
  // Both lists are in report order (first detection within a team), so the earliest overlapping
  // candidate wins and the pairing does not depend on map iteration order.
  for (const b of baselineLeft) {
    const candidates = proposedLeft.get(episodeKey(b)) ?? [];
    const p = candidates.find((c) => !paired.has(c.id) && overlaps(b, c));
    if (p === undefined) {
      gone.push(b);
      continue;
    }
    paired.add(p.id);
    const fields = changedFields(b, p);
    if (fields.length === 0) unchanged += 1;
    else changed.push({ matched_by: 'episode', changed: fields, baseline: b, proposed: p });
  }
  const added = proposed.filter((p) => !matchedIds.has(p.id) && !paired.has(p.id));
  changed.sort((x, y) => compareSummaries(x.proposed, y.proposed) || cmp(x.baseline.id, y.baseline.id));
  return { new: added, gone, changed, unchanged };
}

function changedFields(b: AnomalySummary, p: AnomalySummary): ChangedField[] {
  const fields: ChangedField[] = [];
  if (b.severity !== p.severity) fields.push('severity');
  if (b.first_detected_at !== p.first_detected_at) fields.push('first_detected_at');
  return fields;
}

function episodeKey(s: AnomalySummary): string {
  const { org, team, developer, session, model } = s.subject;
  // A session is its own identity; its team and top model can change while it runs.
  const parts = session !== undefined ? [s.kind, org, 'session', session] : [s.kind, org, team, developer ?? '', model ?? ''];
  return parts.join('\u001f');
}

/**
 * Two episodes overlap when the spans they are about (their windows, stretched to their
 * detections) share an instant. Windows rather than detection times alone: a session that one
 * config flags at $25 and the other at $50 is detected at two different moments of the same span.
 */
function overlaps(a: AnomalySummary, b: AnomalySummary): boolean {
  return spanStart(a) <= spanEnd(b) && spanStart(b) <= spanEnd(a);
}

const spanStart = (s: AnomalySummary): string => (s.window.start < s.first_detected_at ? s.window.start : s.first_detected_at);
const spanEnd = (s: AnomalySummary): string => (s.window.end > s.last_detected_at ? s.window.end : s.last_detected_at);

function add(counts: GroupCounts, s: AnomalySummary): void {
  counts.anomalies += 1;
  counts.by_severity[s.severity] += 1;
  counts.by_kind[s.kind] = (counts.by_kind[s.kind] ?? 0) + 1;
}

function sortKinds<T extends GroupCounts>(counts: T): T {
  counts.by_kind = Object.fromEntries(Object.entries(counts.by_kind).sort(([a], [b]) => cmp(a, b)));
  return counts;
}

/** Where the replayed events came from, and what was left out on the way. */
export type EventSourceInfo =
  | { kind: 'ndjson'; path: string; lines: number; invalid_skipped: number; other_org: number; outside_range: number }
  | { kind: 'chdb'; data_dir: string }
  | { kind: 'clickhouse'; url: string };

export interface RunReport {
  role: 'proposed' | 'baseline';
  /** The config file as given on the command line. */
  config: string;
  replay: { events: number; duplicates: number; late: number; superseded: number; invalid: number };
  /** Anomalies first detected during --warmup (before --from), left out of everything below. */
  warmup_anomalies: number;
  totals: GroupCounts;
  groups: TeamWeekGroup[];
  anomalies: AnomalySummary[];
  /** With --scores: every detector's score against its threshold, thinned (see collectScores in backtest-scores.ts). */
  scores?: ScoreRow[];
}

/**
 * One detector's score against its threshold, as `backtest --scores` reports it: at most one per
 * kind, subject and UTC hour (see collectScores).
 */
export interface ScoreRow {
  kind: AnomalyKind;
  /** When the detector evaluated (an event's time, the start of the hour judged, or the watermark). */
  at: string;
  subject: Subject;
  /** Rounded to 4 decimals; `unit` says what it measures. */
  score: number;
  threshold: number;
  unit: ScoreUnit;
  /** What the detector's thresholds (score, and dollar gate) give this evaluation; null below them. */
  severity: Severity | null;
  /** The amount the detector's dollar gate compares, and the gate, for kinds that have one. */
  impact_usd?: number;
  min_impact_usd?: number;
}

export interface BacktestReport {
  org: string;
  source: EventSourceInfo;
  range: { from: string | null; to: string | null; warmup: string | null };
  conventions: { times: string; weeks: string };
  /** The proposed run first, then the baseline run when there is one. */
  runs: RunReport[];
  diff: BacktestDiff | null;
}

export const CONVENTIONS = {
  times: 'UTC',
  weeks: "ISO weeks (Monday to Sunday) of an anomaly's first detection, in its team's timezone from --config",
} as const;

export function runReport(
  role: RunReport['role'],
  config: string,
  result: { anomalies: readonly Anomaly[]; stats: RunReport['replay'] },
  zoneOf: TeamZone,
  reportFrom?: string,
): RunReport {
  const all = summarise(result.anomalies, zoneOf);
  const anomalies = reportFrom === undefined ? all : all.filter((a) => a.first_detected_at >= reportFrom);
  return {
    role,
    config,
    replay: {
      events: result.stats.events,
      duplicates: result.stats.duplicates,
      late: result.stats.late,
      superseded: result.stats.superseded,
      invalid: result.stats.invalid,
    },
    warmup_anomalies: all.length - anomalies.length,
    totals: countAll(anomalies),
    groups: groupByTeamWeek(anomalies),
    anomalies,
  };
}

/** Code-unit order: the same everywhere, unlike localeCompare. */
export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const DAY_MS = 86_400_000;
const dateFormats = new Map<string, Intl.DateTimeFormat>();

/** The calendar date (YYYY-MM-DD) of an instant in a timezone. */
export function localDate(ms: number, timeZone: string): string {
  let f = dateFormats.get(timeZone);
  if (f === undefined) {
    // en-CA formats dates as YYYY-MM-DD.
    f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    dateFormats.set(timeZone, f);
  }
  return f.format(ms);
}

/** ISO-8601 week (`2026-W48`) of the local date of an instant in a timezone. */
export function isoWeekIn(ms: number, timeZone: string): string {
  const [y, m, d] = localDate(ms, timeZone).split('-').map(Number) as [number, number, number];
  const day = Date.UTC(y, m - 1, d);
  const mondayBased = (new Date(day).getUTCDay() + 6) % 7;
  // The ISO week belongs to the year of its Thursday.
  const thursday = day + (3 - mondayBased) * DAY_MS;
  const year = new Date(thursday).getUTCFullYear();
  const week = Math.floor((thursday - Date.UTC(year, 0, 1)) / (7 * DAY_MS)) + 1;
  return `${year}-W${String(week).padStart(2, '0')}`;
}
