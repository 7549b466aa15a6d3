import { describe, expect, it } from 'vitest';
import type { Anomaly } from '@burnrate/schemas';
import { anomaly } from '@burnrate/testing';
import { historicalFindings } from './historical.ts';

// The late events span the 27th, 10:00 to 18:00 UTC.
const span = { from: Date.parse('2026-11-27T10:00:00Z'), to: Date.parse('2026-11-27T18:00:00Z') };

/** Versions 1..n of one session episode whose window is [start, end] (hours of the 27th). */
function episode(session: string, start: number, end: number, n = 2, o: Partial<Anomaly> = {}): Anomaly[] {
  const hour = (h: number) => new Date(Date.UTC(2026, 10, 27, h)).toISOString();
  return Array.from({ length: n }, (_, i) =>
    anomaly({
      id: `session_cost:${session}`,
      version: i + 1,
      severity: i === 0 ? 'warning' : 'critical',
      subject: { session },
      window: { start: hour(start), end: hour(end) },
      detected_at: hour(end),
      ...o,
    }),
  );
}

describe('historicalFindings', () => {
  it('reports every version of the episodes overlapping the late span, marked historical', () => {
    const inside = episode('s-in', 11, 12);
    const straddling = episode('s-edge', 6, 10, 1);
    const before = episode('s-warmup', 2, 3);
    const after = episode('s-follow', 19, 20);
    const findings = historicalFindings([...before, ...inside, ...straddling, ...after], span, []);
    expect(findings).toMatchObject({ found: 2, alreadyLive: 0 });
    expect(findings.anomalies.map((a) => [a.id, a.version, a.historical])).toEqual([
      ['session_cost:s-in', 1, true],
      ['session_cost:s-in', 2, true],
      ['session_cost:s-edge', 1, true],
    ]);
  });

  it('leaves out what live detection raised: the same id, or the same kind and subject at overlapping times', () => {
    const sameId = episode('s-live', 11, 12);
    const movedStart = episode('s-moved', 10, 14);
    const laterAgain = episode('s-again', 11, 12);
    const stored = [
      { ...(sameId[0] as Anomaly) },
      // Live saw the session from 12:00: its episode has another start, so another id.
      {
        ...(movedStart[0] as Anomaly),
        id: 'session_cost:s-moved-live',
        window: { start: '2026-11-27T12:00:00.000Z', end: '2026-11-27T14:00:00.000Z' },
      },
      // The same session's live episode of the next day is another episode.
      {
        ...(laterAgain[0] as Anomaly),
        id: 'session_cost:s-again-next',
        window: { start: '2026-11-28T09:00:00.000Z', end: '2026-11-28T10:00:00.000Z' },
      },
    ];
    const findings = historicalFindings([...sameId, ...movedStart, ...laterAgain], span, stored);
    expect(findings).toMatchObject({ found: 1, alreadyLive: 2 });
    expect(new Set(findings.anomalies.map((a) => a.id))).toEqual(new Set(['session_cost:s-again']));
  });

  it('adds only versions past those an earlier backfill stored, so a second judgement publishes nothing twice', () => {
    const versions = episode('s-hist', 11, 12, 3);
    const first = historicalFindings(versions.slice(0, 2), span, []);
    const stored = [first.anomalies.at(-1) as Anomaly];
    expect(historicalFindings(versions.slice(0, 2), span, stored)).toEqual({ anomalies: [], alreadyLive: 0, found: 0 });
    const later = historicalFindings(versions, span, stored);
    expect(later.anomalies.map((a) => [a.version, a.historical])).toEqual([[3, true]]);
    expect(later.found).toBe(1);
  });
});
