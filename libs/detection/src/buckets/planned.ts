import type { WorkCalendar } from '../calendar.ts';
import { HOUR_MS, hourOf } from './hourly.ts';
import { isWorkingDay, localHourOf } from './local-hour.ts';

/**
 * Where an instant stands against the team's planned changes (detectors.planned_changes) for one
 * detector kind, in the team's calendar:
 *
 * - PLANNED: a local day inside a planned change (judged at the day's local noon: a change that
 *   starts or ends at an instant within a day counts for the days whose noon it covers). Anomalies of the kind stay at info, and
 *   baselines do not learn from it: a migration week is not how the team normally spends, and
 *   learning it would hide a real drift for weeks after.
 * - SETTLING: the first working day after the change ended, with the days off before it (a change
 *   ending on Friday settles through Monday). Still info: sessions started inside the change run
 *   on, and the team is moving back (or not). Baselines learn from it as usual.
 * - NORMAL: everything else.
 *
 * What happens when the change is over is each detector's call (model_mix_drift takes the change's
 * mix as the new normal when the settling day shows the team kept it; see there).
 */
export const NORMAL = 0;
export const PLANNED = 1;
export const SETTLING = 2;
export type ChangePhase = typeof NORMAL | typeof PLANNED | typeof SETTLING;

export interface PlannedLookup {
  plannedChange(team: string, atMs: number): string | undefined;
}

export interface PhaseAt {
  phase: ChangePhase;
  /** The planned change's note (PLANNED and SETTLING), for the anomaly's advice. */
  note: string | undefined;
}

const NO_CHANGE: PhaseAt = Object.freeze({ phase: NORMAL, note: undefined });
/** Days off between a change's end and the next working day: a long weekend or holidays, not more. */
const MAX_LOOKBACK_DAYS = 7;
const DAY_MS = 24 * HOUR_MS;

/**
 * Detectors ask this for every hour they judge or learn, so answers are memoised per config
 * (the env object, rebuilt on reload), local day and team: two lookups by the team's own string
 * (no key is built) instead of up to five planned-change lookups, each of which turns an instant
 * into a local date. Only the newest MEMO_DAYS local days are kept (detectors ask about the hours
 * around the watermark; an older day asked again is computed again), so the memo holds a few
 * entries per team, not one per team and day of history. A pure cache of a pure function: a
 * replay cannot differ from a live run.
 */
const memo = new WeakMap<PlannedLookup, Map<number, Map<string, PhaseAt>>>();
const MEMO_DAYS = 3;
/** Teams remembered for one day at most: team ids come from the config, this only bounds a misconfigured flood. */
const MEMO_TEAMS = 100_000;

export function changePhase(env: PlannedLookup, team: string, calendar: WorkCalendar, atMs: number): PhaseAt {
  const hour = hourOf(atMs);
  const local = localHourOf(hour, calendar.timeZone);
  let byDay = memo.get(env);
  if (byDay === undefined) {
    byDay = new Map();
    memo.set(env, byDay);
  }
  let byTeam = byDay.get(local.day);
  if (byTeam === undefined) {
    if (byDay.size >= MEMO_DAYS) byDay.delete(oldestDay(byDay));
    byTeam = new Map();
    byDay.set(local.day, byTeam);
  }
  let p = byTeam.get(team);
  if (p === undefined) {
    if (byTeam.size >= MEMO_TEAMS) byTeam.clear();
    // Local noon of the day, then whole days back: DST moves it by an hour, never across midnight.
    p = compute(env, team, calendar, local.day, hour + (12 - local.hour) * HOUR_MS);
    byTeam.set(team, p);
  }
  return p;
}

function oldestDay(byDay: Map<number, unknown>): number {
  let oldest = Number.POSITIVE_INFINITY;
  for (const day of byDay.keys()) oldest = Math.min(oldest, day);
  return oldest;
}

function compute(env: PlannedLookup, team: string, calendar: WorkCalendar, day: number, noon: number): PhaseAt {
  const note = env.plannedChange(team, noon);
  if (note !== undefined) return { phase: PLANNED, note };
  for (let back = 1; back <= MAX_LOOKBACK_DAYS; back++) {
    const ended = env.plannedChange(team, noon - back * DAY_MS);
    if (ended !== undefined) return { phase: SETTLING, note: ended };
    if (isWorkingDay(day - back, calendar)) break;
  }
  return NO_CHANGE;
}

/** The advice line for an anomaly raised in a planned change or while it settles; '' otherwise. */
export function plannedAdvice(p: PhaseAt): string {
  if (p.note === undefined) return '';
  return p.phase === SETTLING
    ? ` Planned change just ended: ${p.note}; the first working day after it stays at info.`
    : ` Planned change: ${p.note}.`;
}
