import { describe, expect, it } from 'vitest';
import type { Anomaly, Severity } from '@burnrate/schemas';
import { anomaly } from '@burnrate/testing/builders';
import { type AnomalySummary, diffRuns, groupByTeamWeek, isoWeekIn, runReport, summarise } from './backtest-report.ts';

const ZONES: Record<string, string> = { payments: 'Europe/Berlin', research: 'America/Los_Angeles' };
const zoneOf = (team: string): string => ZONES[team] ?? 'UTC';

/** A version of a session_cost episode in `session`, detected at `at`. */
function version(
  id: string,
  v: number,
  severity: Severity,
  at: string,
  extra: { session?: string; team?: string; impact?: number } = {},
): Anomaly {
  return anomaly({
    id,
    version: v,
    severity,
    detected_at: at,
    impact_usd: extra.impact ?? v * 10,
    window: { start: '2026-11-24T08:00:00.000Z', end: at },
    subject: { team: extra.team ?? 'payments', session: extra.session ?? id },
  });
}

describe('isoWeekIn', () => {
  it.each([
    // Year boundaries: the ISO week belongs to the year of its Thursday.
    ['2026-01-01T12:00:00Z', 'UTC', '2026-W01'],
    ['2027-01-01T12:00:00Z', 'UTC', '2026-W53'],
    ['2024-12-30T12:00:00Z', 'UTC', '2025-W01'],
    ['2026-11-23T00:00:00Z', 'UTC', '2026-W48'],
    ['2026-11-29T23:59:59Z', 'UTC', '2026-W48'],
    // Sunday 23:30 UTC is already Monday in Berlin, and still Sunday afternoon in Los Angeles.
    ['2026-11-29T23:30:00Z', 'Europe/Berlin', '2026-W49'],
    ['2026-11-30T03:00:00Z', 'America/Los_Angeles', '2026-W48'],
  ])('%s in %s is %s', (iso, zone, week) => {
    expect(isoWeekIn(Date.parse(iso), zone)).toBe(week);
  });
});

describe('summarise', () => {
  it('collapses versions into one summary with the highest severity, first detection and last impact', () => {
    const [s, ...rest] = summarise(
      [
        version('a', 1, 'warning', '2026-11-24T09:10:00.000Z'),
        version('a', 2, 'critical', '2026-11-24T09:50:00.000Z'),
        // A resolution can come back down to info; what paged was critical.
        { ...version('a', 3, 'info', '2026-11-24T11:00:00.000Z', { impact: 42 }), status: 'resolved' as const },
      ],
      zoneOf,
    );
    expect(rest).toEqual([]);
    expect(s).toMatchObject({
      id: 'a',
      severity: 'critical',
      status: 'resolved',
      first_detected_at: '2026-11-24T09:10:00.000Z',
      last_detected_at: '2026-11-24T11:00:00.000Z',
      window: { start: '2026-11-24T08:00:00.000Z', end: '2026-11-24T11:00:00.000Z' },
      week: '2026-W48',
      versions: 3,
      impact_usd: 42,
    });
  });

  it('orders by team, week, first detection, kind, id and takes the team of the last version', () => {
    const out = summarise(
      [
        version('z', 1, 'warning', '2026-11-24T10:00:00.000Z'),
        version('y', 1, 'warning', '2026-11-24T09:00:00.000Z', { team: 'research' }),
        version('x', 1, 'warning', '2026-11-24T10:00:00.000Z'),
        version('w', 1, 'warning', '2026-11-17T10:00:00.000Z'),
        version('v', 1, 'info', '2026-11-24T08:00:00.000Z', { team: 'unattributed' }),
        version('v', 2, 'warning', '2026-11-24T08:30:00.000Z', { team: 'payments' }),
      ],
      zoneOf,
    );
    expect(out.map((s) => `${s.team}/${s.week}/${s.id}`)).toEqual([
      'payments/2026-W47/w',
      'payments/2026-W48/v',
      'payments/2026-W48/x',
      'payments/2026-W48/z',
      'research/2026-W48/y',
    ]);
  });
});

describe('groupByTeamWeek', () => {
  it('counts per team and week by severity and kind', () => {
    const summaries = summarise(
      [
        version('a', 1, 'warning', '2026-11-24T09:00:00.000Z'),
        version('b', 1, 'critical', '2026-11-25T09:00:00.000Z'),
        { ...version('c', 1, 'info', '2026-11-26T09:00:00.000Z'), kind: 'context_bloat' as const },
        version('d', 1, 'warning', '2026-12-01T09:00:00.000Z'),
        version('e', 1, 'warning', '2026-11-24T09:00:00.000Z', { team: 'research' }),
      ],
      zoneOf,
    );
    expect(groupByTeamWeek(summaries)).toEqual([
      {
        team: 'payments',
        week: '2026-W48',
        anomalies: 3,
        by_severity: { critical: 1, warning: 1, info: 1 },
        by_kind: { context_bloat: 1, session_cost: 2 },
      },
      { team: 'payments', week: '2026-W49', anomalies: 1, by_severity: { critical: 0, warning: 1, info: 0 }, by_kind: { session_cost: 1 } },
      { team: 'research', week: '2026-W48', anomalies: 1, by_severity: { critical: 0, warning: 1, info: 0 }, by_kind: { session_cost: 1 } },
    ]);
  });
});

describe('runReport', () => {
  it('leaves out anomalies first detected before --from (warm-up) and counts them', () => {
    const run = runReport(
      'proposed',
      'p.yaml',
      {
        anomalies: [version('early', 1, 'warning', '2026-11-07T09:00:00.000Z'), version('late', 1, 'warning', '2026-11-09T09:00:00.000Z')],
        stats: { events: 10, duplicates: 1, late: 0, superseded: 0, invalid: 0 },
      },
      zoneOf,
      '2026-11-08T00:00:00.000Z',
    );
    expect(run.anomalies.map((a) => a.id)).toEqual(['late']);
    expect(run.warmup_anomalies).toBe(1);
    expect(run.totals).toEqual({ anomalies: 1, by_severity: { critical: 0, warning: 1, info: 0 }, by_kind: { session_cost: 1 } });
    expect(run.replay).toEqual({ events: 10, duplicates: 1, late: 0, superseded: 0, invalid: 0 });
  });
});

describe('diffRuns', () => {
  const s = (versions: Anomaly[]): AnomalySummary[] => summarise(versions, zoneOf);

  it.each<{
    name: string;
    baseline: Anomaly[];
    proposed: Anomaly[];
    want: { new: string[]; gone: string[]; changed: string[]; unchanged: number };
  }>([
    {
      name: 'identical runs',
      baseline: [version('a', 1, 'warning', '2026-11-24T09:00:00.000Z')],
      proposed: [version('a', 1, 'warning', '2026-11-24T09:00:00.000Z')],
      want: { new: [], gone: [], changed: [], unchanged: 1 },
    },
    {
      name: 'same id, severity lowered',
      baseline: [version('a', 1, 'warning', '2026-11-24T09:00:00.000Z'), version('a', 2, 'critical', '2026-11-24T10:00:00.000Z')],
      proposed: [version('a', 1, 'warning', '2026-11-24T09:00:00.000Z')],
      want: { new: [], gone: [], changed: ['id:a→a:severity'], unchanged: 0 },
    },
    {
      name: 'a raised cap moves the episode start: paired by session, not gone + new',
      baseline: [
        version('b25', 1, 'warning', '2026-11-24T09:10:00.000Z', { session: 's1' }),
        version('b25', 2, 'critical', '2026-11-24T09:50:00.000Z', { session: 's1' }),
      ],
      proposed: [version('p50', 1, 'warning', '2026-11-24T09:20:00.000Z', { session: 's1' })],
      want: { new: [], gone: [], changed: ['episode:b25→p50:severity,first_detected_at'], unchanged: 0 },
    },
    {
      name: 'other sessions are not paired',
      baseline: [version('b', 1, 'warning', '2026-11-24T09:10:00.000Z', { session: 's1' })],
      proposed: [version('p', 1, 'warning', '2026-11-24T09:10:00.000Z', { session: 's2' })],
      want: { new: ['p'], gone: ['b'], changed: [], unchanged: 0 },
    },
    {
      name: 'a quieter config',
      baseline: [version('a', 1, 'warning', '2026-11-24T09:00:00.000Z'), version('b', 1, 'warning', '2026-11-25T09:00:00.000Z')],
      proposed: [],
      want: { new: [], gone: ['a', 'b'], changed: [], unchanged: 0 },
    },
    {
      name: 'a noisier config',
      baseline: [],
      proposed: [version('a', 1, 'info', '2026-11-24T09:00:00.000Z')],
      want: { new: ['a'], gone: [], changed: [], unchanged: 0 },
    },
  ])('$name', ({ baseline, proposed, want }) => {
    const diff = diffRuns(s(baseline), s(proposed));
    expect({
      new: diff.new.map((a) => a.id),
      gone: diff.gone.map((a) => a.id),
      changed: diff.changed.map((c) => `${c.matched_by}:${c.baseline.id}→${c.proposed.id}:${c.changed.join(',')}`),
      unchanged: diff.unchanged,
    }).toEqual(want);
  });

  it('pairs episodes of a team-level subject only when they overlap in time', () => {
    const teamLevel = (id: string, at: string, end: string): Anomaly =>
      anomaly({
        id,
        kind: 'spend_spike',
        detected_at: at,
        window: { start: at, end },
        subject: { team: 'payments', developer: undefined, session: undefined, model: undefined },
      });
    const diff = diffRuns(
      s([
        teamLevel('mon', '2026-11-23T10:00:00.000Z', '2026-11-23T12:00:00.000Z'),
        teamLevel('thu', '2026-11-26T10:00:00.000Z', '2026-11-26T11:00:00.000Z'),
      ]),
      s([
        teamLevel('mon2', '2026-11-23T11:00:00.000Z', '2026-11-23T13:00:00.000Z'),
        teamLevel('fri', '2026-11-27T10:00:00.000Z', '2026-11-27T11:00:00.000Z'),
      ]),
    );
    expect(diff.changed.map((c) => `${c.baseline.id}→${c.proposed.id}`)).toEqual(['mon→mon2']);
    expect(diff.gone.map((a) => a.id)).toEqual(['thu']);
    expect(diff.new.map((a) => a.id)).toEqual(['fri']);
  });
});
