import { type Anomaly, type AnomalyKind, type EvidencePoint, type Measure, type Severity } from '@burnrate/schemas';

const KIND_TITLES: Record<AnomalyKind, string> = {
  session_cost: 'Session cost',
  runaway_session: 'Runaway session',
  context_bloat: 'Context bloat',
  model_mix_drift: 'Model mix drift',
  spend_spike: 'Spend spike',
  budget_forecast: 'Budget forecast',
  new_spender: 'New spender',
  cache_efficiency_drop: 'Cache efficiency drop',
};

export const kindTitle = (kind: AnomalyKind): string => KIND_TITLES[kind];

/** Slack emoji short codes; email uses the same words without them. */
export const SEVERITY_EMOJI: Record<Severity, string> = {
  info: ':information_source:',
  warning: ':warning:',
  critical: ':rotating_light:',
};
export const RESOLVED_EMOJI = ':white_check_mark:';

export const capitalize = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

const usd = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 2 });
const plain = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
const oneDecimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

/** `$1,234.50`; amounts that would round to zero but are not show as `<$0.01`, so a cost is never hidden. */
export function formatUsd(value: number): string {
  if (value > 0 && value < 0.005) return '<$0.01';
  return usd.format(value);
}

const PERCENT_UNITS = new Set(['percent', 'pct', '%']);
const SHARE_UNITS = new Set(['share', 'fraction']);
const POINT_UNITS = new Set(['points', 'pts', 'pp']);

/** A value with its unit the way a manager reads it: `$31.20`, `182,000 tokens`, `64.5%`, `5.2 h`. */
export function formatMeasure(m: Measure): string {
  const unit = m.unit.toLowerCase();
  if (unit === 'usd') return formatUsd(m.value);
  if (PERCENT_UNITS.has(unit)) return `${oneDecimal.format(m.value)}%`;
  if (SHARE_UNITS.has(unit)) return `${oneDecimal.format(m.value * 100)}%`;
  if (POINT_UNITS.has(unit)) return `${oneDecimal.format(m.value)} pts`;
  if (unit === 'hours' || unit === 'h') return `${oneDecimal.format(m.value)} h`;
  if (unit === 'ratio' || unit === 'x') return `${oneDecimal.format(m.value)}×`;
  return `${plain.format(m.value)} ${m.unit}`;
}

/**
 * How far observed is from expected, relative to expected: `4.2× expected` for amounts,
 * `+20.5 pts vs expected` for shares and percentages (a ratio of percentages misleads).
 * Undefined when the two are not comparable.
 */
export function relativeToExpected(observed: Measure, expected: Measure): string | undefined {
  if (observed.unit.toLowerCase() !== expected.unit.toLowerCase()) return undefined;
  const unit = observed.unit.toLowerCase();
  if (PERCENT_UNITS.has(unit) || SHARE_UNITS.has(unit) || POINT_UNITS.has(unit)) {
    const scale = SHARE_UNITS.has(unit) ? 100 : 1;
    const diff = (observed.value - expected.value) * scale;
    return `${diff >= 0 ? '+' : '−'}${oneDecimal.format(Math.abs(diff))} pts vs expected`;
  }
  if (expected.value <= 0) return observed.value > 0 ? 'none expected' : undefined;
  const ratio = observed.value / expected.value;
  return `${ratio >= 10 ? Math.round(ratio) : oneDecimal.format(ratio)}× expected`;
}

const BARS = '▁▂▃▄▅▆▇█';

/** A one-line text chart of the values (`▁▂▄█`), scaled between their min and max. */
export function sparkline(values: readonly number[]): string {
  if (values.length === 0) return '';
  const min = Math.min(...values);
  const max = Math.max(...values);
  const top = BARS.length - 1;
  return values.map((v) => (max === min ? BARS[Math.floor(top / 2)] : BARS[Math.round(((v - min) / (max - min)) * top)])).join('');
}

/** `2026-11-27 14:05Z`: short, unambiguous, and the same in every reader's time zone. */
export function formatInstant(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)}Z`;
}

/** The window as `2026-11-27 13:00Z – 14:05Z` (the date once when both ends share it). */
export function formatWindow(window: Anomaly['window']): string {
  const start = formatInstant(window.start);
  const end = formatInstant(window.end);
  return window.start.slice(0, 10) === window.end.slice(0, 10) ? `${start} – ${end.slice(11)}` : `${start} – ${end}`;
}

export const formatEvidenceValue = (p: EvidencePoint): string => formatMeasure({ value: p.value, unit: p.unit });

/** Who the anomaly is about, most specific first: `alice@acme.com`, a model, or `team payments`. */
export function subjectLabel(a: Anomaly): string {
  return a.subject.developer ?? a.subject.model ?? `team ${a.subject.team}`;
}

/**
 * The one-line headline shared by the email subject and the Slack fallback text:
 * `[critical] Session cost $104.20 for alice@acme.com (payments)`.
 */
export function headline(a: Anomaly): string {
  const tag = a.status === 'resolved' ? 'resolved' : a.severity;
  const who = a.subject.developer ?? a.subject.model;
  const forWhom = who === undefined ? `for team ${a.subject.team}` : `for ${who} (${a.subject.team})`;
  return `[${tag}] ${kindTitle(a.kind)} ${formatMeasure(a.observed)} ${forWhom}`;
}

/** Cuts text to `max` characters with an ellipsis, so a provider limit never rejects a message. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The evidence points shown as a list: the most recent ones, since they explain "now". */
export const EVIDENCE_LIST_MAX = 6;
export function recentEvidence(evidence: readonly EvidencePoint[]): EvidencePoint[] {
  return evidence.slice(-EVIDENCE_LIST_MAX);
}
