import { describe, expect, it } from 'vitest';
import { compileCalendar, DEFAULT_CALENDAR } from '../calendar.ts';
import { usageEvent } from '@burnrate/testing/builders';
import {
  bucketOfEvent,
  closedBucketCount,
  createHourRollup,
  HOUR_MS,
  hourOf,
  isClosedHour,
  lastClosedHour,
  mergeBucket,
  bucketIndex,
  closesAfter,
  premiumEvents,
  stepHour,
  rollupEvent,
  takeClosedBuckets,
  withBucket,
  withoutOldest,
} from './hourly.ts';
import { dateOfDay, formatHourOnDay, formatLocalHour, isOffDay, isWorkingDay, localHourOf, weekdayOfDay } from './local-hour.ts';
import { changePhase, NORMAL, PLANNED, SETTLING } from './planned.ts';
import { overEvents, type BucketDetector } from './bucket-detector.ts';
import { testEnv } from '../test-env.ts';

const T = Date.parse('2026-11-24T14:00:00Z'); // Tuesday
const LATE = 600_000;

describe('hourly buckets', () => {
  it('an hour closes when the watermark passes its end plus the lateness', () => {
    expect(hourOf(T + 59 * 60_000)).toBe(T);
    expect(hourOf(T - 1)).toBe(T - HOUR_MS);
    expect(hourOf(-1)).toBe(-HOUR_MS);
    expect(stepHour(usageEvent({ event_id: 'h', occurred_at: new Date(T + 1).toISOString() }), undefined)).toBe(T);
    expect(stepHour(usageEvent({ event_id: 'h', occurred_at: new Date(T + 1).toISOString() }), T + HOUR_MS + 5)).toBe(T + HOUR_MS);
    expect(closesAfter(T, T + 2 * HOUR_MS + LATE - 1, LATE)).toBe(false);
    expect(closesAfter(T, T + 2 * HOUR_MS + LATE, LATE)).toBe(true);
    expect(lastClosedHour(T + 2 * HOUR_MS + LATE, LATE)).toBe(T + HOUR_MS);
    expect(isClosedHour(T, T + HOUR_MS + LATE - 1, LATE)).toBe(false);
    expect(isClosedHour(T, T + HOUR_MS + LATE, LATE)).toBe(true);
    expect(lastClosedHour(T + HOUR_MS + LATE, LATE)).toBe(T);
    expect(lastClosedHour(T + HOUR_MS + LATE - 1, LATE)).toBe(T - HOUR_MS);
  });

  it('keeps open buckets in hour order in a flat array and closes the oldest first', () => {
    let open: number[] = [];
    const add = (hour: number, x: number) => {
      open = withBucket(open, 2, hour);
      const i = bucketIndex(open, 2, hour) + 1;
      open[i] = (open[i] as number) + x;
    };
    add(T + HOUR_MS, 5);
    add(T, 2);
    const same = open;
    add(T + HOUR_MS, 1);
    expect(open).toBe(same);
    expect(open).toEqual([T, 2, T + HOUR_MS, 6]);
    expect(bucketIndex(open, 2, T + 2 * HOUR_MS)).toBe(-1);
    expect(closedBucketCount(open, 2, T + HOUR_MS + LATE, LATE)).toBe(1);
    expect(closedBucketCount(open, 2, T + 2 * HOUR_MS + LATE, LATE)).toBe(2);
    expect(withoutOldest(open, 2, 1)).toEqual([T + HOUR_MS, 6]);
  });

  it('rolls events up into team × model hour buckets, and counts late ones without merging them', () => {
    const r = createHourRollup();
    const e = (minutes: number, o: Parameters<typeof usageEvent>[0] extends infer P ? Partial<P> : never = {}) =>
      usageEvent({
        event_id: `r${minutes}${o.model ?? ''}`,
        occurred_at: new Date(T + minutes * 60_000).toISOString(),
        cost_usd: 2,
        cache_read_tokens: 10,
        ...o,
      });
    expect(rollupEvent(r, e(5), T + 5 * 60_000, LATE)).toBe(true);
    expect(rollupEvent(r, e(20, { tier: 'standard', model: 'claude-sonnet-4-5' }), T + 20 * 60_000, LATE)).toBe(true);
    expect(rollupEvent(r, e(30), T + 30 * 60_000, LATE)).toBe(true);
    expect(rollupEvent(r, e(65), T + 65 * 60_000, LATE)).toBe(true);
    // Hour T closes at T + 70 min.
    const closed = takeClosedBuckets(JSON.parse(JSON.stringify(r)) as typeof r, T + 70 * 60_000, LATE);
    expect(takeClosedBuckets(r, T + 70 * 60_000, LATE)).toEqual(closed);
    expect(closed.map((b) => [b.model, b.hour, b.cost_usd, b.events, b.premium_events, b.cache_read_tokens])).toEqual([
      ['claude-opus-4-5', T, 4, 2, 2, 20],
      ['claude-sonnet-4-5', T, 2, 1, 0, 10],
    ]);
    expect(rollupEvent(r, e(50), T + 71 * 60_000, LATE)).toBe(false);
    expect(r.late).toBe(1);
    expect(Object.values(r.open).map((b) => [b.hour, b.cost_usd])).toEqual([[T + HOUR_MS, 2]]);
  });

  it('merges partial buckets, estimating premium events when a producer did not count them', () => {
    const ev = usageEvent({ event_id: 'x', occurred_at: new Date(T).toISOString(), cost_usd: 3 });
    const a = bucketOfEvent(ev, T);
    const { premium_events: _, ...b } = { ...bucketOfEvent(ev, T), events: 4, cost_usd: 8, cost_premium_usd: 2 };
    expect(premiumEvents(b)).toBe(1);
    expect(mergeBucket(a, b)).toMatchObject({ events: 5, cost_usd: 11, cost_premium_usd: 5, premium_events: 2 });
  });

  it('a bucket of an event names its developer, and rollups keep developers apart', () => {
    const r = createHourRollup();
    const at = new Date(T + 60_000).toISOString();
    rollupEvent(r, usageEvent({ event_id: 'a', occurred_at: at, developer: 'alice@acme.com' }), T + 60_000, LATE);
    rollupEvent(r, usageEvent({ event_id: 'b', occurred_at: at, developer: 'bob@acme.com' }), T + 60_000, LATE);
    rollupEvent(r, usageEvent({ event_id: 'c', occurred_at: at, developer: 'bob@acme.com' }), T + 60_000, LATE);
    const closed = takeClosedBuckets(r, T + HOUR_MS + LATE, LATE);
    expect(closed.map((b) => [b.developer, b.events])).toEqual([
      ['alice@acme.com', 1],
      ['bob@acme.com', 2],
    ]);
  });

  it('overEvents steps a bucket detector with one-event buckets at the engine’s parsed time', () => {
    const seen: unknown[] = [];
    const probe: BucketDetector<null, null> = {
      kind: 'spend_spike',
      initialState: () => null,
      step: (state, b) => {
        seen.push({ ...b });
        return { state, anomalies: [] };
      },
      advance: (state) => ({ state, anomalies: [] }),
      evict: (state) => state,
      size: () => 0,
    };
    const d = overEvents(probe);
    const e = usageEvent({
      event_id: 'a',
      occurred_at: new Date(T + 5).toISOString(),
      developer: 'alice@acme.com',
      tier: 'premium',
      cost_usd: 2,
    });
    d.step(null, e, null, { watermark: T, occurredAt: T + 5 });
    d.step(null, { ...e, developer: 'bob@acme.com', tier: 'standard' }, null, { watermark: T, occurredAt: T + HOUR_MS });
    expect(seen).toEqual([
      { ...bucketOfEvent(e, T) },
      { ...bucketOfEvent({ ...e, developer: 'bob@acme.com', tier: 'standard' }, T + HOUR_MS) },
    ]);
    expect(seen[0]).toMatchObject({ developer: 'alice@acme.com', cost_premium_usd: 2, premium_events: 1 });
  });
});

describe('planned-change phases', () => {
  const env = testEnv({ enabled: true }, { planned: [['payments', '2026-11-09', '2026-11-13', 'ledger migration']] });
  const cal = env.calendarFor('payments');
  const phaseOn = (date: string, team = 'payments') => changePhase(env, team, cal, Date.parse(`${date}T10:00:00Z`)).phase;

  it.each([
    ['2026-11-08', NORMAL, 'the Sunday before'],
    ['2026-11-09', PLANNED, 'the first day'],
    ['2026-11-13', PLANNED, 'the last day (a Friday)'],
    ['2026-11-14', SETTLING, 'the weekend after'],
    ['2026-11-16', SETTLING, 'the next working day'],
    ['2026-11-17', NORMAL, 'the day after that'],
  ])('%s is %i (%s)', (date, phase) => {
    expect(phaseOn(date)).toBe(phase);
  });

  it('carries the note, and other teams are not affected', () => {
    expect(changePhase(env, 'payments', cal, Date.parse('2026-11-16T10:00:00Z'))).toEqual({ phase: SETTLING, note: 'ledger migration' });
    expect(phaseOn('2026-11-10', 'mobile')).toBe(NORMAL);
  });

  it('answers alike whatever order days are asked in, days older than the memo keeps included', () => {
    const dates = ['2026-11-08', '2026-11-09', '2026-11-13', '2026-11-14', '2026-11-16', '2026-11-17'];
    const want = dates.map((d) => phaseOn(d));
    const fresh = testEnv({ enabled: true }, { planned: [['payments', '2026-11-09', '2026-11-13', 'ledger migration']] });
    const at = (date: string) => changePhase(fresh, 'payments', cal, Date.parse(`${date}T10:00:00Z`)).phase;
    expect([...dates].reverse().map(at).reverse()).toEqual(want);
    expect(dates.map(at)).toEqual(want);
    expect(dates.map((d) => [at(d), at('2026-11-10')])).toEqual(want.map((p) => [p, PLANNED]));
  });

  it('a change ending midweek settles the next day only', () => {
    const midweek = testEnv({ enabled: true }, { planned: [['payments', '2026-11-09', '2026-11-11', 'x']] });
    const at = (date: string) => changePhase(midweek, 'payments', cal, Date.parse(`${date}T10:00:00Z`)).phase;
    expect([at('2026-11-11'), at('2026-11-12'), at('2026-11-13')]).toEqual([PLANNED, SETTLING, NORMAL]);
  });
});

describe('local hours', () => {
  it('gives the local date, weekday and hour in the zone, across a DST change', () => {
    expect(localHourOf(T, 'Europe/Berlin')).toEqual({
      day: 20781,
      date: '2026-11-24',
      weekday: 2,
      hour: 15,
      month: '2026-11',
      monthDays: 30,
      dayOfMonth: 24,
    });
    expect(localHourOf(T, 'America/Los_Angeles')).toMatchObject({ date: '2026-11-24', hour: 6 });
    expect(localHourOf(Date.parse('2026-11-24T23:00:00Z'), 'Europe/Berlin')).toMatchObject({ date: '2026-11-25', weekday: 3, hour: 0 });
    // Berlin leaves summer time on 25 Oct 2026 at 01:00 UTC.
    expect(localHourOf(Date.parse('2026-10-25T00:00:00Z'), 'Europe/Berlin').hour).toBe(2);
    expect(localHourOf(Date.parse('2026-10-25T01:00:00Z'), 'Europe/Berlin').hour).toBe(2);
    expect(localHourOf(T, 'Asia/Kolkata')).toMatchObject({ hour: 19 });
    expect(dateOfDay(20781)).toBe('2026-11-24');
    expect(weekdayOfDay(20781)).toBe(2);
  });

  it('judges days off with the team calendar, holidays included', () => {
    const cal = compileCalendar({ ...DEFAULT_CALENDAR, holidays: ['2026-12-24'] }, 'Europe/Berlin');
    expect(isOffDay(localHourOf(T, cal.timeZone), cal)).toBe(false);
    expect(isOffDay(localHourOf(Date.parse('2026-11-28T12:00:00Z'), cal.timeZone), cal)).toBe(true);
    expect(isOffDay(localHourOf(Date.parse('2026-12-24T12:00:00Z'), cal.timeZone), cal)).toBe(true);
    expect(isWorkingDay(20781, cal)).toBe(true);
    expect(isWorkingDay(localHourOf(Date.parse('2026-12-24T12:00:00Z'), cal.timeZone).day, cal)).toBe(false);
    const local = localHourOf(T, cal.timeZone);
    expect(formatLocalHour(local)).toBe('Tue 15:00');
    expect(formatHourOnDay(local)).toBe('15:00 on Tue');
  });
});
