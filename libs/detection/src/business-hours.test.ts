import { describe, expect, it } from 'vitest';
import { hoursUntilAcknowledgement, isBusinessHours, localTime } from './business-hours.ts';

const ms = (iso: string) => Date.parse(iso);

describe('business hours', () => {
  it.each([
    // [instant, zone, weekday, local minutes]
    ['2026-11-25T10:00:00Z', 'Europe/Berlin', 3, 11 * 60],
    ['2026-11-28T03:30:00Z', 'America/New_York', 5, 22 * 60 + 30], // Friday evening in New York
    ['2026-11-29T23:59:00Z', 'UTC', 0, 23 * 60 + 59],
    ['2026-07-01T08:00:00Z', 'Europe/Berlin', 3, 10 * 60], // summer time, UTC+2
  ] as const)('localTime(%s, %s)', (instant, zone, weekday, minutes) => {
    expect(localTime(ms(instant), zone)).toEqual({ weekday, minutes });
  });

  it.each([
    ['2026-11-25T08:00:00Z', 'Europe/Berlin', true], // Wed 09:00
    ['2026-11-25T07:59:00Z', 'Europe/Berlin', false], // Wed 08:59
    ['2026-11-25T17:00:00Z', 'Europe/Berlin', false], // Wed 18:00
    ['2026-11-28T12:00:00Z', 'Europe/Berlin', false], // Saturday
  ] as const)('isBusinessHours(%s, %s) is %s', (instant, zone, want) => {
    expect(isBusinessHours(ms(instant), zone)).toBe(want);
  });

  it.each([
    ['2026-11-25T10:00:00Z', 'Europe/Berlin', 1], // in hours
    ['2026-11-25T06:30:00Z', 'Europe/Berlin', 1.5], // Wed 07:30 → 09:00
    ['2026-11-25T20:00:00Z', 'Europe/Berlin', 12], // Wed 21:00 → Thu 09:00
    ['2026-11-27T17:00:00Z', 'Europe/Berlin', 16], // Fri 18:00 → Mon 09:00 is 63h, capped
    ['2026-11-30T13:00:00Z', 'America/New_York', 1], // Mon 08:00 → 09:00
    ['2026-11-29T22:00:00Z', 'America/New_York', 16], // Sun 17:00 → Mon 09:00
  ] as const)('hoursUntilAcknowledgement(%s, %s) = %s', (instant, zone, want) => {
    expect(hoursUntilAcknowledgement(ms(instant), zone)).toBe(want);
  });

  it('honours a custom horizon', () => {
    expect(hoursUntilAcknowledgement(ms('2026-11-27T17:00:00Z'), 'Europe/Berlin', { maxHours: 100 })).toBe(63);
    expect(hoursUntilAcknowledgement(ms('2026-11-25T10:00:00Z'), 'Europe/Berlin', { inHoursHours: 0.5 })).toBe(0.5);
  });
});
