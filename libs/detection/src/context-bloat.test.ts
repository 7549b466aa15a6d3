import { Anomaly } from '@burnrate/schemas';
import type { UsageEvent } from '@burnrate/schemas';
import { describe, expect, it } from 'vitest';
import { contextBloat, type ContextBloatConfig, type ContextBloatSettings } from './context-bloat.ts';
import { runThroughEngine, testEnv } from './test-env.ts';
import { usageEvent } from '@burnrate/testing/builders';
import { at } from './test-events.ts';

const T0 = '2026-11-25T09:00:00.000Z'; // Wednesday 10:00 in Berlin

const SETTINGS: ContextBloatSettings = {
  enabled: true,
  min_impact_usd: 5,
  max_input_tokens_per_call: 150_000,
  cost_per_turn_factor: 8,
  baseline_turns: 3,
  cool_down_hours: 2,
};
const config = (o: Partial<ContextBloatSettings> = {}, planned?: [string, string, string, string][]): ContextBloatConfig =>
  testEnv({ ...SETTINGS, ...o }, planned === undefined ? {} : { planned });

/** A call: [minute, input tokens (all cache reads unless `fresh`), cost, overrides]. */
type Call = [minute: number, input: number, cost: number, o?: Partial<UsageEvent>];

/** An agent session whose context grows by `step` tokens per call, priced at `perMTok` $ per million input tokens. */
function growing(from: number, calls: number, start: number, step: number, perMTok: number, every = 2): Call[] {
  return Array.from({ length: calls }, (_, i): Call => {
    const input = start + i * step;
    return [from + i * every, input, (input * perMTok) / 1e6];
  });
}

/** `rounds` rounds of `growing(…, 40, 20_000, 5_000, 5)`, each compacted back to 20k tokens; a round starts every `every` minutes. */
function compactingSession(rounds: number, every: number): Call[] {
  return Array.from({ length: rounds }, (_, r) => growing(r * every, 40, 20_000, 5_000, 5)).flat();
}

function events(calls: readonly Call[]): UsageEvent[] {
  return calls.map(([minute, input, cost, o], i) =>
    usageEvent({
      event_id: `c${i}`,
      occurred_at: at(T0, minute),
      input_tokens: 0,
      cache_read_tokens: input,
      cache_write_tokens: 0,
      cost_usd: cost,
      ...o,
    }),
  );
}

const brief = (a: Anomaly) =>
  `${a.version} ${a.severity} ${a.status} +${(Date.parse(a.detected_at) - Date.parse(T0)) / 60_000}m $${a.impact_usd}`;

describe('context_bloat', () => {
  const cases: { name: string; calls: Call[]; cfg?: ContextBloatConfig; want: string[] }[] = [
    {
      name: 'stays quiet for a steady session',
      calls: growing(0, 60, 30_000, 0, 5),
      want: [],
    },
    {
      name: 'warns once calls above 150k tokens cost $5 more than the first turns, then goes critical at $25',
      // 20k + 5k per call at $5/M: first turns average $0.125; call 27 (minute 54) sends 155k; the
      // excess per call is $0.025 × (n − 1), reaching $5 at call 33 and $25 at call 52.
      calls: growing(0, 60, 20_000, 5_000, 5),
      want: ['1 warning open +66m $5.075', '2 critical open +104m $25.025'],
    },
    {
      name: 'keeps the episode open through a compaction that drops the input below half the peak',
      calls: [...growing(0, 40, 20_000, 5_000, 5), [80, 30_000, 0.15], [82, 35_000, 0.175]],
      want: ['1 warning open +66m $5.075'],
    },
    {
      name: 'adds bloat after each compaction to the one episode of the session, escalating on the total',
      // Three rounds of growing to 195k and compacting back to 20k, 10 minutes apart: $10.40 of
      // bloat each, critical once the three add up to $25, resolved after 2 h without a call.
      calls: [...compactingSession(3, 90), [400, 1_000, 0.001, { session_id: 'other' }]],
      want: ['1 warning open +66m $5.075', '2 critical open +244m $25.075', '3 critical resolved +400m $31.2'],
    },
    {
      name: 'forgets a stretch that a compaction ended under the gate',
      // Each round alone costs $4.28 above the first turns, under the $5 gate; they do not add up.
      calls: compactingSession(3, 90).filter(([minute]) => minute % 90 < 66),
      want: [],
    },
    {
      name: 'starts a new episode when the session comes back after the cool-down',
      calls: compactingSession(2, 230),
      want: ['1 warning open +66m $5.075', '2 warning resolved +230m $10.4', '1 warning open +296m $5.075'],
    },
    {
      name: 'keeps one episode over a pause shorter than cool_down_hours',
      calls: compactingSession(2, 230),
      cfg: config({ cool_down_hours: 3 }),
      want: ['1 warning open +66m $5.075'],
    },
    {
      name: 'stays quiet below the dollar gate (large but well-cached calls)',
      calls: [...growing(0, 3, 20_000, 0, 0.5), ...growing(6, 30, 160_000, 0, 0.5)],
      want: [],
    },
    {
      name: 'fires on cost per turn 8x the first turns with 10x the input, under the token limit',
      calls: [...growing(0, 3, 10_000, 0, 5), ...growing(6, 15, 100_000, 0, 6)],
      want: ['1 warning open +24m $5.5'],
    },
    {
      name: 'does not take an output-heavy call (same input, higher cost) for bloat',
      calls: [...growing(0, 3, 10_000, 0, 5), ...Array.from({ length: 30 }, (_, i): Call => [6 + i * 2, 12_000, 0.6])],
      want: [],
    },
    {
      name: 'judges calls against the first turns of their own model, not a cheap side model',
      calls: [
        [0, 2_000, 0.0005, { model: 'claude-haiku-4-5', model_family: 'claude-haiku', tier: 'economy' }],
        [1, 2_000, 0.0005, { model: 'claude-haiku-4-5', model_family: 'claude-haiku', tier: 'economy' }],
        ...growing(2, 60, 30_000, 0, 5),
      ],
      want: [],
    },
    {
      name: 'goes critical when one call costs more than the whole first hour',
      calls: [...growing(0, 3, 10_000, 0, 5), [90, 200_000, 0.4], [92, 900_000, 5]],
      want: ['1 critical open +92m $5.3'],
    },
    {
      name: 'resolves when the session goes idle for 2 hours',
      calls: [...growing(0, 40, 20_000, 5_000, 5), [200, 1_000, 0.001, { session_id: 'other' }]],
      want: ['1 warning open +66m $5.075', '2 warning resolved +200m $10.4'],
    },
    {
      name: 'stays at info during a planned change',
      calls: growing(0, 40, 20_000, 5_000, 5),
      cfg: config({}, [['payments', '2026-11-25', '2026-11-25', 'long-context evaluation']]),
      want: ['1 info open +66m $5.075'],
    },
    {
      name: 'emits nothing when disabled',
      calls: growing(0, 60, 20_000, 5_000, 5),
      cfg: config({ enabled: false }),
      want: [],
    },
  ];

  it.each(cases)('$name', ({ calls, cfg, want }) => {
    expect(runThroughEngine(contextBloat, cfg ?? config(), events(calls)).map(brief)).toEqual(want);
  });

  it('keeps the id and the window start of the episode for the whole session', () => {
    const out = runThroughEngine(
      contextBloat,
      config(),
      events([...compactingSession(3, 90), [400, 1_000, 0.001, { session_id: 'other' }]]),
    );
    expect(out).toHaveLength(3);
    expect(new Set(out.map((a) => a.id)).size).toBe(1);
    // The first bloated call of the first round (call 27, minute 54).
    expect(new Set(out.map((a) => a.window.start))).toEqual(new Set([at(T0, 54)]));
    expect(out.at(-1)?.summary).toBe(
      'Session 28b3c0de… of alice@acme.com made no call for 2h 22m, so this episode closes; its 39 bloated calls cost $31.20 more than its first turns would have.',
    );
    // After the cool-down the session's next bloat is a new episode.
    const [first, , reopened] = runThroughEngine(contextBloat, config(), events(compactingSession(2, 230)));
    expect(reopened?.id).not.toBe(first?.id);
  });

  it('says what happened and what to do, in a schema-valid anomaly', () => {
    const out = runThroughEngine(contextBloat, config(), events(growing(0, 60, 20_000, 5_000, 5)));
    for (const a of out) expect(Anomaly.parse(a)).toEqual(a);
    const critical = out.at(-1) as Anomaly;
    expect(critical.summary).toBe(
      'Each call in session 28b3c0de… of alice@acme.com now sends 280k tokens of context and costs $1.40, 11.2x its first turns ($0.13); 26 such calls cost $25.03 more than the first turns would have. That is above the 150k-token limit per call.',
    );
    expect(critical.advice).toMatch(/^Reset the context: \/compact .* or \/clear/);
    expect(critical.subject).toMatchObject({ session: '28b3c0de-7f1a-4c55-9d0e-3b1f2a6c9e41', model: 'claude-opus-4-5' });
    expect(critical.window.start).toBe(at(T0, 54));
    expect(critical.evidence.filter((p) => p.label === 'call input').map((p) => p.value)).toEqual([
      260_000, 265_000, 270_000, 275_000, 280_000,
    ]);
  });
});
