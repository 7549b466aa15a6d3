// Hand-written twins of the common field schemas, for the consumers that validate every message
// of a busy topic. Each accepts exactly what its zod schema accepts and yields the same value; a
// `false`/undefined answer only means "ask zod", which then names the path and the reason.

const ZERO = 48;

/** Two ASCII digits at `i` as a number, or -1. `\d` in zod's patterns is ASCII only (no `u` flag). */
function twoDigits(s: string, i: number): number {
  const a = s.charCodeAt(i) - ZERO;
  const b = s.charCodeAt(i + 1) - ZERO;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

function isLeapYear(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

function daysIn(month: number, year: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * Epoch milliseconds of `s` when it has the shape `Instant` accepts, NaN otherwise; when it is a
 * number, it is what `Date.parse` (and so `new Date(s)`) gives for `s`.
 *
 * The shape is what `z.iso.datetime({ offset: true })` accepts (zod 4.6's pattern): a
 * calendar-valid `YYYY-MM-DD` (Gregorian leap years, year 0000 included), an upper-case `T`,
 * `HH:MM:SS` with hours 00-23 and no leap second, an optional `.` and one or more fraction digits
 * (the first three are the milliseconds; the rest are dropped, as Date.parse drops them), then `Z`
 * or `±HH:MM` (hours 00-23). Seconds are required; no lower-case `t`/`z`, no `±HHMM`.
 *
 * One reader for both hot paths: validation of every bus message (`normaliseInstant`) and the
 * detection engine's event time, which falls back to Date.parse for anything else.
 */
export function instantMs(s: string): number {
  const n = s.length;
  if (n < 20) return Number.NaN;
  const century = twoDigits(s, 0);
  const yy = twoDigits(s, 2);
  const year = century * 100 + yy;
  const month = twoDigits(s, 5);
  const day = twoDigits(s, 8);
  const hour = twoDigits(s, 11);
  const minute = twoDigits(s, 14);
  const second = twoDigits(s, 17);
  if (
    century < 0 ||
    yy < 0 ||
    s.charCodeAt(4) !== 45 /* - */ ||
    month < 1 ||
    month > 12 ||
    s.charCodeAt(7) !== 45 /* - */ ||
    day < 1 ||
    day > daysIn(month, year) ||
    s.charCodeAt(10) !== 84 /* T */ ||
    hour < 0 ||
    hour > 23 ||
    s.charCodeAt(13) !== 58 /* : */ ||
    minute < 0 ||
    minute > 59 ||
    s.charCodeAt(16) !== 58 /* : */ ||
    second < 0 ||
    second > 59
  ) {
    return Number.NaN;
  }
  let i = 19;
  let millis = 0;
  if (s.charCodeAt(i) === 46 /* . */) {
    const from = i + 1;
    i = from;
    while (i < n) {
      const d = s.charCodeAt(i) - ZERO;
      if (d < 0 || d > 9) break;
      if (i - from < 3) millis = millis * 10 + d;
      i += 1;
    }
    const digits = i - from;
    if (digits === 0) return Number.NaN;
    if (digits === 1) millis *= 100;
    else if (digits === 2) millis *= 10;
  }
  let offsetMinutes = 0;
  const zone = s.charCodeAt(i);
  if (zone === 90 /* Z */) {
    if (i + 1 !== n) return Number.NaN;
  } else if (zone === 43 /* + */ || zone === 45 /* - */) {
    const offsetHour = twoDigits(s, i + 1);
    const offsetMinute = twoDigits(s, i + 4);
    if (i + 6 !== n || offsetHour < 0 || offsetHour > 23 || s.charCodeAt(i + 3) !== 58 /* : */ || offsetMinute < 0 || offsetMinute > 59) {
      return Number.NaN;
    }
    offsetMinutes = (zone === 43 ? 1 : -1) * (offsetHour * 60 + offsetMinute);
  } else {
    return Number.NaN;
  }
  return (daysFromCivil(year, month, day) * 1440 + hour * 60 + minute - offsetMinutes) * 60_000 + second * 1000 + millis;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/**
 * `Instant`'s output for `value` — UTC, `...Z`, milliseconds — or undefined when `Instant` rejects
 * it (see `instantMs` for the shape). An input already in the normal form is returned as is:
 * `new Date(s).toISOString()` gives it back unchanged for every year this shape can hold, and
 * building the Date is most of what the check would cost.
 */
export function normaliseInstant(value: unknown): string | undefined {
  if (typeof value !== 'string' || Number.isNaN(instantMs(value))) return undefined;
  return normalForm(value);
}

/**
 * `normaliseInstant`, and undefined too when the instant is before `fromMs` or not before `toMs`:
 * the twin of `Instant.refine` on the instant's epoch milliseconds (which `instantMs` gives exactly).
 */
export function normaliseInstantWithin(value: unknown, fromMs: number, toMs: number): string | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = instantMs(value);
  // NaN fails both comparisons.
  if (!(ms >= fromMs && ms < toMs)) return undefined;
  return normalForm(value);
}

/** `Instant`'s output for a string of its shape. */
function normalForm(value: string): string {
  if (value.length === 24 && value.charCodeAt(19) === 46 /* . */ && value.charCodeAt(23) === 90 /* Z */) return value;
  // Offsets, other fraction lengths: rare on the bus, so the same conversion `Instant` makes.
  return new Date(value).toISOString();
}

/** `z.string().min(1)`. */
export function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

/** `Count`: a safe integer >= 0. */
export function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** `NonNegative`: a finite number >= 0 (-0 included, as zod keeps it). */
export function isNonNegative(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/**
 * An object zod's `z.object` would walk with the same keys a `for…in` sees: a plain or
 * null-prototype object. Anything else (arrays, class instances) is left to zod.
 */
export function isPlainRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * `z.record(z.string(), z.string())`'s output, or undefined when it may reject. A `__proto__` key
 * (which zod drops) or a symbol key (which it rejects) is left to zod.
 */
export function stringRecord(value: unknown): Record<string, string> | undefined {
  if (!isPlainRecord(value)) return undefined;
  const out: Record<string, string> = {};
  for (const key in value) {
    const v = value[key];
    if (typeof v !== 'string' || key === '__proto__') return undefined;
    out[key] = v;
  }
  if (Object.getOwnPropertySymbols(value).length > 0) return undefined;
  return out;
}

/** True when every enumerable key of `value` is one of `keys`: what `.strict()` checks. */
export function onlyKeys(value: Record<string, unknown>, keys: ReadonlySet<string>): boolean {
  for (const key in value) if (!keys.has(key)) return false;
  return true;
}
