/**
 * Epoch ms of an instant as `Date.parse` reads it, without its cost for the form events carry.
 *
 * The engine parses every event's `occurred_at`, and Date.parse was about a sixth of its time. The
 * schema normalises instants to `YYYY-MM-DDTHH:MM:SS.sssZ`, so that form (and RFC 3339 with any
 * fraction of seconds or a `±HH:MM` offset, as tests and direct callers write it) is read here
 * with plain arithmetic; anything else (no offset, a lower-case `t`, `24:00`, day 31 of a 30-day
 * month, an extended year) goes to Date.parse, so the answer is always Date.parse's.
 */
export function parseInstant(text: string): number {
  const n = text.length;
  if (
    n < 20 ||
    text.charCodeAt(4) !== DASH ||
    text.charCodeAt(7) !== DASH ||
    text.charCodeAt(10) !== T ||
    text.charCodeAt(13) !== COLON ||
    text.charCodeAt(16) !== COLON
  ) {
    return Date.parse(text);
  }
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  // digits() answers -1 for a non-digit, which fails these ranges too.
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour < 0 || hour > 23 || minute < 0 || minute > 59) {
    return Date.parse(text);
  }
  if (year < 0 || second < 0 || second > 59) return Date.parse(text);

  let at = 19;
  let millis = 0;
  if (text.charCodeAt(at) === DOT) {
    // Date.parse keeps the first three digits of a fraction and ignores the rest (no rounding).
    const from = at + 1;
    at = from;
    while (at < n && at - from < MAX_FRACTION_DIGITS) {
      const d = text.charCodeAt(at) - ZERO;
      if (d < 0 || d > 9) break;
      if (at - from < 3) millis = millis * 10 + d;
      at++;
    }
    const count = at - from;
    if (count === 0) return Date.parse(text);
    if (count === 1) millis *= 100;
    else if (count === 2) millis *= 10;
  }

  let offset = 0;
  const sign = text.charCodeAt(at);
  if (sign === Z) {
    if (at + 1 !== n) return Date.parse(text);
  } else if ((sign === PLUS || sign === DASH) && at + 6 === n && text.charCodeAt(at + 3) === COLON) {
    const oh = digits(text, at + 1, 2);
    const om = digits(text, at + 4, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return Date.parse(text);
    offset = (sign === PLUS ? 1 : -1) * (oh * 60 + om) * MINUTE_MS;
  } else {
    return Date.parse(text);
  }
  return daysFromCivil(year, month, day) * DAY_MS + hour * HOUR_MS + minute * MINUTE_MS + second * 1000 + millis - offset;
}

const ZERO = 48;
const DASH = 45;
const PLUS = 43;
const DOT = 46;
const COLON = 58;
const T = 84;
const Z = 90;
/** Longer fractions are left to Date.parse: nothing we produce or accept writes them. */
const MAX_FRACTION_DIGITS = 9;
const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** The decimal number in `count` characters from `at`, or -1 if one is not a digit. */
function digits(text: string, at: number, count: number): number {
  let v = 0;
  for (let i = at; i < at + count; i++) {
    const d = text.charCodeAt(i) - ZERO;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
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
