import { Anomaly } from '@burnrate/schemas';
import type { UsageEvent } from '@burnrate/schemas';
import { describe, expect, it } from 'vitest';
import { anomalyId } from './hash.ts';
import { UNATTRIBUTED } from '@burnrate/schemas';
import {
  sessionCost,
  type SessionCostDetectorConfig,
  type SessionCostSettings,
  type SessionCostState,
  type SessionCostThresholds,
} from './session-cost.ts';
import { ctxAt, testEnv } from './test-env.ts';
import { usageEvent } from '@burnrate/testing/builders';
import { at } from './test-events.ts';
import { compileCalendar, DEFAULT_CALENDAR } from './calendar.ts';
import { formatUsd } from './format.ts';

const roundTo6 = (x: number) => Math.round(x * 1e6) / 1e6;

const T0 = '2026-11-25T10:00:00.000Z'; // a Wednesday, 11:00 in Berlin
const SESSION = '28b3c0de-7f1a-4c55-9d0e-3b1f2a6c9e41';

const DEFAULT_CAPS: SessionCostThresholds = { warning_usd: 25, critical_usd: 100 };

function config(overrides: Record<string, SessionCostThresholds> = {}, growthFactor?: number): SessionCostDetectorConfig {
  return {
    ...testEnv((s) => ({ enabled: true, ...(overrides[s.team] ?? DEFAULT_CAPS) })),
    ...(growthFactor === undefined ? {} : { growthFactor }),
  };
}

/** One event per entry: [minutes after T0, cost, optional overrides]. */
type Row = [minutes: number, cost: number, overrides?: Partial<UsageEvent>];

function events(rows: readonly Row[], base = T0): UsageEvent[] {
  return rows.map(([minutes, cost, o], i) =>
    usageEvent({ event_id: `e${i}-${minutes}`, occurred_at: at(base, minutes), cost_usd: cost, ...o }),
  );
}

function run(evs: readonly UsageEvent[], cfg = config(), state: SessionCostState = sessionCost.initialState()): Anomaly[] {
  const out: Anomaly[] = [];
  let watermark = 0;
  for (const e of evs) {
    const t = Date.parse(e.occurred_at);
    if (Math.floor(t / 60_000) > Math.floor(watermark / 60_000) && watermark > 0) {
      const adv = sessionCost.advance?.(state, t, cfg, ctxAt(t));
      if (adv !== undefined) out.push(...adv.anomalies);
    }
    watermark = Math.max(watermark, t);
    const r = sessionCost.step(state, e, cfg, ctxAt(watermark));
    state = r.state;
    out.push(...r.anomalies);
  }
  return out;
}

const brief = (a: Anomaly) => ({
  version: a.version,
  severity: a.severity,
  observed: a.observed.value,
  expected: a.expected.value,
  impact: a.impact_usd,
  session: a.subject.session,
});

describe('session_cost', () => {
  const cases: { name: string; rows: Row[]; cfg?: SessionCostDetectorConfig; want: ReturnType<typeof brief>[] }[] = [
    {
      name: 'stays quiet below the caps',
      rows: Array.from({ length: 24 }, (_, i): Row => [i, 1]),
      want: [],
    },
    {
      name: 'warns at the crossing, once',
      rows: [
        [0, 10],
        [5, 10],
        [10, 6],
        [15, 4],
        [20, 3],
      ],
      want: [{ version: 1, severity: 'warning', observed: 26, expected: 25, impact: 1, session: SESSION }],
    },
    {
      name: 'escalates the same episode to critical as version 2',
      rows: [
        [0, 20],
        [5, 10],
        [10, 30],
        [20, 45],
        [30, 1],
        [40, 2],
      ],
      want: [
        { version: 1, severity: 'warning', observed: 30, expected: 25, impact: 5, session: SESSION },
        { version: 2, severity: 'critical', observed: 105, expected: 100, impact: 80, session: SESSION },
      ],
    },
    {
      name: 'one event crossing both caps gives version 1 critical',
      rows: [
        [0, 5],
        [3, 120],
      ],
      want: [{ version: 1, severity: 'critical', observed: 125, expected: 100, impact: 100, session: SESSION }],
    },
    {
      name: 'a crossing exactly at the cap counts',
      rows: [
        [0, 12.5],
        [1, 12.5],
      ],
      want: [{ version: 1, severity: 'warning', observed: 25, expected: 25, impact: 0, session: SESSION }],
    },
    {
      name: 'team override thresholds apply',
      rows: [
        [0, 120],
        [10, 300],
      ],
      cfg: config({ payments: { warning_usd: 100, critical_usd: 400 } }),
      want: [
        { version: 1, severity: 'warning', observed: 120, expected: 100, impact: 20, session: SESSION },
        { version: 2, severity: 'critical', observed: 420, expected: 400, impact: 320, session: SESSION },
      ],
    },
    {
      name: 'a critical episode is re-reported only when the cost doubles',
      rows: [
        [0, 110],
        [10, 50],
        [20, 50],
        [30, 100],
        [40, 10],
        [50, 120],
      ],
      want: [
        { version: 1, severity: 'critical', observed: 110, expected: 100, impact: 85, session: SESSION },
        // 110 → 310 passes 2 × 110; 440 does not reach 2 × 310.
        { version: 2, severity: 'critical', observed: 310, expected: 100, impact: 285, session: SESSION },
      ],
    },
    {
      name: 'a warning is not re-reported for growing',
      rows: [
        [0, 30],
        [10, 30],
        [20, 30],
      ],
      want: [{ version: 1, severity: 'warning', observed: 30, expected: 25, impact: 5, session: SESSION }],
    },
    {
      name: 'growth updates can be disabled',
      rows: [
        [0, 110],
        [10, 500],
      ],
      cfg: config({}, 1),
      want: [{ version: 1, severity: 'critical', observed: 110, expected: 100, impact: 85, session: SESSION }],
    },
    {
      name: 'events without a session are not sessions',
      rows: [
        [0, 60, { session_id: undefined }],
        [10, 60, { session_id: undefined }],
      ],
      want: [],
    },
    {
      name: 'separate sessions are summed separately',
      rows: [
        [0, 20, { session_id: 's-a' }],
        [1, 20, { session_id: 's-b' }],
        [2, 10, { session_id: 's-a' }],
        [3, 10, { session_id: 's-b' }],
      ],
      want: [
        { version: 1, severity: 'warning', observed: 30, expected: 25, impact: 5, session: 's-a' },
        { version: 1, severity: 'warning', observed: 30, expected: 25, impact: 5, session: 's-b' },
      ],
    },
    {
      name: 'the same session id in another org is another session',
      rows: [
        [0, 20],
        [1, 20, { org: 'globex' }],
      ],
      want: [],
    },
  ];

  it.each(cases)('$name', ({ rows, cfg, want }) => {
    expect(run(events(rows), cfg).map(brief)).toEqual(want);
  });

  it('produces anomalies the Anomaly schema accepts unchanged', () => {
    const out = run(
      events([
        [0, 20],
        [30, 10],
        [60, 80],
        [90, 200],
      ]),
    );
    expect(out).toHaveLength(3);
    for (const a of out) expect(Anomaly.parse(a)).toEqual(a);
  });

  it('keeps one id per episode, derived from kind, org, session and the first crossing', () => {
    const out = run(
      events([
        [0, 20],
        [5, 10],
        [50, 80],
      ]),
    );
    const firstCrossing = at(T0, 5);
    expect(out.map((a) => a.id)).toEqual([
      anomalyId('session_cost', ['acme', SESSION, firstCrossing]),
      anomalyId('session_cost', ['acme', SESSION, firstCrossing]),
    ]);
    expect(out[0]?.id).toMatch(/^[0-9a-f]{32}$/);
  });

  it('gives separate sessions separate ids', () => {
    const out = run(
      events([
        [0, 30, { session_id: 's-a' }],
        [0, 30, { session_id: 's-b' }],
      ]),
    );
    expect(new Set(out.map((a) => a.id)).size).toBe(2);
  });

  it('is deterministic across runs', () => {
    const rows: Row[] = Array.from({ length: 60 }, (_, i): Row => [i * 3, (i % 7) * 2 + 0.37, { session_id: `s-${i % 3}` }]);
    const first = run(events(rows));
    expect(first.map((a) => a.severity)).toEqual(['warning', 'warning', 'warning', 'critical', 'critical', 'critical']);
    expect(run(events(rows))).toEqual(first);
  });

  it('fills subject, window, evidence and text for a critical session', () => {
    // 3h 12m of work, mostly on opus, a little haiku; crosses $25 at 60 min and $100 at 192 min.
    const rows: Row[] = [
      [0, 4.1],
      [30, 0.9, { model: 'claude-haiku-4-5', model_family: 'claude-haiku', tier: 'economy' }],
      [60, 21],
      [120, 30],
      [150, 20],
      [192, 28.2],
    ];
    const out = run(events(rows));
    const critical = out.at(-1) as Anomaly;
    expect(critical).toMatchObject({
      version: 2,
      kind: 'session_cost',
      severity: 'critical',
      status: 'open',
      subject: { org: 'acme', team: 'payments', developer: 'alice@acme.com', session: SESSION, model: 'claude-opus-4-5' },
      window: { start: T0, end: at(T0, 192) },
      observed: { value: 104.2, unit: 'usd' },
      expected: { value: 100, unit: 'usd' },
      impact_usd: 79.2,
      detected_at: at(T0, 192),
    });
    expect(critical.summary).toBe('Session 28b3c0de… of alice@acme.com has cost $104 in 3h 12m, above the $100 critical cap for payments.');
    expect(critical.advice).toMatch(/^Check whether an agent is looping/);
    expect(critical.advice).toContain('/clear');
    expect(critical.evidence.filter((p) => p.label.endsWith('crossing'))).toEqual([
      { at: at(T0, 60), label: 'cumulative cost at warning crossing', value: 26, unit: 'usd' },
      { at: at(T0, 192), label: 'cumulative cost at critical crossing', value: 104.2, unit: 'usd' },
    ]);
    expect(critical.evidence.filter((p) => p.label === 'turn cost').map((p) => p.value)).toEqual([0.9, 21, 30, 20, 28.2]);
    const times = critical.evidence.map((p) => p.at);
    expect([...times].sort()).toEqual(times);
  });

  it('takes the window from the earliest to the latest event when they arrive out of order', () => {
    const out = run(
      events([
        [60, 20],
        [0, 3],
        [90, 5],
      ]),
    );
    expect(out).toHaveLength(1);
    expect(out[0]?.window).toEqual({ start: T0, end: at(T0, 90) });
    expect(out[0]?.observed.value).toBe(28);
  });

  it('adopts the owner of a session first seen unattributed', () => {
    const out = run(
      events([
        [0, 20, { team: 'unattributed', developer: 'unattributed', developer_email: undefined }],
        [10, 10],
      ]),
    );
    expect(out[0]?.subject).toMatchObject({ team: 'payments', developer: 'alice@acme.com' });
  });

  describe('projected_usd', () => {
    // $20 every 10 minutes: critical at minute 40 with $100 spent over 40 minutes = $150/h.
    const rows: Row[] = [
      [0, 20],
      [10, 20],
      [20, 20],
      [30, 20],
      [40, 20],
    ];

    it('projects one hour at the burn rate during business hours', () => {
      const critical = run(events(rows, '2026-11-25T09:00:00Z')).at(-1) as Anomaly; // Wed 10:40 Berlin
      expect(critical.severity).toBe('critical');
      expect(critical.projected_usd).toBe(150);
      expect(critical.advice).toContain('$150/h');
    });

    // $2 every 3 minutes ($40/h): the 13th call, at minute 36, crosses the $25 warning cap.
    const loop: Row[] = Array.from({ length: 13 }, (_, i): Row => [3 * i, 2]);
    const loopCaps = config({ payments: { warning_usd: 25, critical_usd: 600 } });

    it('projects a Friday 19:00 loop to Monday 09:00 and is critical from that projection', () => {
      const out = run(events(loop, '2026-11-27T17:24:00Z'), loopCaps); // crosses at Fri 19:00 Berlin
      expect(out).toHaveLength(1);
      const a = out[0] as Anomaly;
      expect(a).toMatchObject({ version: 1, severity: 'critical', detected_at: '2026-11-27T18:00:00.000Z' });
      expect(a.observed.value).toBe(26);
      expect(a.expected.value).toBe(25); // the cap actually crossed; the projection made it critical
      const rate = 26 / 0.6; // rated over the session's 36 minutes
      expect(a.projected_usd).toBeCloseTo(rate * 62, 4);
      expect(a.advice).toContain('more by Mon 11-30 09:00 Europe/Berlin (62h), when working hours start');
      expect(a.summary).toMatch(/Critical because at this rate it reaches \$2,7\d\d, past the \$600 critical cap/);
    });

    it('keeps the same loop at warning with a 1 h horizon on a Tuesday morning', () => {
      const out = run(events(loop, '2026-11-24T08:24:00Z'), loopCaps); // crosses at Tue 10:00 Berlin
      expect(out.map((a) => [a.severity, a.projected_usd])).toEqual([['warning', roundTo6(26 / 0.6)]]);
      expect(out[0]?.advice).toContain('more in the next 1h, while the team is at work');
    });

    it('projects to the on-call response time where the team has an on-call receiver', () => {
      const oncall = {
        ...loopCaps,
        calendarFor: () => compileCalendar(DEFAULT_CALENDAR, 'Europe/Berlin', { oncallResponseMs: 30 * 60_000 }),
      };
      const out = run(events(loop, '2026-11-27T17:24:00Z'), oncall);
      // 26 + 43.33 × 0.5 is far below $600: someone answers within the half hour.
      expect(out.map((a) => [a.severity, a.projected_usd])).toEqual([['warning', roundTo6((26 / 0.6) * 0.5)]]);
      expect(out[0]?.advice).toContain('more in the 30m before on-call is likely to respond');
    });

    it('projects the hours until 09:00 on a weeknight, critical once the projection passes the cap', () => {
      const out = run(events(rows, '2026-11-25T23:20:00Z')); // Thu 00:20 Berlin
      // $40 at 00:30 at $160/h is heading for $1,400 by 09:00: critical at the warning crossing.
      expect(out.map((a) => [a.version, a.severity, a.observed.value, a.projected_usd])).toEqual([
        [1, 'critical', 40, 160 * 8.5],
        [2, 'critical', 80, roundTo6(160 * (8 + 1 / 6))],
      ]);
    });

    it('rates only the last hour of a long session', () => {
      // $95 in the first half hour, then quiet, then $6 at 1h40 (crossing $100): only $6 is in the last hour.
      const out = run(
        events(
          [
            [0, 50],
            [30, 45],
            [100, 6],
          ],
          '2026-11-25T09:00:00Z',
        ),
      );
      expect(out.at(-1)).toMatchObject({ severity: 'critical', projected_usd: 6 });
    });
  });

  describe('resolution', () => {
    it("is not resolved by another developer's events, however late (the watermark says nothing about this session)", () => {
      const out = run(
        events([
          [0, 30],
          [10, 80],
          [35 * 60, 0.1, { developer: 'unattributed', developer_email: undefined, team: 'unattributed', session_id: 'otlp' }],
        ]),
      );
      expect(out.map((a) => [a.version, a.status])).toEqual([
        [1, 'open'],
        [2, 'open'],
      ]);
    });

    it('resolves by the watermark when idleResolveMs is set', () => {
      const out = run(
        events([
          [0, 30],
          [180, 0.1, { developer: 'bob@acme.com', session_id: 'bob' }],
        ]),
        { ...config(), idleResolveMs: 2 * 3_600_000 },
      );
      expect(out.map((a) => [a.version, a.status, a.detected_at])).toEqual([
        [1, 'open', T0],
        [2, 'resolved', at(T0, 180)],
      ]);
    });

    it('resolves an episode once its developer is seen 2 h after the session went silent, as one more version', () => {
      const out = run(
        events([
          [0, 30],
          [10, 80],
          [60, 1],
          // The developer works in another session: 2 h after minute 60 the first one resolves.
          [179, 0.5, { session_id: 'other' }],
          [180, 0.5, { session_id: 'other' }],
        ]),
      );
      expect(out.map((a) => [a.version, a.severity, a.status, a.observed.value, a.projected_usd])).toEqual([
        [1, 'warning', 'open', 30, 120], // $30 in its first minute is rated over 15 min: $120/h for 1 h
        [2, 'critical', 'open', 110, expect.any(Number)],
        [3, 'critical', 'resolved', 111, 0],
      ]);
      expect(new Set(out.map((a) => a.id)).size).toBe(1);
      expect(out[2]).toMatchObject({ detected_at: at(T0, 180), window: { start: T0, end: at(T0, 60) } });
      expect(out[2]?.summary).toMatch(/stopped spending after \$111/);
      expect(out[2]?.evidence.at(-1)).toMatchObject({ label: 'silent since the last call', value: 2, unit: 'h' });
      expect(Anomaly.parse(out[2])).toEqual(out[2]);
    });

    it('stays open while the session keeps spending, even for days', () => {
      const rows: Row[] = Array.from({ length: 60 }, (_, i): Row => [i * 60, 5]);
      const out = run(events(rows));
      expect(out.every((a) => a.status === 'open')).toBe(true);
      // Warning at $25 (Wed 15:00 Berlin); critical at $40 (Wed 18:00, the end of working hours),
      // because $5/h until Thu 09:00 takes it past $100; then re-reported at each doubling.
      expect(out.map((a) => [a.severity, a.observed.value])).toEqual([
        ['warning', 25],
        ['critical', 40],
        ['critical', 80],
        ['critical', 160],
      ]);
    });

    it('opens a new episode after a resumption only for new spend above the warning cap', () => {
      const out = run(
        events([
          [0, 30],
          [200, 10], // resolved at minute 200 (idle since 0), then $10 of new spend
          [210, 14],
          [220, 2], // $26 since the resolution
        ]),
      );
      expect(out.map((a) => [a.version, a.status, a.observed.value])).toEqual([
        [1, 'open', 30],
        [2, 'resolved', 30],
        [1, 'open', 26],
      ]);
      expect(out[2]?.id).not.toBe(out[0]?.id);
    });
  });

  it('keeps an episode at info during a planned change, and escalates when it is over', () => {
    const cfg: SessionCostDetectorConfig = testEnv(
      { enabled: true, ...DEFAULT_CAPS },
      { planned: [['payments', '2026-11-25', '2026-11-25', 'migration week']] },
    );
    const out = run(
      events([
        [0, 30],
        [10, 80],
        [24 * 60, 1], // the next day: still over the critical cap, now outside the planned change
      ]),
      cfg,
    );
    expect(out.map((a) => [a.version, a.severity, a.status])).toEqual([
      [1, 'info', 'open'],
      [2, 'info', 'resolved'],
    ]);
    expect(out[0]?.summary).toContain('planned change "migration week"');
    const sameDay = run(
      events([
        [0, 30],
        [10, 80],
        [20, 1],
      ]),
      cfg,
    );
    expect(sameDay.map((a) => a.severity)).toEqual(['info']);
  });

  it('upgrades a snapshot taken before episodes could resolve, and goes on from it', () => {
    const old = {
      sessions: {
        [`acme\u001f${SESSION}`]: {
          org: 'acme',
          team: 'payments',
          developer: 'alice@acme.com',
          email: 'alice@acme.com',
          session: SESSION,
          first: Date.parse(T0),
          last: Date.parse(T0),
          cost: 30,
          turns: 1,
          models: { 'claude-opus-4-5': 30 },
          rate: new Array<number>(12).fill(0),
          slot: Math.floor(Date.parse(T0) / 300_000),
          tail: [Date.parse(T0), 30],
          tailNext: 0,
          episode: {
            id: 'old-id',
            start: Date.parse(T0),
            version: 1,
            severity: 'warning',
            reported: 30,
            marks: [{ at: Date.parse(T0), label: 'cumulative cost at warning crossing', value: 30 }],
          },
        },
      },
    };
    const state = (sessionCost.upgrade as (s: unknown) => SessionCostState)(JSON.parse(JSON.stringify(old)));
    expect(state).toMatchObject({ openCount: 1, open: { 'acme\u001falice@acme.com': [`acme\u001f${SESSION}`] } });
    const out = run(events([[10, 80]]), config(), state);
    expect(out.map((a) => [a.id, a.version, a.severity, a.observed.value])).toEqual([['old-id', 2, 'critical', 110]]);
    expect(Anomaly.parse(out[0])).toEqual(out[0]);
  });

  it('emits nothing when disabled for the team', () => {
    const cfg = testEnv((s) => ({ enabled: s.team !== 'payments', ...DEFAULT_CAPS }));
    expect(run(events([[0, 200]]), cfg)).toEqual([]);
    expect(run(events([[0, 200, { team: 'research' }]]), cfg)).toHaveLength(1);
  });

  it('merges a late event into a session it tracks and never starts a session from one', () => {
    const cfg = config();
    const state = sessionCost.initialState();
    const late = (e: UsageEvent) => sessionCost.step(state, e, cfg, ctxAt(at(T0, 60), true)).anomalies;
    sessionCost.step(state, usageEvent({ event_id: 'a', occurred_at: at(T0, 50), cost_usd: 20 }), cfg, ctxAt(at(T0, 60)));
    expect(late(usageEvent({ event_id: 'b', occurred_at: at(T0, 1), cost_usd: 6 })).map((a) => a.observed.value)).toEqual([26]);
    expect(late(usageEvent({ event_id: 'c', occurred_at: at(T0, 1), cost_usd: 60, session_id: 'unknown' }))).toEqual([]);
    expect(sessionCost.size(state)).toBe(1);
  });

  describe('relative caps', () => {
    const RELATIVE: SessionCostSettings = {
      enabled: true,
      warning_usd: 25,
      critical_usd: 100,
      relative: true,
      relative_quantile: 0.95,
      relative_factor: 2,
      relative_min_sessions: 30,
    };
    const relative = (o: Partial<SessionCostSettings> = {}): SessionCostDetectorConfig => testEnv(() => ({ ...RELATIVE, ...o }));
    const HISTORY = '2026-11-02T08:00:00Z'; // Mon, three weeks before T0
    // 40 sessions of a heavy team: $30 to $50 each, every cost in between.
    const HEAVY = Array.from({ length: 40 }, (_, i) => 30 + ((i * 7) % 21));

    /**
     * Sessions of `team`, one an hour from `start`, each two calls 20 min apart adding up to the
     * given cost, by three other developers; then an eviction sweep after the last, as the engine's.
     */
    function learn(state: SessionCostState, team: string, costs: readonly number[], start = HISTORY, cfg = relative()): SessionCostState {
      const evs = costs.flatMap((cost, i) =>
        [0, 20].map((m) =>
          usageEvent({
            occurred_at: at(start, 60 * i + m),
            cost_usd: cost / 2,
            team,
            session_id: `${team}-${start}-${i}`,
            developer: `dev${i % 3}@acme.com`,
            developer_email: `dev${i % 3}@acme.com`,
          }),
        ),
      );
      run(evs, cfg, state);
      return sessionCost.evict(state, Date.parse(at(start, 60 * costs.length)));
    }
    const heavy = (): SessionCostState => learn(sessionCost.initialState(), 'ledger', HEAVY);
    const ledger: Partial<UsageEvent> = { team: 'ledger' };

    it("does not warn a heavy team's session that costs what its sessions usually cost", () => {
      const rows: Row[] = [
        [0, 20, ledger],
        [10, 20, ledger],
      ];
      expect(run(events(rows), relative(), heavy())).toEqual([]);
      // The configured caps alone warn at $40.
      expect(run(events(rows), relative({ relative: false }), heavy()).map(brief)).toEqual([
        { version: 1, severity: 'warning', observed: 40, expected: 25, impact: 15, session: SESSION },
      ]);
    });

    it('warns a heavy team at twice its usual session cost and says which cap applied and why', () => {
      const out = run(
        events([
          [0, 60, ledger],
          [10, 60, ledger],
        ]),
        relative(),
        heavy(),
      );
      expect(out).toHaveLength(1);
      const a = out[0] as Anomaly;
      expect(a.severity).toBe('warning');
      // 95% of $30–50 sessions cost less than about $49: the warning cap is about $98.
      expect(a.expected.value).toBeGreaterThan(90);
      expect(a.expected.value).toBeLessThan(105);
      expect(a.impact_usd).toBeCloseTo(120 - a.expected.value, 6);
      expect(a.summary).toMatch(
        /above the \$\d+\.\d\d warning cap for ledger, 2× what ledger's sessions usually reach \(\$\d+\.\d\d; 95% of them cost less\)\.$/,
      );
      expect(Anomaly.parse(a)).toEqual(a);
    });

    it('scales the critical cap by the same ratio, and explains it', () => {
      const out = run(
        events([
          [0, 60, ledger],
          [10, 60, ledger],
          [20, 300, ledger],
        ]),
        relative(),
        heavy(),
      );
      expect(out.map((a) => a.severity)).toEqual(['warning', 'critical']);
      const [warning, critical] = out as [Anomaly, Anomaly];
      expect(critical.expected.value).toBeCloseTo(4 * warning.expected.value, 4);
      expect(critical.summary).toContain(
        `4× its ${formatUsd(warning.expected.value)} warning cap, which is 2× what ledger's sessions usually reach`,
      );
    });

    it('still warns a light team at the configured cap', () => {
      const state = learn(
        heavy(),
        'payments',
        Array.from({ length: 40 }, (_, i) => 1 + (i % 5)),
      );
      const out = run(
        events([
          [0, 13],
          [10, 13],
        ]),
        relative(),
        state,
      );
      expect(out.map(brief)).toEqual([{ version: 1, severity: 'warning', observed: 26, expected: 25, impact: 1, session: SESSION }]);
      expect(out[0]?.summary).toMatch(/above the \$25 warning cap for payments\.$/);
    });

    it('keeps the configured caps until the team has relative_min_sessions finished sessions', () => {
      const rows: Row[] = [
        [0, 20, ledger],
        [10, 20, ledger],
      ];
      const few = learn(sessionCost.initialState(), 'ledger', HEAVY.slice(0, 29));
      expect(run(events(rows), relative(), few)).toHaveLength(1);
      const enough = learn(sessionCost.initialState(), 'ledger', HEAVY.slice(0, 30));
      expect(run(events(rows), relative(), enough)).toEqual([]);
      expect(run(events(rows), relative({ relative_min_sessions: 31 }), enough)).toHaveLength(1);
    });

    it("still makes a heavy team's Friday-evening loop critical from its projection, before Saturday", () => {
      // $0.50 every 3 minutes ($10/h) from Fri 19:00 Berlin: past the configured $25 after 2.5 h.
      const loop = Array.from({ length: 60 }, (_, i): Row => [3 * i, 0.5, ledger]);
      const out = run(events(loop, '2026-11-27T18:00:00Z'), relative(), heavy());
      expect(out).toHaveLength(1);
      const a = out[0] as Anomaly;
      expect(a).toMatchObject({ version: 1, severity: 'critical' });
      expect(a.observed.value).toBe(25);
      expect(Date.parse(a.detected_at)).toBeLessThan(Date.parse('2026-11-27T23:00:00Z')); // Sat 00:00 Berlin
      expect(a.expected.value).toBeGreaterThan(90); // the team's warning cap, not yet reached
      expect(a.impact_usd).toBe(0);
      expect(a.summary).toMatch(
        /has cost \$25 in 2h 27m, below the \$\d+\.\d\d warning cap for ledger, 2× what ledger's sessions usually reach .*, but at this rate it reaches \$6\d\d, past its \$\d{3} critical cap, before anyone is likely to act\.$/,
      );
      expect(Anomaly.parse(a)).toEqual(a);
    });

    it("keeps a heavy team's ordinary weekday-evening session quiet where the configured caps projected it critical", () => {
      // $40 by Wed 19:00 Berlin at $20/h: $320 by 09:00 is past $100, not past the team's ~$390.
      const evening = Array.from({ length: 10 }, (_, i): Row => [12 * i, 4, ledger]);
      expect(run(events(evening, '2026-11-25T16:12:00Z'), relative(), heavy())).toEqual([]);
      expect(run(events(evening, '2026-11-25T16:12:00Z'), relative({ relative: false }), heavy()).map((a) => a.severity)).toEqual([
        'critical',
      ]);
    });

    it('keeps the caps an episode opened with while the team learns', () => {
      const state = heavy();
      const cfg = relative();
      const opened = run(events([[0, 120, ledger]]), cfg, state);
      expect(opened.map((a) => a.severity)).toEqual(['warning']);
      // Forty $200 sessions finish meanwhile (they ran the two days before): the team's caps rise
      // to about $800 and $3,200.
      learn(state, 'ledger', new Array<number>(40).fill(200), '2026-11-23T00:00:00Z', cfg);
      expect(
        run(
          events([
            [30, 1, { ...ledger, session_id: 'new' }],
            [40, 200, { ...ledger, session_id: 'new' }],
          ]),
          cfg,
          state,
        ),
      ).toEqual([]);
      const later = run(events([[60, 300, ledger]]), cfg, state);
      expect(later.map((a) => [a.version, a.severity, a.expected.value])).toEqual([
        [2, 'critical', 4 * (opened[0] as Anomaly).expected.value],
      ]);
    });

    it('forgets old habits: four half-lives later, cheap sessions bring the configured caps back', () => {
      const state = learn(heavy(), 'ledger', new Array<number>(100).fill(3), '2026-12-28T08:00:00Z');
      const out = run(
        events(
          [
            [0, 20, ledger],
            [10, 20, ledger],
          ],
          '2027-01-05T10:00:00Z',
        ),
        relative(),
        state,
      );
      expect(out.map((a) => [a.severity, a.expected.value])).toEqual([['warning', 25]]);
    });

    it('counts a session once, when its episode resolves, and not again when it is evicted', () => {
      const state = sessionCost.initialState();
      const cfg = relative();
      run(
        events([
          [0, 30],
          [10, 1],
          [200, 1, { session_id: 'next' }], // alice moves on: the first session resolves
        ]),
        cfg,
        state,
      );
      expect(state.teams['acme\u001fpayments']).toMatchObject({ sessions: 1, weight: 1 });
      sessionCost.evict(state, Date.parse(at(T0, 60)));
      expect(state.teams['acme\u001fpayments']).toMatchObject({ sessions: 1 });
      sessionCost.evict(state, Date.parse(at(T0, 300)));
      expect(state.teams['acme\u001fpayments']).toMatchObject({ sessions: 2 });
      expect(sessionCost.size(state)).toBe(0);
    });

    it('learns nothing from unattributed sessions', () => {
      const state = learn(sessionCost.initialState(), UNATTRIBUTED, HEAVY);
      expect(state.teams).toEqual({});
    });

    it('drops a team with no finished session for 60 days', () => {
      const state = heavy();
      const last = (state.teams['acme\u001fledger'] as { at: number }).at;
      sessionCost.evict(state, last + 60 * 86_400_000);
      expect(Object.keys(state.teams)).toEqual(['acme\u001fledger']);
      sessionCost.evict(state, last + 60 * 86_400_000 + 1);
      expect(state.teams).toEqual({});
    });

    it('keeps its state plain JSON, so a snapshot restores the same caps', () => {
      const state = heavy();
      run(events([[0, 120, ledger]]), relative(), state);
      const restored = JSON.parse(JSON.stringify(state)) as SessionCostState;
      expect(restored).toEqual(state);
      const next: Row[] = [[10, 300, ledger]];
      expect(run(events(next), relative(), restored)).toEqual(run(events(next), relative(), state));
    });

    it('upgrades a snapshot taken before relative caps: open episodes keep the configured caps', () => {
      const state = sessionCost.initialState();
      run(events([[0, 30, ledger]]), relative(), state);
      const old = JSON.parse(JSON.stringify(state)) as Record<string, unknown> & { sessions: Record<string, Record<string, unknown>> };
      delete old.teams;
      for (const s of Object.values(old.sessions)) {
        delete s.caps;
        delete s.counted;
      }
      const upgraded = (sessionCost.upgrade as (s: unknown) => SessionCostState)(old);
      expect(upgraded.teams).toEqual({});
      expect(upgraded).toEqual(state);
      learn(upgraded, 'ledger', HEAVY);
      // The open episode escalates at the configured $100; a new session is judged by the team.
      expect(run(events([[30, 80, ledger]]), relative(), upgraded).map((a) => [a.version, a.severity, a.expected.value])).toEqual([
        [2, 'critical', 100],
      ]);
    });
  });
});
