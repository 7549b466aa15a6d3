import { Anomaly, type UsageEvent } from '@burnrate/schemas';
import { usageEvent } from '@burnrate/testing/builders';
import { describe, expect, it } from 'vitest';
import { createDetectionEngine, type DetectorRegistry, type EngineSnapshot } from './engine.ts';
import { lostEvents, type LostEventsSettings, type LostEventsState, type LostSession } from './lost-events.ts';
import { LOST_EVENTS_DEFAULTS, runThroughEngine, testEnv } from './test-env.ts';

const T0 = Date.parse('2026-11-25T10:00:00.000Z');
const SESSION = '5f0c2a9e-lossy-session';
const cfg = testEnv(LOST_EVENTS_DEFAULTS);
const iso = (ms: number): string => new Date(ms).toISOString();
const sec = (minutes: number, seconds = 0): number => T0 + minutes * 60_000 + seconds * 1000;

let n = 0;
/** A Claude Code api_request event of alice's session at `ms`. */
const call = (ms: number, cost: number, session = SESSION): UsageEvent =>
  usageEvent({ event_id: `call-${++n}`, occurred_at: iso(ms), session_id: session, cost_usd: cost });
/** Claude Code's cost metric of alice's session for the minute starting `minute`, as ingest makes it. */
const metrics = (minute: number, cost: number, session = SESSION, org = 'acme'): UsageEvent =>
  usageEvent({
    event_id: `metrics-${++n}`,
    source: 'claude_code_metrics',
    granularity: '1m',
    org,
    occurred_at: iso(sec(minute)),
    period_start: iso(sec(minute)),
    period_end: iso(sec(minute + 1)),
    ingested_at: iso(sec(minute + 1, 1)),
    session_id: session,
    requests: 0,
    cost_usd: cost,
  });
/** bob's call in another session: moves the watermark (his logs are fine). */
const tick = (ms: number): UsageEvent =>
  usageEvent({
    event_id: `tick-${++n}`,
    occurred_at: iso(ms),
    developer: 'bob@acme.com',
    developer_email: 'bob@acme.com',
    session_id: 'bob-session',
    cost_usd: 0.01,
  });

/**
 * Minutes of alice's session: each minute three calls of `costs[m]` / 3 (at :20, :30, :40), its
 * log records arriving as they happen unless the minute is in `lost`, then the minute's metric
 * at its end, and bob's call a few seconds later; then bob's calls for 10 more minutes so every
 * interval is past the grace period.
 */
function session(costs: readonly number[], lost: readonly number[] = []): UsageEvent[] {
  const out: UsageEvent[] = [];
  costs.forEach((cost, m) => {
    if (!lost.includes(m)) for (const s of [20, 30, 40]) out.push(call(sec(m, s), cost / 3));
    out.push(metrics(m, cost), tick(sec(m + 1, 5)));
  });
  for (let m = costs.length; m < costs.length + 10; m++) out.push(tick(sec(m + 1, 5)));
  return out;
}

const run = (events: readonly UsageEvent[], settings: Partial<LostEventsSettings> = {}) =>
  runThroughEngine(lostEvents, testEnv({ ...LOST_EVENTS_DEFAULTS, ...settings }), events);

describe('lost_events', () => {
  it('reports once, at info, a batch of log records lost while the metrics counted it', () => {
    const out = run(session([1, 1, 3, 1, 1], [2]));
    expect(out).toHaveLength(1);
    const [a] = out;
    expect(a).toMatchObject({
      kind: 'lost_events',
      severity: 'info',
      status: 'open',
      version: 1,
      subject: { org: 'acme', team: 'payments', developer: 'alice@acme.com', session: SESSION, model: 'claude-opus-4-5' },
      observed: { value: 2, unit: 'usd' },
      expected: { value: 5, unit: 'usd' },
      impact_usd: 3,
      projected_usd: 0,
      window: { start: iso(sec(0, 20)), end: iso(sec(3)) },
      // Compared once the watermark was two minutes past the interval's end.
      detected_at: iso(sec(5, 5)),
    });
    expect(a?.summary).toBe(
      'Claude Code reported $5 for session 5f0c2a9e… of alice@acme.com (claude-opus-4-5) from 10:00–10:03 UTC on 2026-11-25, ' +
        'but Burnrate received request events for $2: $3 of requests were lost on the way (the exporter does not retry a refused export). ' +
        'Detection did not see that spend; the reconciliation counts it from the metrics.',
    );
    expect(a?.advice).toMatch(/OpenTelemetry Collector with a persistent queue/);
    expect(Anomaly.parse(a)).toEqual(a);
  });

  it('says nothing while log records arrive a few seconds after the metric export that counted them', () => {
    const events: UsageEvent[] = [];
    for (let m = 0; m < 5; m++) {
      // The metric of the minute first, its calls' records 4 s later (the 5 s log batch), the
      // last call recorded 20 ms after the collection that counted it.
      events.push(metrics(m, 3), tick(sec(m + 1, 2)));
      for (const s of [10, 30]) events.push(call(sec(m, s), 1));
      events.push(call(sec(m + 1) + 20, 1), tick(sec(m + 1, 5)));
    }
    for (let m = 5; m < 15; m++) events.push(tick(sec(m + 1, 5)));
    expect(run(events)).toEqual([]);
  });

  it('waits for the grace period: a gap is not judged before its interval ended grace_minutes ago', () => {
    const events = [...session([1, 4], [1]).slice(0, 7)];
    // The second interval ended at 10:02 and the watermark is at 10:02:05: nothing yet.
    expect(run(events)).toEqual([]);
    expect(run([...events, tick(sec(4, 1))]).map((a) => [a.impact_usd, a.detected_at])).toEqual([[4, iso(sec(4, 1))]]);
    expect(run([...events, tick(sec(4, 1))], { grace_minutes: 5 })).toEqual([]);
  });

  it('needs the missing cost above both the dollar floor and the share of the metrics cost', () => {
    // $0.40 missing: under $0.50.
    expect(run(session([1, 0.4, 1], [1]))).toEqual([]);
    // $0.60 missing of $20.60, then of $21.60: under 5%.
    expect(run(session([20, 0.6, 1], [1]))).toEqual([]);
    // $0.60 missing of $2.60: both met.
    expect(run(session([1, 0.6, 1], [1])).map((a) => a.impact_usd)).toEqual([0.6]);
    expect(run(session([1, 0.6, 1], [1]), { enabled: false })).toEqual([]);
  });

  it('adds a version of the same episode each time the missing cost doubles', () => {
    const out = run(session([1, 1, 1.5, 1, 0.5, 1], [1, 2, 4]));
    expect(out.map((a) => [a.version, a.impact_usd, a.severity])).toEqual([
      [1, 1, 'info'],
      [2, 2.5, 'info'],
    ]);
    expect(new Set(out.map((a) => a.id)).size).toBe(1);
    expect(out[1]?.evidence.filter((e) => e.label === 'missing cost').map((e) => e.value)).toEqual([1, 2.5]);
  });

  it('reports a session of a live org that sent metrics and no request events at all', () => {
    const events = [tick(sec(0)), ...session([2, 2, 2], [0, 1, 2])];
    expect(run(events).map((a) => [a.impact_usd, a.observed.value, a.expected.value])).toEqual([
      [2, 0, 2],
      [4, 0, 4],
    ]);
  });

  it('says nothing for an org whose Claude Code logs are not live: its metrics are judged as reports, there is nothing to compare', () => {
    const engine = createDetectionEngine(() => ({ lost_events: cfg }), { detectors: { lost_events: lostEvents } });
    const results = [0, 1, 2, 3, 4, 5, 6].map((m) => engine.process(metrics(m, 5, SESSION, 'metrics-only')));
    expect(results.map((r) => r.superseded)).toEqual([false, false, false, false, false, false, false]);
    expect(results.flatMap((r) => r.anomalies)).toEqual([]);
  });

  it('steps the superseded metrics of an org with live logs, and they still count as superseded', () => {
    const engine = createDetectionEngine(() => ({ lost_events: cfg }), { detectors: { lost_events: lostEvents } });
    const results = session([1, 3, 1], [1]).map((e) => engine.process(e));
    expect(results.filter((r) => r.superseded)).toHaveLength(3);
    expect(results.flatMap((r) => r.anomalies).map((a) => a.impact_usd)).toEqual([3]);
    expect(engine.stats().superseded).toBe(3);
  });

  it('counts a late log record against the intervals already compared, and a late interval against the events', () => {
    const events = session([1, 1, 1]);
    // An interval Claude Code exported twice (a resend through a collector): the events do not cover it.
    const resent = { ...metrics(1, 1), event_id: 'metrics-resent' };
    expect(run([...events, resent, tick(sec(20))]).map((a) => a.impact_usd)).toEqual([1]);
    // A record of minute 1 that arrived 20 minutes late: the gap it left closes, no version.
    const out = run([...session([1, 1, 1], [1]), call(sec(1, 10), 1), tick(sec(25))]);
    expect(out.map((a) => a.impact_usd)).toEqual([1]);
  });

  it('gives the same anomalies after a snapshot, a JSON round trip and a restore at any point', () => {
    const events = session([1, 1, 1.5, 1, 0.5, 1], [1, 2, 4]);
    const registry: DetectorRegistry = { lost_events: lostEvents };
    const engine = () => createDetectionEngine(() => ({ lost_events: cfg }), { detectors: registry });
    const whole = engine();
    const uninterrupted = events.flatMap((e) => whole.process(e).anomalies);
    expect(uninterrupted).toHaveLength(2);
    for (let cut = 1; cut < events.length; cut += 3) {
      const first = engine();
      const before = events.slice(0, cut).flatMap((e) => first.process(e).anomalies);
      const second = engine();
      second.restore(JSON.parse(JSON.stringify(first.snapshot())) as EngineSnapshot);
      expect([...before, ...events.slice(cut).flatMap((e) => second.process(e).anomalies)]).toEqual(uninterrupted);
    }
  });

  it('forgets sessions and orgs idle past the horizon, and keeps a few numbers per session', () => {
    const engine = createDetectionEngine(() => ({ lost_events: cfg }), {
      detectors: { lost_events: lostEvents },
      idleHorizonMs: 3_600_000,
      sweepEveryMs: 60_000,
    });
    for (const e of session([1, 1, 1], [1])) engine.process(e);
    expect(engine.stats().keys).toEqual({ lost_events: 2 });
    const state = engine.snapshot().detectors.lost_events as LostEventsState;
    expect(state.sessions[`acme\u001f${SESSION}`]).toMatchObject({ metrics: 3, events: 2, intervals: [], slots: [] });
    expect(Object.keys(state.orgs)).toEqual(['acme']);

    engine.process(usageEvent({ event_id: 'later', org: 'other', occurred_at: iso(sec(90)), session_id: 'elsewhere' }));
    const after = engine.snapshot().detectors.lost_events as LostEventsState;
    expect(Object.keys(after.sessions)).toEqual([`other\u001felsewhere`]);
    expect(Object.keys(after.orgs)).toEqual(['other']);
    expect(after.pending).toEqual([]);
  });

  it('keeps the calls of a session whose metrics never come in a few slots, counting the settled ones at once', () => {
    const state = lostEvents.initialState();
    for (let i = 0; i < 200; i++) lostEvents.step(state, call(sec(i), 1), cfg, { watermark: sec(i), occurredAt: sec(i) });
    const s = state.sessions[`acme\u001f${SESSION}`] as LostSession;
    expect(s.slots.length).toBeLessThanOrEqual(48);
    // Filled to 24 slots, then those over 5 minutes older than the newest are counted in one pass.
    expect(s.events).toBeGreaterThan(170);
    expect(s.events + s.slots.filter((_, i) => i % 2 === 1).reduce((x, y) => x + y, 0)).toBe(200);
  });

  it('merges the oldest slots of calls that arrive newest first, keeping the earlier time', () => {
    const state = lostEvents.initialState();
    for (let i = 40; i > 0; i--) lostEvents.step(state, call(sec(0, i * 15), 1), cfg, { watermark: sec(11), occurredAt: sec(0, i * 15) });
    const s = state.sessions[`acme\u001f${SESSION}`] as LostSession;
    expect(s.slots.length).toBe(48);
    expect(Math.min(...s.slots.filter((_, i) => i % 2 === 0))).toBe(sec(0, 15));
    expect(s.events + s.slots.filter((_, i) => i % 2 === 1).reduce((x, y) => x + y, 0)).toBe(40);
  });
});
