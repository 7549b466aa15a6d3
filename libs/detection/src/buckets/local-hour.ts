import type { WorkCalendar } from '../calendar.ts';

/**
 * Local calendar facts of an hour in a team's time zone, and whether it is a day off in the
 * team's compiled working calendar (calendar.ts).
 *
 * Detectors ask this for every closed hour of every key (and for the hours a key was idle, which
 * still count as zero-spend hours), so answers are memoised per zone and hour: Intl runs once per
 * (zone, hour) however many keys close that hour. The memo is a pure cache (same input, same
 * answer), so it cannot make a replay differ from a live run.
 */

export interface LocalHour {
  /** Local date as days since 1970-01-01 (consecutive local days differ by 1, also across DST). */
  day: number;
  /** Local date `YYYY-MM-DD`, as planned changes and holidays are written. */
  date: string;
  /** 0 = Sunday … 6 = Saturday. */
  weekday: number;
  /** Local hour of day 0-23 (the hour containing the UTC hour's start). */
  hour: number;
  /** Local month as `YYYY-MM` and the number of days in it. */
  month: string;
  monthDays: number;
  /** Local day of month, 1-31. */
  dayOfMonth: number;
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };
const MEMO_LIMIT = 50_000;

const formatters = new Map<string, Intl.DateTimeFormat>();
const memo = new Map<string, Map<number, LocalHour>>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone,
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        weekday: 'short',
        hour: '2-digit',
        hourCycle: 'h23',
      });
    } catch {
      // The config schema rejects unknown zones; this only guards callers that skipped it.
      f = formatterFor('UTC');
    }
    formatters.set(timeZone, f);
  }
  return f;
}

function compute(hourMs: number, timeZone: string): LocalHour {
  let year = 1970;
  let month = 1;
  let dayOfMonth = 1;
  let weekday = 0;
  let hour = 0;
  for (const part of formatterFor(timeZone).formatToParts(hourMs)) {
    if (part.type === 'year') year = Number(part.value);
    else if (part.type === 'month') month = Number(part.value);
    else if (part.type === 'day') dayOfMonth = Number(part.value);
    else if (part.type === 'weekday') weekday = WEEKDAYS[part.value] ?? 0;
    else if (part.type === 'hour') hour = Number(part.value) % 24;
  }
  const mm = String(month).padStart(2, '0');
  return {
    day: Math.round(Date.UTC(year, month - 1, dayOfMonth) / 86_400_000),
    date: `${year}-${mm}-${String(dayOfMonth).padStart(2, '0')}`,
    weekday,
    hour,
    month: `${year}-${mm}`,
    monthDays: new Date(Date.UTC(year, month, 0)).getUTCDate(),
    dayOfMonth,
  };
}

/** Local facts of the hour starting at `hourMs` (epoch ms, a whole UTC hour) in `timeZone`. */
export function localHourOf(hourMs: number, timeZone: string): LocalHour {
  // Per-event callers ask about the same hour and zone event after event: no map lookups then.
  if (hourMs === lastHour && timeZone === lastZone && lastLocal !== null) return lastLocal;
  let zone = memo.get(timeZone);
  if (zone === undefined) {
    zone = new Map();
    memo.set(timeZone, zone);
  }
  let local = zone.get(hourMs);
  if (local === undefined) {
    // ~5.7 years of hours per zone; dropping the lot keeps memory bounded and costs one recompute each.
    if (zone.size >= MEMO_LIMIT) zone.clear();
    local = compute(hourMs, timeZone);
    zone.set(hourMs, local);
  }
  lastHour = hourMs;
  lastZone = timeZone;
  lastLocal = local;
  return local;
}

let lastHour = Number.NaN;
let lastZone = '';
let lastLocal: LocalHour | null = null;

export function isHoliday(local: LocalHour, calendar: WorkCalendar): boolean {
  return calendar.holidays.size > 0 && calendar.holidays.has(local.date);
}

/** A day off in the team's calendar: not one of its working days, or a holiday. */
export function isOffDay(local: LocalHour, calendar: WorkCalendar): boolean {
  return calendar.days[local.weekday] !== true || isHoliday(local, calendar);
}

/** Weekday (0 = Sunday) of a local day number (days since 1970-01-01, a Thursday). */
export function weekdayOfDay(day: number): number {
  return (((day + 4) % 7) + 7) % 7;
}

/** `YYYY-MM-DD` of a local day number. */
export function dateOfDay(day: number): string {
  return new Date(day * 86_400_000).toISOString().slice(0, 10);
}

/** Whether a local day number is a working day of the calendar (a working weekday, not a holiday). */
export function isWorkingDay(day: number, calendar: WorkCalendar): boolean {
  if (calendar.days[weekdayOfDay(day)] !== true) return false;
  return calendar.holidays.size === 0 || !calendar.holidays.has(dateOfDay(day));
}

const WEEKDAY_LABELS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** "Tue 14:00": how a summary names a local hour. */
export function formatLocalHour(local: LocalHour): string {
  return `${WEEKDAY_LABELS[local.weekday] ?? ''} ${String(local.hour).padStart(2, '0')}:00`;
}

/** "14:00 on Tue": when something started, as advice says it. */
export function formatHourOnDay(local: LocalHour): string {
  return `${String(local.hour).padStart(2, '0')}:00 on ${WEEKDAY_LABELS[local.weekday] ?? ''}`;
}
