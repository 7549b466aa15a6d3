import { Anomaly } from '@burnrate/schemas';
import type { UsageEvent } from '@burnrate/schemas';
import { describe, expect, it } from 'vitest';
import { newSpender, type NewSpenderConfig, type NewSpenderSettings } from './new-spender.ts';
import { runThroughEngine, testEnv } from './test-env.ts';
import { usageEvent } from '@burnrate/testing/builders';
import { at } from './test-events.ts';

const T0 = '2026-11-02T09:00:00.000Z'; // a Monday: the org's first event
const DAY = 24 * 60;
const AFTER = 8 * DAY; // learning is over

const SETTINGS: NewSpenderSettings = { enabled: true, min_impact_usd: 5, window_hours: 24 };
const config = (o: Partial<NewSpenderSettings> = {}): NewSpenderConfig => testEnv({ ...SETTINGS, ...o });

const STRANGER: Partial<UsageEvent> = {
  developer: 'dave@contractor.io',
  developer_email: 'dave@contractor.io',
  team: 'unattributed',
  session_id: undefined,
};
const CURSOR: Partial<UsageEvent> = { tool: 'cursor', source: 'cursor_events', provider: 'cursor' };

type Row = [minute: number, cost: number, o?: Partial<UsageEvent>];

/** Alice's usual claude-code traffic every 6 hours for 11 days: what the org knows, and event time moving on. */
const routine: Row[] = Array.from({ length: 44 }, (_, i): Row => [i * 360, 0.5, { api_key_id: 'key-alice' }]);

function events(rows: readonly Row[]): UsageEvent[] {
  return [...routine, ...rows]
    .sort((a, b) => a[0] - b[0])
    .map(([minute, cost, o], i) => usageEvent({ event_id: `n${i}`, occurred_at: at(T0, minute), cost_usd: cost, ...o }));
}

const brief = (a: Anomaly) =>
  `${a.version} ${a.severity} ${a.status} day${Math.floor((Date.parse(a.detected_at) - Date.parse(T0)) / 86_400_000)} ${a.subject.team}/${a.subject.developer} $${a.impact_usd}`;

describe('new_spender', () => {
  const cases: { name: string; rows: Row[]; cfg?: NewSpenderConfig; want: string[] }[] = [
    {
      name: 'stays quiet for the known org',
      rows: [],
      want: [],
    },
    {
      name: 'warns about an unattributed spender past $5 in 24 h, even while learning, and resolves when the window ends',
      rows: [
        [60, 3, STRANGER],
        [120, 3, STRANGER],
        [180, 1, STRANGER],
      ],
      want: ['1 warning open day0 unattributed/dave@contractor.io $6', '2 warning resolved day1 unattributed/dave@contractor.io $7'],
    },
    {
      name: 'stays quiet for an unattributed spender under the gate',
      rows: [
        [60, 2, STRANGER],
        [120, 2, STRANGER],
      ],
      want: [],
    },
    {
      name: "counts a new tool's spend only within the window after first use",
      rows: [
        [AFTER, 4, CURSOR],
        [AFTER + DAY + 10, 4, CURSOR],
      ],
      want: [],
    },
    {
      name: 'adds up an unattributed spender across days, however thinly spread, and resolves a day after its last spend',
      rows: [
        [60, 2, STRANGER],
        [60 + DAY + 10, 2, STRANGER],
        [60 + 3 * DAY, 2, STRANGER],
        [60 + 3 * DAY + 30, 1, STRANGER],
      ],
      want: ['1 warning open day3 unattributed/dave@contractor.io $6', '2 warning resolved day4 unattributed/dave@contractor.io $7'],
    },
    {
      name: 'escalates an unattributed spender to critical at 20x the gate',
      rows: [
        [AFTER, 6, STRANGER],
        [AFTER + 30, 100, STRANGER],
      ],
      want: [
        '1 warning open day8 unattributed/dave@contractor.io $6',
        '2 critical open day8 unattributed/dave@contractor.io $106',
        '3 critical resolved day9 unattributed/dave@contractor.io $106',
      ],
    },
    {
      name: 'reports a new tool of a known developer at info after learning',
      rows: [
        [AFTER, 3, CURSOR],
        [AFTER + 10, 3, CURSOR],
      ],
      want: ['1 info open day8 payments/alice@acme.com $6', '2 info resolved day9 payments/alice@acme.com $6'],
    },
    {
      name: 'learns tools, providers and keys silently during the first week',
      rows: [
        [DAY, 30, CURSOR],
        [DAY + 5, 30, { api_key_id: 'key-ci' }],
        [AFTER, 30, CURSOR],
        [AFTER, 30, { api_key_id: 'key-ci' }],
      ],
      want: [],
    },
    {
      name: 'reports one anomaly for one new spender however many new things its events carry',
      rows: [
        [AFTER, 10, { ...STRANGER, ...CURSOR, api_key_id: 'key-x' }],
        [AFTER + 5, 10, { ...CURSOR, api_key_id: 'key-x' }],
      ],
      want: ['1 warning open day8 unattributed/dave@contractor.io $10', '2 warning resolved day9 unattributed/dave@contractor.io $10'],
    },
    {
      name: 'never reports an identity twice',
      rows: [
        [60, 6, STRANGER],
        [2 * DAY, 60, STRANGER],
      ],
      want: ['1 warning open day0 unattributed/dave@contractor.io $6', '2 warning resolved day1 unattributed/dave@contractor.io $6'],
    },
    {
      name: 'emits nothing when disabled',
      rows: [[60, 60, STRANGER]],
      cfg: config({ enabled: false }),
      want: [],
    },
  ];

  it.each(cases)('$name', ({ rows, cfg, want }) => {
    expect(runThroughEngine(newSpender, cfg ?? config(), events(rows)).map(brief)).toEqual(want);
  });

  it('explains who and what in a schema-valid anomaly', () => {
    const out = runThroughEngine(
      newSpender,
      config(),
      events([[AFTER, 10, { ...STRANGER, model: 'gpt-5', provider: 'openai', tool: 'api' }]]),
    );
    for (const a of out) expect(Anomaly.parse(a)).toEqual(a);
    expect(out[0]?.summary).toBe('An unattributed spender (dave@contractor.io) has spent $10 in 0m on api / openai.');
    expect(out[0]?.advice).toMatch(/add them to a team in burnrate.yaml/);
    expect(out[0]?.subject).toEqual({ org: 'acme', team: 'unattributed', developer: 'dave@contractor.io', model: 'gpt-5' });
  });

  it('says what an unattributed spender spent when it resolves', () => {
    const out = runThroughEngine(
      newSpender,
      config(),
      events([
        [60, 3, STRANGER],
        [60 + DAY, 3, STRANGER],
      ]),
    );
    expect(out.map(brief)).toEqual([
      '1 warning open day1 unattributed/dave@contractor.io $6',
      '2 warning resolved day2 unattributed/dave@contractor.io $6',
    ]);
    expect(out[1]?.summary).toBe(
      'An unattributed spender (dave@contractor.io) spent $6 over 24h 0m and none in the last 24h; it is now a known spender.',
    );
  });

  it('remembers an unattributed spender under the gate for the retention, then forgets it', () => {
    const cfg = config();
    const later = (days: number) => Date.parse(T0) + days * 86_400_000;
    const seen = () => {
      const state = newSpender.initialState();
      newSpender.step(state, usageEvent({ event_id: 'a', occurred_at: T0, ...STRANGER, cost_usd: 1 }), cfg, { watermark: 0 });
      return state;
    };
    // The stranger (a candidate), its provider and its tool (learnt with it).
    const remembered = seen();
    expect(newSpender.size(remembered)).toBe(3);
    newSpender.advance?.(remembered, later(30), cfg, { watermark: later(30) });
    newSpender.evict(remembered, later(30));
    expect(newSpender.size(remembered)).toBe(3);
    const back = newSpender.step(remembered, usageEvent({ event_id: 'b', occurred_at: at(T0, 30 * DAY), ...STRANGER, cost_usd: 4 }), cfg, {
      watermark: later(30),
    });
    expect(back.anomalies.map(brief)).toEqual(['1 warning open day30 unattributed/dave@contractor.io $5']);

    const forgotten = seen();
    newSpender.evict(forgotten, later(91));
    expect(newSpender.size(forgotten)).toBe(0);
  });

  it('keeps known identities past the idle horizon and forgets them after the retention', () => {
    const state = newSpender.initialState();
    const cfg = config();
    const ctx = { watermark: 0 };
    newSpender.step(state, usageEvent({ event_id: 'a', occurred_at: T0, tool: 'cursor' }), cfg, ctx);
    expect(newSpender.size(state)).toBe(2); // provider:anthropic, tool:cursor
    newSpender.evict(state, Date.parse(T0) + 30 * 86_400_000);
    expect(newSpender.size(state)).toBe(2);
    newSpender.evict(state, Date.parse(T0) + 91 * 86_400_000);
    expect(newSpender.size(state)).toBe(0);
  });

  it('learns an identity again once the retention has forgotten it, even right after seeing it', () => {
    const state = newSpender.initialState();
    const cfg = config();
    const ctx = { watermark: 0 };
    const cursorAt = (minute: number, id: string) => usageEvent({ event_id: id, occurred_at: at(T0, minute), tool: 'cursor' });
    newSpender.step(state, cursorAt(0, 'a'), cfg, ctx);
    newSpender.step(state, cursorAt(10, 'b'), cfg, ctx);
    newSpender.evict(state, Date.parse(T0) + 91 * 86_400_000);
    expect(newSpender.size(state)).toBe(0);
    newSpender.step(state, cursorAt(20, 'c'), cfg, ctx);
    expect(newSpender.size(state)).toBe(2);
  });
});
