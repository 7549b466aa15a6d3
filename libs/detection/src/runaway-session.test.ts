import { Anomaly } from '@burnrate/schemas';
import type { UsageEvent } from '@burnrate/schemas';
import { describe, expect, it } from 'vitest';
import { anomalyId } from './hash.ts';
import { runawaySession, type RunawaySessionConfig, type RunawaySessionSettings } from './runaway-session.ts';
import { runThroughEngine, testEnv } from './test-env.ts';
import { usageEvent } from '@burnrate/testing/builders';
import { at } from './test-events.ts';

const WED = '2026-11-25T09:00:00.000Z'; // Wednesday 10:00 in Berlin: working time
const FRI = '2026-11-27T15:00:00.000Z'; // Friday 16:00 in Berlin: two hours before the weekend
const SESSION = '28b3c0de-7f1a-4c55-9d0e-3b1f2a6c9e41';

const SETTINGS: RunawaySessionSettings = {
  enabled: true,
  min_impact_usd: 10,
  max_hours_without_human: 4,
  off_hours_factor: 0.5,
  critical_factor: 3,
};
const config = (o: Partial<RunawaySessionSettings> = {}, planned?: [string, string, string, string][]): RunawaySessionConfig =>
  testEnv({ ...SETTINGS, ...o }, { timeZone: 'Europe/Berlin', ...(planned === undefined ? {} : { planned }) });

/** An agent call every `every` minutes from `from` to `to` (exclusive) on one prompt. */
function agent(
  prompt: string,
  from: number,
  to: number,
  cost: number,
  every = 5,
  o: Partial<UsageEvent> = {},
): [number, string, number, Partial<UsageEvent>][] {
  const out: [number, string, number, Partial<UsageEvent>][] = [];
  for (let m = from; m < to; m += every) out.push([m, prompt, cost, o]);
  return out;
}

function events(rows: readonly [number, string, number, Partial<UsageEvent>?][], base: string): UsageEvent[] {
  return rows.map(([minutes, prompt, cost, o], i) =>
    usageEvent({ event_id: `e${i}`, occurred_at: at(base, minutes), prompt_id: prompt, cost_usd: cost, ...o }),
  );
}

const brief = (a: Anomaly) =>
  `${a.version} ${a.severity} ${a.status} ${a.detected_at.slice(5, 16)} ${a.observed.value}h/${a.expected.value}h $${a.impact_usd}`;

describe('runaway_session', () => {
  const cases: {
    name: string;
    base: string;
    rows: [number, string, number, Partial<UsageEvent>?][];
    cfg?: RunawaySessionConfig;
    want: string[];
  }[] = [
    {
      name: 'stays quiet while an agent works under the limit in working hours',
      base: WED,
      rows: agent('p1', 0, 236, 1),
      want: [],
    },
    {
      name: 'stays quiet when a human prompts every hour, all day',
      base: WED,
      rows: [0, 1, 2, 3, 4, 5, 6, 7].flatMap((h) => agent(`p${h}`, h * 60, h * 60 + 60, 1)),
      want: [],
    },
    {
      name: 'warns after 4 h without a human turn in working hours',
      base: WED,
      rows: agent('p1', 0, 250, 0.5),
      want: ['1 warning open 11-25T13:00 4h/4h $24.5'],
    },
    {
      name: 'stays quiet below the dollar gate however long it runs',
      base: WED,
      rows: agent('p1', 0, 600, 0.01),
      want: [],
    },
    {
      name: 'halves the limit outside working hours (Friday evening) and escalates past 3x into the weekend',
      base: FRI,
      rows: agent('p1', 0, 8 * 60, 1, 10),
      // Prompted Fri 16:00 Berlin; at 18:00 it is off-hours, 2 h in: warning; 6 h in (22:00): critical.
      want: ['1 warning open 11-27T17:00 2h/2h $13', '2 critical open 11-27T21:00 6h/2h $37'],
    },
    {
      name: 'is critical on Friday evening when the unattended spend is heading past critical_projected_usd by Monday',
      base: FRI,
      rows: agent('p1', 0, 8 * 60, 1, 10),
      cfg: config({ critical_projected_usd: 100 }),
      // Fri 18:00 Berlin: $13 in 2 h, $6.50/h for the 63 h until Monday 09:00 is $422.
      want: ['1 critical open 11-27T17:00 2h/2h $13', '2 critical open 11-27T19:10 4.166667h/2h $26'],
    },
    {
      name: 'leaves severity to the hours in working time, whatever the projection',
      base: WED,
      rows: agent('p1', 0, 250, 0.5),
      cfg: config({ critical_projected_usd: 20 }),
      want: ['1 warning open 11-25T13:00 4h/4h $24.5'],
    },
    {
      name: 'resolves when a human prompt arrives',
      base: WED,
      rows: [...agent('p1', 0, 250, 0.5), [251, 'p2', 0.5], ...agent('p2', 252, 300, 0.5)],
      want: ['1 warning open 11-25T13:00 4h/4h $24.5', '2 warning resolved 11-25T13:11 4.083333h/4h $25'],
    },
    {
      name: 'resolves when the session goes quiet for 30 minutes, seen as event time moves on',
      base: WED,
      rows: [...agent('p1', 0, 250, 0.5), [290, 'x1', 0.1, { session_id: 'other' }]],
      want: ['1 warning open 11-25T13:00 4h/4h $24.5', '2 warning resolved 11-25T13:50 4.083333h/4h $25'],
    },
    {
      name: 'starts a new stretch when the agent resumes after a quiet spell',
      base: WED,
      rows: [...agent('p1', 0, 180, 1), ...agent('p1', 240, 400, 1)],
      want: [],
    },
    {
      name: 'does not take a straggler of the previous prompt for a human turn',
      base: WED,
      rows: [[0, 'p0', 1], ...agent('p1', 1, 200, 0.5), [200, 'p0', 0.5], ...agent('p1', 201, 260, 0.5)],
      want: ['1 warning open 11-25T13:01 4h/4h $25'], // the straggler's cost counts, its prompt does not reset
    },
    {
      name: 'ignores sessions without a prompt id (no human-turn signal)',
      base: WED,
      rows: agent('p1', 0, 600, 1).map(([m, , c]) => [m, '', c, { prompt_id: undefined }] as [number, string, number, Partial<UsageEvent>]),
      want: [],
    },
    {
      name: 'stays at info during a planned change',
      base: WED,
      rows: agent('p1', 0, 250, 0.5),
      cfg: config({}, [['payments', '2026-11-25', '2026-11-25', 'agent evaluation day']]),
      want: ['1 info open 11-25T13:00 4h/4h $24.5'],
    },
    {
      name: 'emits nothing when disabled',
      base: FRI,
      rows: agent('p1', 0, 8 * 60, 1, 10),
      cfg: config({ enabled: false }),
      want: [],
    },
  ];

  it.each(cases)('$name', ({ rows, base, cfg, want }) => {
    expect(runThroughEngine(runawaySession, cfg ?? config(), events(rows, base)).map(brief)).toEqual(want);
  });

  it('produces schema-valid anomalies with one id per stretch, evidence and advice', () => {
    const out = runThroughEngine(runawaySession, config(), events(agent('p1', 0, 8 * 60, 1, 10), FRI));
    for (const a of out) expect(Anomaly.parse(a)).toEqual(a);
    expect(new Set(out.map((a) => a.id))).toEqual(new Set([anomalyId('runaway_session', ['acme', SESSION, FRI])]));
    const critical = out.at(-1) as Anomaly;
    expect(critical.subject).toEqual({ org: 'acme', team: 'payments', developer: 'alice@acme.com', session: SESSION });
    expect(critical.summary).toBe(
      "An agent in session 28b3c0de… of alice@acme.com has run for 6h 0m without a human prompt, past the 2h 0m (halved outside payments's working hours, Europe/Berlin) limit, and spent $37 in that time.",
    );
    expect(critical.advice).toMatch(/Interrupt it/);
    // Fri 22:00 Berlin: the projection runs the 59 h to Monday 09:00 at the stretch's $37 / 6 h.
    expect(critical.projected_usd).toBe(363.833333);
    expect(critical.advice).toContain('about $363.83 more by Mon 11-30 09:00 Europe/Berlin (59h), when working hours start.');
    expect(critical.evidence[0]).toEqual({ at: FRI, label: 'last human prompt', value: 0, unit: 'usd' });
  });

  it('is deterministic and survives a snapshot round trip mid-stream', () => {
    const evs = events([...agent('p1', 0, 8 * 60, 1, 10), [8 * 60, 'p2', 1]], FRI);
    const whole = runThroughEngine(runawaySession, config(), evs);
    expect(whole.map((a) => `${a.version} ${a.status}`)).toEqual(['1 open', '2 open', '3 resolved']);
    expect(runThroughEngine(runawaySession, config(), evs)).toEqual(whole);
  });
});
