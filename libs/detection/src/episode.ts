import { SEVERITY_RANK } from '@burnrate/schemas';
import type { Anomaly, AnomalyKind, EvidencePoint, Severity } from '@burnrate/schemas';
import { roundMoney } from './format.ts';
import { anomalyId } from './hash.ts';

/**
 * The life of one anomaly episode, shared by every detector so the versioning rules are the same
 * everywhere:
 *
 * - open: version 1, id = anomalyId(kind, [org, subject parts…, episode start ISO]).
 * - update: a new version only when a human should hear about it: the severity rises (it never
 *   falls while open: a page that calmed down is still the same incident), or, at `critical`
 *   (or at any severity when `growAt` says so), the measure reached `growthFactor` × its value at
 *   the last version. A new version for every event would page people for nothing.
 * - resolve: one last version with status 'resolved' (severity kept), after which the episode
 *   takes no more versions; the detector starts a new episode with a new start if the condition
 *   comes back.
 *
 * An episode is plain data kept in the detector's state; `marks` are the few moments that explain
 * it (crossings, escalations, the resolution) and become evidence.
 */

export interface EpisodeMark {
  at: number;
  label: string;
  value: number;
  unit: string;
}

export interface Episode {
  id: string;
  start: number;
  version: number;
  severity: Severity;
  status: 'open' | 'resolved';
  /** The measure (impact, cost…) when the last version was emitted; the base of growth updates. */
  reported: number;
  marks: EpisodeMark[];
}

export interface GrowthRule {
  /** A new version when the measure reaches this multiple of the last reported one; <= 1 disables. Default 2. */
  growthFactor?: number;
  /** Lowest severity at which growth alone makes a version. Default 'critical'. */
  growAt?: Severity;
}

export type EpisodeChange = 'escalated' | 'grew' | null;

const MAX_MARKS = 8;

export function openEpisode(
  kind: AnomalyKind,
  parts: readonly string[],
  start: number,
  severity: Severity,
  measure: number,
  mark?: EpisodeMark,
): Episode {
  const ep: Episode = {
    id: anomalyId(kind, [...parts, new Date(start).toISOString()]),
    start,
    version: 1,
    severity,
    status: 'open',
    reported: measure,
    marks: [],
  };
  if (mark !== undefined) addMark(ep, mark);
  return ep;
}

/**
 * Applies the current severity and measure to an open episode; returns what changed (and bumps
 * the version) or null when nothing a human needs to hear about did.
 */
export function updateEpisode(ep: Episode, severity: Severity, measure: number, rule: GrowthRule = {}, mark?: EpisodeMark): EpisodeChange {
  if (ep.status !== 'open') return null;
  let change: EpisodeChange = null;
  if (SEVERITY_RANK[severity] > SEVERITY_RANK[ep.severity]) {
    ep.severity = severity;
    change = 'escalated';
  } else {
    const factor = rule.growthFactor ?? 2;
    const growAt = rule.growAt ?? 'critical';
    if (factor > 1 && SEVERITY_RANK[ep.severity] >= SEVERITY_RANK[growAt] && ep.reported > 0 && measure >= ep.reported * factor) {
      change = 'grew';
    }
  }
  if (change === null) return null;
  ep.version += 1;
  ep.reported = measure;
  if (mark !== undefined) addMark(ep, mark);
  return change;
}

/** Closes the episode with one more version; false when it was already resolved. */
export function resolveEpisode(ep: Episode, mark?: EpisodeMark): boolean {
  if (ep.status !== 'open') return false;
  ep.status = 'resolved';
  ep.version += 1;
  if (mark !== undefined) addMark(ep, mark);
  return true;
}

export function addMark(ep: Episode, mark: EpisodeMark): void {
  ep.marks.push(mark);
  // Keep the first mark (how it started) and the most recent ones.
  if (ep.marks.length > MAX_MARKS) ep.marks.splice(1, 1);
}

/** The evidence points of the episode's marks. */
export function markEvidence(ep: Episode): EvidencePoint[] {
  return ep.marks.map((m) => ({ at: iso(m.at), label: m.label, value: roundMoney(m.value), unit: m.unit }));
}

/** The identity and lifecycle fields of an anomaly version. */
export function episodeFields(ep: Episode): Pick<Anomaly, 'id' | 'version' | 'severity' | 'status'> {
  return { id: ep.id, version: ep.version, severity: ep.severity, status: ep.status };
}

/**
 * Caps a severity at 'info' during a planned change. The episode then opens at info and, if the
 * condition outlasts the change, escalates with a new version like any other rise.
 */
export const plannedSeverity = (severity: Severity, planned: string | undefined): Severity => (planned === undefined ? severity : 'info');

/** Evidence sorted by time, capped at the schema's 50 points (oldest dropped first). */
export function sortedEvidence(points: EvidencePoint[]): EvidencePoint[] {
  points.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  return points.length > 50 ? points.slice(points.length - 50) : points;
}

export const iso = (ms: number): string => new Date(ms).toISOString();
