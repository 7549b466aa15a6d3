import { HOUR_MS } from './buckets/hourly.ts';

/**
 * Weekly recurrence of spikes: a nightly digest that runs bigger every Sunday at 02:00 spikes
 * against any baseline that mixes Saturdays and Sundays (and the day-off slots do), every week.
 * The first time is news (a new job); at the same hour a week or two later it is a schedule. So a
 * key remembers when its last few episodes opened and how much they cost above usual, and an
 * episode that opens within ±`TOLERANCE_MS` of a whole number of weeks (up to `MAX_WEEKS`) after
 * one of them — the weeks between may not have spiked, once the baseline learnt part of it —
 * costing at most `RECURRENCE_GROWTH` times as much, is recurring: reported at info, and back to its own severity if it
 * outgrows that (the job that doubled is news again).
 *
 * Memory: flat pairs [opening hour, impact], the newest last, at most `KEEP`; only keys that
 * ever spiked carry one.
 */

const WEEK_MS = 7 * 24 * HOUR_MS;
/** A scheduled job drifts a little, and a daylight-saving change moves a UTC week by an hour. */
const TOLERANCE_MS = 2 * HOUR_MS;
const KEEP = 4;
const MAX_WEEKS = 6;
/** A recurring episode costing more than this multiple of its predecessor is news again. */
export const RECURRENCE_GROWTH = 2;

/**
 * The earlier episode this opening repeats (its opening hour and impact), if any: of those that
 * opened whole weeks before, the biggest (a job's size varies from week to week).
 */
export function recurrenceOf(openings: readonly number[] | null | undefined, hour: number): { hour: number; impact: number } | undefined {
  if (!openings) return undefined;
  let best: { hour: number; impact: number } | undefined;
  for (let i = 0; i + 1 < openings.length; i += 2) {
    const at = openings[i] as number;
    const impact = openings[i + 1] as number;
    const gap = hour - at;
    const weeks = Math.round(gap / WEEK_MS);
    const aligned = weeks >= 1 && weeks <= MAX_WEEKS && Math.abs(gap - weeks * WEEK_MS) <= TOLERANCE_MS;
    if (aligned && impact > 0 && (best === undefined || impact > best.impact)) best = { hour: at, impact };
  }
  return best;
}

/** Records an episode that opened at `hour`; returns the list to keep (the oldest dropped past KEEP). */
export function rememberOpening(openings: number[] | null | undefined, hour: number, impact: number): number[] {
  const list = openings ?? [];
  list.push(hour, impact);
  if (list.length > KEEP * 2) list.splice(0, list.length - KEEP * 2);
  return list;
}

/** Updates the impact of the newest remembered episode (the one in progress). */
export function updateLatestImpact(openings: number[] | null | undefined, impact: number): void {
  if (openings && openings.length >= 2) openings[openings.length - 1] = impact;
}
