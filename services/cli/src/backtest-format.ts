import { formatUsd } from '@burnrate/notify';
import type { Subject } from '@burnrate/schemas';
import type {
  AnomalyChange,
  AnomalySummary,
  BacktestDiff,
  BacktestReport,
  EventSourceInfo,
  GroupCounts,
  RunReport,
} from './backtest-report.ts';

type Align = 'left' | 'right';

/**
 * Lays rows out in columns two spaces apart, header first; `right` columns (numbers, money) are
 * right-aligned. Trailing spaces are trimmed so the output diffs cleanly.
 */
export function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  align: readonly Align[] = [],
  indent = '  ',
): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    (indent + cells.map((c, i) => (align[i] === 'right' ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ')).trimEnd();
  return [line(header), ...rows.map(line)];
}

// Dollars as every message writes them (one formatter, in @burnrate/detection); by hand, so the
// output does not depend on the machine's locale.
export { formatUsd };

/** `2026-11-27 14:05Z` from an ISO instant. */
export function formatWhen(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)}Z`;
}

/** Who or what the anomaly is about, without the team (its own column). */
export function formatSubject(subject: Subject): string {
  const parts = [subject.developer ?? 'whole team'];
  // A session's model is only its costliest one at the time; the session is what identifies it.
  if (subject.session !== undefined) parts.push(`session ${subject.session}`);
  else if (subject.model !== undefined) parts.push(`model ${subject.model}`);
  return parts.join(' ');
}

export function formatCounts(c: GroupCounts): string {
  return `${plural(c.anomalies, 'anomaly', 'anomalies')} (${c.by_severity.critical} critical, ${c.by_severity.warning} warning, ${c.by_severity.info} info)`;
}

export function formatKinds(byKind: Record<string, number>): string {
  return Object.entries(byKind)
    .map(([kind, n]) => `${kind} ${n}`)
    .join(', ');
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

function describeSource(source: EventSourceInfo): string {
  switch (source.kind) {
    case 'ndjson':
      return `${source.path} (${source.lines} lines; left out: ${source.invalid_skipped} invalid, ${source.other_org} of other orgs, ${source.outside_range} outside the range)`;
    case 'chdb':
      return `the embedded store in ${source.data_dir}`;
    case 'clickhouse':
      return `ClickHouse at ${source.url}`;
  }
}

function anomalyRows(anomalies: readonly AnomalySummary[]): string[] {
  if (anomalies.length === 0) return ['  (none)'];
  return table(
    ['team', 'week', 'first detected', 'severity', 'kind', 'subject', 'impact', 'status', 'id'],
    anomalies.map((a) => [
      a.team,
      a.week,
      formatWhen(a.first_detected_at),
      a.severity,
      a.kind,
      formatSubject(a.subject),
      formatUsd(a.impact_usd),
      a.status,
      // Ids are 32 hex digits; 12 tell episodes apart on a screen, --json has them whole.
      a.id.slice(0, 12),
    ]),
    ['left', 'left', 'left', 'left', 'left', 'left', 'right'],
  );
}

function formatRun(run: RunReport): string[] {
  const r = run.replay;
  const lines = [
    `${run.role.toUpperCase()} ${run.config}: ${formatCounts(run.totals)}`,
    `  replayed ${r.events} events (${r.duplicates} duplicates, ${r.late} late, ${r.superseded} report buckets superseded by live events, ${r.invalid} invalid)` +
      (run.warmup_anomalies > 0
        ? `; ${plural(run.warmup_anomalies, 'anomaly', 'anomalies')} first detected during warm-up not counted`
        : ''),
    '',
  ];
  if (run.groups.length > 0) {
    lines.push(
      ...table(
        ['team', 'week', 'anomalies', 'critical', 'warning', 'info', 'by kind'],
        run.groups.map((g) => [
          g.team,
          g.week,
          String(g.anomalies),
          String(g.by_severity.critical),
          String(g.by_severity.warning),
          String(g.by_severity.info),
          formatKinds(g.by_kind),
        ]),
        ['left', 'left', 'right', 'right', 'right', 'right'],
      ),
      '',
    );
  }
  lines.push(...anomalyRows(run.anomalies), '');
  return lines;
}

function changeRows(changes: readonly AnomalyChange[]): string[] {
  if (changes.length === 0) return ['  (none)'];
  const arrow = (before: string, after: string): string => (before === after ? after : `${before} → ${after}`);
  return table(
    ['team', 'kind', 'subject', 'severity', 'first detected', 'impact', 'matched by'],
    changes.map((c) => [
      c.proposed.team,
      c.proposed.kind,
      formatSubject(c.proposed.subject),
      arrow(c.baseline.severity, c.proposed.severity),
      arrow(formatWhen(c.baseline.first_detected_at), formatWhen(c.proposed.first_detected_at)),
      arrow(formatUsd(c.baseline.impact_usd), formatUsd(c.proposed.impact_usd)),
      c.matched_by,
    ]),
  );
}

function formatDiff(diff: BacktestDiff, proposed: string, baseline: string): string[] {
  return [
    `DIFF ${proposed} against ${baseline}: ${diff.new.length} new, ${diff.gone.length} gone, ${diff.changed.length} changed, ${diff.unchanged} unchanged`,
    '',
    `  NEW: raised only by ${proposed}`,
    ...anomalyRows(diff.new),
    '',
    `  GONE: raised only by ${baseline}`,
    ...anomalyRows(diff.gone),
    '',
    '  CHANGED: the same episode with another highest severity or first detection (baseline → proposed)',
    ...changeRows(diff.changed),
    '',
  ];
}

/** The human report. Everything in it comes from the report object, so the same run prints the same bytes. */
export function formatReport(report: BacktestReport): string {
  const { range } = report;
  const lines = [
    `burnrate backtest: org ${report.org}, events from ${range.from ?? 'the beginning'} to ${range.to ?? 'the end'}` +
      (range.warmup === null ? '' : ` (after ${range.warmup} of warm-up)`),
    `events: ${describeSource(report.source)}`,
    `times are ${report.conventions.times}; weeks are ${report.conventions.weeks}`,
    '',
  ];
  for (const run of report.runs) lines.push(...formatRun(run));
  const [proposed, baseline] = report.runs;
  if (report.diff !== null && proposed !== undefined && baseline !== undefined)
    lines.push(...formatDiff(report.diff, proposed.config, baseline.config));
  while (lines.at(-1) === '') lines.pop();
  return `${lines.join('\n')}\n`;
}

/** The same content as one JSON document (stable key order: the report is built in a fixed order). */
export function formatReportJson(report: BacktestReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
