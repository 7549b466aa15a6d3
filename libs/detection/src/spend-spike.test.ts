import { Anomaly } from '@burnrate/schemas';
import type { UsageEvent } from '@burnrate/schemas';
import { describe, expect, it } from 'vitest';
import { overEvents } from './buckets/bucket-detector.ts';
import type { Detector } from './detector.ts';
import type { HourBucket } from './buckets/hourly.ts';
import {
  developerSpikeUsd,
  spendSpike,
  teamSpendSpike,
  type SpendSpikeConfig,
  type SpendSpikeSettings,
  type SpendSpikeState,
} from './spend-spike.ts';
import { runThroughEngine, SPEND_SPIKE_DEFAULTS, testEnv } from './test-env.ts';
import { usageEvent } from '@burnrate/testing/builders';

const T0 = Date.parse('2026-11-02T00:00:00Z'); // a Monday; Berlin is UTC+1
const H = 3_600_000;
const D = 24 * H;
// A week of a slot's values is enough here: the cases below spike on the second Tuesday.
const SETTINGS: SpendSpikeSettings = { ...SPEND_SPIKE_DEFAULTS, min_slot_weeks: 1 };

const cfg = (over: Partial<SpendSpikeSettings> = {}, planned?: [string, string, string, string][]): SpendSpikeConfig =>
  testEnv({ ...SETTINGS, ...over }, planned === undefined ? {} : { planned });

let seq = 0;
function ev(atMs: number, cost: number, o: Partial<UsageEvent> = {}): UsageEvent {
  seq += 1;
  return usageEvent({ event_id: `s${seq}`, occurred_at: new Date(atMs).toISOString(), cost_usd: cost, ...o });
}

/** Working hours 09:00-17:00 Berlin on weekdays for `days` days from T0: `perHour(day, hour)` USD in two events an hour. */
function history(days: number, perHour: (day: number, hourUtc: number) => number, o: Partial<UsageEvent> = {}): UsageEvent[] {
  const out: UsageEvent[] = [];
  for (let d = 0; d < days; d++) {
    const weekday = (d + 1) % 7;
    if (weekday === 0 || weekday === 6) continue;
    for (let h = 8; h < 16; h++) {
      const cost = perHour(d, h);
      out.push(ev(T0 + d * D + h * H + 5 * 60_000, cost / 2, o), ev(T0 + d * D + h * H + 35 * 60_000, cost / 2, o));
    }
  }
  return out;
}

const usual = (d: number, h: number): number => 10 + ((d * 7 + h * 3) % 5);

/** Steps events in order with the watermark at each event, then advances to `until`. */
function run<S, C>(
  detector: Detector<S, C>,
  c: C,
  events: readonly UsageEvent[],
  until: number,
  state = detector.initialState(),
): { out: Anomaly[]; state: S } {
  const out: Anomaly[] = [];
  let wm = 0;
  for (const e of events) {
    wm = Math.max(wm, Date.parse(e.occurred_at));
    const r = detector.step(state, e, c, { watermark: wm, lateness: 600_000 });
    state = r.state;
    out.push(...r.anomalies);
  }
  const r = (detector.advance as NonNullable<typeof detector.advance>)(state, until, c, { watermark: until, lateness: 600_000 });
  out.push(...r.anomalies);
  return { out, state: r.state };
}

const brief = (a: Anomaly) => ({
  version: a.version,
  severity: a.severity,
  status: a.status,
  observed: a.observed.value,
  developer: a.subject.developer,
  model: a.subject.model,
});

// Day 8 is Tuesday 10 Nov; 13:00 UTC is 14:00 in Berlin.
const SPIKE_AT = T0 + 8 * D + 13 * H;

describe('spend_spike (developer scope)', () => {
  const cases: {
    name: string;
    events: () => UsageEvent[];
    cfg?: SpendSpikeConfig;
    want: ReturnType<typeof brief>[];
  }[] = [
    { name: 'stays quiet on a usual week', events: () => history(10, usual), want: [] },
    {
      // Resolved by the hour 16:00-17:00 UTC, the third usual one (the developer is idle by then).
      name: 'fires on an hour far above its usual level and resolves after the cool-down',
      events: () => history(10, (d, h) => (d === 8 && h === 13 ? 120 : usual(d, h))),
      want: [
        { version: 1, severity: 'warning', status: 'open', observed: 120, developer: 'alice@acme.com', model: undefined },
        { version: 1, severity: 'warning', status: 'open', observed: 120, developer: 'alice@acme.com', model: 'claude-opus-4-5' },
        { version: 2, severity: 'warning', status: 'resolved', observed: 0, developer: 'alice@acme.com', model: undefined },
        { version: 2, severity: 'warning', status: 'resolved', observed: 0, developer: 'alice@acme.com', model: 'claude-opus-4-5' },
      ],
    },
    {
      name: 'with no cool-down, resolves at the first usual hour',
      events: () => history(10, (d, h) => (d === 8 && h === 13 ? 120 : usual(d, h))),
      cfg: cfg({ cool_down_hours: 0 }),
      want: [
        { version: 1, severity: 'warning', status: 'open', observed: 120, developer: 'alice@acme.com', model: undefined },
        { version: 1, severity: 'warning', status: 'open', observed: 120, developer: 'alice@acme.com', model: 'claude-opus-4-5' },
        { version: 2, severity: 'warning', status: 'resolved', observed: 13, developer: 'alice@acme.com', model: undefined },
        { version: 2, severity: 'warning', status: 'resolved', observed: 13, developer: 'alice@acme.com', model: 'claude-opus-4-5' },
      ],
    },
    {
      name: 'escalates to critical in the same episode while the spike grows',
      events: () => history(10, (d, h) => (d === 8 && h === 13 ? 100 : d === 8 && h === 14 ? 400 : usual(d, h))),
      cfg: cfg({}),
      want: [
        { version: 1, severity: 'warning', status: 'open', observed: 100, developer: 'alice@acme.com', model: undefined },
        { version: 1, severity: 'warning', status: 'open', observed: 100, developer: 'alice@acme.com', model: 'claude-opus-4-5' },
        { version: 2, severity: 'critical', status: 'open', observed: 400, developer: 'alice@acme.com', model: undefined },
        { version: 2, severity: 'critical', status: 'open', observed: 400, developer: 'alice@acme.com', model: 'claude-opus-4-5' },
        { version: 3, severity: 'critical', status: 'resolved', observed: 0, developer: 'alice@acme.com', model: undefined },
        { version: 3, severity: 'critical', status: 'resolved', observed: 0, developer: 'alice@acme.com', model: 'claude-opus-4-5' },
      ],
    },
    {
      name: 'warm-up: a key with under min_history_hours of history stays quiet',
      events: () => history(3, (d, h) => (d === 2 && h === 13 ? 300 : usual(d, h))),
      want: [],
    },
    {
      name: 'dollar gate: a 30x rise from cents stays quiet (under min_impact_floor_usd)',
      events: () => history(10, (d, h) => (d === 8 && h === 13 ? 3 : 0.1)),
      want: [],
    },
    {
      name: 'dollar gate: with min_impact_share 0, a 30x rise under min_impact_usd stays quiet',
      events: () => history(10, (d, h) => (d === 8 && h === 13 ? 30 : 1)),
      cfg: cfg({ min_impact_share: 0 }),
      want: [],
    },
    {
      name: 'a planned change keeps it at info',
      events: () => history(10, (d, h) => (d === 8 && h === 13 ? 120 : usual(d, h))),
      cfg: cfg({}, [['payments', '2026-11-09', '2026-11-13', 'load test week']]),
      want: [
        { version: 1, severity: 'info', status: 'open', observed: 120, developer: 'alice@acme.com', model: undefined },
        { version: 1, severity: 'info', status: 'open', observed: 120, developer: 'alice@acme.com', model: 'claude-opus-4-5' },
        { version: 2, severity: 'info', status: 'resolved', observed: 0, developer: 'alice@acme.com', model: undefined },
        { version: 2, severity: 'info', status: 'resolved', observed: 0, developer: 'alice@acme.com', model: 'claude-opus-4-5' },
      ],
    },
    {
      name: 'disabled for the developer: quiet',
      events: () => history(10, (d, h) => (d === 8 && h === 13 ? 120 : usual(d, h))),
      cfg: cfg({ enabled: false }),
      want: [],
    },
  ];

  it.each(cases)('$name', ({ events, cfg: c, want }) => {
    const { out } = run(spendSpike, c ?? cfg(), events(), T0 + 12 * D);
    expect(out.map(brief)).toEqual(want);
    for (const a of out) expect(Anomaly.parse(a)).toEqual(a);
  });

  it('reports a job that spikes every Sunday night at info from its second week, and again as news when it outgrows itself', () => {
    // A developer working weekdays, and a digest job that spends $90 from 02:00 UTC every Sunday.
    const sundays = [6, 13, 20, 27].map((d) => T0 + d * D + 2 * H);
    const job = (at: number, cost: number) => [ev(at + 5 * 60_000, cost / 2), ev(at + 35 * 60_000, cost / 2)];
    const events = [...history(28, usual), ...sundays.flatMap((at, i) => job(at, i === 3 ? 400 : 90))].sort(
      (x, y) => Date.parse(x.occurred_at) - Date.parse(y.occurred_at),
    );
    const opened = run(spendSpike, cfg(), events, T0 + 29 * D)
      .out.filter((a) => a.version === 1 && a.subject.model === undefined)
      .map((a) => [a.window.start, a.severity]);
    // The first Sunday has no weekend before it to be judged against (min_slot_weeks): quiet, but
    // remembered, so the next ones are a schedule.
    expect(opened).toEqual([
      [new Date(sundays[1] as number).toISOString(), 'info'],
      [new Date(sundays[2] as number).toISOString(), 'info'],
      // $400 against $90-odd before: more than twice the biggest earlier Sunday, news again (and
      // more than 5x the dollar gate above usual: critical).
      [new Date(sundays[3] as number).toISOString(), 'critical'],
    ]);
  });

  it('says what happened in plain words, with impact and a projection', () => {
    const { out } = run(
      spendSpike,
      cfg(),
      history(10, (d, h) => (d === 8 && h === 13 ? 120 : usual(d, h))),
      T0 + 12 * D,
    );
    const a = out[0] as Anomaly;
    expect(a.summary).toMatch(
      /^Spend from alice@acme\.com was \$120 in the hour from Tue 14:00 \(Europe\/Berlin\), \d+\.\dx its usual \$\d+(\.\d+)? for that hour on a working day\.$/,
    );
    expect(a.advice).toContain('agent loop or a batch job');
    expect(a.window).toEqual({ start: new Date(SPIKE_AT).toISOString(), end: new Date(SPIKE_AT + H).toISOString() });
    expect(a.impact_usd).toBeCloseTo(a.observed.value - a.expected.value, 6);
    expect(a.projected_usd).toBeCloseTo(a.impact_usd * 1, 6); // working hours: someone looks within the hour
    expect(a.expected.value).toBeGreaterThan(10);
    expect(a.expected.value).toBeLessThan(15);
  });

  it('counts an event for an hour already closed as late and does not merge it', () => {
    const events = history(10, usual);
    const { state } = run(spendSpike, cfg(), events, T0 + 10 * D);
    const before = JSON.stringify(state.keys);
    const late = ev(T0 + 9 * D + 13 * H, 500);
    const r = spendSpike.step(state, late, cfg(), { watermark: T0 + 10 * D, lateness: 600_000 });
    expect(r.state.late).toBe(1);
    expect(JSON.stringify(r.state.keys)).toBe(before);
  });

  it('an event within the allowed lateness still counts towards its hour', () => {
    const events = history(10, (d, h) => (d === 8 && h === 13 ? 60 : usual(d, h)));
    // A straggler of the 13:00 hour arrives at 14:05, inside the 10 minutes of lateness.
    events.push(ev(SPIKE_AT + 40 * 60_000, 60));
    events.sort((a, b) => (a.occurred_at < b.occurred_at ? -1 : 1));
    const straggler = events.findIndex((e) => e.cost_usd === 60);
    const moved = events.splice(straggler, 1)[0] as UsageEvent;
    const after = events.findIndex((e) => Date.parse(e.occurred_at) > SPIKE_AT + H);
    events.splice(after + 1, 0, moved);
    const { out } = run(spendSpike, cfg(), events, T0 + 12 * D);
    expect(out[0]?.observed.value).toBe(120);
  });

  it('restores from JSON mid-stream and gives the same anomalies (determinism)', () => {
    const events = history(10, (d, h) => (d === 8 && h === 13 ? 120 : usual(d, h)));
    const whole = run(spendSpike, cfg(), events, T0 + 12 * D).out;
    const cut = events.findIndex((e) => Date.parse(e.occurred_at) > SPIKE_AT + 10 * 60_000);
    const first = run(spendSpike, cfg(), events.slice(0, cut), Date.parse((events[cut - 1] as UsageEvent).occurred_at));
    const restored = JSON.parse(JSON.stringify(first.state)) as SpendSpikeState;
    expect(restored).toEqual(first.state);
    const second = run(spendSpike, cfg(), events.slice(cut), T0 + 12 * D, restored);
    expect([...first.out, ...second.out]).toEqual(whole);
  });

  it('runs in the engine and resolves through advance when the developer goes quiet', () => {
    const events = history(10, (d, h) => (d === 8 && h === 13 ? 120 : usual(d, h)));
    const cut = events.findIndex((e) => Date.parse(e.occurred_at) > SPIKE_AT + H);
    // Alice stops after the spike; someone else's event moves event time past her cool-down.
    const stream = [...events.slice(0, cut), ev(SPIKE_AT + 5 * H, 1, { developer: 'bob@acme.com', developer_email: 'bob@acme.com' })];
    const out = runThroughEngine(spendSpike, cfg(), stream);
    expect(out.filter((a) => a.subject.developer === 'alice@acme.com' && a.subject.model === undefined).map((a) => a.status)).toEqual([
      'open',
      'resolved',
    ]);
  });
});

describe('spend_spike episodes: one episode through dips, resolved after the cool-down', () => {
  const spikes = (hours: Record<number, number>) => () =>
    history(10, (d, h) => (d === 8 && hours[h] !== undefined ? hours[h] : usual(d, h)));
  const opened = (out: Anomaly[]) => out.filter((a) => a.subject.model === undefined);

  it('keeps a burst, a usual hour and a bigger burst as one episode, whose severity rises, and resolves it cool_down_hours after the last', () => {
    const { out } = run(spendSpike, cfg(), spikes({ 11: 120, 13: 400 })(), T0 + 12 * D);
    const dev = opened(out);
    expect(dev.map((a) => [a.version, a.severity, a.status])).toEqual([
      [1, 'warning', 'open'],
      [2, 'critical', 'open'],
      [3, 'critical', 'resolved'],
    ]);
    expect(new Set(dev.map((a) => a.id)).size).toBe(1);
    const resolved = dev[2] as Anomaly;
    // The last spiking hour is 13:00-14:00 UTC; three quiet hours later it is over.
    expect(resolved.window).toEqual({
      start: new Date(T0 + 8 * D + 11 * H).toISOString(),
      end: new Date(T0 + 8 * D + 17 * H).toISOString(),
    });
    expect(resolved.summary).toMatch(
      /^Spend from alice@acme\.com is back to usual since Tue 15:00 \(Europe\/Berlin\), after \$[\d,.]+ above its usual level\.$/,
    );
    // Only the spiking hours count towards the impact, not the usual one between them.
    expect(resolved.impact_usd).toBeGreaterThan(120 + 400 - 2 * 15);
    expect(resolved.impact_usd).toBeLessThan(120 + 400 - 2 * 10);
  });

  it('resolves an episode restored from a snapshot taken before cool-downs, which has no last spiking hour', () => {
    const events = spikes({ 13: 120 })();
    const cut = events.findIndex((e) => Date.parse(e.occurred_at) > SPIKE_AT + 75 * 60_000);
    const first = run(spendSpike, cfg(), events.slice(0, cut), SPIKE_AT + 75 * 60_000);
    const saved = JSON.parse(JSON.stringify(first.state)) as SpendSpikeState;
    const alice = saved.keys['acme']?.['alice@acme.com'];
    expect(alice?.ep?.last).toBe(SPIKE_AT);
    delete alice?.ep?.last;
    const second = run(spendSpike, cfg(), events.slice(cut), T0 + 12 * D, saved);
    const resolved = second.out.find((a) => a.subject.model === undefined);
    // The cool-down counts from the hour before the first one judged after the restore (13:00 UTC
    // here), so it resolves with 16:00-17:00 instead of staying open for good.
    expect(resolved?.status).toBe('resolved');
    expect(resolved?.window.end).toBe(new Date(SPIKE_AT + 4 * H).toISOString());
  });

  it('opens a new episode for a burst that comes back after the cool-down', () => {
    const { out } = run(spendSpike, cfg(), spikes({ 9: 120, 14: 120 })(), T0 + 12 * D);
    expect(opened(out).map((a) => [a.window.start.slice(11, 16), a.status])).toEqual([
      ['09:00', 'open'],
      ['09:00', 'resolved'],
      ['14:00', 'open'],
      ['14:00', 'resolved'],
    ]);
  });

  it('with a shorter cool-down, the burst after a usual hour is a new episode', () => {
    const { out } = run(spendSpike, cfg({ cool_down_hours: 1 }), spikes({ 11: 120, 13: 120 })(), T0 + 12 * D);
    expect(opened(out).map((a) => [a.window.start.slice(11, 16), a.status])).toEqual([
      ['11:00', 'open'],
      ['11:00', 'resolved'],
      ['13:00', 'open'],
      ['13:00', 'resolved'],
    ]);
  });
});

/** `days` days from T0, weekends included: `perHour(day, hourUtc)` USD from 08:00 to 16:00 UTC in two events an hour. */
function everyDay(days: number, perHour: (day: number, hourUtc: number) => number): UsageEvent[] {
  const out: UsageEvent[] = [];
  for (let d = 0; d < days; d++) {
    for (let h = 8; h < 16; h++) {
      const cost = perHour(d, h);
      out.push(ev(T0 + d * D + h * H + 5 * 60_000, cost / 2), ev(T0 + d * D + h * H + 35 * 60_000, cost / 2));
    }
  }
  return out;
}

describe('spend_spike baselines: like for like', () => {
  const developerOpenings = (out: Anomaly[]) =>
    out.filter((a) => a.version === 1 && a.subject.model === undefined).map((a) => a.window.start.slice(0, 13));

  it('judges a day off only against weeks of days off: the first weekend of a new series stays quiet', () => {
    // Sunday 8 and Sunday 15 Nov (days 6 and 13), 14:00 UTC: the same jump each time.
    const events = everyDay(15, (d, h) => ((d === 6 || d === 13) && h === 14 ? 150 : usual(d, h)));
    expect(developerOpenings(run(spendSpike, cfg({ min_slot_weeks: 1 }), events, T0 + 15 * D).out)).toEqual(['2026-11-15T14']);
    // Two weekends needed: the second is quiet too.
    expect(developerOpenings(run(spendSpike, cfg({ min_slot_weeks: 2 }), events, T0 + 15 * D).out)).toEqual([]);
  });

  it('judges a working-day hour only once its slot has learnt min_slot_weeks weeks of working days', () => {
    // Tuesday 10 Nov (day 8) and Tuesday 17 Nov (day 15).
    const events = history(17, (d, h) => ((d === 8 || d === 15) && h === 13 ? 150 : usual(d, h)));
    expect(developerOpenings(run(spendSpike, cfg({ min_slot_weeks: 1 }), events, T0 + 17 * D).out)).toEqual([
      '2026-11-10T13',
      '2026-11-17T13',
    ]);
    expect(developerOpenings(run(spendSpike, cfg({ min_slot_weeks: 2 }), events, T0 + 17 * D).out)).toEqual(['2026-11-17T13']);
  });

  it("catches a small developer's tenfold hour under min_impact_usd: the gate follows the developer's usual day", () => {
    // $2 an hour, 8 hours a day: a usual day of $16 is the gate; $25 in one hour is $23 above usual.
    const small = (d: number, h: number) => 2 + ((d + h) % 3) * 0.1;
    const events = history(10, (d, h) => (d === 8 && h === 13 ? 25 : small(d, h)));
    const { out } = run(spendSpike, cfg(), events, T0 + 12 * D);
    expect(out.map(brief).slice(0, 2)).toEqual([
      { version: 1, severity: 'warning', status: 'open', observed: 25, developer: 'alice@acme.com', model: undefined },
      { version: 1, severity: 'warning', status: 'open', observed: 25, developer: 'alice@acme.com', model: 'claude-opus-4-5' },
    ]);
    // With the absolute gate alone it stays hidden.
    expect(run(spendSpike, cfg({ min_impact_share: 0 }), events, T0 + 12 * D).out).toEqual([]);
  });

  it("stays quiet on a small developer's noisy hours: a few dollars above usual is under a usual day's spend", () => {
    // $2-4 an hour with an hour of $8-9 every afternoon: scores may be high, dollars are not.
    const noisy = (d: number, h: number) => (h === 12 + (d % 3) ? 8 + (d % 2) : 2 + ((d * 7 + h * 3) % 5) * 0.5);
    expect(run(spendSpike, cfg(), history(10, noisy), T0 + 12 * D).out).toEqual([]);
  });

  it('takes its scale floors from the settings: a steady key is judged against a share of its usual level', () => {
    // $10 every hour, then $60: no deviation to measure, so the scale is 30% of $10 (score ≈ 17).
    const events = history(10, (d, h) => (d === 8 && h === 13 ? 60 : 10));
    expect(run(spendSpike, cfg(), events, T0 + 12 * D).out).not.toEqual([]);
    // 600% of $10 (score ≈ 0.8), or a $20 floor (score 2.5): under min_score.
    expect(run(spendSpike, cfg({ scale_floor_share: 6 }), events, T0 + 12 * D).out).toEqual([]);
    expect(run(spendSpike, cfg({ scale_floor_usd: 20 }), events, T0 + 12 * D).out).toEqual([]);
  });
});

describe('developerSpikeUsd (what stage A tells stage B with each rollup)', () => {
  it("is the developer's spend so far above its usual while that is a spike of its own, else 0", () => {
    const events = history(10, (d, h) => (d === 8 && h === 13 ? 120 : usual(d, h)));
    const upTo = (ms: number) => {
      const n = events.findIndex((e) => Date.parse(e.occurred_at) > ms);
      return run(spendSpike, cfg(), events.slice(0, n), ms).state;
    };
    const c = cfg();
    // Both events of the hour in: $120 against a usual $10-15.
    const whole = upTo(SPIKE_AT + 40 * 60_000);
    const spike = developerSpikeUsd(whole, c, 'acme', 'alice@acme.com', SPIKE_AT);
    expect(spike).toBeGreaterThan(120 - 15);
    expect(spike).toBeLessThan(120 - 10);
    expect(developerSpikeUsd(whole, cfg({ enabled: false }), 'acme', 'alice@acme.com', SPIKE_AT)).toBe(0);
    expect(developerSpikeUsd(whole, cfg({ min_slot_weeks: 2 }), 'acme', 'alice@acme.com', SPIKE_AT)).toBe(0);
    expect(developerSpikeUsd(whole, c, 'acme', 'bob@acme.com', SPIKE_AT)).toBe(0);
    expect(developerSpikeUsd(whole, c, 'acme', 'alice@acme.com', SPIKE_AT + H)).toBe(0);
    // Half of it: $60 so far is under $50 above usual, not a spike yet.
    expect(developerSpikeUsd(upTo(SPIKE_AT + 10 * 60_000), c, 'acme', 'alice@acme.com', SPIKE_AT)).toBe(0);
    // A usual hour.
    expect(developerSpikeUsd(upTo(SPIKE_AT - 20 * 60_000), c, 'acme', 'alice@acme.com', SPIKE_AT - H)).toBe(0);
  });
});

describe('spend_spike (team scope)', () => {
  it('fires for the team and the team×model from hour buckets, without a developer', () => {
    const detector = overEvents(teamSpendSpike);
    const devs = ['alice@acme.com', 'bob@acme.com', 'carol@acme.com'];
    const events = devs.flatMap((d, i) =>
      history(10, (day, h) => (day === 8 && h === 13 && i === 0 ? 160 : usual(day, h) + i), { developer: d, developer_email: d }),
    );
    events.sort((a, b) => (a.occurred_at < b.occurred_at ? -1 : a.occurred_at > b.occurred_at ? 1 : 0));
    const { out, state } = run(detector, cfg({ min_history_hours: 48 }), events, T0 + 12 * D);
    expect(out.map((a) => [a.subject.team, a.subject.developer, a.subject.model, a.status, a.severity])).toEqual([
      ['payments', undefined, undefined, 'open', 'warning'],
      ['payments', undefined, 'claude-opus-4-5', 'open', 'warning'],
      ['payments', undefined, undefined, 'resolved', 'warning'],
      ['payments', undefined, 'claude-opus-4-5', 'resolved', 'warning'],
    ]);
    expect(out[0]?.summary).toContain('team payments');
    expect(detector.size(state)).toBe(2);
  });

  const bucket = (hour: number, cost: number, developerSpike?: number): HourBucket => ({
    org: 'acme',
    team: 'payments',
    developer: 'alice@acme.com',
    model: 'claude-opus-4-5',
    hour,
    cost_usd: cost,
    cost_premium_usd: cost,
    events: 2,
    input_tokens: 0,
    cache_read_tokens: 0,
    cache_write_tokens: 0,
    output_tokens: 0,
    ...(developerSpike === undefined ? {} : { developer_spike_usd: developerSpike }),
  });
  /**
   * Three developers' usual working hours as team buckets for `days` days; at 13:00 UTC on the
   * days of `spikes` the team spends `spikes[day].cost`, and the buckets carry its developer spike.
   */
  const teamHours = (
    days: number,
    spikes: Record<number, { cost: number; developerSpike?: number }>,
    perHour = (d: number, h: number) => 3 * usual(d, h) + 3,
  ): HourBucket[] => {
    const out: HourBucket[] = [];
    for (let d = 0; d < days; d++) {
      if ((d + 1) % 7 === 0 || (d + 1) % 7 === 6) continue;
      for (let h = 8; h < 16; h++) {
        const spike = h === 13 ? spikes[d] : undefined;
        out.push(
          spike === undefined ? bucket(T0 + d * D + h * H, perHour(d, h)) : bucket(T0 + d * D + h * H, spike.cost, spike.developerSpike),
        );
      }
    }
    return out;
  };
  const runBuckets = (c: SpendSpikeConfig, buckets: readonly HourBucket[]): Anomaly[] => {
    let state = teamSpendSpike.initialState();
    const out: Anomaly[] = [];
    for (const b of buckets) {
      const r = teamSpendSpike.step(state, b, c, { watermark: b.hour + 30 * 60_000, lateness: 600_000 });
      state = r.state;
      out.push(...r.anomalies);
    }
    const end = (buckets.at(-1)?.hour ?? T0) + D;
    out.push(...teamSpendSpike.advance(state, end, c, { watermark: end, lateness: 600_000 }).anomalies);
    return out;
  };
  const teamOnly = cfg({ min_history_hours: 48 });

  it("keeps min_impact_usd for a team: a small team's hour $30 above usual is not reported, a developer's would be", () => {
    const small = (d: number, h: number) => 1 + ((d + h) % 3) * 0.1;
    expect(runBuckets(teamOnly, teamHours(10, { 8: { cost: 31 } }, small))).toEqual([]);
    expect(runBuckets(teamOnly, teamHours(10, { 8: { cost: 61 } }, small))).not.toEqual([]);
    const developer = run(
      spendSpike,
      teamOnly,
      history(10, (d, h) => (d === 8 && h === 13 ? 31 : small(d, h))),
      T0 + 12 * D,
    ).out;
    expect(developer.filter((a) => a.version === 1).map((a) => a.window.start)).toEqual([
      new Date(SPIKE_AT).toISOString(),
      new Date(SPIKE_AT).toISOString(),
    ]);
  });

  describe("one spike, one report: a team spike that is one developer's is left to that developer", () => {
    // About $150 above the team's usual at SPIKE_AT.
    const spikeOf = (developerSpike: number | undefined) =>
      teamHours(10, { 8: { cost: 190, ...(developerSpike === undefined ? {} : { developerSpike }) } });

    it("is not opened when one developer's own spike is most of the team's excess", () => {
      expect(runBuckets(teamOnly, spikeOf(140))).toEqual([]);
    });

    it('is reported when no developer spiked by that much, or when told of none', () => {
      for (const developerSpike of [60, 0, undefined]) {
        expect(runBuckets(teamOnly, spikeOf(developerSpike)).map((a) => [a.subject.model, a.status])).toEqual([
          [undefined, 'open'],
          ['claude-opus-4-5', 'open'],
          [undefined, 'resolved'],
          ['claude-opus-4-5', 'resolved'],
        ]);
      }
    });

    it('is reported as before with team_dedupe_share 0', () => {
      expect(runBuckets(cfg({ min_history_hours: 48, team_dedupe_share: 0 }), spikeOf(140))).toHaveLength(4);
    });

    it("remembers the spike it left to the developer: the same hour a week later is the team's schedule, at info", () => {
      const weekly = teamHours(17, { 8: { cost: 190, developerSpike: 140 }, 15: { cost: 190 } });
      expect(
        runBuckets(teamOnly, weekly)
          .filter((a) => a.version === 1)
          .map((a) => [a.window.start, a.subject.model, a.severity]),
      ).toEqual([
        ['2026-11-17T13:00:00.000Z', undefined, 'info'],
        ['2026-11-17T13:00:00.000Z', 'claude-opus-4-5', 'info'],
      ]);
    });
  });

  it('adds partial buckets of one hour from several producers before judging it', () => {
    let state = teamSpendSpike.initialState();
    const c = cfg();
    const bucket = (hour: number, cost: number) => ({
      org: 'acme',
      team: 'payments',
      hour,
      cost_usd: cost,
      cost_premium_usd: 0,
      events: 1,
      input_tokens: 0,
      cache_read_tokens: 0,
      cache_write_tokens: 0,
      output_tokens: 0,
    });
    state = teamSpendSpike.step(state, bucket(T0, 5), c, { watermark: T0 + 30 * 60_000, lateness: 600_000 }).state;
    state = teamSpendSpike.step(state, bucket(T0, 7), c, { watermark: T0 + 50 * 60_000, lateness: 600_000 }).state;
    expect(state.keys['acme']?.['payments']?.open).toEqual([T0, 12]);
    state = teamSpendSpike.advance(state, T0 + H + 10 * 60_000, c, { watermark: T0 + H + 10 * 60_000, lateness: 600_000 }).state;
    expect(state.keys['acme']?.['payments']?.open).toEqual([]);
    const late = teamSpendSpike.step(state, bucket(T0, 3), c, { watermark: T0 + H + 11 * 60_000, lateness: 600_000 });
    expect(late.state.late).toBe(1);
  });
});
