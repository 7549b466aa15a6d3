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

type Row = [number, string, number, Partial<UsageEvent>?];

/** The same rows as a stream that carries no prompt ids (provider APIs, gateways, scripts). */
const unprompted = (rows: readonly Row[]): Row[] => rows.map(([m, , c, o]): Row => [m, '', c, { ...o, prompt_id: undefined }]);

/** An agent loop: a request every 15 to 25 s (20 s on average) from minute `from` to `to`. */
function loop(from: number, to: number, cost: number): Row[] {
  const out: Row[] = [];
  const jitter = [0, 5, -5, 3, -3];
  for (let s = from * 60, i = 0; s < to * 60; s += 20, i++) out.push([(s + (jitter[i % 5] as number)) / 60, 'p1', cost]);
  return out;
}

/** A person at work: turns of 1 to 4 requests 10 s apart, then 1.5 to 25 minutes of reading and typing. */
function human(minutes: number, cost: number): Row[] {
  const pauses = [2, 4, 3, 7, 12, 25, 1.5, 4, 6, 3];
  const out: Row[] = [];
  for (let m = 0, turn = 0; m < minutes; turn++) {
    for (let r = 0; r <= turn % 4; r++) out.push([m + r / 6, 'p1', cost]);
    m += (turn % 4) / 6 + (pauses[turn % pauses.length] as number);
  }
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
      name: 'without prompt ids, a session whose requests come 5 min apart is never taken for an agent alone',
      base: WED,
      rows: unprompted(agent('p1', 0, 600, 1)),
      want: [],
    },
    {
      name: 'without prompt ids, warns after 4 h of requests every ~20 s in working hours',
      base: WED,
      rows: unprompted(loop(0, 5 * 60, 0.05)),
      want: ['1 warning open 11-25T13:00 4h/4h $36.05'],
    },
    {
      name: 'without prompt ids, stays quiet for a person whose turns are minutes to tens of minutes apart',
      base: WED,
      rows: unprompted(human(8 * 60, 0.5)),
      want: [],
    },
    {
      name: 'without prompt ids, a loop that waits 2 min on the odd tool call is still a loop',
      base: WED,
      // Every 20th gap is 2 minutes: 1 pause in 20 gaps, under the 1 in 10 a loop may have.
      rows: unprompted(loop(0, 5 * 60, 0.05).map(([m, p, c], i): Row => [m + 2 * Math.floor(i / 20), p, c])),
      want: ['1 warning open 11-25T13:00 4.000833h/4h $27.95'],
    },
    {
      name: 'without prompt ids, a 5 min pause ends the stretch and resolves its episode',
      base: WED,
      rows: unprompted([...loop(0, 250, 0.05), ...loop(256, 400, 0.05)]),
      want: ['1 warning open 11-25T13:00 4h/4h $36.05', '2 warning resolved 11-25T13:16 4.160278h/4h $37.5'],
    },
    {
      name: 'a session that shows a prompt id is judged by prompt ids from then on',
      base: WED,
      // An hour without prompt ids, then a human prompt: the stretch starts there, 4 h before 14:00.
      rows: [...unprompted(loop(0, 60, 0.05)), ...agent('p1', 60, 310, 0.5)],
      want: ['1 warning open 11-25T14:00 4h/4h $24.5'],
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
    expect(critical.advice).toContain('about $364 more by Mon 11-30 09:00 Europe/Berlin (59h), when working hours start.');
    expect(critical.evidence[0]).toEqual({ at: FRI, label: 'last human prompt', value: 0, unit: 'usd' });
  });

  it('says a stream without prompt ids was judged by its cadence', () => {
    const out = runThroughEngine(runawaySession, config(), events(unprompted(loop(0, 5 * 60, 0.05)), WED));
    expect(out).toHaveLength(1);
    const a = out[0] as Anomaly;
    expect(Anomaly.parse(a)).toEqual(a);
    expect(a.summary).toBe(
      'An agent in session 28b3c0de… of alice@acme.com has run for 4h 0m with requests every 20s on average and no pause of 5m ' +
        '(the session carries no prompt ids, so its cadence stands for them), past the 4h 0m limit, and spent $36.05 in that time.',
    );
    expect(a.evidence[0]).toEqual({ at: WED, label: 'steady requests began (no prompt ids: judged by cadence)', value: 0, unit: 'usd' });
    expect(a.evidence).toContainEqual(expect.objectContaining({ label: 'calls since the steady requests began', value: 721 }));
  });

  it('is deterministic and survives a snapshot round trip mid-stream', () => {
    const evs = events([...agent('p1', 0, 8 * 60, 1, 10), [8 * 60, 'p2', 1]], FRI);
    const whole = runThroughEngine(runawaySession, config(), evs);
    expect(whole.map((a) => `${a.version} ${a.status}`)).toEqual(['1 open', '2 open', '3 resolved']);
    expect(runThroughEngine(runawaySession, config(), evs)).toEqual(whole);
  });
});
