/**
 * A team's working time, judged in its own time zone from an instant, so it is as deterministic as
 * the event it comes from. Detectors use it for off-hours (runaway_session halves its limit), for
 * the acknowledgement horizon of projections (projected_usd: spend until someone on the team is
 * likely to act: the next working-hours start, or the on-call response time where the team has an
 * on-call receiver) and for local dates (planned changes, holidays).
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
  /**
   * Hours an on-call receiver of the team takes to act on a page outside working time; undefined
   * when the team has no on-call receiver, so an alert waits for the next working start.
   */
  readonly oncallResponseHours: number | undefined;
  /** Memo of the zone's UTC offset for the last hour asked (see utcOffsetMinutes), and of the last local date's text. */
  memo: { hour: number; offset: number; day: number; date: string };
  /** Memo of the last off-hours stretch found by nextWorkingStart: every instant in [from, next) is off hours. */
  offHours: { from: number; next: number };
  /** Memo of the last UTC minute nextWorkingStart found in working time (working time starts and ends on whole minutes). */
  workingMinute: number;
}

export interface CalendarOptions {
  /** Response time of the team's on-call receiver, in ms (routes.oncall_response); omitted when the team has none. */
  oncallResponseMs?: number | undefined;
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

export function compileCalendar(spec: CalendarSpec, timeZone: string, options: CalendarOptions = {}): WorkCalendar {
  const days = WEEKDAYS.map((d) => spec.working_days.includes(d));
  return {
    timeZone: validZone(timeZone),
    start: hhmm(spec.working_hours.start),
    end: hhmm(spec.working_hours.end),
    days,
    holidays: new Set(spec.holidays),
    oncallResponseHours: options.oncallResponseMs === undefined ? undefined : options.oncallResponseMs / HOUR_MS,
    memo: { hour: Number.NaN, offset: 0, day: Number.NaN, date: '' },
    offHours: { from: Number.NaN, next: Number.NaN },
    workingMinute: Number.NaN,
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
 * Projections ask this per event of a session between its caps: the last off-hours stretch found
 * and the last working minute are remembered, so most answers are a few comparisons.
 */
export function nextWorkingStart(cal: WorkCalendar, atMs: number): number {
  const memo = cal.offHours;
  if (atMs >= memo.from && atMs < memo.next) return memo.next;
  const minute = Math.floor(atMs / 60_000);
  if (minute === cal.workingMinute) return atMs;
  if (isWorkingTime(cal, atMs)) {
    cal.workingMinute = minute;
    return atMs;
  }
  const next = searchWorkingStart(cal, atMs);
  memo.from = atMs;
  memo.next = next;
  return next;
}

/** The instant local midnight starts `date` (`YYYY-MM-DD`) in the calendar's zone. */
export function localMidnight(cal: WorkCalendar, date: string): number {
  return wallToUtc(cal, Date.parse(`${date}T00:00:00Z`));
}

/** A local wall time (as if it were UTC) to the instant: the offset at the guess is right except within an hour of a DST change, so look twice. */
function wallToUtc(cal: WorkCalendar, wall: number): number {
  const guess = wall - utcOffsetMinutes(cal, wall) * 60_000;
  return wall - utcOffsetMinutes(cal, guess) * 60_000;
}

function searchWorkingStart(cal: WorkCalendar, atMs: number): number {
  const now = localTime(cal, atMs);
  const today = Date.parse(`${now.date}T00:00:00Z`);
  for (let day = 0; day <= 14; day++) {
    const localMidnight = today + day * DAY_MS;
    const date = new Date(localMidnight).toISOString().slice(0, 10);
    const weekday = (now.weekday + day) % 7;
    if (cal.days[weekday] !== true || cal.holidays.has(date)) continue;
    const utc = wallToUtc(cal, localMidnight + cal.start * 60_000);
    if (utc > atMs) return utc;
  }
  return atMs + 14 * DAY_MS;
}

export interface AcknowledgementHorizon {
  /** How long someone takes to look at an alert raised in working time. Default 1 h. */
  inHoursHours?: number;
}

/**
 * Hours until someone on the team is likely to act on an alert raised at `atMs`, the horizon of
 * every `projected_usd` and so the cost of doing nothing:
 *   - in working time, `inHoursHours`: someone is there, and an hour is how long a page takes to
 *     be read;
 *   - outside it, the time to the next working-hours start of the team (Friday 19:00 → Monday
 *     09:00 is 62 h: a weekend loop costs the whole weekend, and that is the figure to page on);
 *   - outside it with an on-call receiver, the on-call response time when that comes sooner.
 * Never longer than the fortnight nextWorkingStart searches.
 */
export function hoursUntilAcknowledgement(cal: WorkCalendar, atMs: number, horizon: AcknowledgementHorizon = {}): number {
  const unattended = hoursUnattended(cal, atMs);
  return unattended === 0 ? (horizon.inHoursHours ?? 1) : unattended;
}

/**
 * hoursUntilAcknowledgement outside working time, 0 in it. Severity from a projection uses this:
 * in working time someone looks within the hour and the caps themselves decide; outside it the
 * projection is the spend nobody will stop.
 */
export function hoursUnattended(cal: WorkCalendar, atMs: number): number {
  const next = nextWorkingStart(cal, atMs);
  if (next === atMs) return 0;
  const untilWork = (next - atMs) / HOUR_MS;
  const oncall = cal.oncallResponseHours;
  return oncall !== undefined && oncall < untilWork ? oncall : untilWork;
}

/**
 * Words for the horizon of hoursUntilAcknowledgement at `atMs`, to follow "would cost about $X more":
 * "in the next 1h", "in the 30m before on-call is likely to respond", "by Mon 09:00 Europe/Berlin
 * (62h), when working hours start". Only for alert texts: it formats a date.
 */
export function describeAcknowledgement(cal: WorkCalendar, atMs: number, horizon: AcknowledgementHorizon = {}): string {
  const hours = hoursUntilAcknowledgement(cal, atMs, horizon);
  const next = nextWorkingStart(cal, atMs);
  if (next === atMs) return `in the next ${formatHorizon(hours)}, while the team is at work`;
  if (cal.oncallResponseHours !== undefined && hours === cal.oncallResponseHours)
    return `in the ${formatHorizon(hours)} before on-call is likely to respond`;
  const t = localTime(cal, next);
  const clock = `${String(Math.floor(t.minutes / 60)).padStart(2, '0')}:${String(t.minutes % 60).padStart(2, '0')}`;
  const day = WEEKDAYS[t.weekday] as string;
  return `by ${day.charAt(0).toUpperCase()}${day.slice(1)} ${t.date.slice(5)} ${clock} ${cal.timeZone} (${formatHorizon(hours)}), when working hours start`;
}

/**
 * When hoursUntilAcknowledgement at `atMs` ends, short enough to follow "$97 more" in a message:
 * "within the next 1h" (working time), "within the next 30m, before on-call is likely to respond",
 * "by Mon 09:00 Europe/Berlin". The projected_usd of an anomaly detected at `atMs` runs to it.
 */
export function lookByPhrase(cal: WorkCalendar, atMs: number, horizon: AcknowledgementHorizon = {}): string {
  const hours = hoursUntilAcknowledgement(cal, atMs, horizon);
  const next = nextWorkingStart(cal, atMs);
  if (next === atMs) return `within the next ${formatHorizon(hours)}`;
  if (cal.oncallResponseHours !== undefined && hours === cal.oncallResponseHours)
    return `within the next ${formatHorizon(hours)}, before on-call is likely to respond`;
  const t = localTime(cal, next);
  const clock = `${String(Math.floor(t.minutes / 60)).padStart(2, '0')}:${String(t.minutes % 60).padStart(2, '0')}`;
  const day = WEEKDAYS[t.weekday] as string;
  return `by ${day.charAt(0).toUpperCase()}${day.slice(1)} ${clock} ${cal.timeZone}`;
}

function formatHorizon(hours: number): string {
  return hours >= 1 ? `${Math.round(hours * 10) / 10}h` : `${Math.round(hours * 60)}m`;
}

function hhmm(text: string): number {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text);
  if (m === null) throw new Error(`calendar time ${JSON.stringify(text)} is not HH:MM`);
  return Number(m[1]) * 60 + Number(m[2]);
}
