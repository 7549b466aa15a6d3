import type { UsageEvent } from '@burnrate/schemas';
import { usageEvent } from '@burnrate/testing/builders';
import { describe, expect, it } from 'vitest';
import type { BudgetForecastConfig } from './budget-forecast.ts';
import { withScoreSink, type ScorePoint } from './detector.ts';
import { newSpender } from './new-spender.ts';
import { runawaySession } from './runaway-session.ts';
import { sessionCost } from './session-cost.ts';
import { runThroughEngine, testEnv } from './test-env.ts';
import { at } from './test-events.ts';

// Where each detector reports the score it compares with its threshold (DetectorEnv.score).

const brief = (p: ScorePoint) => ({
  at: new Date(p.at).toISOString().slice(11, 16),
  score: p.score,
  threshold: p.threshold,
  severity: p.severity,
});

describe('withScoreSink', () => {
  it('gives every config the sink and leaves the configs it was given alone', () => {
    const env = testEnv({ enabled: true, warning_usd: 25, critical_usd: 100 });
    const budget: BudgetForecastConfig = {
      ...testEnv({ enabled: true, min_impact_usd: 100, warning_share: 0.9, critical_share: 1.1, min_days_of_data: 5 }),
      budgetFor: () => 1000,
    };
    const sink = (): void => {};
    const out = withScoreSink({ session_cost: env, budget_forecast: budget }, sink);
    expect(out.session_cost.score).toBe(sink);
    expect(out.budget_forecast.score).toBe(sink);
    expect(out.budget_forecast.budgetFor('payments')).toBe(1000);
    expect(env.score).toBeUndefined();
    expect(budget.score).toBeUndefined();
  });
});

describe('scores', () => {
  const T0 = '2026-11-25T10:00:00.000Z'; // a Wednesday, 11:00 in Berlin

  it('session_cost: the session cost against the warning cap, per event, with the severity the caps give', () => {
    const points: ScorePoint[] = [];
    const cfg = { ...testEnv({ enabled: true, warning_usd: 25, critical_usd: 100 }), score: (p: ScorePoint) => points.push(p) };
    const events = [10, 10, 4.5, 0.5, 80].map((cost, i) => usageEvent({ event_id: `e${i}`, occurred_at: at(T0, i * 5), cost_usd: cost }));
    const anomalies = runThroughEngine(sessionCost, cfg, events);
    expect(points.map(brief)).toEqual([
      { at: '10:00', score: 10, threshold: 25, severity: null },
      { at: '10:05', score: 20, threshold: 25, severity: null },
      // $24.50 of $25: the near miss a FinOps reader looks for.
      { at: '10:10', score: 24.5, threshold: 25, severity: null },
      { at: '10:15', score: 25, threshold: 25, severity: 'warning' },
      { at: '10:20', score: 105, threshold: 25, severity: 'critical' },
    ]);
    expect(points.every((p) => p.kind === 'session_cost' && p.unit === 'usd' && p.subject.session === events[0]?.session_id)).toBe(true);
    expect(anomalies.map((a) => a.severity)).toEqual(['warning', 'critical']);
  });

  it('session_cost: nothing for a subject the detector is disabled for', () => {
    const points: ScorePoint[] = [];
    const cfg = { ...testEnv({ enabled: false, warning_usd: 25, critical_usd: 100 }), score: (p: ScorePoint) => points.push(p) };
    runThroughEngine(sessionCost, cfg, [usageEvent({ cost_usd: 30 })]);
    expect(points).toEqual([]);
  });

  it('runaway_session: hours without a human turn against the limit that applies, halved outside working hours', () => {
    const points: ScorePoint[] = [];
    const settings = { enabled: true, min_impact_usd: 10, max_hours_without_human: 4, off_hours_factor: 0.5, critical_factor: 3 };
    const cfg = { ...testEnv(settings), score: (p: ScorePoint) => points.push(p) };
    // Friday 15:00 UTC is 16:00 in Berlin; working time ends at 18:00 Berlin (17:00 UTC).
    const start = '2026-11-27T15:00:00.000Z';
    const loop: UsageEvent[] = Array.from({ length: 19 }, (_, i) =>
      usageEvent({ event_id: `r${i}`, occurred_at: at(start, i * 10), prompt_id: 'p1', cost_usd: 1.5 }),
    );
    runThroughEngine(runawaySession, cfg, loop);
    const byTime = new Map(points.map((p) => [new Date(p.at).toISOString().slice(11, 16), p]));
    expect(points.every((p) => p.unit === 'hours' && p.min_impact_usd === 10)).toBe(true);
    // In working time the 4 h limit; at 17:00 UTC the off-hours 2 h limit, and 2 h have passed.
    expect(byTime.get('16:50')).toMatchObject({ threshold: 4, severity: null });
    expect(byTime.get('16:50')?.score).toBeCloseTo(1 + 5 / 6, 10);
    expect(byTime.get('17:00')).toMatchObject({ score: 2, threshold: 2, severity: 'warning', impact_usd: 19.5 });
  });

  it('new_spender: an unattributed spender against the gate, per event', () => {
    const points: ScorePoint[] = [];
    const cfg = { ...testEnv({ enabled: true, min_impact_usd: 5, window_hours: 24 }), score: (p: ScorePoint) => points.push(p) };
    const stranger = (i: number, cost: number) =>
      usageEvent({
        event_id: `n${i}`,
        occurred_at: at(T0, i * 10),
        developer: 'eve@contractor.io',
        developer_email: 'eve@contractor.io',
        team: 'unattributed',
        cost_usd: cost,
      });
    runThroughEngine(newSpender, cfg, [stranger(0, 3), stranger(1, 1.5), stranger(2, 1)]);
    expect(points.map(brief)).toEqual([
      { at: '10:00', score: 3, threshold: 5, severity: null },
      { at: '10:10', score: 4.5, threshold: 5, severity: null },
      { at: '10:20', score: 5.5, threshold: 5, severity: 'warning' },
    ]);
    expect(points[0]?.subject).toEqual({ org: 'acme', team: 'unattributed', developer: 'eve@contractor.io', model: 'claude-opus-4-5' });
  });
});
