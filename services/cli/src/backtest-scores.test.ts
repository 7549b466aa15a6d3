import type { ScorePoint } from '@burnrate/detector';
import { describe, expect, it } from 'vitest';
import { collectScores } from './backtest-scores.ts';

const T0 = Date.parse('2026-11-25T10:00:00.000Z');
const MINUTE = 60_000;

function point(minutes: number, score: number, o: Partial<ScorePoint> = {}): ScorePoint {
  return {
    kind: 'session_cost',
    subject: { org: 'acme', team: 'payments', developer: 'alice@acme.com', session: 's1' },
    at: T0 + minutes * MINUTE,
    score,
    threshold: 25,
    unit: 'usd',
    severity: null,
    ...o,
  };
}

describe('collectScores', () => {
  it('keeps one point per kind, subject and hour: the closest to its threshold or the furthest past it', () => {
    const c = collectScores();
    [point(0, 10), point(20, 24), point(40, 12), point(61, 3)].forEach(c.sink);
    // Another session in the same hour is its own row; a lower threshold makes 18 the closer call.
    c.sink(point(5, 18, { subject: { org: 'acme', team: 'payments', developer: 'alice@acme.com', session: 's2' } }));
    c.sink(point(10, 19, { threshold: 30, subject: { org: 'acme', team: 'payments', developer: 'alice@acme.com', session: 's2' } }));
    expect(c.rows().map((r) => [r.at.slice(11, 16), r.subject.session, r.score])).toEqual([
      ['10:05', 's2', 18],
      ['10:20', 's1', 24],
      ['11:01', 's1', 3],
    ]);
  });

  it('leaves out points before the start of the report, rounds scores and drops scores JSON cannot carry', () => {
    const c = collectScores();
    c.sink(point(-30, 20));
    c.sink(point(5, 1 / 3, { kind: 'spend_spike', unit: 'z', threshold: 3.5, impact_usd: 12.3456, min_impact_usd: 50 }));
    c.sink(point(6, Number.POSITIVE_INFINITY, { kind: 'context_bloat' }));
    expect(c.rows('2026-11-25T10:00:00.000Z')).toEqual([
      {
        kind: 'spend_spike',
        at: '2026-11-25T10:05:00.000Z',
        subject: { org: 'acme', team: 'payments', developer: 'alice@acme.com', session: 's1' },
        score: 0.3333,
        threshold: 3.5,
        unit: 'z',
        severity: null,
        impact_usd: 12.35,
        min_impact_usd: 50,
      },
    ]);
    expect(c.rows()).toHaveLength(2);
  });
});
