import { formatUsd, formatUsdRate } from '@burnrate/detection';
import type { Anomaly, AnomalyKind, AnomalyLifecycle, EvidencePoint, Measure, Severity } from '@burnrate/schemas';
import type { NotificationEscalation, NotificationReason, TeamMonth } from './channel.ts';

// Dollars are written by @burnrate/detection's formatUsd alone, here as in anomaly summaries.
export { formatUsd, formatUsdRate };

const KIND_TITLES: Record<AnomalyKind, string> = {
  session_cost: 'Session cost',
  runaway_session: 'Runaway session',
  context_bloat: 'Context bloat',
  model_mix_drift: 'Model mix drift',
  spend_spike: 'Spend spike',
  budget_forecast: 'Budget forecast',
  new_spender: 'New spender',
  cache_efficiency_drop: 'Cache efficiency drop',
  lost_events: 'Lost events',
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

const plain = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
const oneDecimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

// From a billion up, figures are written in words (`$1.25 billion`): a row of digits that long is
// not read, it is counted. Past a thousand trillion a figure means nothing to a reader (and
// Intl would print all 300 digits of 1e300), so it is only said to be that large.
const WORDS = [
  [1e12, 'trillion'],
  [1e9, 'billion'],
] as const;
const BEYOND_WORDS = 1e15;

/** `1.25 billion`, or undefined below a billion. `abs` is not negative; infinities count as beyond words. */
function largeInWords(abs: number, prefix: string): string | undefined {
  if (abs >= BEYOND_WORDS) return `over ${prefix}1,000 trillion`;
  for (const [size, word] of WORDS) if (abs >= size) return `${prefix}${plain.format(abs / size)} ${word}`;
  return undefined;
}

/** A plain number as a reader takes it in: `182,000`, `1.25 billion`, `over 1,000 trillion`. */
function formatNumber(value: number, digits: Intl.NumberFormat): string {
  if (Number.isNaN(value)) return 'an unknown number';
  const sign = value < 0 ? '-' : '';
  const words = largeInWords(Math.abs(value), '');
  return words === undefined ? digits.format(value) : `${sign}${words}`;
}

const PERCENT_UNITS = new Set(['percent', 'pct', '%']);
const SHARE_UNITS = new Set(['share', 'fraction']);
const POINT_UNITS = new Set(['points', 'pts', 'pp']);

/** A value with its unit the way a manager reads it: `$31.20`, `$12.40/h`, `182,000 tokens`, `64.5%`, `5.2 h`. */
export function formatMeasure(m: Measure): string {
  const unit = m.unit.toLowerCase();
  if (unit === 'usd') return formatUsd(m.value);
  if (unit === 'usd/h') return formatUsdRate(m.value);
  // `usd/call` and any other per-something: the same dollars, then the per.
  if (unit.startsWith('usd/')) return `${formatUsd(m.value)}/${unit.slice(4)}`;
  if (PERCENT_UNITS.has(unit)) return `${formatNumber(m.value, oneDecimal)}%`;
  if (SHARE_UNITS.has(unit)) return `${formatNumber(m.value * 100, oneDecimal)}%`;
  if (POINT_UNITS.has(unit)) return `${formatNumber(m.value, oneDecimal)} pts`;
  if (unit === 'hours' || unit === 'h') return `${formatNumber(m.value, oneDecimal)} h`;
  if (unit === 'ratio' || unit === 'x') return `${formatNumber(m.value, oneDecimal)}×`;
  return `${formatNumber(m.value, plain)} ${m.unit}`;
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
    return `${diff >= 0 ? '+' : '−'}${formatNumber(Math.abs(diff), oneDecimal)} pts vs expected`;
  }
  if (expected.value <= 0) return observed.value > 0 ? 'none expected' : undefined;
  const ratio = observed.value / expected.value;
  return `${ratio >= 10 ? formatNumber(Math.round(ratio), plain) : oneDecimal.format(ratio)}× expected`;
}

/**
 * What `impact_usd` counts, by kind, said after the amount: a bare "Impact $84" does not say it
 * is spend above the warning cap. `open` while the episode goes on, `ended` once it is over.
 * The detectors' `Fields:` comments define each.
 */
const IMPACT_WORDS: Record<AnomalyKind, { open: string; ended: string }> = {
  session_cost: { open: 'over the warning cap so far', ended: 'over the warning cap' },
  runaway_session: { open: 'spent since the last human turn', ended: 'spent with no human turn' },
  context_bloat: { open: 'more than its first turns would have cost, so far', ended: 'more than its first turns would have cost' },
  model_mix_drift: { open: 'more a week at this model mix', ended: 'more a week at that model mix' },
  spend_spike: { open: 'above the usual spend so far', ended: 'above the usual spend' },
  budget_forecast: { open: "past the budget's warning line by month end, at this pace", ended: "past the budget's warning line" },
  new_spender: { open: 'spent so far', ended: 'spent' },
  cache_efficiency_drop: { open: 'of cache discount lost so far', ended: 'of cache discount lost' },
  lost_events: { open: 'reported by the provider but never received as events', ended: 'reported but never received as events' },
};

/** `$84 over the warning cap so far`; `ended` (the episode is over) drops the "so far". */
export function impactPhrase(a: Pick<Anomaly, 'kind' | 'impact_usd' | 'status'>, ended = a.status === 'resolved'): string {
  const words = IMPACT_WORDS[a.kind];
  return `${formatUsd(a.impact_usd)} ${ended ? words.ended : words.open}`;
}

/**
 * `$97 more by Mon 09:00 Europe/Berlin`: projected_usd is spend from detection until the team is
 * likely to look, on top of what it has cost. `lookBy` is the notifier's words for that moment
 * (NotificationContext.lookBy); without it the horizon is said in general. Undefined when
 * nothing more is expected (a resolved episode, a projection of $0).
 */
export function projectedMore(a: Pick<Anomaly, 'projected_usd' | 'status'>, lookBy?: string): string | undefined {
  if (a.status === 'resolved' || !(a.projected_usd > 0)) return undefined;
  return `${formatUsd(a.projected_usd)} more ${lookBy ?? 'before the team is likely to look'}`;
}

/** `Team payments: $4,210 of $6,000 this month (70%), on course for $5,900`. */
export function teamMonthLine(m: TeamMonth): string {
  const course = m.on_course_usd !== undefined ? `, on course for ${formatUsd(m.on_course_usd)}` : '';
  if (m.budget_usd !== undefined && m.budget_usd > 0) {
    const share = Math.round((100 * m.spent_usd) / m.budget_usd);
    return `Team ${m.team}: ${formatUsd(m.spent_usd)} of ${formatUsd(m.budget_usd)} this month (${share}%)${course}`;
  }
  return `Team ${m.team}: ${formatUsd(m.spent_usd)} this month, no budget set${course}`;
}

/** The month lines of a message's teams, in the order the message names them. */
export function teamMonthLines(teams: readonly string[], months: readonly TeamMonth[] | undefined): string[] {
  if (!months) return [];
  return teams.flatMap((team) => {
    const m = months.find((x) => x.team === team);
    return m ? [teamMonthLine(m)] : [];
  });
}

export interface EvidenceChart {
  /** `▁▂▃█` */
  bars: string;
  /** Its scale: `low $0.40/h, high $31.20/h · 2026-11-27 13:00Z – 19:00Z (6 h)`. */
  axis: string;
}

/**
 * The evidence as a one-line chart with its scale, so the bars can be read: the points in the
 * unit of the latest one (bars of dollars and tokens together have no axis). Undefined under two
 * such points.
 */
export function evidenceChart(evidence: readonly EvidencePoint[]): EvidenceChart | undefined {
  const last = evidence[evidence.length - 1];
  if (!last) return undefined;
  const points = evidence.filter((p) => p.unit === last.unit);
  const first = points[0];
  if (!first || points.length < 2) return undefined;
  const values = points.map((p) => p.value);
  const at = (value: number) => formatMeasure({ value, unit: last.unit });
  const spanMs = Date.parse(last.at) - Date.parse(first.at);
  const span = spanMs >= 48 * 3_600_000 ? `${Math.round(spanMs / 86_400_000)} days` : formatDuration(spanMs);
  return {
    bars: sparkline(values),
    axis: `low ${at(Math.min(...values))}, high ${at(Math.max(...values))} · ${formatWindow({ start: first.at, end: last.at })} (${span})`,
  };
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
 * `[critical] Session cost $104 for alice@acme.com (payments)`.
 */
export function headline(a: Anomaly): string {
  const tag = a.status === 'resolved' ? 'resolved' : a.severity;
  const who = a.subject.developer ?? a.subject.model;
  const forWhom = who === undefined ? `for team ${a.subject.team}` : `for ${who} (${a.subject.team})`;
  return `[${tag}] ${kindTitle(a.kind)} ${formatMeasure(a.observed)} ${forWhom}`;
}

/**
 * Cuts text to `max` characters with an ellipsis, so a provider limit never rejects a message;
 * never between the two halves of a surrogate pair, which would leave invalid Unicode.
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const last = text.charCodeAt(max - 2);
  return `${text.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 2 : max - 1)}…`;
}

/**
 * Text that goes on one line, such as an email subject: line breaks and other control characters
 * become spaces, so nothing taken from an event can start a new header.
 */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex -- replacing control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ');
}

/** The evidence points shown as a list: the most recent ones, since they explain "now". */
export const EVIDENCE_LIST_MAX = 6;
export function recentEvidence(evidence: readonly EvidencePoint[]): EvidencePoint[] {
  return evidence.slice(-EVIDENCE_LIST_MAX);
}

/**
 * `12 session cost anomalies for team payments`; with mixed kinds the first member leads, as an
 * incident's most likely cause does: `Cache efficiency drop and 12 more anomalies for team payments`.
 */
export function groupTitle(group: readonly Anomaly[]): string {
  const kinds = [...new Set(group.map((m) => m.kind))];
  const teams = [...new Set(group.map((m) => m.subject.team))];
  const forWhom = teams.length === 1 ? `team ${teams[0]}` : `teams ${teams.join(', ')}`;
  if (kinds.length === 1 && kinds[0]) return `${group.length} ${kindTitle(kinds[0]).toLowerCase()} anomalies for ${forWhom}`;
  // Mixed kinds: the first is what the message leads with (an incident's most likely cause).
  const first = group[0] as Anomaly;
  return `${kindTitle(first.kind)} and ${group.length - 1} more ${group.length === 2 ? 'anomaly' : 'anomalies'} for ${forWhom}`;
}

const SEVERITY_ORDER: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

/** The highest severity among a group's open members (among all of them once every one is resolved). */
export function groupSeverity(group: readonly Anomaly[]): Severity {
  const open = group.filter((m) => m.status === 'open');
  return (open.length > 0 ? open : group).reduce<Severity>(
    (top, m) => (SEVERITY_ORDER[m.severity] > SEVERITY_ORDER[top] ? m.severity : top),
    'info',
  );
}

/** `30 min`, `2 h`, `1.5 h`: how long an escalated anomaly waited. */
export function formatDuration(ms: number): string {
  const minutes = Math.max(0, Math.round(ms / 60_000));
  if (minutes < 90) return `${minutes} min`;
  return `${Math.round(minutes / 6) / 10} h`;
}

const ESCALATED_TO = { oncall: 'on-call', finops: 'FinOps' } as const;

/** `escalated to on-call after 30 min unacknowledged`. */
export function escalationPhrase(escalation: NotificationEscalation): string {
  return `escalated to ${ESCALATED_TO[escalation.to]} after ${formatDuration(escalation.unacknowledgedForMs)} unacknowledged`;
}

/**
 * What a message says has changed, before its subject: `Critical`, `Escalated to critical`,
 * `Critical, grown`, `Critical, still open` (a reminder), `Critical, worse after the snooze`,
 * `Resolved` (the detector), `Resolved as noise` (a human).
 */
export function leadPhrase(m: { severity: Severity; reason: NotificationReason; resolved: boolean; lifecycle?: AnomalyLifecycle }): string {
  if (m.resolved || m.reason === 'resolved') return 'Resolved';
  if (m.lifecycle?.state === 'resolved') return m.lifecycle.reason ? `Resolved as ${m.lifecycle.reason}` : 'Resolved';
  const severity = capitalize(m.severity);
  switch (m.reason) {
    case 'escalated':
      return `Escalated to ${m.severity}`;
    case 'grown':
      return `${severity}, grown`;
    case 'reminder':
      return `${severity}, still open`;
    case 'snooze_ended':
      return `${severity}, worse after the snooze`;
    default:
      return severity;
  }
}
