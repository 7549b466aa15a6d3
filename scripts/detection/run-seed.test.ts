import { parseConfig } from '@burnrate/core';
import type { ScenarioLabels } from '@burnrate/scenarios';
import { anomaly } from '@burnrate/testing';
import { describe, expect, it } from 'vitest';
import { loopDeadline } from './run-seed.ts';

const config = parseConfig(
  `
org: acme
teams:
  - id: payments
    timezone: Europe/Berlin
    members: [alice@acme.com]
`,
  'test burnrate.yaml',
);

// A weekend-loop story as @burnrate/scenarios labels it: Friday 2026-11-27 16:10 in Berlin (UTC+1).
const labels: ScenarioLabels = {
  seed: 1,
  org: 'acme',
  period: { from: '2026-11-02T00:00:00.000Z', to: '2026-11-30T00:00:00.000Z' },
  weeks: 4,
  teams: ['payments'],
  incidents: [
    {
      id: 'weekend-loop/session_cost',
      story: 'weekend-loop',
      kind: 'session_cost',
      subject: { org: 'acme', team: 'payments', developer: 'alice@acme.com', session: 'sess-1' },
      also_accept: [],
      story_start: '2026-11-27T15:10:00.000Z',
      start: '2026-11-27T17:00:00.000Z',
      end: '2026-11-30T08:20:00.000Z',
      within_ms: null,
      note: 'loop',
    },
  ],
  decoys: [],
};

const critical = (detectedAt: string, session = 'sess-1') =>
  anomaly({ id: `x:${session}:${detectedAt}`, severity: 'critical', subject: { session }, detected_at: detectedAt });

describe('loopDeadline', () => {
  it('derives Saturday 00:00 in the loop team’s zone and takes the first critical on the loop’s session', () => {
    const result = loopDeadline(labels, config, [critical('2026-11-28T02:25:00.000Z'), critical('2026-11-27T22:59:00.000Z')]);
    expect(result).toEqual({
      zone: 'Europe/Berlin',
      deadline: '2026-11-27T23:00:00.000Z',
      critical_at: '2026-11-27T22:59:00.000Z',
      on_time: true,
    });
  });

  it('is late when the session went critical only after the deadline, and ignores other sessions', () => {
    const result = loopDeadline(labels, config, [critical('2026-11-27T20:00:00.000Z', 'sess-2'), critical('2026-11-28T02:25:00.000Z')]);
    expect(result?.on_time).toBe(false);
    expect(result?.critical_at).toBe('2026-11-28T02:25:00.000Z');
    expect(loopDeadline(labels, config, [])?.critical_at).toBeNull();
  });

  it('uses the deadline the labels carry when they carry one', () => {
    const own = {
      ...labels,
      deadlines: [
        { incident: 'weekend-loop', subject: { session: 'sess-1' }, zone: 'Asia/Seoul', critical_by: '2026-11-27T15:00:00.000Z' },
      ],
    };
    expect(loopDeadline(own, config, [critical('2026-11-27T14:00:00.000Z')])).toEqual({
      zone: 'Asia/Seoul',
      deadline: '2026-11-27T15:00:00.000Z',
      critical_at: '2026-11-27T14:00:00.000Z',
      on_time: true,
    });
  });
});
