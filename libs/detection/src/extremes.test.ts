import { Anomaly, safeParseUsageRollup, USAGE_EVENT_CAPS, type UsageEvent, type UsageRollup } from '@burnrate/schemas';
import { describe, expect, it } from 'vitest';
import { createDetectionEngine, type DetectorConfigs, type TeamDetectorConfigs } from './engine.ts';
import { formatUsd } from './format.ts';
import { createTeamEngine } from './team-engine.ts';
import { addToRollup, createRollupState, takeRollups } from './team-rollup.ts';
import { LOST_EVENTS_DEFAULTS, SPEND_SPIKE_DEFAULTS, testEnv } from './test-env.ts';
import { usageEvent } from '@burnrate/testing/builders';

// What the detectors make of events at the hard caps of usage.events.v1: the largest values any
// producer can put on the topic. A cost of 1e308 once made totals Infinity and every anomaly
// built on them invalid, so the session, new-spender and budget alerts were dropped: the spend
// that mattered most was the spend nobody heard about.

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
  spend_spike: testEnv(SPEND_SPIKE_DEFAULTS),
  model_mix_drift: testEnv({ enabled: true, min_impact_usd: 50, min_share_increase_points: 20, baseline_weeks: 4, max_p_value: 0.01 }),
  cache_efficiency_drop: testEnv({
    enabled: true,
    min_impact_usd: 20,
    min_drop_points: 30,
    baseline_days: 7,
    cool_down_hours: 6,
    min_season_weeks: 2,
  }),
  lost_events: testEnv(LOST_EVENTS_DEFAULTS),
};
const teamConfigs: TeamDetectorConfigs = {
  spend_spike_team: testEnv(SPEND_SPIKE_DEFAULTS),
  model_mix_drift_team: testEnv({ enabled: true, min_impact_usd: 50, min_share_increase_points: 20, baseline_weeks: 4, max_p_value: 0.01 }),
  cache_efficiency_drop_team: testEnv({
    enabled: true,
    min_impact_usd: 20,
    min_drop_points: 30,
    baseline_days: 7,
    cool_down_hours: 6,
    min_season_weeks: 2,
  }),
  budget_forecast: {
    ...testEnv({ enabled: true, min_impact_usd: 100, warning_share: 0.9, critical_share: 1.1, min_days_of_data: 5 }),
    budgetFor: () => 3000,
  },
};

const { maxCostUsd: COST, maxCount: COUNT } = USAGE_EVENT_CAPS;
const START = Date.parse('2026-11-02T08:00:00Z');
const HOUR = 3_600_000;

/**
 * Ten days of a modest team, then the caps: alice's session turns to calls at the cost and token
 * caps, an unknown contractor spends at the cap, and bob sends 10,000 calls at the token cap in
 * one hour (more than an hour's totals can count exactly without care).
 */
function stream(): UsageEvent[] {
  const out: UsageEvent[] = [];
  let n = 0;
  const at = (ms: number) => new Date(ms).toISOString();
  for (let d = 0; d < 10; d++) {
    for (let h = 0; h < 8; h++) {
      const t = START + d * 24 * HOUR + h * HOUR;
      out.push(usageEvent({ event_id: `a-${n++}`, occurred_at: at(t), session_id: `s-${d}`, cost_usd: 2 }));
      out.push(
        usageEvent({
          event_id: `b-${n++}`,
          occurred_at: at(t + 60_000),
          developer: 'bob@acme.com',
          developer_email: 'bob@acme.com',
          cost_usd: 1,
        }),
      );
    }
  }
  const late = START + 10 * 24 * HOUR;
  // The session's first turns are ordinary, so the calls at the caps are bloat against them.
  for (let i = 0; i < 3; i++) {
    out.push(
      usageEvent({
        event_id: `first-${i}`,
        occurred_at: at(late - (3 - i) * 300_000),
        session_id: 's-cap',
        input_tokens: 20_000,
        cost_usd: 0.5,
      }),
    );
  }
  for (let i = 0; i < 6; i++) {
    out.push(
      usageEvent({
        event_id: `cap-${i}`,
        occurred_at: at(late + i * 600_000),
        session_id: 's-cap',
        cost_usd: COST,
        computed_cost_usd: COST,
        requests: COUNT,
        input_tokens: COUNT,
        output_tokens: COUNT,
        cache_read_tokens: COUNT,
        cache_write_tokens: COUNT,
      }),
    );
    out.push(
      usageEvent({
        event_id: `shadow-${i}`,
        occurred_at: at(late + i * 600_000 + 1000),
        developer: 'contractor@elsewhere.example',
        developer_email: 'contractor@elsewhere.example',
        team: 'unattributed',
        session_id: 's-shadow',
        cost_usd: COST,
      }),
    );
  }
  for (let i = 0; i < 10_000; i++) {
    out.push(
      usageEvent({
        event_id: `burst-${i}`,
        occurred_at: at(late + HOUR + i * 300),
        developer: 'bob@acme.com',
        developer_email: 'bob@acme.com',
        session_id: 's-burst',
        cost_usd: 0.01,
        input_tokens: COUNT,
        cache_read_tokens: COUNT,
      }),
    );
  }
  out.push(usageEvent({ event_id: 'last', occurred_at: at(late + 3 * 24 * HOUR), cost_usd: 1 }));
  return out;
}

/** Text a reader gets: no exponent, no digit run no one can read, nothing that is not a number. */
const UNREADABLE = /e\+|\d{16}|Infinity|NaN/;

describe('detection at the caps of usage.events.v1', () => {
  it('keeps every anomaly and rollup valid and readable, so none is dropped', { timeout: 60_000 }, () => {
    const events = stream();
    const engine = createDetectionEngine(() => configs);
    const rollupState = createRollupState();
    const anomalies: Anomaly[] = [];
    const rollups: UsageRollup[] = [];
    events.forEach((e, seq) => {
      anomalies.push(...engine.process(e).anomalies);
      addToRollup(rollupState, e, seq);
      if (seq % 500 === 0 || seq === events.length - 1) rollups.push(...takeRollups(rollupState, 'usage.events.v1:0', 600_000));
    });

    const team = createTeamEngine(() => teamConfigs);
    for (const r of rollups) {
      const checked = safeParseUsageRollup(r);
      expect(checked.success, `${r.developer} ${r.hour}: ${JSON.stringify(checked.error?.issues)}`).toBe(true);
      anomalies.push(...team.process(r).anomalies);
    }
    anomalies.push(...team.flush());

    const kinds = new Set(anomalies.map((a) => a.kind));
    for (const kind of ['session_cost', 'context_bloat', 'new_spender', 'budget_forecast'] as const) expect(kinds, kind).toContain(kind);
    for (const a of anomalies) {
      const checked = Anomaly.safeParse(a);
      expect(checked.success, `${a.kind} v${a.version}: ${JSON.stringify(checked.error?.issues)}`).toBe(true);
      expect(`${a.summary} ${a.advice}`, `${a.kind} v${a.version}`).not.toMatch(UNREADABLE);
    }
    // The burst hour is counted, held at the largest exact count rather than past it.
    const burst = rollups.filter((r) => r.developer === 'bob@acme.com').at(-1);
    expect(burst?.input_tokens).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe('formatUsd in summaries', () => {
  it.each([
    [25, '$25'],
    [104.2, '$104'],
    [1_250_000, '$1,250,000'],
    [999_999_999.4, '$999,999,999'],
    [999_999_999.99, '$1 billion'],
    [1e9, '$1 billion'],
    [6e9, '$6 billion'],
    [1.2345e12, '$1.23 trillion'],
    [1e15, 'over $1,000 trillion'],
    [1e300, 'over $1,000 trillion'],
    [Infinity, 'over $1,000 trillion'],
    [-3e9, '−$3 billion'],
  ])('%s → %s', (value, expected) => {
    expect(formatUsd(value)).toBe(expected);
  });
});
