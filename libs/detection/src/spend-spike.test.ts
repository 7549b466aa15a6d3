import { Anomaly } from '@burnrate/schemas';
import type { UsageEvent } from '@burnrate/schemas';
import { describe, expect, it } from 'vitest';
import { overEvents } from './buckets/bucket-detector.ts';
import type { Detector } from './detector.ts';
import { spendSpike, teamSpendSpike, type SpendSpikeConfig, type SpendSpikeSettings, type SpendSpikeState } from './spend-spike.ts';
import { runThroughEngine, testEnv } from './test-env.ts';
import { usageEvent } from '@burnrate/testing/builders';

const T0 = Date.parse('2026-11-02T00:00:00Z'); // a Monday; Berlin is UTC+1
const H = 3_600_000;
const D = 24 * H;
const SETTINGS: SpendSpikeSettings = { enabled: true, min_impact_usd: 50, min_score: 3.5, min_history_hours: 72 };

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
      name: 'fires on an hour far above its usual level and resolves the next hour',
      events: () => history(10, (d, h) => (d === 8 && h === 13 ? 120 : usual(d, h))),
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
        { version: 3, severity: 'critical', status: 'resolved', observed: 11, developer: 'alice@acme.com', model: undefined },
        { version: 3, severity: 'critical', status: 'resolved', observed: 11, developer: 'alice@acme.com', model: 'claude-opus-4-5' },
      ],
    },
    {
      name: 'warm-up: a key with under min_history_hours of history stays quiet',
      events: () => history(3, (d, h) => (d === 2 && h === 13 ? 300 : usual(d, h))),
      want: [],
    },
    {
      name: 'dollar gate: a 30x rise that is under min_impact_usd stays quiet',
      events: () => history(10, (d, h) => (d === 8 && h === 13 ? 40 : 1)),
      want: [],
    },
    {
      name: 'a planned change keeps it at info',
      events: () => history(10, (d, h) => (d === 8 && h === 13 ? 120 : usual(d, h))),
      cfg: cfg({}, [['payments', '2026-11-09', '2026-11-13', 'load test week']]),
      want: [
        { version: 1, severity: 'info', status: 'open', observed: 120, developer: 'alice@acme.com', model: undefined },
        { version: 1, severity: 'info', status: 'open', observed: 120, developer: 'alice@acme.com', model: 'claude-opus-4-5' },
        { version: 2, severity: 'info', status: 'resolved', observed: 13, developer: 'alice@acme.com', model: undefined },
        { version: 2, severity: 'info', status: 'resolved', observed: 13, developer: 'alice@acme.com', model: 'claude-opus-4-5' },
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
    expect(opened).toEqual([
      [new Date(sundays[0] as number).toISOString(), 'warning'],
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
    // Alice stops after the spike; someone else's event moves event time on.
    const stream = [...events.slice(0, cut), ev(SPIKE_AT + 3 * H, 1, { developer: 'bob@acme.com', developer_email: 'bob@acme.com' })];
    const out = runThroughEngine(spendSpike, cfg(), stream);
    expect(out.filter((a) => a.subject.developer === 'alice@acme.com' && a.subject.model === undefined).map((a) => a.status)).toEqual([
      'open',
      'resolved',
    ]);
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
