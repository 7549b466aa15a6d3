/**
 * A team's working time, judged in its own time zone from an instant, so it is as deterministic as
 * the event it comes from. Detectors use it for off-hours (runaway_session halves its limit), for
 * the acknowledgement horizon of projections (projected_usd: spend until someone on the team is
 * likely to look) and for local dates (planned changes, holidays).
 *
 * The spec has the shape of @burnrate/core's CalendarConfig; this package does not import core, so
 * the service passes the resolved config in and `compileCalendar` turns it into lookups that cost
 * next to nothing per event.
 */

export interface CalendarSpec {
  /** Local times `HH:MM`; an end at or before the start is a shift across midnight. */
  working_hours: { start: string; end: string };
  working_days: readonly string[];
  /** Local dates `YYYY-MM-DD`, treated like days off. */
  holidays: readonly string[];
}

export const DEFAULT_CALENDAR: CalendarSpec = {
  working_hours: { start: '09:00', end: '18:00' },
  working_days: ['mon', 'tue', 'wed', 'thu', 'fri'],
  holidays: [],
};

export interface WorkCalendar {
  readonly timeZone: string;
  /** Minutes after local midnight. */
  readonly start: number;
  readonly end: number;
  /** Indexed by weekday, 0 = Sunday. */
  readonly days: readonly boolean[];
  readonly holidays: ReadonlySet<string>;
  /** Memo of the zone's UTC offset for the last hour asked (see utcOffsetMinutes), and of the last local date's text. */
  memo: { hour: number; offset: number; day: number; date: string };
}

export interface LocalTime {
  /** 0 = Sunday … 6 = Saturday. */
  weekday: number;
  /** Minutes since local midnight. */
  minutes: number;
  /** Local date, `YYYY-MM-DD`. */
  date: string;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

export function compileCalendar(spec: CalendarSpec, timeZone: string): WorkCalendar {
  const days = WEEKDAYS.map((d) => spec.working_days.includes(d));
  return {
    timeZone: validZone(timeZone),
    start: hhmm(spec.working_hours.start),
    end: hhmm(spec.working_hours.end),
    days,
    holidays: new Set(spec.holidays),
    memo: { hour: Number.NaN, offset: 0, day: Number.NaN, date: '' },
  };
}

// Building a DateTimeFormat costs far more than using one; zones are few, so keep one per zone.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

function validZone(timeZone: string): string {
  try {
    formatterFor(timeZone);
    return timeZone;
  } catch {
    // The config schema rejects unknown zones; this only guards code called without it.
    return 'UTC';
  }
}

/**
 * The zone's offset from UTC in minutes at `atMs`. Offsets change on hour boundaries in every zone
 * a team is likely to be in, so the answer is memoised per UTC hour: detectors ask this per event
 * and Intl is microseconds per call.
 */
function utcOffsetMinutes(cal: WorkCalendar, atMs: number): number {
  const hour = Math.floor(atMs / HOUR_MS);
  if (cal.memo.hour === hour) return cal.memo.offset;
  let y = 0;
  let mo = 0;
  let d = 0;
  let h = 0;
  let mi = 0;
  const probe = hour * HOUR_MS;
  for (const part of formatterFor(cal.timeZone).formatToParts(probe)) {
    if (part.type === 'year') y = Number(part.value);
    else if (part.type === 'month') mo = Number(part.value);
    else if (part.type === 'day') d = Number(part.value);
    else if (part.type === 'hour') h = Number(part.value) % 24;
    else if (part.type === 'minute') mi = Number(part.value);
  }
  const offset = Math.round((Date.UTC(y, mo - 1, d, h, mi) - probe) / 60_000);
  cal.memo.hour = hour;
  cal.memo.offset = offset;
  return offset;
}

export function localTime(cal: WorkCalendar, atMs: number): LocalTime {
  const local = atMs + utcOffsetMinutes(cal, atMs) * 60_000;
  const day = Math.floor(local / DAY_MS);
  if (cal.memo.day !== day) {
    cal.memo.day = day;
    cal.memo.date = new Date(day * DAY_MS).toISOString().slice(0, 10);
  }
  return {
    weekday: (((day + 4) % 7) + 7) % 7, // 1970-01-01 was a Thursday
    minutes: Math.floor((local - day * DAY_MS) / 60_000),
    date: cal.memo.date,
  };
}

/** Local date `YYYY-MM-DD` of an instant in the calendar's zone (planned changes and holidays are local dates). */
export const localDate = (cal: WorkCalendar, atMs: number): string => localTime(cal, atMs).date;

function inHours(cal: WorkCalendar, minutes: number): boolean {
  return cal.end > cal.start ? minutes >= cal.start && minutes < cal.end : minutes >= cal.start || minutes < cal.end;
}

const isWorkingDay = (cal: WorkCalendar, t: LocalTime): boolean => cal.days[t.weekday] === true && !cal.holidays.has(t.date);

/** A working day (not a holiday) within working hours, in the team's zone. */
export function isWorkingTime(cal: WorkCalendar, atMs: number): boolean {
  const t = localTime(cal, atMs);
  return isWorkingDay(cal, t) && inHours(cal, t.minutes);
}

export const isOffHours = (cal: WorkCalendar, atMs: number): boolean => !isWorkingTime(cal, atMs);

/**
 * The next instant working time starts at or after `atMs` (`atMs` itself when it is working time).
 * Searches a fortnight ahead; a calendar with no working day in it answers `atMs + 14 days`.
 */
export function nextWorkingStart(cal: WorkCalendar, atMs: number): number {
  if (isWorkingTime(cal, atMs)) return atMs;
  const now = localTime(cal, atMs);
  const today = Date.parse(`${now.date}T00:00:00Z`);
  for (let day = 0; day <= 14; day++) {
    const localMidnight = today + day * DAY_MS;
    const date = new Date(localMidnight).toISOString().slice(0, 10);
    const weekday = (now.weekday + day) % 7;
    if (cal.days[weekday] !== true || cal.holidays.has(date)) continue;
    const localStart = localMidnight + cal.start * 60_000;
    // Local wall time to UTC: the offset at the guess is right except within an hour of a DST change.
    let utc = localStart - utcOffsetMinutes(cal, localStart) * 60_000;
    utc = localStart - utcOffsetMinutes(cal, utc) * 60_000;
    if (utc > atMs) return utc;
  }
  return atMs + 14 * DAY_MS;
}

export interface AcknowledgementHorizon {
  /** How long someone takes to look at an alert raised in working time. Default 1 h. */
  inHoursHours?: number;
  /** Upper bound, so a Friday-evening projection stays a plausible figure rather than a 64 h one. Default 16 h. */
  maxHours?: number;
}

/**
 * Hours until someone on the team is likely to act on an alert raised at `atMs`: `inHoursHours`
 * in working time, else the time to the next working start, capped at `maxHours`. This is the
 * horizon of every `projected_usd`.
 */
export function hoursUntilAcknowledgement(cal: WorkCalendar, atMs: number, horizon: AcknowledgementHorizon = {}): number {
  const inHoursHours = horizon.inHoursHours ?? 1;
  const max = horizon.maxHours ?? 16;
  const next = nextWorkingStart(cal, atMs);
  if (next === atMs) return Math.min(inHoursHours, max);
  return Math.min((next - atMs) / HOUR_MS, max);
}

function hhmm(text: string): number {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text);
  if (m === null) throw new Error(`calendar time ${JSON.stringify(text)} is not HH:MM`);
  return Number(m[1]) * 60 + Number(m[2]);
}
