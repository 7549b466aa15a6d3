import type { CalendarConfig, DetectorKindName, DetectorSettings, PlannedChange } from './detectors.ts';
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

/** The planned change covering `kind` for `team` on local date `day` (YYYY-MM-DD), if any. */
export function plannedChangeFor(config: Config, kind: DetectorKindName, team: string, day: string): PlannedChange | undefined {
  return config.detectors.planned_changes.find(
    (p) => (p.team === undefined || p.team === team) && p.kinds.includes(kind) && p.from <= day && day <= p.to,
  );
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
