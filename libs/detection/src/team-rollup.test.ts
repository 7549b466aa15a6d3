import type { UsageEvent } from '@burnrate/schemas';
import { UsageRollup } from '@burnrate/schemas';
import { describe, expect, it } from 'vitest';
import { createDetectionEngine } from './engine.ts';
import {
  addToRollup,
  createRollupState,
  DEFAULT_MAX_CLOCK_SKEW_MS,
  type DeveloperSpikeOf,
  restoreRollupState,
  rollupSize,
  takeRollups,
} from './team-rollup.ts';
import { usageEvent } from '@burnrate/testing/builders';
import { at } from './test-events.ts';

const T0 = '2026-11-25T10:00:00.000Z';
const SOURCE = 'usage.events.v1:3';
const LATENESS = 600_000;

const ev = (i: number, minutes: number, o: Partial<UsageEvent> = {}): UsageEvent =>
  usageEvent({ event_id: `e-${i}`, occurred_at: at(T0, minutes), ...o });

describe('team rollups (stage A)', () => {
  it('keeps cumulative totals per team, developer, model and hour, and sends the changed ones in order of their last event', () => {
    const s = createRollupState();
    addToRollup(s, ev(0, 5, { cost_usd: 2, input_tokens: 10, cache_read_tokens: 90 }), 100);
    addToRollup(s, ev(1, 6, { model: 'claude-haiku-4-5', tier: 'economy', cost_usd: 0.5 }), 101);
    addToRollup(s, ev(2, 7, { cost_usd: 3, input_tokens: 1000, cache_read_tokens: 0 }), 102);
    addToRollup(s, ev(3, 7, { cost_usd: 4, developer: 'bob@acme.com' }), 103);
    const first = takeRollups(s, SOURCE, LATENESS);
    expect(
      first.map((r) => [r.developer, r.model, r.cost_usd, r.cost_premium_usd, r.events, r.premium_events, r.seq, r.watermark]),
    ).toEqual([
      ['alice@acme.com', 'claude-haiku-4-5', 0.5, 0, 1, 0, 101, '2026-11-25T10:06:00.000Z'],
      ['alice@acme.com', 'claude-opus-4-5', 5, 5, 2, 2, 102, '2026-11-25T10:07:00.000Z'],
      ['bob@acme.com', 'claude-opus-4-5', 4, 4, 1, 1, 103, '2026-11-25T10:07:00.000Z'],
    ]);
    for (const r of first) expect(UsageRollup.parse(r)).toEqual(r);
    expect(first[1]).toMatchObject({
      org: 'acme',
      team: 'payments',
      hour: '2026-11-25T10:00:00.000Z',
      source: SOURCE,
      input_tokens: 1010,
      cache_read_tokens: 90,
    });

    // Nothing changed: nothing to send. One more opus event: its totals again, cumulative.
    expect(takeRollups(s, SOURCE, LATENESS)).toEqual([]);
    addToRollup(s, ev(4, 8, { cost_usd: 1 }), 104);
    expect(takeRollups(s, SOURCE, LATENESS).map((r) => [r.developer, r.model, r.cost_usd, r.events, r.seq])).toEqual([
      ['alice@acme.com', 'claude-opus-4-5', 6, 3, 104],
    ]);
  });

  it("carries the developer's spike in the hour as it was right after the entry's last event", () => {
    const s = createRollupState();
    const told: [string, string, number][] = [];
    // Alice's spend is a spike of hers from her second event on; bob's never is.
    const spikes: DeveloperSpikeOf = (org, developer, hour) => {
      told.push([org, developer, hour]);
      return developer === 'alice@acme.com' ? 10 * (told.length - 1) : 0;
    };
    addToRollup(s, ev(0, 5, { cost_usd: 2 }), 1, DEFAULT_MAX_CLOCK_SKEW_MS, spikes);
    addToRollup(s, ev(1, 6, { cost_usd: 40, developer: 'bob@acme.com' }), 2, DEFAULT_MAX_CLOCK_SKEW_MS, spikes);
    addToRollup(s, ev(2, 7, { cost_usd: 60 }), 3, DEFAULT_MAX_CLOCK_SKEW_MS, spikes);
    const out = takeRollups(s, SOURCE, LATENESS);
    expect(out.map((r) => [r.developer, r.developer_spike_usd])).toEqual([
      ['bob@acme.com', 0],
      ['alice@acme.com', 20],
    ]);
    for (const r of out) expect(UsageRollup.parse(r)).toEqual(r);
    expect(told[0]).toEqual(['acme', 'alice@acme.com', Date.parse(T0)]);
    // Told nothing (a caller without spend_spike): 0.
    const quiet = createRollupState();
    addToRollup(quiet, ev(3, 5), 4);
    expect(takeRollups(quiet, SOURCE, LATENESS)[0]?.developer_spike_usd).toBe(0);
  });

  it('drops an hour once it is closed and sent, and refuses later events for it', () => {
    const s = createRollupState();
    addToRollup(s, ev(0, 50), 1);
    addToRollup(s, ev(1, 65), 2); // 11:05: the 10:00 hour closes at 11:10
    expect(takeRollups(s, SOURCE, LATENESS)).toHaveLength(2);
    expect(rollupSize(s)).toBe(2);
    addToRollup(s, ev(2, 71), 3);
    expect(takeRollups(s, SOURCE, LATENESS).map((r) => [r.hour, r.events])).toEqual([['2026-11-25T11:00:00.000Z', 2]]);
    expect(rollupSize(s)).toBe(1);
    // Only reachable if the allowed lateness grew: counting it would restart 10:00 from zero.
    expect(addToRollup(s, ev(3, 59), 4)).toBe(false);
    expect(s.late).toBe(1);
    expect(takeRollups(s, SOURCE, LATENESS)).toEqual([]);
  });

  it('sends an hour that closes within a batch with the watermark of its last event, before the events after', () => {
    const s = createRollupState();
    addToRollup(s, ev(0, 55, { team: 'research' }), 7);
    addToRollup(s, ev(1, 80), 8); // 11:20 closes research's 10:00
    const out = takeRollups(s, SOURCE, LATENESS);
    expect(out.map((r) => [r.team, r.hour.slice(11, 16), r.watermark.slice(11, 16)])).toEqual([
      ['research', '10:00', '10:55'],
      ['payments', '11:00', '11:20'],
    ]);
  });

  it('follows the engine watermark, clock skew clamp included', () => {
    const events = [
      ev(0, 0),
      // Claims to be two hours ahead of its ingest time: moves the watermark 5 min past ingest only.
      ev(1, 120, { ingested_at: at(T0, 1) }),
      ev(2, 2),
      ev(3, -30), // late
      ev(2, 2), // duplicate
    ];
    const engine = createDetectionEngine(() => ({}), { detectors: {} });
    const s = createRollupState();
    events.forEach((e, i) => {
      const r = engine.process(e);
      if (!r.duplicate && !r.late) addToRollup(s, e, i);
    });
    expect(s.watermark).toBe(Date.parse(engine.stats().watermark as string));
    expect(new Date(s.watermark as number).toISOString()).toBe(at(T0, 6));
  });

  it('restores a saved state as it was, and an unreadable one as empty', () => {
    const s = createRollupState();
    addToRollup(s, ev(0, 5), 1);
    const restored = restoreRollupState(JSON.parse(JSON.stringify(s)));
    expect(restored).toEqual(s);
    expect(takeRollups(restored, SOURCE, LATENESS)).toEqual(takeRollups(s, SOURCE, LATENESS));
    expect(restoreRollupState({ format: 7 })).toEqual(createRollupState());
    expect(restoreRollupState(undefined)).toEqual(createRollupState());
  });
});
