import type { Anomaly, UsageEvent } from '@burnrate/schemas';
import { describe, expect, it } from 'vitest';
import { withScoreSink, type Detector, type ScorePoint } from './detector.ts';
import {
  createDetectionEngine,
  LIVE_SILENCE_MS,
  type DETECTORS,
  type DetectorConfigs,
  type EngineOptions,
  type EngineSnapshot,
} from './engine.ts';
import { sessionCost } from './session-cost.ts';
import { LOST_EVENTS_DEFAULTS, SPEND_SPIKE_DEFAULTS, testEnv } from './test-env.ts';
import { anomaly, usageEvent } from '@burnrate/testing/builders';
import { at } from './test-events.ts';

const T0 = '2026-11-25T10:00:00.000Z';

const spike = testEnv(SPEND_SPIKE_DEFAULTS);
const mix = testEnv({ enabled: true, min_impact_usd: 50, min_share_increase_points: 20, baseline_weeks: 4, max_p_value: 0.01 });
const cache = testEnv({
  enabled: true,
  min_impact_usd: 20,
  min_drop_points: 30,
  baseline_days: 7,
  cool_down_hours: 6,
  min_season_weeks: 2,
});

const configs: DetectorConfigs = {
  session_cost: testEnv({ enabled: true, warning_usd: 25, critical_usd: 100 }),
  runaway_session: testEnv({ enabled: true, min_impact_usd: 10, max_hours_without_human: 4, off_hours_factor: 0.5, critical_factor: 3 }),
  context_bloat: testEnv({
    enabled: true,
    min_impact_usd: 5,
    max_input_tokens_per_call: 150_000,
    cost_per_turn_factor: 8,
    baseline_turns: 3,
    cool_down_hours: 2,
  }),
  new_spender: testEnv({ enabled: true, min_impact_usd: 5, window_hours: 24 }),
  spend_spike: spike,
  model_mix_drift: mix,
  cache_efficiency_drop: cache,
  lost_events: testEnv(LOST_EVENTS_DEFAULTS),
};

const engine = (options: Omit<EngineOptions<typeof DETECTORS>, 'detectors'> = {}) => createDetectionEngine(() => configs, options);

/** A busy mixed stream: 3 developers, 6 sessions, some events without a session, over 5 hours. */
function stream(): UsageEvent[] {
  return Array.from({ length: 300 }, (_, i) => {
    const dev = ['alice', 'bob', 'carol'][i % 3] as string;
    return usageEvent({
      event_id: `evt-${i}`,
      occurred_at: at(T0, i),
      developer: `${dev}@acme.com`,
      developer_email: `${dev}@acme.com`,
      session_id: i % 10 === 9 ? undefined : `sess-${dev}-${Math.floor(i / 150)}`,
      cost_usd: 0.35 + (i % 11) * 0.21,
    });
  });
}

/**
 * `stream()` plus one story per event detector, interleaved by time: bob's agent runs for 5 h on
 * one prompt (runaway_session), carol's context grows every call (context_bloat), an
 * unattributed contractor spends $6 (new_spender) and dave's Claude Code metrics count $1 a minute
 * for 10 minutes while the log records of every other minute are lost (lost_events).
 */
function richStream(): UsageEvent[] {
  const loop = Array.from({ length: 60 }, (_, i) =>
    usageEvent({
      event_id: `loop-${i}`,
      occurred_at: at(T0, i * 5),
      developer: 'bob@acme.com',
      developer_email: 'bob@acme.com',
      session_id: 'loop',
      prompt_id: 'p-loop',
      cost_usd: 0.25,
    }),
  );
  const bloat = Array.from({ length: 60 }, (_, i) =>
    usageEvent({
      event_id: `bloat-${i}`,
      occurred_at: at(T0, i * 2 + 1),
      developer: 'carol@acme.com',
      developer_email: 'carol@acme.com',
      session_id: 'bloat',
      input_tokens: 0,
      cache_read_tokens: 20_000 + i * 5_000,
      cost_usd: ((20_000 + i * 5_000) * 5) / 1e6,
    }),
  );
  const stranger = [30, 40].map((m) =>
    usageEvent({
      event_id: `eve-${m}`,
      occurred_at: at(T0, m),
      developer: 'eve@contractor.io',
      developer_email: 'eve@contractor.io',
      team: 'unattributed',
      session_id: undefined,
      cost_usd: 3,
    }),
  );
  const dave = { developer: 'dave@acme.com', developer_email: 'dave@acme.com', session_id: 'lossy' };
  const lossy = Array.from({ length: 10 }, (_, i) => [
    usageEvent({
      event_id: `metrics-${i}`,
      source: 'claude_code_metrics',
      granularity: '1m',
      occurred_at: at(T0, 10 + i),
      period_start: at(T0, 10 + i),
      period_end: at(T0, 11 + i),
      requests: 0,
      cost_usd: 1,
      ...dave,
    }),
    ...(i % 2 === 1 ? [] : [usageEvent({ event_id: `lossy-${i}`, occurred_at: at(T0, 10.5 + i), cost_usd: 1, ...dave })]),
  ]).flat();
  // Report buckets arrive when their period ends.
  const arrival = (e: UsageEvent): string => e.period_end ?? e.occurred_at;
  return [...stream(), ...loop, ...bloat, ...stranger, ...lossy].sort((a, b) =>
    arrival(a) < arrival(b) ? -1 : arrival(a) > arrival(b) ? 1 : 0,
  );
}

/**
 * Six weeks of a team's working hours (Berlin), two calls an hour per developer, with one incident
 * per bucket detector in the last two weeks: alice's spend spikes for an afternoon, bob's tool
 * switches from haiku to opus, carol's cache reads stop. Used to check that every registered
 * detector survives a snapshot.
 */
const SONNET = { model: 'claude-sonnet-4-5', model_family: 'claude-sonnet', tier: 'standard' as const };

function sixWeeks(): UsageEvent[] {
  const start = Date.parse('2026-10-05T00:00:00Z'); // a Monday
  const out: UsageEvent[] = [];
  let n = 0;
  for (let d = 0; d < 42; d++) {
    if ((d + 1) % 7 === 0 || (d + 1) % 7 === 6) continue;
    for (let h = 7; h < 16; h++) {
      for (const half of [5, 35]) {
        const occurred_at = new Date(start + d * 86_400_000 + h * 3_600_000 + half * 60_000).toISOString();
        const wobble = ((d * 7 + h * 3) % 5) / 10;
        const spike = d === 36 && h >= 12 && h < 15 ? 12 : 1;
        out.push(usageEvent({ event_id: `w-a-${n}`, occurred_at, session_id: `a-${d}`, ...SONNET, cost_usd: (4 + wobble) * spike }));
        const drifted = d >= 28;
        out.push(
          usageEvent({
            event_id: `w-b-${n}`,
            occurred_at,
            developer: 'bob@acme.com',
            developer_email: 'bob@acme.com',
            session_id: `b-${d}`,
            ...(drifted ? {} : { model: 'claude-haiku-4-5', model_family: 'claude-haiku', tier: 'economy' as const }),
            cost_usd: drifted ? 5 + wobble : 0.6 + wobble / 10,
          }),
        );
        const broken = d >= 30;
        out.push(
          usageEvent({
            event_id: `w-c-${n}`,
            occurred_at,
            developer: 'carol@acme.com',
            developer_email: 'carol@acme.com',
            session_id: `c-${d}`,
            ...SONNET,
            input_tokens: broken ? 400_000 : 20_000,
            cache_read_tokens: broken ? 0 : 380_000,
            cost_usd: broken ? 6 + wobble : 1.2 + wobble / 5,
          }),
        );
        n += 1;
      }
    }
  }
  return out;
}

function processAll(e: ReturnType<typeof engine>, evs: readonly UsageEvent[]): Anomaly[] {
  return evs.flatMap((ev) => e.process(ev).anomalies);
}

describe('createDetectionEngine', () => {
  it('runs session_cost over events, resolving sessions that went idle', () => {
    const out = processAll(engine(), stream());
    expect(out.map((a) => `${a.subject.session}:${a.version}:${a.severity}:${a.status}`).sort()).toEqual([
      'sess-alice-0:1:warning:open',
      'sess-alice-0:2:warning:resolved',
      'sess-alice-1:1:warning:open',
      'sess-bob-0:1:warning:open',
      'sess-bob-0:2:warning:resolved',
      'sess-bob-1:1:warning:open',
      'sess-carol-0:1:warning:open',
      'sess-carol-0:2:warning:resolved',
      'sess-carol-1:1:warning:open',
    ]);
  });

  it('runs every registered detector', () => {
    const out = processAll(engine(), richStream());
    const kinds = out
      .filter((a) => a.kind !== 'session_cost')
      .map((a) => `${a.kind}:${a.subject.developer}:${a.version}:${a.severity}:${a.status}`);
    expect(kinds).toEqual([
      // Dave's missing cost: $1 once the second minute is compared, then $2 and $4 (each a doubling).
      'lost_events:dave@acme.com:1:info:open',
      'lost_events:dave@acme.com:2:info:open',
      'lost_events:dave@acme.com:3:info:open',
      'new_spender:eve@contractor.io:1:warning:open',
      'context_bloat:carol@acme.com:1:warning:open',
      'context_bloat:carol@acme.com:2:critical:open',
      'context_bloat:carol@acme.com:3:critical:resolved', // carol's session idle for 2 h
      'runaway_session:bob@acme.com:1:warning:open',
    ]);
  });

  it('gives the same output after a snapshot, a JSON round trip and a restore mid-stream', () => {
    const evs = richStream().concat(
      // Push one session over the critical cap after the cut, so a version 2 depends on restored state.
      Array.from({ length: 10 }, (_, i) =>
        usageEvent({ event_id: `big-${i}`, occurred_at: at(T0, 300 + i), session_id: 'sess-alice-1', cost_usd: 12 }),
      ),
    );
    const uninterrupted = processAll(engine(), evs);
    expect(uninterrupted.some((a) => a.severity === 'critical' && a.version === 2)).toBe(true);

    expect(new Set(uninterrupted.map((a) => a.kind))).toEqual(
      new Set(['session_cost', 'runaway_session', 'context_bloat', 'new_spender', 'lost_events']),
    );
    for (const cut of [1, 77, 151, 299, 333, 401, 425, 430]) {
      const first = engine();
      const before = processAll(first, evs.slice(0, cut));
      const saved = JSON.stringify(first.snapshot());
      const second = engine();
      second.restore(JSON.parse(saved) as EngineSnapshot);
      const after = processAll(second, evs.slice(cut));
      expect([...before, ...after]).toEqual(uninterrupted);
    }
  });

  it('gives every registered detector the same output after a snapshot and restore mid-stream', () => {
    const evs = [...sixWeeks(), ...richStream()];
    const uninterrupted = processAll(engine(), evs);
    const scopes = new Set(uninterrupted.map((a) => `${a.kind}${a.subject.developer === undefined ? ':team' : ''}`));
    // Every entry of DETECTORS: the event detectors and each bucket detector at developer scope;
    // team scope is stage B's (team-engine.ts).
    expect([...scopes].sort()).toEqual([
      'cache_efficiency_drop',
      'context_bloat',
      'lost_events',
      'model_mix_drift',
      'new_spender',
      'runaway_session',
      'session_cost',
      'spend_spike',
    ]);
    for (const cut of [1, 700, 1300, 1500, 1650, 1800, 2000]) {
      const first = engine();
      const before = processAll(first, evs.slice(0, cut));
      const second = engine();
      second.restore(JSON.parse(JSON.stringify(first.snapshot())) as EngineSnapshot);
      expect([...before, ...processAll(second, evs.slice(cut))]).toEqual(uninterrupted);
    }
  });

  it('takes a snapshot it owns as its state without a copy, with the same output', () => {
    const evs = [...sixWeeks(), ...richStream()];
    const uninterrupted = processAll(engine(), evs);
    for (const cut of [700, 1650]) {
      const first = engine();
      const before = processAll(first, evs.slice(0, cut));
      const parsed = JSON.parse(JSON.stringify(first.snapshot())) as EngineSnapshot;
      const second = engine();
      second.restore(parsed, { owned: true });
      expect(second.snapshotView().seen).toBe(parsed.seen);
      expect([...before, ...processAll(second, evs.slice(cut))]).toEqual(uninterrupted);
    }
  });

  it('tells a score sink where every detector evaluates, and detects exactly the same with one', () => {
    const evs = [...sixWeeks(), ...richStream()];
    const points: ScorePoint[] = [];
    const scored = withScoreSink(configs, (p) => points.push(p));
    const anomalies = processAll(
      createDetectionEngine(() => scored),
      evs,
    );
    expect(anomalies).toEqual(processAll(engine(), evs));
    expect(new Set(points.map((p) => p.kind))).toEqual(new Set(Object.keys(configs)));
    expect(points.every((p) => Number.isFinite(p.score) && Number.isFinite(p.threshold))).toBe(true);
    // Every episode opened where a point said the thresholds were met.
    for (const a of anomalies.filter((x) => x.version === 1)) {
      const met = points.some(
        (p) =>
          p.kind === a.kind &&
          p.subject.developer === a.subject.developer &&
          p.subject.session === a.subject.session &&
          p.at <= Date.parse(a.detected_at) &&
          p.severity !== null,
      );
      expect(met, `${a.kind} ${a.subject.developer ?? ''} ${a.detected_at}`).toBe(true);
    }
    // alice's afternoon spike (12:00-15:00 UTC on 10 Nov): the hour before is a miss, the first hour a hit.
    const alice = (hour: string) =>
      points.find(
        (p) =>
          p.kind === 'spend_spike' &&
          p.subject.developer === 'alice@acme.com' &&
          p.subject.model === undefined &&
          p.at === Date.parse(hour),
      );
    expect(alice('2026-11-10T11:00:00Z')).toMatchObject({ threshold: 3.5, unit: 'z', severity: null });
    expect(alice('2026-11-10T11:00:00Z')?.score).toBeLessThan(3.5);
    expect(alice('2026-11-10T12:00:00Z')).toMatchObject({ threshold: 3.5, unit: 'z', min_impact_usd: 50 });
    expect(alice('2026-11-10T12:00:00Z')?.score).toBeGreaterThan(3.5);
    expect(alice('2026-11-10T12:00:00Z')?.severity).not.toBeNull();
  });

  it('keeps state that survives a JSON round trip exactly', () => {
    const e = engine();
    processAll(e, stream());
    const snap = e.snapshot();
    expect(JSON.parse(JSON.stringify(snap))).toStrictEqual(snap);
  });

  it('serialises its snapshot view exactly as the copied snapshot', () => {
    const e = engine();
    processAll(e, stream());
    expect(JSON.stringify(e.snapshotView())).toBe(JSON.stringify(e.snapshot()));
  });

  it('returns snapshots that later events do not change', () => {
    const e = engine();
    const evs = stream();
    processAll(e, evs.slice(0, 100));
    const snap = e.snapshot();
    const text = JSON.stringify(snap);
    processAll(e, evs.slice(100));
    expect(JSON.stringify(snap)).toBe(text);
  });

  describe('duplicate event ids', () => {
    it('ignores a redelivered event so its cost counts once', () => {
      const e = engine();
      const first = usageEvent({ event_id: 'dup-1', occurred_at: T0, cost_usd: 20 });
      expect(e.process(first)).toEqual({ anomalies: [], duplicate: false, late: false, superseded: false });
      expect(e.process(first)).toEqual({ anomalies: [], duplicate: true, late: false, superseded: false });
      expect(e.process({ ...first, occurred_at: at(T0, 1) })).toMatchObject({ duplicate: true });
      const next = e.process(usageEvent({ event_id: 'dup-2', occurred_at: at(T0, 2), cost_usd: 6 }));
      expect(next.anomalies.map((a) => a.observed.value)).toEqual([26]);
    });

    it('remembers ids per org:developer, so another developer with the same id is not a duplicate', () => {
      const e = engine();
      e.process(usageEvent({ event_id: 'same', occurred_at: T0 }));
      expect(e.process(usageEvent({ event_id: 'same', occurred_at: T0, developer: 'bob@acme.com' })).duplicate).toBe(false);
    });

    it('remembers the last dedupeCapacity ids per key and no more', () => {
      const e = engine({ dedupeCapacity: 3 });
      for (const id of ['a', 'b', 'c', 'd']) e.process(usageEvent({ event_id: id, occurred_at: T0, cost_usd: 0 }));
      expect(e.process(usageEvent({ event_id: 'b', occurred_at: T0, cost_usd: 0 })).duplicate).toBe(true);
      // 'a' fell out of the ring when 'd' came in.
      expect(e.process(usageEvent({ event_id: 'a', occurred_at: T0, cost_usd: 0 })).duplicate).toBe(false);
    });

    it('keeps a full ring at exactly dedupeCapacity ids, the default 64', () => {
      const e = engine();
      for (let i = 0; i < 200; i++) e.process(usageEvent({ event_id: `id-${i}`, occurred_at: T0, cost_usd: 0 }));
      const ring = Object.values(e.snapshot().seen)[0];
      expect(ring?.ids).toHaveLength(64);
      expect(e.process(usageEvent({ event_id: 'id-136', occurred_at: T0, cost_usd: 0 })).duplicate).toBe(true);
      expect(e.process(usageEvent({ event_id: 'id-135', occurred_at: T0, cost_usd: 0 })).duplicate).toBe(false);
    });

    it('restores a ring saved with a larger capacity to its newest ids, oldest first', () => {
      // Saved when the capacity was 128: full and wrapped, so the newest ids sit just before `next`.
      const old = engine({ dedupeCapacity: 128 });
      for (let i = 0; i < 133; i++) old.process(usageEvent({ event_id: `id-${i}`, occurred_at: T0, cost_usd: 0 }));
      const saved = JSON.parse(JSON.stringify(old.snapshot())) as EngineSnapshot;
      expect(Object.values(saved.seen)[0]).toMatchObject({ next: 5 });

      const e = engine();
      e.restore(saved);
      const ring = Object.values(e.snapshot().seen)[0];
      expect(ring).toMatchObject({ next: 0 });
      expect(ring?.ids).toHaveLength(64);
      expect(e.process(usageEvent({ event_id: 'id-69', occurred_at: T0, cost_usd: 0 })).duplicate).toBe(true);
      expect(e.process(usageEvent({ event_id: 'id-132', occurred_at: T0, cost_usd: 0 })).duplicate).toBe(true);
      // id-68 was kept only at 128. Each new id overwrites the oldest kept: id-68 takes id-69's
      // place, then id-69 takes id-70's, and id-71 is still there.
      expect(e.process(usageEvent({ event_id: 'id-68', occurred_at: T0, cost_usd: 0 })).duplicate).toBe(false);
      expect(e.process(usageEvent({ event_id: 'id-69', occurred_at: T0, cost_usd: 0 })).duplicate).toBe(false);
      expect(e.process(usageEvent({ event_id: 'id-71', occurred_at: T0, cost_usd: 0 })).duplicate).toBe(true);
      expect(e.process(usageEvent({ event_id: 'id-70', occurred_at: T0, cost_usd: 0 })).duplicate).toBe(false);
    });

    it('still recognises duplicates after a restore', () => {
      const e = engine();
      const ev = usageEvent({ event_id: 'dup-r', occurred_at: T0, cost_usd: 20 });
      e.process(ev);
      const restored = engine();
      restored.restore(JSON.parse(JSON.stringify(e.snapshot())) as EngineSnapshot);
      expect(restored.process(ev).duplicate).toBe(true);
    });
  });

  describe('eviction', () => {
    it('forgets sessions and dedupe keys idle beyond the horizon as event time advances', () => {
      const e = engine({ idleHorizonMs: 24 * 3_600_000, sweepEveryMs: 15 * 60_000 });
      e.process(usageEvent({ event_id: 'old', occurred_at: T0, session_id: 'idle', cost_usd: 20 }));
      e.process(usageEvent({ event_id: 'b-1', occurred_at: at(T0, 60), developer: 'bob@acme.com', session_id: 'live', cost_usd: 1 }));
      expect(e.stats().keys).toMatchObject({ session_cost: 2 });

      // 23h later: nobody is idle for 24h yet.
      e.process(usageEvent({ event_id: 'b-2', occurred_at: at(T0, 23 * 60), developer: 'bob@acme.com', session_id: 'live', cost_usd: 1 }));
      expect(e.stats()).toMatchObject({ keys: { session_cost: 2 }, dedupeKeys: 2 });

      // 24h 30m after the idle session's only event, the next sweep drops it and alice's ids.
      e.process(
        usageEvent({ event_id: 'b-3', occurred_at: at(T0, 24 * 60 + 30), developer: 'bob@acme.com', session_id: 'live', cost_usd: 1 }),
      );
      expect(e.stats()).toMatchObject({ keys: { session_cost: 1 }, dedupeKeys: 1 });

      // The idle session starts over: its earlier $20 is gone, so $10 more does not warn.
      const out = e.process(usageEvent({ event_id: 'new', occurred_at: at(T0, 24 * 60 + 31), session_id: 'idle', cost_usd: 10 }));
      expect(out.anomalies).toEqual([]);
    });

    it('sweeps only once per sweepEveryMs of event time', () => {
      let evictCalls = 0;
      const counting: Detector<{ n: number }, null> = {
        kind: 'spend_spike',
        initialState: () => ({ n: 0 }),
        step: (state) => ({ state: { n: state.n + 1 }, anomalies: [] }),
        evict: (state) => {
          evictCalls += 1;
          return state;
        },
        size: () => 0,
      };
      const e = createDetectionEngine(() => ({ counting: null }), { detectors: { counting }, sweepEveryMs: 15 * 60_000 });
      for (let minute = 0; minute < 120; minute++) e.process(usageEvent({ event_id: `m${minute}`, occurred_at: at(T0, minute) }));
      expect(evictCalls).toBe(7); // at minutes 15, 30, … 105
      expect(e.snapshot().detectors).toEqual({ counting: { n: 120 } });
    });

    it('does not let an event from a clock far in the future evict everyone', () => {
      const e = engine();
      e.process(usageEvent({ event_id: 'now', occurred_at: T0, session_id: 'live', cost_usd: 1 }));
      e.process(usageEvent({ event_id: 'future', occurred_at: '2099-01-01T00:00:00Z', ingested_at: at(T0, 1), session_id: 'x' }));
      expect(e.stats().watermark).toBe(at(T0, 6));
      expect(e.stats().keys).toMatchObject({ session_cost: 2 });
    });
  });

  describe('event time', () => {
    it('counts an event older than watermark − allowed lateness as late; only session detectors take it', () => {
      const e = engine({ allowedLatenessMs: 10 * 60_000 });
      e.process(usageEvent({ event_id: 'a', occurred_at: at(T0, 30), cost_usd: 20 }));
      // 9 minutes behind: in time, merged everywhere.
      expect(e.process(usageEvent({ event_id: 'b', occurred_at: at(T0, 21), cost_usd: 1 }))).toMatchObject({ late: false });
      // 20 minutes behind: late. session_cost still adds it to the open session and crosses $25.
      const late = e.process(usageEvent({ event_id: 'c', occurred_at: at(T0, 10), cost_usd: 5 }));
      expect(late.late).toBe(true);
      expect(late.anomalies.map((a) => [a.kind, a.observed.value])).toEqual([['session_cost', 26]]);
      // A late event never moves the watermark or creates a session.
      e.process(usageEvent({ event_id: 'd', occurred_at: at(T0, 5), session_id: 'gone', cost_usd: 50 }));
      expect(e.stats()).toMatchObject({
        watermark: at(T0, 30),
        events: 4,
        late: 2,
        lateDropped: { session_cost: 0, runaway_session: 0, context_bloat: 0, new_spender: 2 },
        keys: { session_cost: 1 },
      });
    });

    it('reads the allowed lateness per event, so a config reload applies', () => {
      let lateness = 60 * 60_000;
      const e = engine({ allowedLatenessMs: () => lateness });
      e.process(usageEvent({ event_id: 'a', occurred_at: at(T0, 60) }));
      expect(e.process(usageEvent({ event_id: 'b', occurred_at: at(T0, 30) })).late).toBe(false);
      lateness = 10 * 60_000;
      expect(e.process(usageEvent({ event_id: 'c', occurred_at: at(T0, 30) })).late).toBe(true);
    });

    it('advances detectors once per minute boundary the watermark crosses, before stepping the event', () => {
      const calls: string[] = [];
      const probe: Detector<null, null> = {
        kind: 'spend_spike',
        initialState: () => null,
        step: (state, ev, _cfg, ctx) => {
          calls.push(`step ${ev.event_id} ${(ctx.watermark - Date.parse(T0)) / 1000}s`);
          return { state, anomalies: [] };
        },
        advance: (state, watermark) => {
          calls.push(`advance ${(watermark - Date.parse(T0)) / 1000}s`);
          return { state, anomalies: [] };
        },
        evict: (state) => state,
        size: () => 0,
      };
      const e = createDetectionEngine(() => ({ probe: null }), { detectors: { probe } });
      const ev = (id: string, seconds: number) =>
        usageEvent({ event_id: id, occurred_at: new Date(Date.parse(T0) + seconds * 1000).toISOString() });
      for (const [id, sec] of [
        ['a', 0],
        ['b', 30],
        ['c', 59],
        ['d', 61],
        ['e', 45],
        ['f', 3600],
      ] as const)
        e.process(ev(id, sec));
      expect(calls).toEqual([
        'step a 0s',
        'step b 30s',
        'step c 59s',
        'advance 61s',
        'step d 61s',
        'step e 61s',
        'advance 3600s',
        'step f 3600s',
      ]);
    });
  });

  describe('source precedence', () => {
    /** An Anthropic usage-report bucket of the hour starting `start`, as the poller publishes it. */
    const bucket = (id: string, start: string, cost: number, provider = 'anthropic'): UsageEvent =>
      usageEvent({
        event_id: id,
        source: 'anthropic_usage_report',
        provider,
        granularity: '1h',
        period_start: start,
        period_end: new Date(Date.parse(start) + 3_600_000).toISOString(),
        occurred_at: start,
        ingested_at: at(start, 300),
        developer: 'key-ci@acme.com',
        session_id: undefined,
        cost_usd: cost,
      });
    /** A counting detector: what reached the detectors. */
    const counting: Detector<{ ids: string[] }, null> = {
      kind: 'new_spender',
      late: 'accept',
      initialState: () => ({ ids: [] }),
      step: (state, event) => ({ state: { ids: [...state.ids, event.event_id] }, anomalies: [] }),
      evict: (state) => state,
      size: () => 0,
    };
    const counted = () => createDetectionEngine(() => ({ counting: null }), { detectors: { counting } });

    it('keeps a report bucket out of detection once request-level events of its provider cover it', () => {
      const e = counted();
      const live = e.process(usageEvent({ event_id: 'otel-1', occurred_at: T0, cost_usd: 2 }));
      expect(live.superseded).toBe(false);
      const report = e.process(bucket('report-1', '2026-11-25T10:00:00.000Z', 2));
      expect(report).toMatchObject({ superseded: true, duplicate: false, late: false, anomalies: [] });
      expect(e.snapshot().detectors.counting).toEqual({ ids: ['otel-1'] });
      expect(e.stats().superseded).toBe(1);
      expect(e.stats().watermark).toBe(T0);
    });

    it('steps a superseded bucket through the detectors that accept reports only, and still answers superseded', () => {
      const comparing: Detector<{ ids: string[]; late: boolean[] }, null> = {
        kind: 'new_spender',
        reports: 'accept',
        initialState: () => ({ ids: [], late: [] }),
        step: (state, event, _cfg, ctx) => {
          state.ids.push(event.event_id);
          state.late.push(ctx.late === true);
          return { state, anomalies: event.event_id === 'report-1' ? [anomaly({ id: 'gap' })] : [] };
        },
        evict: (state) => state,
        size: () => 0,
      };
      const e = createDetectionEngine(() => ({ counting: null, comparing: null }), { detectors: { counting, comparing } });
      e.process(usageEvent({ event_id: 'otel-1', occurred_at: '2026-11-25T08:00:00.000Z' }));
      e.process(usageEvent({ event_id: 'otel-2', occurred_at: '2026-11-25T12:00:00.000Z' }));
      const report = e.process(bucket('report-1', '2026-11-25T11:55:00.000Z', 2));
      expect(report).toMatchObject({ superseded: true, duplicate: false, late: false });
      expect(report.anomalies.map((a) => a.id)).toEqual(['gap']);
      // Older than the watermark minus the allowed lateness: not given to a detector that takes no late events.
      expect(e.process(bucket('report-old', '2026-11-25T09:00:00.000Z', 2)).superseded).toBe(true);
      expect(e.snapshot().detectors).toEqual({
        counting: { ids: ['otel-1', 'otel-2'] },
        comparing: { ids: ['otel-1', 'otel-2', 'report-1'], late: [false, false, false] },
      });
      expect(e.stats()).toMatchObject({ superseded: 2, watermark: '2026-11-25T12:00:00.000Z' });
    });

    it('judges the reports of a provider nothing emits live for, and those from before the live feed began', () => {
      const e = counted();
      e.process(usageEvent({ event_id: 'otel-1', occurred_at: T0 }));
      expect(e.process(bucket('openai-1', '2026-11-25T10:00:00.000Z', 5, 'openai')).superseded).toBe(false);
      // A backfilled bucket that ended before the first live event: nothing live counted it.
      expect(e.process(bucket('report-old', '2026-11-25T08:00:00.000Z', 5)).superseded).toBe(false);
      // The hour the live feed began in is covered.
      expect(e.process(bucket('report-9', '2026-11-25T09:30:00.000Z', 5)).superseded).toBe(true);
      expect((e.snapshot().detectors.counting as { ids: string[] }).ids).toEqual(['otel-1', 'openai-1', 'report-old']);
    });

    it('judges the reports again once the live feed has been silent for LIVE_SILENCE_MS', () => {
      const e = counted();
      e.process(usageEvent({ event_id: 'otel-1', occurred_at: T0 }));
      const sixDays = new Date(Date.parse(T0) + 6 * 86_400_000).toISOString().slice(0, 13) + ':00:00.000Z';
      const eightDays = new Date(Date.parse(T0) + 8 * 86_400_000).toISOString().slice(0, 13) + ':00:00.000Z';
      expect(e.process(bucket('report-6d', sixDays, 1)).superseded).toBe(true);
      expect(e.process(bucket('report-8d', eightDays, 1)).superseded).toBe(false);
      expect(LIVE_SILENCE_MS).toBe(7 * 86_400_000);
    });

    it('remembers the live feeds across a snapshot and restore', () => {
      const before = counted();
      before.process(usageEvent({ event_id: 'otel-1', occurred_at: T0 }));
      const after = counted();
      after.restore(JSON.parse(JSON.stringify(before.snapshot())) as EngineSnapshot);
      expect(after.process(bucket('report-1', '2026-11-25T10:00:00.000Z', 2)).superseded).toBe(true);
      // A snapshot from before live coverage was kept restores without it: reports are judged.
      const old = JSON.parse(JSON.stringify(before.snapshot())) as EngineSnapshot;
      delete old.live;
      const legacy = counted();
      legacy.restore(old);
      expect(legacy.process(bucket('report-2', '2026-11-25T11:00:00.000Z', 2)).superseded).toBe(false);
    });
  });

  describe('restore', () => {
    it('rejects a snapshot of an unknown format, naming it', () => {
      expect(() => engine().restore({ format: 2 } as unknown as EngineSnapshot)).toThrow(/format 2 is not supported/);
    });

    it('starts a detector missing from the snapshot from its initial state and drops unknown ones', () => {
      const counter: Detector<{ n: number }, null> = {
        kind: 'new_spender',
        initialState: () => ({ n: 0 }),
        step: (state) => ({ state: { n: state.n + 1 }, anomalies: [] }),
        evict: (state) => state,
        size: () => 0,
      };
      const old = engine();
      old.process(usageEvent({ event_id: 'x', occurred_at: T0 }));
      const grown = createDetectionEngine(() => ({ ...configs, counter: null }), { detectors: { session_cost: sessionCost, counter } });
      grown.restore(JSON.parse(JSON.stringify(old.snapshot())) as EngineSnapshot);
      grown.process(usageEvent({ event_id: 'y', occurred_at: at(T0, 1) }));
      expect(grown.snapshot().detectors.counter).toEqual({ n: 1 });
      expect(grown.stats().keys).toEqual({ session_cost: 1, counter: 0 });

      const shrunk = createDetectionEngine(() => ({ counter: null }), { detectors: { counter } });
      shrunk.restore(grown.snapshot());
      expect(Object.keys(shrunk.snapshot().detectors)).toEqual(['counter']);
    });
  });
});
