import { Anomaly } from '@burnrate/schemas';
import type { UsageEvent } from '@burnrate/schemas';
import { describe, expect, it } from 'vitest';
import { overEvents } from './buckets/bucket-detector.ts';
import {
  modelMixDrift,
  teamModelMixDrift,
  type ModelMixDriftConfig,
  type ModelMixDriftSettings,
  type ModelMixDriftState,
} from './model-mix-drift.ts';
import { testEnv, runDetector } from './test-env.ts';
import { usageEvent } from '@burnrate/testing/builders';

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
const DEVS = ['alice@acme.com', 'bob@acme.com', 'carol@acme.com', 'dan@acme.com', 'erin@acme.com', 'frank@acme.com'];
const POWER_USER = 'priya@acme.com';
// Day 16 is Wednesday 18 Nov; an overnight tool update makes the premium model the default from
// 07:30 UTC, before the day's first sessions (developer i starts at 08:00 + 10·i minutes).
const DRIFT = T0 + 16 * D + 7 * H + 30 * M;
/** The first call on the premium model after it: Alice's 08:00 session (the onset, as the eval counts it). */
const FIRST_SWITCHED = T0 + 16 * D + 8 * H;

type Planned = [team: string, from: string, to: string, note: string][];
const cfg = (over: Partial<ModelMixDriftSettings> = {}, planned?: Planned): ModelMixDriftConfig =>
  testEnv({ ...SETTINGS, ...over }, planned === undefined ? {} : { planned });

interface Stream {
  days: number;
  /** Overrides the developer's habit for a session starting at `start`: true premium, false standard. */
  model?: (start: number, dev: string) => boolean | undefined;
  /** A premium-heavy power user working days, evenings and weekends (always premium but one session in ten). */
  powerUser?: boolean;
  /** Extra premium sessions alone in the evening (20:00 UTC) on these days, by Bob. */
  eveningPremium?: number[];
  premiumCost?: number;
  standardCost?: number;
}

/**
 * Sessions, as tools run them: a session keeps one model, a call every 5 minutes for 90 minutes.
 * Six developers with three sessions each working day (08:00, 11:00, 14:00 UTC + 10 minutes per
 * developer), one in ten on the premium model. Both models see the same tokens; premium costs 5/3
 * of standard, as Opus does Sonnet.
 */
function stream({
  days,
  model = () => undefined,
  powerUser = false,
  eveningPremium = [],
  premiumCost = 0.5,
  standardCost = 0.3,
}: Stream): UsageEvent[] {
  const out: UsageEvent[] = [];
  let n = 0;
  const session = (dev: string, start: number, premium: boolean): void => {
    for (let c = 0; c < 18; c++) {
      const at = start + c * 5 * M;
      out.push(
        usageEvent({
          event_id: `m${n++}`,
          occurred_at: new Date(at).toISOString(),
          developer: dev,
          developer_email: dev,
          session_id: undefined,
          model: premium ? 'claude-opus-4-5' : 'claude-sonnet-4-5',
          model_family: premium ? 'claude-opus' : 'claude-sonnet',
          tier: premium ? 'premium' : 'standard',
          input_tokens: 100_000,
          output_tokens: 0,
          cost_usd: premium ? premiumCost : standardCost,
        }),
      );
    }
  };
  for (let d = 0; d < days; d++) {
    const weekday = (d + 1) % 7;
    const workday = weekday !== 0 && weekday !== 6;
    if (workday) {
      for (const [s, hour] of [8, 11, 14].entries()) {
        for (const [i, dev] of DEVS.entries()) {
          const start = T0 + d * D + hour * H + 10 * i * M;
          session(dev, start, model(start, dev) ?? (d * 7 + i * 3 + s * 5) % 10 === 0);
        }
      }
    }
    if (powerUser) {
      for (const [s, hour] of (workday ? [9, 13, 19] : [15]).entries()) {
        const start = T0 + d * D + hour * H + 5 * M;
        session(POWER_USER, start, model(start, POWER_USER) ?? (d + s) % 10 !== 0);
      }
    }
    if (eveningPremium.includes(d)) session('bob@acme.com', T0 + d * D + 20 * H, true);
  }
  return out.sort((a, b) => (a.occurred_at < b.occurred_at ? -1 : a.occurred_at > b.occurred_at ? 1 : 0));
}

const team = overEvents(teamModelMixDrift);
const pages = (out: readonly Anomaly[]): Anomaly[] => out.filter((a) => a.severity !== 'info');
const after = (ms: number) => (start: number) => (start >= ms ? true : undefined);
const between = (from: number, to: number) => (start: number) => (start >= from && start < to ? true : undefined);

describe('model_mix_drift (team scope)', () => {
  it('stays quiet on three usual weeks, a premium-heavy power user included', () => {
    expect(runDetector(team, cfg(), stream({ days: 21, powerUser: true })).out).toEqual([]);
  });

  it('a quiet hour where one premium session is the team’s only spend stays quiet', () => {
    // Bob's evening session is 100% of the team's spend in those hours, 10x the team's usual share:
    // one developer's choice, not the team's mix.
    const evenings = [8, 9, 10, 15, 16, 17, 18];
    expect(runDetector(team, cfg(), stream({ days: 21, eveningPremium: evenings })).out).toEqual([]);
    // Next to the power user's evening session it is two developers on premium, one of whom always is.
    expect(runDetector(team, cfg(), stream({ days: 21, powerUser: true, eveningPremium: evenings })).out).toEqual([]);
  });

  it('catches a switch of the default model within 30 minutes, from two developers moving at once', () => {
    const { out } = runDetector(team, cfg(), stream({ days: 18, powerUser: true, model: after(DRIFT) }));
    const first = out[0] as Anomaly;
    expect(first).toBeDefined();
    expect(Anomaly.parse(first)).toEqual(first);
    expect(first.subject).toEqual({ org: 'acme', team: 'payments' });
    expect(first.status).toBe('open');
    expect(first.severity).toBe('warning');
    // Alice's 14:00 session alone is no evidence (one developer); the next developers starting
    // on the premium model within minutes are.
    expect(Date.parse(first.detected_at)).toBeGreaterThanOrEqual(FIRST_SWITCHED + 10 * M);
    expect(Date.parse(first.detected_at) - FIRST_SWITCHED).toBeLessThanOrEqual(30 * M);
    expect(first.observed.value).toBeGreaterThan(first.expected.value + 20);
    // The moved developers' cost over their usual price per token, applied to the team's week:
    // past the $50 gate, short of the $500 critical line.
    expect(first.impact_usd).toBeGreaterThan(50);
    expect(first.impact_usd).toBeLessThan(500);
    expect(first.summary).toMatch(
      /^\d of \d developers of team payments active since Wed 09:00 \(Europe\/Berlin\) moved to premium models/,
    );
    expect(first.evidence).toContainEqual(expect.objectContaining({ label: 'developers active in the window' }));
    expect(first.advice).toContain("Check the tool's default model");
    // One episode while it lasts: later versions keep the id.
    expect(new Set(out.map((a) => a.id)).size).toBe(1);
  });

  it('judges the moment a developer goes over to premium, not at their next call', () => {
    const day = T0 + 16 * D;
    const call = (dev: string, at: number, premium: boolean, i: number): UsageEvent =>
      usageEvent({
        event_id: `t${i}`,
        occurred_at: new Date(at).toISOString(),
        developer: dev,
        developer_email: dev,
        session_id: undefined,
        model: premium ? 'claude-opus-4-5' : 'claude-sonnet-4-5',
        model_family: premium ? 'claude-opus' : 'claude-sonnet',
        tier: premium ? 'premium' : 'standard',
        input_tokens: 100_000,
        output_tokens: 0,
        cost_usd: premium ? 0.5 : 0.3,
      });
    const switched = day + 8 * H + 40 * M + 30_000;
    const events = [
      // Alice and Bob never chose the premium model before.
      ...stream({ days: 16, model: (_start, dev) => (dev === 'alice@acme.com' || dev === 'bob@acme.com' ? false : undefined) }),
      // Alice's session on the new default.
      ...Array.from({ length: 7 }, (_, i) => call('alice@acme.com', day + 8 * H + 5 * i * M, true, i)),
      // Bob starts (judged: one developer moved, quiet), and 30 s later his first premium call makes
      // two; then he reads for an hour, and only Carol's call at 10:00 moves time on.
      call('bob@acme.com', day + 8 * H + 40 * M, false, 10),
      call('bob@acme.com', switched, true, 11),
      call('carol@acme.com', day + 10 * H, false, 12),
    ];
    const first = pages(runDetector(team, cfg(), events).out)[0];
    expect(first?.detected_at).toBe(new Date(switched).toISOString());
    expect(first?.summary).toMatch(/^2 of 2 developers of team payments/);
  });

  it('a planned change keeps it at info', () => {
    const { out } = runDetector(
      team,
      cfg({}, [['payments', '2026-11-16', '2026-11-20', 'migration to opus']]),
      stream({ days: 19, model: after(DRIFT) }),
    );
    expect(out.length).toBeGreaterThan(0);
    expect(pages(out)).toEqual([]);
    expect(out[0]?.advice).toContain('Planned change: migration to opus.');
  });

  it('dollar gate: the same switch at cent prices stays quiet', () => {
    expect(runDetector(team, cfg(), stream({ days: 18, model: after(DRIFT), premiumCost: 0.005, standardCost: 0.003 })).out).toEqual([]);
  });

  it('warm-up: a switch on the second day stays quiet', () => {
    expect(runDetector(team, cfg(), stream({ days: 3, model: after(T0 + D + 13 * H) })).out).toEqual([]);
  });

  it('resolves once the mix has been back to normal for an hour', () => {
    const end = T0 + 16 * D + 10 * H;
    const { out } = runDetector(team, cfg(), stream({ days: 30, model: between(DRIFT, end) }));
    expect(out.map((a) => [a.version, a.status])).toEqual([
      [1, 'open'],
      [2, 'resolved'],
    ]);
    // The next day's sessions show the usual mix: resolved then, not a week later when the
    // afternoon leaves the 7-day window.
    expect(Date.parse(out[1]?.detected_at ?? '')).toBeLessThanOrEqual(end + D);
    expect(out[1]?.id).toBe(out[0]?.id);
  });

  describe('after a planned change', () => {
    // The migration week (days 7-11) runs on the premium model; the change is listed in config.
    const planned: Planned = [['payments', '2026-11-09', '2026-11-13', 'ledger migration: the team uses Opus for the week']];
    const migration = between(T0 + 7 * D, T0 + 12 * D);

    it('the team goes back: nothing pages, and a drift a few days later is still caught', () => {
      const { out } = runDetector(
        team,
        cfg({}, planned),
        stream({ days: 18, powerUser: true, model: (s) => migration(s) ?? after(DRIFT)(s) }),
      );
      const paged = pages(out);
      expect(paged.length).toBeGreaterThan(0);
      expect(out.filter((a) => Date.parse(a.detected_at) < DRIFT).every((a) => a.severity === 'info')).toBe(true);
      // The first page is the real drift, judged as if there had been no migration week at all:
      // the week taught the baseline nothing.
      const unplanned = pages(runDetector(team, cfg(), stream({ days: 18, powerUser: true, model: after(DRIFT) })).out)[0] as Anomaly;
      expect(paged[0]?.detected_at).toBe(unplanned.detected_at);
      expect(paged[0]?.expected.value).toBeCloseTo(unplanned.expected.value, -1);
    });

    it('the first working day after it settles at info', () => {
      // The migration's sessions run on into Monday morning (day 14), then the team is back.
      const spill = between(T0 + 7 * D, T0 + 14 * D + 12 * H);
      const { out } = runDetector(team, cfg({}, planned), stream({ days: 16, model: spill }));
      expect(out.some((a) => a.detected_at.startsWith('2026-11-16'))).toBe(true);
      expect(pages(out)).toEqual([]);
      expect(out.find((a) => a.detected_at.startsWith('2026-11-16'))?.advice).toContain('Planned change just ended');
    });

    it('the team keeps the new mix: it becomes the baseline, nothing pages', () => {
      const kept = (s: number) => (s >= T0 + 7 * D ? true : undefined);
      const { out } = runDetector(team, cfg({}, planned), stream({ days: 24, model: kept }));
      expect(pages(out)).toEqual([]);
      // Developers too: their week is judged against the new normal.
      expect(pages(runDetector(modelMixDrift, cfg({}, planned), stream({ days: 24, model: kept })).out)).toEqual([]);
    });

    it('without the planned change the same kept mix pages (the cases above are not vacuous)', () => {
      const kept = (s: number) => (s >= T0 + 7 * D ? true : undefined);
      expect(pages(runDetector(team, cfg(), stream({ days: 24, model: kept })).out).length).toBeGreaterThan(0);
    });
  });

  it('restores from JSON mid-stream and gives the same anomalies', () => {
    const events = stream({ days: 18, powerUser: true, model: after(DRIFT) });
    const whole = runDetector(team, cfg(), events).out;
    expect(whole.length).toBeGreaterThan(0);
    // Between the first switched session and the alert.
    const cut = events.findIndex((e) => Date.parse(e.occurred_at) > FIRST_SWITCHED + 15 * M);
    const first = runDetector(team, cfg(), events.slice(0, cut));
    const restored = JSON.parse(JSON.stringify(first.state)) as ModelMixDriftState;
    expect(restored).toEqual(first.state);
    const second = runDetector(team, cfg(), events.slice(cut), restored);
    expect([...first.out, ...second.out]).toEqual(whole);
  });
});

describe('model_mix_drift (developer scope)', () => {
  it('stays quiet on three usual weeks', () => {
    expect(runDetector(modelMixDrift, cfg(), stream({ days: 21, powerUser: true })).out).toEqual([]);
  });

  it('fires week over week for each developer once the 7-day share has moved, with daily evidence', () => {
    // At $1 / $0.60 a call a developer's switched session costs $7 more: past the $50 gate within the week.
    const { out } = runDetector(modelMixDrift, cfg(), stream({ days: 24, model: after(DRIFT), premiumCost: 1, standardCost: 0.6 }));
    const opened = out.filter((a) => a.version === 1);
    expect(opened.map((a) => a.subject.developer).sort()).toEqual(DEVS);
    for (const a of opened) {
      expect(Anomaly.parse(a)).toEqual(a);
      expect(Date.parse(a.detected_at)).toBeGreaterThan(DRIFT);
      expect(Date.parse(a.detected_at)).toBeLessThan(DRIFT + 6 * D);
      expect(a.impact_usd).toBeGreaterThanOrEqual(50);
      expect(a.evidence.filter((p) => p.label === 'premium share of spend that day').length).toBeGreaterThanOrEqual(4);
    }
  });

  it('a planned week is not "the last 7 days" once it is over', () => {
    const planned: Planned = [['payments', '2026-11-16', '2026-11-20', 'migration']];
    const migration = between(T0 + 14 * D, T0 + 19 * D);
    const prices = { premiumCost: 1, standardCost: 0.6 };
    const { out } = runDetector(modelMixDrift, cfg({}, planned), stream({ days: 26, model: migration, ...prices }));
    expect(pages(out)).toEqual([]);
    // Without it listed, each developer's week pages.
    expect(pages(runDetector(modelMixDrift, cfg(), stream({ days: 26, model: migration, ...prices })).out).length).toBeGreaterThan(0);
  });

  it('disabled: quiet', () => {
    expect(runDetector(modelMixDrift, cfg({ enabled: false }), stream({ days: 21, model: after(DRIFT) })).out).toEqual([]);
  });

  it('restores from JSON mid-stream and gives the same anomalies', () => {
    const events = stream({ days: 21, model: after(DRIFT) });
    const whole = runDetector(modelMixDrift, cfg(), events).out;
    const cut = events.findIndex((e) => Date.parse(e.occurred_at) > DRIFT + D);
    const first = runDetector(modelMixDrift, cfg(), events.slice(0, cut));
    const restored = JSON.parse(JSON.stringify(first.state)) as ModelMixDriftState;
    expect(restored).toEqual(first.state);
    const second = runDetector(modelMixDrift, cfg(), events.slice(cut), restored);
    expect([...first.out, ...second.out]).toEqual(whole);
  });
});
