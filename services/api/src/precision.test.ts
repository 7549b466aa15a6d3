import { describe, expect, it } from 'vitest';
import type { AnomalyState } from '@burnrate/schemas';
import { anomaly } from '@burnrate/testing/builders';
import { precisionReport } from './precision.ts';

const until = new Date('2026-11-27T12:00:00.000Z');
const since = new Date('2026-10-28T12:00:00.000Z');
let minute = 0;
const decide = (anomaly_id: string, action: AnomalyState['action'], extra: Partial<AnomalyState> = {}): AnomalyState => ({
  anomaly_id,
  action,
  by: 'bob@acme.com',
  channel: 'slack',
  at: new Date(Date.UTC(2026, 10, 20, 9, (minute += 1))).toISOString(),
  ...extra,
});

describe('precisionReport', () => {
  it('counts per kind and team what people made of each episode, and the share that was noise', () => {
    const episodes = [
      anomaly({ id: 'p1' }),
      anomaly({ id: 'p2' }),
      anomaly({ id: 'p3' }),
      anomaly({ id: 'p4' }),
      anomaly({ id: 'p5' }),
      anomaly({ id: 'p6' }),
      anomaly({ id: 'p7' }),
      anomaly({ id: 's1', kind: 'spend_spike' }),
      anomaly({ id: 'r1', subject: { team: 'research' } }),
    ];
    const decisions = [
      // Acknowledged, then resolved as noise.
      decide('p1', 'acknowledged'),
      decide('p1', 'resolved', { reason: 'noise' }),
      // Resolved as real without an acknowledgement.
      decide('p2', 'resolved', { reason: 'real' }),
      decide('p3', 'resolved', { reason: 'expected' }),
      // Resolved as noise, then reopened: it is not resolved any more.
      decide('p4', 'resolved', { reason: 'noise' }),
      decide('p4', 'unacknowledged'),
      // Resolved without a reason: resolved, but says nothing about noise.
      decide('p5', 'resolved'),
      // Acknowledged, then snoozed.
      decide('p6', 'acknowledged'),
      decide('p6', 'snoozed', { snoozed_until: '2026-11-21T09:00:00.000Z' }),
      // p7: nobody touched it.
      decide('s1', 'resolved', { reason: 'noise' }),
      decide('r1', 'acknowledged'),
      decide('r1', 'resolved', { reason: 'real' }),
    ];
    const byId = new Map<string, AnomalyState[]>();
    for (const d of decisions) byId.set(d.anomaly_id, [...(byId.get(d.anomaly_id) ?? []), d]);

    const report = precisionReport(episodes, byId, { since, until });
    expect(report.since).toBe(since.toISOString());
    expect(report.until).toBe(until.toISOString());
    expect(report.rows).toEqual([
      {
        kind: 'session_cost',
        team: 'payments',
        episodes: 7,
        acknowledged: 2,
        resolved_real: 1,
        resolved_expected: 1,
        resolved_noise: 1,
        noise_share: 0.3333,
      },
      {
        kind: 'session_cost',
        team: 'research',
        episodes: 1,
        acknowledged: 1,
        resolved_real: 1,
        resolved_expected: 0,
        resolved_noise: 0,
        noise_share: 0,
      },
      {
        kind: 'spend_spike',
        team: 'payments',
        episodes: 1,
        acknowledged: 0,
        resolved_real: 0,
        resolved_expected: 0,
        resolved_noise: 1,
        noise_share: 1,
      },
    ]);
    expect(report.total).toEqual({
      kind: '*',
      team: '*',
      episodes: 9,
      acknowledged: 3,
      resolved_real: 2,
      resolved_expected: 1,
      resolved_noise: 2,
      noise_share: 0.4,
    });
  });

  it('has no noise share while nothing was resolved with a reason', () => {
    const report = precisionReport([anomaly({ id: 'p1' })], new Map([['p1', [decide('p1', 'acknowledged')]]]), { since, until });
    expect(report.rows[0]).toMatchObject({ episodes: 1, acknowledged: 1, noise_share: null });
    expect(precisionReport([], new Map(), { since, until })).toMatchObject({ rows: [], total: { episodes: 0, noise_share: null } });
  });
});
