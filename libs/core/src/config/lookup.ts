import { isDateBound, type CalendarConfig, type DetectorKindName, type DetectorSettings } from './detectors.ts';
import type { Config, TeamConfig } from './schema.ts';

export function findTeam(config: Config, teamId: string): TeamConfig | undefined {
  return config.teams.find((t) => t.id === teamId);
}

/** The team's timezone, else the org's. */
export function teamTimezone(config: Config, teamId: string): string {
  return findTeam(config, teamId)?.timezone ?? config.timezone;
}

/** The team's working week: the org calendar with the team's own fields on top. */
export function teamCalendar(config: Config, teamId: string): CalendarConfig {
  const own = findTeam(config, teamId)?.calendar;
  if (!own) return config.calendar;
  return {
    working_hours: own.working_hours ?? config.calendar.working_hours,
    working_days: own.working_days ?? config.calendar.working_days,
    holidays: own.holidays ?? config.calendar.holidays,
  };
}

export interface SettingsSubject {
  team: string;
  developer?: string | undefined;
}

/**
 * A detector's settings for a subject: the defaults, then every matching override in file order
 * (so a developer match after a team match refines it). A team-level subject (no developer) only
 * takes overrides that match on team alone.
 */
export function detectorSettings<K extends DetectorKindName>(config: Config, kind: K, subject: SettingsSubject): DetectorSettings[K] {
  let resolved = { ...config.detectors[kind] } as DetectorSettings[K];
  for (const o of config.detectors.overrides) {
    if (o.match.team !== undefined && o.match.team !== subject.team) continue;
    if (o.match.developer !== undefined && o.match.developer.toLowerCase() !== subject.developer?.toLowerCase()) continue;
    const patch = o[kind];
    if (patch) resolved = { ...resolved, ...dropUndefined(patch) };
  }
  return resolved;
}

/** session_cost thresholds for a subject (kept for callers that only need the two caps). */
export function sessionCostThresholds(
  config: Config,
  subject: { team: string; developer: string },
): { warning_usd: number; critical_usd: number } {
  const s = detectorSettings(config, 'session_cost', subject);
  return { warning_usd: s.warning_usd, critical_usd: s.critical_usd };
}

/**
 * The planned changes of `kind` for `team`, in file order, as instants: [from, to) in epoch ms and
 * the note. `localMidnight` turns a date bound into the instant its day starts in the team's zone
 * (this package does no time-zone arithmetic; @burnrate/detection's calendar does).
 */
export function plannedSpans(
  config: Config,
  kind: DetectorKindName,
  team: string,
  localMidnight: (date: string) => number,
): { from: number; to: number; note: string }[] {
  const at = (bound: string): number => (isDateBound(bound) ? localMidnight(bound) : Date.parse(bound));
  return config.detectors.planned_changes
    .filter((p) => (p.team === undefined || p.team === team) && p.kinds.includes(kind))
    .map((p) => ({ from: at(p.from), to: at(p.to), note: p.note }));
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
