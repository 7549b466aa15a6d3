import { parseConfig } from '@burnrate/core';
import { type UsageEvent } from '@burnrate/schemas';
import { describe, expect, it } from 'vitest';
import { replay } from './replay.ts';
import { usageEvent } from '@burnrate/testing';

const config = parseConfig(`
org: acme
teams:
  - id: payments
    timezone: Europe/Berlin
    members: [alice@acme.com]
`);

const T0 = Date.parse('2026-11-27T15:00:00Z'); // Friday 16:00 in Berlin

function event(minute: number, cost: number, o: Partial<UsageEvent> = {}): UsageEvent {
  const occurred = new Date(T0 + minute * 60_000).toISOString();
  return usageEvent({
    event_id: `r-${minute}-${o.session_id ?? 's'}`,
    occurred_at: occurred,
    ingested_at: occurred,
    session_id: 'weekend',
    prompt_id: 'p1',
    model: 'claude-opus-4-5',
    input_tokens: 1000,
    output_tokens: 100,
    cache_read_tokens: 0,
    cache_write_tokens: 0,
    cost_usd: cost,
    ...o,
  });
}

// A weekend agent loop: one prompt on Friday 16:00, then an agent call every 10 minutes for 8 hours.
const loop = Array.from({ length: 49 }, (_, i) => event(i * 10, 1.5));

describe('replay', () => {
  it('runs the live detectors over the events in the order given', async () => {
    const { anomalies, stats } = await replay(loop, config);
    // Off-hours from 18:00 Berlin halve the 4 h limit: 2 h in, runaway fires, and at $9/h until
    // Monday 09:00 (63 h) it is heading for ~$580, so it is critical on Friday evening rather than
    // at 3 × 2 h; session_cost crosses $25 at 16:00 + 160 min and is critical for the same reason.
    // Each is re-reported as its spend doubles.
    expect(anomalies.map((a) => `${a.kind} v${a.version} ${a.severity} ${a.detected_at.slice(11, 16)}`)).toEqual([
      'runaway_session v1 critical 17:00',
      'session_cost v1 critical 17:40',
      'runaway_session v2 critical 19:10',
      'session_cost v2 critical 20:30',
    ]);
    expect(stats).toEqual({ events: 49, duplicates: 0, late: 0, superseded: 0, invalid: 0 });
  });

  it('is deterministic, takes async iterables and counts duplicates, late and invalid inputs', async () => {
    const [, , , redelivered] = loop;
    async function* source(): AsyncGenerator<UsageEvent> {
      yield* loop.slice(0, 20);
      if (redelivered !== undefined) yield redelivered;
      yield event(5, 1, { session_id: 'other' }); // 3 hours behind: late
      yield { ...event(200, 1), cost_usd: -1 }; // invalid: a negative cost
      yield* loop.slice(20);
    }
    const first = await replay(source(), config);
    expect(first.stats).toEqual({ events: 52, duplicates: 1, late: 1, superseded: 0, invalid: 1 });
    expect(await replay(source(), config)).toEqual(first);
    expect((await replay(source(), config, { lateness: 4 * 3_600_000 })).stats.late).toBe(0);
  });
});
