import type { AnomalyEntry, SilenceEntry } from '@burnrate/api';
import type { Anomaly, AnomalyState } from '@burnrate/schemas';
import { formatMeasure, impactPhrase, projectedMore } from '@burnrate/notify';
import { formatSilenceMatcher } from '@burnrate/schemas';
import type { DeliveryRecord } from '@burnrate/store';
import { formatSubject, formatUsd, formatWhen, table } from './backtest-format.ts';

/** GET /api/anomalies/:id. */
export type AnomalyDetailBody = AnomalyEntry & { versions: Anomaly[]; decisions: AnomalyState[]; deliveries: DeliveryRecord[] };

/** Where a human left it, in a few words (`by bob@acme.com`, `until 2026-11-27 16:00Z`, `noise`), after `historical` for what a backfill found. */
function standingOf(a: AnomalyEntry): string {
  const human = standing(a);
  if (!a.historical) return human;
  return human === '' ? 'historical' : `historical, ${human}`;
}

/** Where a human left it, in a few words: `by bob@acme.com`, `until 2026-11-27 16:00Z`, `noise`. */
export function standing(a: AnomalyEntry): string {
  switch (a.state) {
    case 'acknowledged':
      return a.acknowledged_by === null ? '' : `by ${a.acknowledged_by}`;
    case 'snoozed':
      return a.snoozed_until === null ? '' : `until ${formatWhen(a.snoozed_until)}`;
    case 'resolved':
      return a.reason ?? (a.status === 'resolved' && a.last_decision?.action !== 'resolved' ? 'back to normal' : '');
    case 'open':
      return '';
  }
}

export function anomalyTable(anomalies: readonly AnomalyEntry[]): string[] {
  return table(
    ['ID', 'STATE', '', 'SEVERITY', 'KIND', 'TEAM', 'SUBJECT', 'IMPACT', 'FIRST SEEN'],
    anomalies.map((a) => [
      a.id,
      a.state,
      standingOf(a),
      a.severity,
      a.kind,
      a.subject.team,
      formatSubject(a.subject),
      formatUsd(a.impact_usd),
      formatWhen(a.first_detected_at),
    ]),
    ['left', 'left', 'left', 'left', 'left', 'left', 'left', 'right', 'left'],
    '',
  );
}

export function anomalyDetail(a: AnomalyDetailBody): string[] {
  const lines = [
    `${a.id}  ${a.kind}  ${a.severity}  ${a.state}${standing(a) ? ` (${standing(a)})` : ''}`,
    ...(a.historical ? ['  historical: found by a backfill over late usage (an import, a poller catching up); never sent'] : []),
    `  ${a.summary}`,
    `  team ${a.subject.team}, ${formatSubject(a.subject)}`,
    `  observed ${measure(a.observed)} against ${measure(a.expected)}; impact ${impactPhrase(a)}${projectedMore(a) ? `; ${projectedMore(a)} if nothing changes` : ''}`,
    `  window ${formatWhen(a.window.start)} to ${formatWhen(a.window.end)}; first detected ${formatWhen(a.first_detected_at)}, version ${a.version} at ${formatWhen(a.detected_at)}`,
    `  advice: ${a.advice}`,
  ];
  if (a.acknowledged_by !== null && a.acknowledged_at !== null)
    lines.push(`  acknowledged by ${a.acknowledged_by} at ${formatWhen(a.acknowledged_at)}`);
  if (a.snoozed_until !== null) lines.push(`  snoozed until ${formatWhen(a.snoozed_until)}`);
  if (a.evidence.length > 0) {
    lines.push('', 'evidence:');
    lines.push(
      ...table(
        ['AT', 'WHAT', 'VALUE'],
        a.evidence.map((e) => [formatWhen(e.at), e.label, measure(e)]),
        ['left', 'left', 'right'],
      ),
    );
  }
  lines.push('', 'versions:');
  lines.push(
    ...table(
      ['V', 'DETECTED', 'SEVERITY', 'STATUS', 'IMPACT'],
      a.versions.map((v) => [String(v.version), formatWhen(v.detected_at), v.severity, v.status, formatUsd(v.impact_usd)]),
      ['right', 'left', 'left', 'left', 'right'],
    ),
  );
  lines.push('', 'decisions:');
  if (a.decisions.length === 0) lines.push('  none yet');
  else
    lines.push(
      ...table(
        ['AT', 'ACTION', 'BY', 'CHANNEL', 'DETAIL'],
        a.decisions.map((d) => [formatWhen(d.at), d.action, d.by, d.channel, decisionDetail(d)]),
      ),
    );
  lines.push('', 'deliveries:');
  if (a.deliveries.length === 0) lines.push('  none');
  else
    lines.push(
      ...table(
        ['AT', 'V', 'RECEIVER', 'STATUS', 'DETAIL'],
        a.deliveries.map((d) => [formatWhen(d.at), String(d.version), d.receiver, d.status, d.detail]),
        ['left', 'right'],
      ),
    );
  return lines;
}

function decisionDetail(d: AnomalyState): string {
  const parts: string[] = [];
  if (d.snoozed_until !== undefined) parts.push(`until ${formatWhen(d.snoozed_until)}`);
  if (d.reason !== undefined) parts.push(d.reason);
  if (d.note !== undefined) parts.push(JSON.stringify(d.note));
  return parts.join(' ');
}

function measure(m: { value: number; unit: string }): string {
  return formatMeasure(m);
}

export function silenceTable(silences: readonly SilenceEntry[]): string[] {
  return table(
    ['ID', 'STATE', 'MATCHERS', 'STARTS', 'ENDS', 'BY', 'COMMENT'],
    silences.map((s) => [
      s.id,
      s.state,
      s.matchers.map(formatSilenceMatcher).join(' '),
      formatWhen(s.starts_at),
      formatWhen(s.ends_at),
      s.created_by,
      s.comment.replace(/\s+/g, ' '),
    ]),
    [],
    '',
  );
}
