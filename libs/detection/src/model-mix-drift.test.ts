import { Anomaly } from '@burnrate/schemas';
import type { UsageEvent } from '@burnrate/schemas';
import { describe, expect, it } from 'vitest';
import { overEvents } from './buckets/bucket-detector.ts';
import type { Detector } from './detector.ts';
import {
  modelMixDrift,
  teamModelMixDrift,
  type ModelMixDriftConfig,
  type ModelMixDriftSettings,
  type ModelMixDriftState,
} from './model-mix-drift.ts';
import { testEnv } from './test-env.ts';
import { usageEvent } from './test-events.ts';

const T0 = Date.parse('2026-11-02T00:00:00Z'); // a Monday
const H = 3_600_000;
const D = 24 * H;
const M = 60_000;
const SETTINGS: ModelMixDriftSettings = {
  enabled: true,
  min_impact_usd: 50,
  min_share_increase_points: 20,
  baseline_weeks: 4,
  max_p_value: 0.01,
};
const DEVS = ['alice@acme.com', 'bob@acme.com', 'carol@acme.com'];
// Day 16 is Wednesday 18 Nov; the tool's default switches to the premium model at 13:05 UTC.
const DRIFT = T0 + 16 * D + 13 * H + 5 * M;

const cfg = (over: Partial<ModelMixDriftSettings> = {}, planned?: [string, string, string, string][]): ModelMixDriftConfig =>
  testEnv({ ...SETTINGS, ...over }, planned === undefined ? {} : { planned });

interface Stream {
  days: number;
  /** Is the event at this time on the premium model because of the drift? */
  drifted?: (atMs: number) => boolean;
  premiumCost?: number;
  standardCost?: number;
}

/** Three developers, working hours 08-16 UTC on weekdays, an event every 10 minutes; 1 in 10 on the premium model. */
function stream({ days, drifted = () => false, premiumCost = 2, standardCost = 0.3 }: Stream): UsageEvent[] {
  const out: UsageEvent[] = [];
  let n = 0;
  for (let d = 0; d < days; d++) {
    const weekday = (d + 1) % 7;
    if (weekday === 0 || weekday === 6) continue;
    for (let h = 8; h < 16; h++) {
      for (let m = 5; m < 60; m += 10) {
        for (const [i, dev] of DEVS.entries()) {
          const at = T0 + d * D + h * H + m * M + i * 1000;
          const premium = drifted(at) || (n + i) % 10 === 0;
          out.push(
            usageEvent({
              event_id: `m${n}-${i}`,
              occurred_at: new Date(at).toISOString(),
              developer: dev,
              developer_email: dev,
              model: premium ? 'claude-opus-4-5' : 'claude-sonnet-4-5',
              model_family: premium ? 'claude-opus' : 'claude-sonnet',
              tier: premium ? 'premium' : 'standard',
              cost_usd: premium ? premiumCost : standardCost,
            }),
          );
        }
        n++;
      }
    }
  }
  return out;
}

function run<S, C>(
  detector: Detector<S, C>,
  c: C,
  events: readonly UsageEvent[],
  state = detector.initialState(),
): { out: Anomaly[]; state: S } {
  const out: Anomaly[] = [];
  let wm = 0;
  let minute = 0;
  for (const e of events) {
    wm = Math.max(wm, Date.parse(e.occurred_at));
    const ctx = { watermark: wm, lateness: 600_000 };
    if (detector.advance !== undefined && Math.floor(wm / M) > minute) {
      minute = Math.floor(wm / M);
      const r = detector.advance(state, wm, c, ctx);
      state = r.state;
      out.push(...r.anomalies);
    }
    const r = detector.step(state, e, c, ctx);
    state = r.state;
    out.push(...r.anomalies);
  }
  return { out, state };
}

const team = overEvents(teamModelMixDrift);

describe('model_mix_drift (team scope)', () => {
  it('stays quiet on three usual weeks', () => {
    expect(run(team, cfg(), stream({ days: 21 })).out).toEqual([]);
  });

  it('catches a switch of the default model within 30 minutes, for the team as a whole', () => {
    const { out } = run(team, cfg(), stream({ days: 18, drifted: (at) => at >= DRIFT }));
    const first = out[0] as Anomaly;
    expect(first).toBeDefined();
    expect(Anomaly.parse(first)).toEqual(first);
    expect(first.subject).toEqual({ org: 'acme', team: 'payments' });
    expect(first.status).toBe('open');
    expect(Date.parse(first.detected_at) - DRIFT).toBeLessThanOrEqual(30 * M);
    expect(Date.parse(first.detected_at)).toBeGreaterThanOrEqual(DRIFT);
    expect(first.observed.value).toBeGreaterThan(first.expected.value + 20);
    expect(first.expected.value).toBeCloseTo(42.55, 0);
    expect(first.impact_usd).toBeGreaterThan(50);
    expect(first.severity).toBe('warning');
    // As the hour fills with premium calls the projected weekly cost passes 10x the gate: critical, same episode.
    expect(out[1]).toMatchObject({ id: first.id, version: 2, severity: 'critical', status: 'open' });
    expect(first.summary).toMatch(
      /^Premium models took \d+% of team payments's spend since Wed 1[34]:00 \(Europe\/Berlin\), up from 43% before/,
    );
    expect(first.advice).toContain("Check the tool's default model");
    // One episode while it lasts: later versions keep the id.
    expect(new Set(out.map((a) => a.id)).size).toBe(1);
  });

  it('a planned change keeps it at info', () => {
    const { out } = run(
      team,
      cfg({}, [['payments', '2026-11-16', '2026-11-20', 'migration to opus']]),
      stream({ days: 18, drifted: (at) => at >= DRIFT }),
    );
    expect(out.length).toBeGreaterThan(0);
    expect(out.every((a) => a.severity === 'info')).toBe(true);
    expect(out[0]?.advice).toContain('Planned change: migration to opus.');
  });

  it('dollar gate: the same switch at cent prices stays quiet', () => {
    expect(run(team, cfg(), stream({ days: 18, drifted: (at) => at >= DRIFT, premiumCost: 0.002, standardCost: 0.0003 })).out).toEqual([]);
  });

  it('warm-up: a switch on the second day stays quiet', () => {
    const early = T0 + 1 * D + 13 * H;
    expect(run(team, cfg(), stream({ days: 3, drifted: (at) => at >= early })).out).toEqual([]);
  });

  it('resolves once the mix is back to normal', () => {
    const end = DRIFT + H;
    const { out } = run(team, cfg(), stream({ days: 30, drifted: (at) => at >= DRIFT && at < end }));
    expect(out.length).toBeGreaterThanOrEqual(2);
    expect(out.at(-1)?.status).toBe('resolved');
    // Within the hour after the switch back, not a week later when the blip leaves the 7-day window.
    expect(Date.parse(out.at(-1)?.detected_at ?? '')).toBeLessThanOrEqual(end + 2 * H);
    expect(out.at(-1)?.id).toBe(out[0]?.id);
    expect(out.filter((a) => a.status === 'resolved')).toHaveLength(1);
  });
});

describe('model_mix_drift (developer scope)', () => {
  it('stays quiet on three usual weeks', () => {
    expect(run(modelMixDrift, cfg(), stream({ days: 21 })).out).toEqual([]);
  });

  it('fires week over week for each developer once the 7-day share has moved, with daily evidence', () => {
    const { out } = run(modelMixDrift, cfg(), stream({ days: 21, drifted: (at) => at >= DRIFT }));
    const opened = out.filter((a) => a.version === 1);
    expect(opened.map((a) => a.subject.developer).sort()).toEqual(DEVS);
    for (const a of opened) {
      expect(Anomaly.parse(a)).toEqual(a);
      expect(Date.parse(a.detected_at)).toBeGreaterThan(DRIFT);
      expect(Date.parse(a.detected_at)).toBeLessThan(DRIFT + 2 * D);
      expect(a.impact_usd).toBeGreaterThanOrEqual(50);
      expect(a.evidence.filter((p) => p.label === 'premium share of spend that day').length).toBeGreaterThanOrEqual(4);
    }
  });

  it('disabled: quiet', () => {
    expect(run(modelMixDrift, cfg({ enabled: false }), stream({ days: 21, drifted: (at) => at >= DRIFT })).out).toEqual([]);
  });

  it('restores from JSON mid-stream and gives the same anomalies', () => {
    const events = stream({ days: 21, drifted: (at) => at >= DRIFT });
    const whole = run(modelMixDrift, cfg(), events).out;
    const cut = events.findIndex((e) => Date.parse(e.occurred_at) > DRIFT + D);
    const first = run(modelMixDrift, cfg(), events.slice(0, cut));
    const restored = JSON.parse(JSON.stringify(first.state)) as ModelMixDriftState;
    expect(restored).toEqual(first.state);
    const second = run(modelMixDrift, cfg(), events.slice(cut), restored);
    expect([...first.out, ...second.out]).toEqual(whole);
  });
});
