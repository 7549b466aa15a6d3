import { describe, expect, it } from 'vitest';
import {
  compileCalendar,
  DEFAULT_CALENDAR,
  describeAcknowledgement,
  hoursUntilAcknowledgement,
  isOffHours,
  isWorkingTime,
  localDate,
  localTime,
  lookByPhrase,
  nextWorkingStart,
} from './calendar.ts';

const ms = (iso: string) => Date.parse(iso);
const cal = (zone: string, spec = DEFAULT_CALENDAR) => compileCalendar(spec, zone);

describe('calendar', () => {
  it.each([
    // [instant, zone, weekday, local minutes, local date]
    ['2026-11-25T10:00:00Z', 'Europe/Berlin', 3, 11 * 60, '2026-11-25'],
    ['2026-11-28T03:30:00Z', 'America/New_York', 5, 22 * 60 + 30, '2026-11-27'], // Friday evening in New York
    ['2026-11-29T23:59:00Z', 'UTC', 0, 23 * 60 + 59, '2026-11-29'],
    ['2026-07-01T08:00:00Z', 'Europe/Berlin', 3, 10 * 60, '2026-07-01'], // summer time, UTC+2
    ['2026-11-25T20:15:00Z', 'Asia/Kolkata', 4, 1 * 60 + 45, '2026-11-26'], // a half-hour zone
    ['2026-03-29T00:59:00Z', 'Europe/Berlin', 0, 1 * 60 + 59, '2026-03-29'], // a minute before the spring change
    ['2026-03-29T01:00:00Z', 'Europe/Berlin', 0, 3 * 60, '2026-03-29'], // right after it
  ] as const)('localTime(%s, %s)', (instant, zone, weekday, minutes, date) => {
    expect(localTime(cal(zone), ms(instant))).toEqual({ weekday, minutes, date });
  });

  it('gives the same answer from a memo as from a fresh calendar', () => {
    const c = cal('America/New_York');
    for (let m = 0; m < 3 * 24 * 60; m += 17) {
      const at = ms('2026-11-01T00:00:00Z') + m * 60_000;
      expect(localTime(c, at)).toEqual(localTime(cal('America/New_York'), at));
    }
  });

  it.each([
    ['2026-11-25T08:00:00Z', 'Europe/Berlin', true], // Wed 09:00
    ['2026-11-25T07:59:00Z', 'Europe/Berlin', false], // Wed 08:59
    ['2026-11-25T17:00:00Z', 'Europe/Berlin', false], // Wed 18:00
    ['2026-11-28T12:00:00Z', 'Europe/Berlin', false], // Saturday
  ] as const)('isWorkingTime(%s, %s) is %s', (instant, zone, want) => {
    expect(isWorkingTime(cal(zone), ms(instant))).toBe(want);
    expect(isOffHours(cal(zone), ms(instant))).toBe(!want);
  });

  it('treats holidays as days off and honours custom days and hours', () => {
    const c = cal('Europe/Berlin', {
      working_hours: { start: '07:30', end: '16:00' },
      working_days: ['sun', 'mon', 'tue', 'wed', 'thu'],
      holidays: ['2026-11-25'],
    });
    expect(isWorkingTime(c, ms('2026-11-25T10:00:00Z'))).toBe(false); // the holiday
    expect(isWorkingTime(c, ms('2026-11-26T06:30:00Z'))).toBe(true); // Thu 07:30
    expect(isWorkingTime(c, ms('2026-11-27T10:00:00Z'))).toBe(false); // Friday is off
    expect(isWorkingTime(c, ms('2026-11-29T10:00:00Z'))).toBe(true); // Sunday works
    expect(nextWorkingStart(c, ms('2026-11-24T16:00:00Z'))).toBe(ms('2026-11-26T06:30:00Z')); // Tue evening → Thu (Wed is a holiday)
  });

  it('handles a shift across midnight', () => {
    const c = cal('UTC', {
      working_hours: { start: '22:00', end: '06:00' },
      working_days: ['mon', 'tue', 'wed', 'thu', 'fri'],
      holidays: [],
    });
    expect(isWorkingTime(c, ms('2026-11-25T23:00:00Z'))).toBe(true);
    expect(isWorkingTime(c, ms('2026-11-25T12:00:00Z'))).toBe(false);
  });

  it('finds the next working start across a DST change', () => {
    // Sat 28 Mar 2026 evening in Berlin → Mon 30 Mar 09:00 CEST (07:00 UTC).
    expect(nextWorkingStart(cal('Europe/Berlin'), ms('2026-03-28T18:00:00Z'))).toBe(ms('2026-03-30T07:00:00Z'));
    expect(nextWorkingStart(cal('Europe/Berlin'), ms('2026-03-30T07:30:00Z'))).toBe(ms('2026-03-30T07:30:00Z'));
  });

  it.each([
    ['2026-11-25T10:00:00Z', 'Europe/Berlin', 1], // in hours
    ['2026-11-25T06:30:00Z', 'Europe/Berlin', 1.5], // Wed 07:30 → 09:00
    ['2026-11-25T20:00:00Z', 'Europe/Berlin', 12], // Wed 21:00 → Thu 09:00
    ['2026-11-27T17:00:00Z', 'Europe/Berlin', 63], // Fri 18:00 → Mon 09:00
    ['2026-11-27T18:00:00Z', 'Europe/Berlin', 62], // Fri 19:00 → Mon 09:00
    ['2026-11-24T09:00:00Z', 'Europe/Berlin', 1], // Tue 10:00, in hours
    ['2026-11-30T13:00:00Z', 'America/New_York', 1], // Mon 08:00 → 09:00
    ['2026-11-29T22:00:00Z', 'America/New_York', 16], // Sun 17:00 → Mon 09:00
  ] as const)('hoursUntilAcknowledgement(%s, %s) = %s', (instant, zone, want) => {
    expect(hoursUntilAcknowledgement(cal(zone), ms(instant))).toBe(want);
  });

  it('honours a custom in-hours horizon', () => {
    expect(hoursUntilAcknowledgement(cal('Europe/Berlin'), ms('2026-11-25T10:00:00Z'), { inHoursHours: 0.5 })).toBe(0.5);
  });

  it('runs to the on-call response time outside working hours when the team has an on-call receiver', () => {
    const oncall = compileCalendar(DEFAULT_CALENDAR, 'Europe/Berlin', { oncallResponseMs: 30 * 60_000 });
    expect(hoursUntilAcknowledgement(oncall, ms('2026-11-27T18:00:00Z'))).toBe(0.5); // Fri 19:00
    expect(hoursUntilAcknowledgement(oncall, ms('2026-11-24T09:00:00Z'))).toBe(1); // Tue 10:00: the team is there
    // Fri 08:45: working hours start sooner than on-call would answer.
    expect(hoursUntilAcknowledgement(oncall, ms('2026-11-27T07:45:00Z'))).toBe(0.25);
    expect(describeAcknowledgement(oncall, ms('2026-11-27T18:00:00Z'))).toBe('in the 30m before on-call is likely to respond');
  });

  it('answers from its remembered stretches the same as a fresh search, across working starts and ends', () => {
    const c = cal('Europe/Berlin');
    const fresh = (at: number) => nextWorkingStart(cal('Europe/Berlin'), at);
    // Thursday 07:00 Berlin to Monday 11:00, in steps of 7 min 13 s: in and out of working time both ways.
    for (let at = ms('2026-11-26T06:00:00Z'); at <= ms('2026-11-30T10:00:00Z'); at += 433_000) {
      expect(nextWorkingStart(c, at)).toBe(fresh(at));
    }
    // Either side of 18:00 Berlin, within one minute of each other.
    expect(nextWorkingStart(c, ms('2026-11-26T16:59:59.999Z'))).toBe(ms('2026-11-26T16:59:59.999Z'));
    expect(nextWorkingStart(c, ms('2026-11-26T17:00:00Z'))).toBe(ms('2026-11-27T08:00:00Z'));
  });

  it("describes the horizon in the team's own words", () => {
    expect(describeAcknowledgement(cal('Europe/Berlin'), ms('2026-11-27T18:00:00Z'))).toBe(
      'by Mon 11-30 09:00 Europe/Berlin (62h), when working hours start',
    );
    expect(describeAcknowledgement(cal('Europe/Berlin'), ms('2026-11-24T09:00:00Z'))).toBe('in the next 1h, while the team is at work');
  });

  it('says by when the team looks, short enough for a message line', () => {
    expect(lookByPhrase(cal('Europe/Berlin'), ms('2026-11-27T18:00:00Z'))).toBe('by Mon 09:00 Europe/Berlin');
    expect(lookByPhrase(cal('Europe/Berlin'), ms('2026-11-24T09:00:00Z'))).toBe('within the next 1h');
    const oncall = compileCalendar(DEFAULT_CALENDAR, 'Europe/Berlin', { oncallResponseMs: 30 * 60_000 });
    expect(lookByPhrase(oncall, ms('2026-11-27T18:00:00Z'))).toBe('within the next 30m, before on-call is likely to respond');
  });

  it('gives local dates for planned changes', () => {
    expect(localDate(cal('America/Los_Angeles'), ms('2026-11-26T05:00:00Z'))).toBe('2026-11-25');
  });

  it('falls back to UTC for an unknown zone and rejects a malformed time', () => {
    expect(cal('Not/AZone').timeZone).toBe('UTC');
    expect(() => cal('UTC', { ...DEFAULT_CALENDAR, working_hours: { start: '9am', end: '18:00' } })).toThrow(/"9am" is not HH:MM/);
  });
});
