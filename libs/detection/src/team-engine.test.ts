import type { Anomaly, UsageEvent, UsageRollup } from '@burnrate/schemas';
import { describe, expect, it } from 'vitest';
import { overEvents, type BucketDetector } from './buckets/bucket-detector.ts';
import type { HourBucket } from './buckets/hourly.ts';
import { budgetForecast } from './budget-forecast.ts';
import { teamCacheEfficiencyDrop } from './cache-efficiency-drop.ts';
import { withScoreSink, type ScorePoint } from './detector.ts';
import { createDetectionEngine, type TeamDetectorConfigs } from './engine.ts';
import { teamModelMixDrift } from './model-mix-drift.ts';
import { spendSpike, teamSpendSpike } from './spend-spike.ts';
import { createTeamEngine, type TeamEngineSnapshot } from './team-engine.ts';
import { addToRollup, createRollupState, DEFAULT_MAX_CLOCK_SKEW_MS, developerSpikesOf, takeRollups } from './team-rollup.ts';
import { SPEND_SPIKE_DEFAULTS, testEnv } from './test-env.ts';
import { usageEvent } from '@burnrate/testing/builders';

/** Adds up every delta it is given per team×model×hour (developers together): what the team detectors were shown. */
const recorder: BucketDetector<Record<string, number[]>, null> = {
  kind: 'spend_spike',
  initialState: () => ({}),
  step(state, b: HourBucket) {
    const key = `${b.team}/${b.model}/${new Date(b.hour).toISOString().slice(11, 13)}`;
    const sum = state[key] ?? [0, 0, 0, 0, 0];
    state[key] = [
      sum[0]! + b.cost_usd,
      sum[1]! + b.events,
      sum[2]! + (b.premium_events ?? 0),
      sum[3]! + b.input_tokens,
      sum[4]! + b.cache_read_tokens,
    ];
    return { state, anomalies: [] };
  },
  advance: (state) => ({ state, anomalies: [] }),
  evict: (state) => state,
  size: (state) => Object.keys(state).length,
};

const recording = () => createTeamEngine(() => ({ seen: null }), { detectors: { seen: recorder } });
const seen = (e: ReturnType<typeof recording>) => {
  e.flush();
  return e.snapshot().detectors.seen as Record<string, number[]>;
};

function rollup(source: string, seq: number, o: Partial<UsageRollup> & { cost_usd: number; events: number }): UsageRollup {
  return {
    org: 'acme',
    team: 'payments',
    // A developer's events all go to one stage-A partition: one developer per source here.
    developer: source.endsWith(':0') ? 'alice@acme.com' : 'bob@acme.com',
    model: 'claude-opus-4-5',
    tier: 'premium',
    hour: '2026-11-25T10:00:00.000Z',
    cost_premium_usd: o.cost_usd,
    premium_events: o.events,
    input_tokens: o.events * 100,
    cache_read_tokens: o.events * 900,
    cache_write_tokens: 0,
    output_tokens: o.events * 10,
    source,
    seq,
    watermark: '2026-11-25T10:30:00.000Z',
    ...o,
  };
}

// Two stage-A partitions count the same team's 10:00 hour: a reaches $12 over 3 events, b $5 over 2.
const A1 = rollup('usage.events.v1:0', 10, { cost_usd: 4, events: 1 });
const A2 = rollup('usage.events.v1:0', 14, { cost_usd: 9, events: 2 });
const A3 = rollup('usage.events.v1:0', 20, { cost_usd: 12, events: 3, watermark: '2026-11-25T10:40:00.000Z' });
const B1 = rollup('usage.events.v1:1', 3, { cost_usd: 1, events: 1 });
const B2 = rollup('usage.events.v1:1', 8, { cost_usd: 5, events: 2 });
const TOTAL = { 'payments/claude-opus-4-5/10': [17, 5, 5, 500, 4500] };

describe('team engine: merging rollups', () => {
  it.each([
    ['in order, one source after the other', [A1, A2, A3, B1, B2]],
    ['interleaved', [B1, A1, B2, A2, A3]],
    ['with every message delivered twice', [A1, A1, B1, A2, B1, A2, A3, B2, A3, B2]],
    ['with an older total arriving after a newer one', [A3, A1, B2, A2, B1]],
    ['with only the latest of each source', [B2, A3]],
    ['redelivered from the start after the end', [A1, A2, A3, B1, B2, A1, A2, A3, B1, B2]],
  ])('%s: the detectors see each source once, summed', (_name, messages) => {
    const engine = recording();
    for (const m of messages) engine.process(m);
    expect(seen(engine)).toEqual(TOTAL);
  });

  it('merges and orders many keys waiting at one watermark, also across a snapshot and restore', () => {
    // Twelve developers (more than a scan looks through) in reverse order, each sent twice at one
    // watermark by the same source, the second time with higher totals.
    const devs = Array.from({ length: 12 }, (_, i) => `dev-${String(11 - i).padStart(2, '0')}@acme.com`);
    const sent = (pass: number) =>
      devs.map((developer, i) => rollup('usage.events.v1:0', pass * 100 + i, { developer, cost_usd: pass + 1, events: pass + 1 }));
    const straight = recording();
    for (const r of [...sent(0), ...sent(1)]) straight.process(r);
    const interrupted = recording();
    for (const r of sent(0)) interrupted.process(r);
    // The view the detector serialises is the copied snapshot, held buckets included.
    expect(JSON.stringify(interrupted.snapshotView())).toBe(JSON.stringify(interrupted.snapshot()));
    const restored = recording();
    restored.restore(JSON.parse(JSON.stringify(interrupted.snapshot())) as TeamEngineSnapshot);
    for (const r of sent(1)) restored.process(r);

    for (const e of [straight, restored]) {
      const pending = e.snapshot().pending;
      expect(Object.keys(pending).map((k) => k.split('\u001f')[2])).toEqual(devs);
      // Each key holds the second totals: 1 + (2 − 1).
      expect(Object.values(pending).map((b) => [b.cost_usd, b.events])).toEqual(devs.map(() => [2, 2]));
    }
    expect(seen(restored)).toEqual(seen(straight));
    expect(seen(straight)).toEqual({ 'payments/claude-opus-4-5/10': [24, 24, 24, 2400, 21600] });
  });

  it('holds what arrived at one watermark and steps it, in key order, when a later watermark comes', () => {
    const forward = recording();
    forward.process(A2);
    forward.process(B2);
    expect(forward.snapshot().detectors.seen).toEqual({});
    const backward = recording();
    backward.process(B2);
    backward.process(A2);
    // The same buckets in the same order, whichever partition's rollup came first.
    expect(backward.snapshot().pending).toEqual(forward.snapshot().pending);
    expect(Object.keys(forward.snapshot().pending).map((k) => k.split('\u001f')[2])).toEqual(['alice@acme.com', 'bob@acme.com']);
    // A3 is later (10:40), but b is still at 10:30: nothing is judged yet...
    forward.process(A3);
    expect(forward.snapshot().detectors.seen).toEqual({});
    // ...until b gets to 10:40 too: the 10:30 arrivals are judged first, A3's at 10:40 wait.
    forward.process(rollup('usage.events.v1:1', 9, { cost_usd: 5, events: 2, watermark: '2026-11-25T10:40:00.000Z' }));
    expect(forward.snapshot().detectors.seen).toEqual({ 'payments/claude-opus-4-5/10': [14, 4, 4, 400, 3600] });
    expect(seen(forward)).toEqual(TOTAL);
  });

  it('lets a source catching up behind the others hold team time back, so none of its hours is late', () => {
    // a has run hours ahead (a restart of b's partition, a slower instance); b then sends its 10:00 totals.
    const engine = recording();
    engine.process(B1);
    const ahead = ['11', '12', '13', '14'].map((h, i) =>
      rollup('usage.events.v1:0', 100 + i, {
        hour: `2026-11-25T${h}:00:00.000Z`,
        cost_usd: 1,
        events: 1,
        watermark: `2026-11-25T${h}:30:00.000Z`,
      }),
    );
    for (const r of ahead) engine.process(r);
    expect(engine.stats()).toMatchObject({ watermark: '2026-11-25T10:30:00.000Z', held: 4, late: 0 });
    expect(engine.process(B2)).toMatchObject({ late: false });
    expect(seen(engine)).toEqual({
      'payments/claude-opus-4-5/10': [5, 2, 2, 200, 1800],
      'payments/claude-opus-4-5/11': [1, 1, 1, 100, 900],
      'payments/claude-opus-4-5/12': [1, 1, 1, 100, 900],
      'payments/claude-opus-4-5/13': [1, 1, 1, 100, 900],
      'payments/claude-opus-4-5/14': [1, 1, 1, 100, 900],
    });
  });

  it('steps what waited ahead in time order, each at the time it arrived at, across a snapshot and restore', () => {
    const messages = [
      B1,
      rollup('usage.events.v1:0', 100, { hour: '2026-11-25T11:00:00.000Z', cost_usd: 2, events: 1, watermark: '2026-11-25T11:20:00.000Z' }),
      rollup('usage.events.v1:0', 101, { hour: '2026-11-25T11:00:00.000Z', cost_usd: 3, events: 2, watermark: '2026-11-25T11:20:00.000Z' }),
      rollup('usage.events.v1:0', 102, { hour: '2026-11-25T12:00:00.000Z', cost_usd: 1, events: 1, watermark: '2026-11-25T12:05:00.000Z' }),
      rollup('usage.events.v1:1', 9, { hour: '2026-11-25T11:00:00.000Z', cost_usd: 4, events: 1, watermark: '2026-11-25T11:50:00.000Z' }),
      rollup('usage.events.v1:1', 10, { hour: '2026-11-25T12:00:00.000Z', cost_usd: 1, events: 1, watermark: '2026-11-25T12:30:00.000Z' }),
    ];
    const straight = recording();
    for (const m of messages) straight.process(m);
    const first = recording();
    for (const m of messages.slice(0, 4)) first.process(m);
    expect(first.stats().held).toBe(2); // a's 11:00 (merged) and 12:00, ahead of b
    const restored = recording();
    restored.restore(JSON.parse(JSON.stringify(first.snapshot())) as TeamEngineSnapshot);
    for (const m of messages.slice(4)) restored.process(m);
    expect(restored.snapshot().detectors.seen).toEqual(straight.snapshot().detectors.seen);
    expect(seen(restored)).toEqual(seen(straight));
    expect(seen(straight)).toEqual({
      'payments/claude-opus-4-5/10': [1, 1, 1, 100, 900],
      'payments/claude-opus-4-5/11': [7, 3, 3, 300, 2700],
      'payments/claude-opus-4-5/12': [2, 2, 2, 200, 1800],
    });
  });

  it('stops waiting for a source that went quiet once it sent nothing for idleSourceMs (wall clock)', () => {
    const engine = recording();
    engine.process(A1, { receivedAt: 0 });
    engine.process(B1, { receivedAt: 0 });
    const later = rollup('usage.events.v1:0', 40, {
      hour: '2026-11-25T10:00:00.000Z',
      cost_usd: 5,
      events: 2,
      watermark: '2026-11-25T10:50:00.000Z',
    });
    engine.process(later, { receivedAt: 10_000 });
    expect(engine.stats()).toMatchObject({ watermark: '2026-11-25T10:30:00.000Z', live_sources: 2 });
    engine.process({ ...later, seq: 41 }, { receivedAt: 31_000 });
    expect(engine.stats()).toMatchObject({ watermark: '2026-11-25T10:50:00.000Z', live_sources: 1, sources: 2 });
  });

  it('on a cold start waits for the expected sources that have not spoken, until they are idle', () => {
    const engine = createTeamEngine(() => ({ seen: null }), {
      detectors: { seen: recorder },
      expectedSources: ['usage.events.v1:0', 'usage.events.v1:1', 'usage.events.v1:2'],
    });
    const at = (h: string, w: string) => ({ hour: `2026-11-25T${h}:00:00.000Z`, watermark: `2026-11-25T${w}:00.000Z` });
    engine.process(rollup('usage.events.v1:0', 1, { ...at('12', '12:30'), cost_usd: 1, events: 1 }), { receivedAt: 0 });
    // b's first rollup comes later, from hours before a's: it is not late, as a's hours waited.
    expect(
      engine.process(rollup('usage.events.v1:1', 1, { ...at('10', '10:30'), cost_usd: 2, events: 1 }), { receivedAt: 5_000 }),
    ).toMatchObject({
      late: false,
    });
    expect(engine.stats()).toMatchObject({ sources: 3, live_sources: 3, held: 2 });
    expect(engine.snapshot().detectors.seen).toEqual({});
    engine.process(rollup('usage.events.v1:0', 2, { ...at('12', '12:30'), cost_usd: 1, events: 1 }), { receivedAt: 29_000 });
    expect(engine.stats().watermark).toBe('1970-01-01T00:00:00.000Z');
    // Partition 2 never speaks (no developer of this team there): idle after 30 s, time moves on.
    engine.process(rollup('usage.events.v1:1', 2, { ...at('12', '12:40'), cost_usd: 1, events: 1 }), { receivedAt: 31_000 });
    expect(engine.stats()).toMatchObject({ watermark: '2026-11-25T12:30:00.000Z', live_sources: 2 });
    expect(seen(engine)).toEqual({
      'payments/claude-opus-4-5/10': [2, 1, 1, 100, 900],
      'payments/claude-opus-4-5/12': [2, 2, 2, 200, 1800],
    });
  });

  it('bounds what it holds for sources ahead: past maxHeldBuckets the watermark moves to the oldest of them', () => {
    const engine = createTeamEngine(() => ({ seen: null }), { detectors: { seen: recorder }, maxHeldBuckets: 2 });
    engine.process(B1);
    for (const [i, h] of ['11', '12', '13'].entries()) {
      engine.process(
        rollup('usage.events.v1:0', 100 + i, {
          hour: `2026-11-25T${h}:00:00.000Z`,
          cost_usd: 1,
          events: 1,
          watermark: `2026-11-25T${h}:30:00.000Z`,
        }),
      );
    }
    expect(engine.stats()).toMatchObject({ forced: 1, held: 2, watermark: '2026-11-25T11:30:00.000Z' });
    // That closed b's 10:00 hour (11:10 with 10 min lateness): what b sends for it now is late, and counted.
    expect(engine.process(B2)).toMatchObject({ late: true });
    expect(engine.stats().late).toBe(1);
  });

  it('says what it did with each rollup', () => {
    const engine = recording();
    expect(engine.process(A2)).toMatchObject({ stale: false, late: false });
    expect(engine.process(A1)).toMatchObject({ stale: true, late: false });
    expect(engine.process(A2)).toMatchObject({ stale: true, late: false });
    // 11:10 closes the 10:00 hour: b's totals for it are late now, counted and not merged.
    engine.process(
      rollup('usage.events.v1:0', 30, { hour: '2026-11-25T11:00:00.000Z', cost_usd: 1, events: 1, watermark: '2026-11-25T11:10:00.000Z' }),
    );
    expect(engine.process(B2)).toMatchObject({ stale: false, late: true });
    expect(seen(engine)).toEqual({
      'payments/claude-opus-4-5/10': [9, 2, 2, 200, 1800],
      'payments/claude-opus-4-5/11': [1, 1, 1, 100, 900],
    });
    expect(engine.stats()).toMatchObject({ rollups: 5, stale: 2, late: 1, regressed: 0, watermark: '2026-11-25T11:10:00.000Z' });
  });

  it('drops closed hours from memory and keeps only the open ones', () => {
    const engine = recording();
    engine.process(A1, { receivedAt: 0 });
    engine.process(B1, { receivedAt: 0 });
    expect(engine.stats().hours).toBe(2); // alice's and bob's 10:00
    // 15 min of event time later (a sweep; b has gone quiet), the 10:00 hour is closed.
    engine.process(
      rollup('usage.events.v1:0', 40, { hour: '2026-11-25T11:00:00.000Z', cost_usd: 1, events: 1, watermark: '2026-11-25T11:15:00.000Z' }),
      { receivedAt: 60_000 },
    );
    expect(engine.stats().hours).toBe(1);
    expect(Object.values(engine.snapshot().hours).map((h) => new Date(h.hour).toISOString())).toEqual(['2026-11-25T11:00:00.000Z']);
  });

  it('never feeds a drop in totals when a source restarted them, and counts it', () => {
    const engine = recording();
    engine.process(A2);
    // The partition lost its state and counted the hour again from zero, at later offsets.
    expect(engine.process(rollup('usage.events.v1:0', 50, { cost_usd: 1, events: 1 }))).toMatchObject({ regressed: true });
    engine.process(rollup('usage.events.v1:0', 51, { cost_usd: 3, events: 2 }));
    expect(seen(engine)).toEqual({ 'payments/claude-opus-4-5/10': [11, 3, 3, 300, 2700] });
    expect(engine.stats().regressed).toBe(1);
  });
});

// ---- The real team detectors: stage B over rollups against the team detectors inside one engine.

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
const teamConfigs: TeamDetectorConfigs = {
  spend_spike_team: spike,
  model_mix_drift_team: mix,
  cache_efficiency_drop_team: cache,
  budget_forecast: {
    ...testEnv({ enabled: true, min_impact_usd: 100, warning_share: 0.9, critical_share: 1.1, min_days_of_data: 5 }),
    budgetFor: () => 3000,
  },
};

const SONNET = { model: 'claude-sonnet-4-5', model_family: 'claude-sonnet', tier: 'standard' as const };

/**
 * Six weeks of one team's working hours, two calls an hour per developer, with a team incident
 * per detector in the last two weeks: a spend spike one afternoon, a switch from haiku to opus,
 * cache reads that stop, and a month heading over a tight budget.
 */
function sixWeeks(): UsageEvent[] {
  const start = Date.parse('2026-10-05T00:00:00Z');
  const out: UsageEvent[] = [];
  let n = 0;
  for (let d = 0; d < 42; d++) {
    if ((d + 1) % 7 === 0 || (d + 1) % 7 === 6) continue;
    for (let h = 7; h < 16; h++) {
      for (const minute of [5, 35]) {
        // Each developer at their own minute: equal times are merged before the detectors see them (see below).
        const time = (offset: number) => new Date(start + d * 86_400_000 + h * 3_600_000 + (minute + offset) * 60_000).toISOString();
        const occurred_at = time(0);
        const wobble = ((d * 7 + h * 3) % 5) / 10;
        const spiked = d === 36 && h >= 12 && h < 15 ? 12 : 1;
        out.push(usageEvent({ event_id: `a-${n}`, occurred_at, ...SONNET, cost_usd: (4 + wobble) * spiked }));
        out.push(
          usageEvent({
            event_id: `b-${n}`,
            occurred_at: time(1),
            developer: 'bob@acme.com',
            ...(d >= 28 ? {} : { model: 'claude-haiku-4-5', model_family: 'claude-haiku', tier: 'economy' as const }),
            cost_usd: d >= 28 ? 5 + wobble : 0.6 + wobble / 10,
          }),
        );
        out.push(
          usageEvent({
            event_id: `c-${n}`,
            occurred_at: time(2),
            developer: 'carol@acme.com',
            ...SONNET,
            input_tokens: d >= 30 ? 400_000 : 20_000,
            cache_read_tokens: d >= 30 ? 0 : 380_000,
            cost_usd: d >= 30 ? 6 + wobble : 1.2 + wobble / 5,
          }),
        );
        n += 1;
      }
    }
  }
  return out;
}

/** Stage A as one partition whose every batch is one event: the rollups it sends, in order. */
function rollupsOf(
  events: readonly UsageEvent[],
  source = 'usage.events.v1:0',
  offsets: readonly number[] = events.map((_, i) => i),
): UsageRollup[] {
  const engine = createDetectionEngine(() => ({}), { detectors: {} });
  const state = createRollupState();
  return events.flatMap((e, i) => {
    const r = engine.process(e);
    if (r.duplicate || r.late || !addToRollup(state, e, offsets[i] as number)) return [];
    return takeRollups(state, source, 600_000);
  });
}

const runB = (engine: ReturnType<typeof createTeamEngine>, rollups: readonly UsageRollup[]): Anomaly[] => [
  ...rollups.flatMap((r) => engine.process(r).anomalies),
  ...engine.flush(),
];

describe('team engine: the team detectors', () => {
  const events = sixWeeks();
  const rollups = rollupsOf(events);
  const uninterrupted = runB(
    createTeamEngine(() => teamConfigs),
    rollups,
  );

  it('raises what the same detectors raise inside one engine that sees every event', () => {
    const inOne = createDetectionEngine(() => teamConfigs, {
      detectors: {
        spend_spike_team: overEvents(teamSpendSpike),
        model_mix_drift_team: overEvents(teamModelMixDrift),
        cache_efficiency_drop_team: overEvents(teamCacheEfficiencyDrop),
        budget_forecast: overEvents(budgetForecast),
      },
    });
    const expected = events.flatMap((e) => inOne.process(e).anomalies);
    expect(new Set(uninterrupted.map((a) => a.kind))).toEqual(
      new Set(['spend_spike', 'model_mix_drift', 'cache_efficiency_drop', 'budget_forecast']),
    );
    expect(uninterrupted.every((a) => a.subject.developer === undefined && a.subject.team === 'payments')).toBe(true);
    expect(uninterrupted).toEqual(expected);
  });

  it('gives the same anomalies after a snapshot, a JSON round trip and a restore mid-stream', () => {
    for (const cut of [1, 1500, rollups.length - 900, rollups.length - 300]) {
      const first = createTeamEngine(() => teamConfigs);
      const before = rollups.slice(0, cut).flatMap((r) => first.process(r).anomalies);
      const second = createTeamEngine(() => teamConfigs);
      second.restore(JSON.parse(JSON.stringify(first.snapshot())) as TeamEngineSnapshot);
      expect([...before, ...runB(second, rollups.slice(cut))]).toEqual(uninterrupted);
    }
  });

  it('restores a snapshot written before team baselines were packed: rings of doubles at full size, hours in epoch ms', () => {
    const cut = rollups.length - 900;
    const first = createTeamEngine(() => teamConfigs);
    const before = rollups.slice(0, cut).flatMap((r) => first.process(r).anomalies);
    const saved = JSON.parse(JSON.stringify(first.snapshotView())) as TeamEngineSnapshot;
    // The shape snapshots had, and still have: a team key's ring (24 hours × 2 day types) and a
    // team×model key's (8 blocks of 3 hours × 2) as a RobustRing at full capacity,
    // the cache profile as a flat array with the hour each slot last learnt in epoch ms.
    type OldRing = { capacity: number; values: number[]; n: number[] };
    const spike = (
      saved.detectors.spend_spike_team as { keys: Record<string, Record<string, { r: OldRing; m: Record<string, { r: OldRing }> }>> }
    ).keys.acme?.payments;
    const rings = [spike?.r, ...Object.values(spike?.m ?? {}).map((k) => k.r)] as OldRing[];
    expect(rings.map((r) => [r.capacity, r.values.length, r.n.length])).toEqual([[8, 384, 48], ...rings.slice(1).map(() => [8, 128, 16])]);
    const season = (saved.detectors.cache_efficiency_drop_team as { keys: Record<string, Record<string, { season: number[] }>> }).keys.acme
      ?.payments?.season as number[];
    expect(season).toHaveLength(192);
    const learntAt = season.filter((_, i) => i % 4 === 2 && season[i] !== 0);
    // The nine working hours of its working days.
    expect(learntAt).toHaveLength(9);
    expect(learntAt.every((at) => at >= Date.parse('2026-10-05T00:00:00Z') && at % 3_600_000 === 0)).toBe(true);
    // Doubles as a version before packing kept them: a hair off the Float32 values, so restoring rounds them back.
    const asDouble = (x: number): number => x * (1 + 1e-12);
    for (const r of rings) r.values = r.values.map(asDouble);
    for (let i = 0; i < season.length; i += 4) {
      season[i] = asDouble(season[i] as number);
      season[i + 1] = asDouble(season[i + 1] as number);
    }
    const second = createTeamEngine(() => teamConfigs);
    second.restore(saved);
    expect([...before, ...runB(second, rollups.slice(cut))]).toEqual(uninterrupted);
  });

  it('tells a score sink where the team detectors evaluate, and detects exactly the same with one', () => {
    const points: ScorePoint[] = [];
    const scored = withScoreSink(teamConfigs, (p) => points.push(p));
    expect(
      runB(
        createTeamEngine(() => scored),
        rollups,
      ),
    ).toEqual(uninterrupted);
    expect(new Set(points.map((p) => p.kind))).toEqual(
      new Set(['spend_spike', 'model_mix_drift', 'cache_efficiency_drop', 'budget_forecast']),
    );
    expect(points.every((p) => p.subject.developer === undefined && p.subject.team === 'payments')).toBe(true);
    const budget = points.filter((p) => p.kind === 'budget_forecast');
    expect(budget.every((p) => p.threshold === 0.9 && p.unit === 'ratio' && p.min_impact_usd === 100)).toBe(true);
    // The month heading over its budget: misses first, then the projection past 90% of $3,000.
    const firstHit = budget.findIndex((p) => p.severity !== null);
    expect(firstHit).toBeGreaterThan(0);
    expect(budget.slice(0, firstHit).every((p) => p.severity === null)).toBe(true);
    expect(budget[firstHit]?.score).toBeGreaterThanOrEqual(0.9);
    const opened = uninterrupted.find((a) => a.kind === 'budget_forecast');
    expect(budget[firstHit]?.at).toBe(Date.parse(opened?.detected_at ?? ''));
  });

  it("leaves a team spike that is one developer's to that developer's own alert, told by stage A's rollups", () => {
    // Stage A running spend_spike: alice's afternoon is a spike of hers, and her rollups say so.
    const stageA = createDetectionEngine(() => ({ spend_spike: spike }), { detectors: { spend_spike: spendSpike } });
    const totals = createRollupState();
    const spikes = developerSpikesOf(stageA, () => spike);
    const developerAlerts: Anomaly[] = [];
    const told = events.flatMap((e, i) => {
      const r = stageA.process(e);
      developerAlerts.push(...r.anomalies);
      if (r.duplicate || r.late || !addToRollup(totals, e, i, DEFAULT_MAX_CLOCK_SKEW_MS, spikes)) return [];
      return takeRollups(totals, 'usage.events.v1:0', 600_000);
    });
    expect(told.filter((r) => (r.developer_spike_usd ?? 0) > 0).map((r) => r.developer)).toContain('alice@acme.com');
    const team = runB(
      createTeamEngine(() => teamConfigs),
      told,
    );
    expect(uninterrupted.some((a) => a.kind === 'spend_spike')).toBe(true);
    expect(team.filter((a) => a.kind === 'spend_spike')).toEqual([]);
    expect(team).toEqual(uninterrupted.filter((a) => a.kind !== 'spend_spike'));
    expect(developerAlerts.filter((a) => a.version === 1).map((a) => [a.subject.developer, a.window.start])).toContainEqual([
      'alice@acme.com',
      '2026-11-10T12:00:00.000Z',
    ]);
  });

  it('is unmoved by a stage-A restart that re-sends what followed its snapshot', () => {
    // Stage A snapshotted after rollup 2000 but had sent up to 2600; after the restart it sends 2001… again.
    const resent = [...rollups.slice(0, 2600), ...rollups.slice(2001)];
    expect(
      runB(
        createTeamEngine(() => teamConfigs),
        resent,
      ),
    ).toEqual(uninterrupted);
  });
});
