import { type Config, teamCalendar, teamTimezone } from '@burnrate/core';
import type { SnoozeChoice } from '@burnrate/notify';

const HOUR_MS = 3_600_000;

/**
 * Until when a snooze chosen at `at` lasts: an hour, a week, or `tomorrow` — the next time the
 * team's working day starts (its calendar's working_hours.start, 09:00 unless set) in the team's
 * time zone, strictly after `at`. Computed from the moment of the press, not of its handling,
 * so a retried request gives the same answer.
 */
export function snoozeUntil(choice: SnoozeChoice, at: Date, config: Config, team: string): Date {
  switch (choice) {
    case '1h':
      return new Date(at.getTime() + HOUR_MS);
    case '1w':
      return new Date(at.getTime() + 7 * 24 * HOUR_MS);
    case 'tomorrow':
      return new Date(nextLocalTime(at.getTime(), teamTimezone(config, team), teamCalendar(config, team).working_hours.start));
  }
}

/** The first instant after `atMs` whose wall-clock time in `zone` is `hhmm` (DST-aware). */
export function nextLocalTime(atMs: number, zone: string, hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  const today = wallClock(atMs, zone);
  for (let day = 0; day <= 2; day++) {
    const wall = Date.UTC(today.y, today.mo - 1, today.d + day, h, m);
    // The offset at the first guess is right except within hours of a DST change; one more pass fixes that.
    let utc = wall - offsetMs(wall, zone);
    utc = wall - offsetMs(utc, zone);
    if (utc > atMs) return utc;
  }
  // Unreachable for a real zone (a day later is always after); keeps the function total.
  return atMs + 24 * HOUR_MS;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function wallClock(atMs: number, zone: string): { y: number; mo: number; d: number; h: number; mi: number } {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(zone, f);
  }
  const out = { y: 0, mo: 0, d: 0, h: 0, mi: 0 };
  for (const part of f.formatToParts(atMs)) {
    if (part.type === 'year') out.y = Number(part.value);
    else if (part.type === 'month') out.mo = Number(part.value);
    else if (part.type === 'day') out.d = Number(part.value);
    else if (part.type === 'hour') out.h = Number(part.value) % 24;
    else if (part.type === 'minute') out.mi = Number(part.value);
  }
  return out;
}

function offsetMs(atMs: number, zone: string): number {
  const w = wallClock(atMs, zone);
  const minute = Math.floor(atMs / 60_000) * 60_000;
  return Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi) - minute;
}
