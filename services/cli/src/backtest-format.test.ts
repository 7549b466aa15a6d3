import { describe, expect, it } from 'vitest';
import { anomaly } from '@burnrate/testing/builders';
import { formatReport, formatReportJson, formatSubject, formatUsd, formatWhen, table } from './backtest-format.ts';
import { type BacktestReport, CONVENTIONS, diffRuns, runReport } from './backtest-report.ts';

describe('table', () => {
  it('aligns columns two spaces apart, numbers to the right, without trailing spaces', () => {
    expect(
      table(
        ['team', 'n', 'kinds'],
        [
          ['payments', '12', 'session_cost 12'],
          ['ml', '3', ''],
        ],
        ['left', 'right'],
      ),
    ).toEqual(['  team       n  kinds', '  payments  12  session_cost 12', '  ml         3']);
  });
});

describe('formatters', () => {
  it.each([
    // The messages' formatter: cents under $100, whole dollars from there, a true minus sign.
    [0, '$0'],
    [5.5, '$5.50'],
    [1234.567, '$1,235'],
    [1_000_000, '$1,000,000'],
    [-12.3, '−$12.30'],
  ])('formatUsd(%d) = %s', (value, want) => {
    expect(formatUsd(value)).toBe(want);
  });

  it('formatWhen keeps minutes and marks UTC', () => {
    expect(formatWhen('2026-11-27T14:05:59.123Z')).toBe('2026-11-27 14:05Z');
  });

  it.each([
    [
      { org: 'acme', team: 'payments', developer: 'alice@acme.com', session: 's-1', model: 'claude-opus-4-5' },
      'alice@acme.com session s-1',
    ],
    [{ org: 'acme', team: 'payments', developer: 'alice@acme.com', model: 'claude-opus-4-5' }, 'alice@acme.com model claude-opus-4-5'],
    [{ org: 'acme', team: 'payments', model: 'claude-opus' }, 'whole team model claude-opus'],
    [{ org: 'acme', team: 'payments' }, 'whole team'],
  ])('formatSubject(%j) = %s', (subject, want) => {
    expect(formatSubject(subject)).toBe(want);
  });
});

describe('formatReport', () => {
  const zoneOf = (): string => 'Europe/Berlin';
  const crit = anomaly({
    id: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
    version: 2,
    severity: 'critical',
    detected_at: '2026-11-24T09:50:00.000Z',
    impact_usd: 95,
    subject: { session: 'loop-1' },
  });
  const warnEarly = anomaly({
    id: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
    detected_at: '2026-11-24T09:10:00.000Z',
    subject: { session: 'loop-1' },
  });
  const proposedLoop = anomaly({
    id: 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
    detected_at: '2026-11-24T09:20:00.000Z',
    impact_usd: 70,
    subject: { session: 'loop-1' },
  });
  const gone = anomaly({
    id: 'cccccccccccccccccccccccccccccccc',
    detected_at: '2026-11-24T09:40:00.000Z',
    impact_usd: 5,
    subject: { developer: 'bob@acme.com', session: 'short-2' },
  });
  const stats = { events: 45, duplicates: 0, late: 0, superseded: 0, invalid: 0 };
  const proposed = runReport('proposed', 'proposed.yaml', { anomalies: [proposedLoop], stats }, zoneOf);
  const baseline = runReport('baseline', 'current.yaml', { anomalies: [warnEarly, gone, crit], stats }, zoneOf);
  const report: BacktestReport = {
    org: 'acme',
    source: { kind: 'ndjson', path: 'events.ndjson', lines: 45, invalid_skipped: 0, other_org: 0, outside_range: 0 },
    range: { from: '2026-11-01T00:00:00.000Z', to: '2026-11-29T00:00:00.000Z', warmup: null },
    conventions: CONVENTIONS,
    runs: [proposed, baseline],
    diff: diffRuns(baseline.anomalies, proposed.anomalies),
  };

  it('prints each run per team and week, then the diff naming each anomaly', () => {
    const text = formatReport(report);
    expect(text).toContain('PROPOSED proposed.yaml: 1 anomaly (0 critical, 1 warning, 0 info)');
    expect(text).toContain('BASELINE current.yaml: 2 anomalies (1 critical, 1 warning, 0 info)');
    expect(text).toContain('DIFF proposed.yaml against current.yaml: 0 new, 1 gone, 1 changed, 0 unchanged');
    const lines = text.split('\n');
    // The group row of the baseline: team, week, counts, kinds.
    expect(lines).toContain('  payments  2026-W48          2         1        1     0  session_cost 2');
    const goneAt = lines.indexOf('  GONE: raised only by current.yaml');
    expect(lines[goneAt + 2]).toMatch(
      /^ {2}payments +2026-W48 +2026-11-24 09:40Z +warning +session_cost +bob@acme\.com session short-2 +\$5 +open +cccccccccccc$/,
    );
    const changedRow = lines.find((l) => l.includes('critical → warning'));
    expect(changedRow).toMatch(
      /session_cost +alice@acme\.com session loop-1 +critical → warning +2026-11-24 09:10Z → 2026-11-24 09:20Z +\$95 → \$70 +episode$/,
    );
    expect(text.endsWith('\n')).toBe(true);
    expect(lines.every((l) => l === l.trimEnd())).toBe(true);
  });

  it('prints the same bytes for the same report, and JSON with the same content', () => {
    expect(formatReport(structuredClone(report))).toBe(formatReport(report));
    const json = JSON.parse(formatReportJson(report)) as BacktestReport;
    expect(json.diff?.gone.map((a) => a.id)).toEqual(['cccccccccccccccccccccccccccccccc']);
    expect(json.diff?.changed[0]?.changed).toEqual(['severity', 'first_detected_at']);
    expect(json.runs.map((r) => r.totals.anomalies)).toEqual([1, 2]);
  });

  it('says (none) for empty sections', () => {
    const text = formatReport({ ...report, runs: [runReport('proposed', 'p.yaml', { anomalies: [], stats }, zoneOf)], diff: null });
    expect(text).toContain('PROPOSED p.yaml: 0 anomalies (0 critical, 0 warning, 0 info)');
    expect(text).toContain('  (none)');
    expect(text).not.toContain('DIFF');
  });
});
