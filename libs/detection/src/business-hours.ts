/**
 * Local working time of a team, computed from an instant and an explicit IANA time zone, so it is
 * as deterministic as the event it comes from. Shared by detectors that care about off-hours
 * (runaway_session) and by projections to the next acknowledgement.
 */

export interface BusinessHours {
  /** Local hour the working day starts (inclusive), 0-23. */
  startHour: number;
  /** Local hour the working day ends (exclusive), 1-24. */
  endHour: number;
}

export const DEFAULT_BUSINESS_HOURS: BusinessHours = { startHour: 9, endHour: 18 };

export interface LocalTime {
  /** 0 = Sunday … 6 = Saturday. */
  weekday: number;
  /** Minutes since local midnight. */
  minutes: number;
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

// Building a DateTimeFormat costs far more than using one; zones are few, so keep one per zone.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    } catch {
      // The config schema rejects unknown zones; this only guards code called without it.
      f = formatterFor('UTC');
    }
    formatters.set(timeZone, f);
  }
  return f;
}

export function localTime(atMs: number, timeZone: string): LocalTime {
  let weekday = 0;
  let hour = 0;
  let minute = 0;
  for (const part of formatterFor(timeZone).formatToParts(atMs)) {
    if (part.type === 'weekday') weekday = WEEKDAYS[part.value] ?? 0;
    else if (part.type === 'hour') hour = Number(part.value) % 24;
    else if (part.type === 'minute') minute = Number(part.value);
  }
  return { weekday, minutes: hour * 60 + minute };
}

const isWeekday = (weekday: number): boolean => weekday >= 1 && weekday <= 5;

/** Monday to Friday, between the start and end hour, in the team's zone. */
export function isBusinessHours(atMs: number, timeZone: string, hours: BusinessHours = DEFAULT_BUSINESS_HOURS): boolean {
  const t = localTime(atMs, timeZone);
  return isWeekday(t.weekday) && t.minutes >= hours.startHour * 60 && t.minutes < hours.endHour * 60;
}

export interface AcknowledgementHorizon {
  hours?: BusinessHours;
  /** How long someone takes to look at an alert raised during business hours. */
  inHoursHours?: number;
  /** Upper bound, so a Friday-evening projection stays a plausible figure rather than a 64 h one. */
  maxHours?: number;
}

/**
 * Hours until someone on the team is likely to act on an alert raised at `atMs`: `inHoursHours`
 * during business hours, else the time to the next weekday start of business, capped at
 * `maxHours`. Ignores a DST change in between (at most an hour off).
 */
export function hoursUntilAcknowledgement(atMs: number, timeZone: string, horizon: AcknowledgementHorizon = {}): number {
  const hours = horizon.hours ?? DEFAULT_BUSINESS_HOURS;
  const inHours = horizon.inHoursHours ?? 1;
  const max = horizon.maxHours ?? 16;
  const t = localTime(atMs, timeZone);
  if (isWeekday(t.weekday) && t.minutes >= hours.startHour * 60 && t.minutes < hours.endHour * 60) return Math.min(inHours, max);
  const start = hours.startHour * 60;
  for (let day = 0; day <= 7; day++) {
    const minutesAhead = day * 1440 + start - t.minutes;
    if (minutesAhead > 0 && isWeekday((t.weekday + day) % 7)) return Math.min(minutesAhead / 60, max);
  }
  return max;
}
