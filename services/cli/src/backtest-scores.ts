import type { ScorePoint, ScoreSink } from '@burnrate/detector';
import type { Subject } from '@burnrate/schemas';
import { cmp, type ScoreRow } from './backtest-report.ts';

export interface ScoreCollector {
  /** Give it to `replay` as its `score` option. */
  sink: ScoreSink;
  /** The kept points in time order (then kind, then subject); those before `from` (an ISO instant) are left out. */
  rows(from?: string): ScoreRow[];
}

const HOUR_MS = 3_600_000;

/**
 * Collects the scores of one replay, thinned to at most one point per kind, subject and UTC hour:
 * the one with the highest score − threshold (the closest to firing, or the furthest past the
 * line), the earliest of equals. Session kinds score every event, and a month of a busy org is
 * millions of events; an hour of one session is one row. Hourly kinds judge once per key and
 * hour, so they keep every point.
 */
export function collectScores(): ScoreCollector {
  const kept = new Map<string, ScorePoint>();
  return {
    sink(point) {
      // A score JSON cannot carry (Infinity prints as null) says nothing a threshold can be held to.
      if (!Number.isFinite(point.score)) return;
      const { org, team, developer = '', session = '', model = '' } = point.subject;
      const key = [point.kind, org, team, developer, session, model, Math.floor(point.at / HOUR_MS)].join('\u001f');
      const held = kept.get(key);
      if (held === undefined || point.score - point.threshold > held.score - held.threshold) kept.set(key, point);
    },
    rows(from) {
      const fromMs = from === undefined ? -Infinity : Date.parse(from);
      const rows: ScoreRow[] = [];
      for (const p of kept.values()) if (p.at >= fromMs) rows.push(toRow(p));
      return rows.sort((a, b) => cmp(a.at, b.at) || cmp(a.kind, b.kind) || cmp(subjectKey(a.subject), subjectKey(b.subject)));
    },
  };
}

function toRow(p: ScorePoint): ScoreRow {
  return {
    kind: p.kind,
    at: new Date(p.at).toISOString(),
    subject: p.subject,
    score: round(p.score, 4),
    threshold: p.threshold,
    unit: p.unit,
    severity: p.severity,
    ...(p.impact_usd === undefined ? {} : { impact_usd: round(p.impact_usd, 2) }),
    ...(p.min_impact_usd === undefined ? {} : { min_impact_usd: p.min_impact_usd }),
  };
}

const round = (x: number, digits: number): number => {
  const f = 10 ** digits;
  // + 0 turns -0 into 0: a run and its rerun then compare equal, in tests as in JSON.
  return Math.round(x * f) / f + 0;
};

const subjectKey = (s: Subject): string => [s.org, s.team, s.developer ?? '', s.session ?? '', s.model ?? ''].join('\u001f');
