import type { Anomaly, AnomalyLifecycle } from '@burnrate/schemas';
import type { NotificationContext, NotificationEscalation, NotificationReason } from './channel.ts';
import {
  capitalize,
  evidenceChart,
  formatEvidenceValue,
  formatInstant,
  formatMeasure,
  formatUsd,
  formatWindow,
  headline,
  impactPhrase,
  kindTitle,
  oneLine,
  projectedMore,
  recentEvidence,
  relativeToExpected,
  subjectLabel,
  teamMonthLines,
} from './format.ts';
import { LINK_ACTION_LABELS, LINK_ACTIONS, type LinkAction } from './link-token.ts';

export interface EmailMessage {
  subject: string;
  text: string;
  html: string;
}

export interface RenderEmailOptions {
  reason?: NotificationReason;
  /** A group message: every anomaly it lists, the rendered one first. One set of actions for them all. */
  group?: readonly Anomaly[];
  /** What people decided so far (a reminder, a snooze that ended). */
  lifecycle?: AnomalyLifecycle;
  /** Why a receiver beyond the team gets it. */
  escalation?: NotificationEscalation;
  /** Month-to-date spend of the message's teams and when each team is likely to look (Notification.context). */
  context?: NotificationContext;
  links?: EmailLinks;
}

/** Where the email's links point; a link that is not given is not shown. */
export interface EmailLinks {
  /**
   * Signed links that act on the anomaly (on every anomaly of a group), by action. An email about
   * an episode that is over shows only the Resolve ones: saying whether it was real still scores
   * the rule.
   */
  actions?: Partial<Record<LinkAction, string>>;
  /** Each anomaly's page, by anomaly id. */
  pages?: Readonly<Record<string, string>>;
}

export const escapeHtml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

const SEVERITY_COLOUR = { info: '#2563eb', warning: '#d97706', critical: '#dc2626' } as const;
const SEVERITY_RANK = { info: 0, warning: 1, critical: 2 } as const;

function lead(a: Anomaly, reason: NotificationReason): string {
  if (a.status === 'resolved' || reason === 'resolved') return `Resolved: ${kindTitle(a.kind)}`;
  if (reason === 'escalated') return `Escalated to ${a.severity}: ${kindTitle(a.kind)}`;
  return `${capitalize(a.severity)}: ${kindTitle(a.kind)}`;
}

/**
 * The email for one anomaly version, or for a group (`options.group` with more than one): subject
 * `[Burnrate][critical] Session cost $104 for alice@acme.com (payments)`, and HTML and text
 * bodies with the same content (what happened, who, how much, evidence, advice, what people
 * decided, and the action and page links it is given). Pure.
 */
export function renderEmail(a: Anomaly, options: RenderEmailOptions = {}): EmailMessage {
  const group = options.group ?? [];
  if (group.length > 1) return renderGroupEmail(group, options);
  const reason = options.reason ?? 'new';
  const resolved = a.status === 'resolved' || reason === 'resolved';
  const subject = oneLine(`[Burnrate]${headline(a)}`);
  const relative = relativeToExpected(a.observed, a.expected);

  const who: Array<readonly [string, string]> = [['Team', a.subject.team]];
  if (a.subject.developer) who.push(['Developer', a.subject.developer]);
  if (a.subject.session) who.push(['Session', a.subject.session]);
  if (a.subject.model) who.push(['Model', a.subject.model]);

  const more = projectedMore(a, options.context?.lookBy?.[a.id]);
  const howMuch: Array<readonly [string, string]> = resolved
    ? [['Impact while it lasted', impactPhrase(a, true)]]
    : [
        ['Observed', `${formatMeasure(a.observed)}${relative ? ` (${relative})` : ''}`],
        ['Expected', formatMeasure(a.expected)],
        ['Impact', impactPhrase(a)],
        ...(more ? [['If nothing changes', more] as const] : []),
      ];
  const month = teamMonthLines([a.subject.team], options.context?.months);

  const evidence = resolved ? [] : recentEvidence(a.evidence);
  const chart = resolved ? undefined : evidenceChart(a.evidence);
  const chartText = chart ? ` ${chart.bars}  (${chart.axis})` : '';
  const footer = `Burnrate · ${a.kind} · v${a.version} · window ${formatWindow(a.window)} · ${a.id}`;
  const notes = contextLines(options);
  const actions = actionLinks(resolved, options.links);
  const page = options.links?.pages?.[a.id];

  const text = [
    lead(a, reason),
    '',
    ...(notes.length > 0 ? [...notes, ''] : []),
    a.summary,
    '',
    ...who.map(([k, v]) => `${k}: ${v}`),
    '',
    ...howMuch.map(([k, v]) => `${k}: ${v}`),
    ...(month.length > 0 ? ['', ...month] : []),
    ...(evidence.length > 0
      ? ['', `Evidence:${chartText}`, ...evidence.map((p) => `  - ${p.label} (${formatInstant(p.at)}): ${formatEvidenceValue(p)}`)]
      : []),
    ...(resolved ? [] : ['', `What to do: ${a.advice}`]),
    ...textLinks(actions, page),
    '',
    '-- ',
    footer,
    '',
  ].join('\n');

  const colour = resolved ? '#16a34a' : SEVERITY_COLOUR[a.severity];
  const html = [
    HTML_OPEN,
    `<h2 style="margin:0 0 8px;color:${colour}">${escapeHtml(lead(a, reason))}</h2>`,
    ...notes.map((n) => `<p style="margin:0 0 8px;color:#555">${escapeHtml(n)}</p>`),
    `<p style="margin:0 0 12px">${escapeHtml(a.summary)}</p>`,
    `<table style="border-collapse:collapse;margin:0 0 12px">${who.map(row).join('')}</table>`,
    `<table style="border-collapse:collapse;margin:0 0 12px">${howMuch.map(row).join('')}</table>`,
    ...monthHtml(month),
    ...(evidence.length > 0
      ? [
          `<p style="margin:0 0 4px"><strong>Evidence</strong>${chart ? ` <code>${escapeHtml(chart.bars)}</code> <span style="color:#555">${escapeHtml(chart.axis)}</span>` : ''}</p>`,
          `<ul style="margin:0 0 12px">${evidence.map((p) => `<li>${escapeHtml(p.label)} (${escapeHtml(formatInstant(p.at))}): ${escapeHtml(formatEvidenceValue(p))}</li>`).join('')}</ul>`,
        ]
      : []),
    ...(resolved ? [] : [`<p style="margin:0 0 12px"><strong>What to do:</strong> ${escapeHtml(a.advice)}</p>`]),
    ...htmlLinks(actions, page),
    `<p style="margin:16px 0 0;color:#888;font-size:12px">${escapeHtml(footer)}</p>`,
    HTML_CLOSE,
  ].join('\n');

  return { subject, text, html };
}

/**
 * One email for a group of anomalies routed to the same receiver: the most severe in the subject,
 * one line per anomaly with its impact and page, and one set of actions for them all.
 */
function renderGroupEmail(group: readonly Anomaly[], options: RenderEmailOptions): EmailMessage {
  const first = group[0] as Anomaly;
  const open = group.filter((a) => a.status !== 'resolved');
  const resolved = open.length === 0 || options.reason === 'resolved';
  const worst = open.reduce<Anomaly | undefined>(
    (w, a) => (w === undefined || SEVERITY_RANK[a.severity] > SEVERITY_RANK[w.severity] ? a : w),
    undefined,
  );
  const tag = resolved ? 'resolved' : (worst?.severity ?? first.severity);
  const teams = [...new Set(group.map((a) => a.subject.team))].join(', ');
  const impact = group.reduce((sum, a) => sum + a.impact_usd, 0);
  const title = `${group.length} anomalies for ${teams}`;
  const subject = oneLine(
    `[Burnrate][${tag}] ${title}: ${kindTitle(first.kind)} ${formatMeasure(first.observed)} for ${subjectLabel(first)} and ${group.length - 1} more`,
  );
  const leadText = resolved ? `Resolved: ${title}` : `${capitalize(tag)}: ${title}, ${formatUsd(impact)} of impact so far, all together`;
  const notes = contextLines(options);
  const actions = actionLinks(resolved, options.links);
  const pages = options.links?.pages ?? {};
  const month = teamMonthLines([...new Set(group.map((a) => a.subject.team))], options.context?.months);
  // Each kind counts its impact its own way: the line says how.
  const line = (a: Anomaly): string => oneLine(`${headline(a)}: ${impactPhrase(a, resolved || a.status === 'resolved')}`);

  const text = [
    leadText,
    '',
    ...(notes.length > 0 ? [...notes, ''] : []),
    ...(month.length > 0 ? [...month, ''] : []),
    ...group.flatMap((a, i) => [`${i + 1}. ${line(a)}`, `   ${oneLine(a.summary)}`, ...(pages[a.id] ? [`   ${pages[a.id]}`] : [])]),
    ...(resolved ? [] : ['', `What to do first: ${first.advice}`]),
    ...textLinks(actions, undefined, `For all ${group.length}:`),
    '',
    '-- ',
    `Burnrate · ${group.length} anomalies · ${group.map((a) => a.id).join(' · ')}`,
    '',
  ].join('\n');

  const colour = resolved ? '#16a34a' : SEVERITY_COLOUR[worst?.severity ?? first.severity];
  const item = (a: Anomaly): string => {
    const name = escapeHtml(line(a));
    const link = pages[a.id];
    return `<li style="margin:0 0 6px">${link ? `<a href="${escapeHtml(link)}">${name}</a>` : name}<br><span style="color:#555">${escapeHtml(a.summary)}</span></li>`;
  };
  const html = [
    HTML_OPEN,
    `<h2 style="margin:0 0 8px;color:${colour}">${escapeHtml(leadText)}</h2>`,
    ...notes.map((n) => `<p style="margin:0 0 8px;color:#555">${escapeHtml(n)}</p>`),
    ...monthHtml(month),
    `<ol style="margin:0 0 12px;padding-left:20px">${group.map(item).join('')}</ol>`,
    ...(resolved ? [] : [`<p style="margin:0 0 12px"><strong>What to do first:</strong> ${escapeHtml(first.advice)}</p>`]),
    ...(actions.length > 0 ? [`<p style="margin:0 0 4px"><strong>For all ${group.length}:</strong></p>`] : []),
    ...htmlLinks(actions, undefined),
    `<p style="margin:16px 0 0;color:#888;font-size:12px">Burnrate · ${group.length} anomalies</p>`,
    HTML_CLOSE,
  ].join('\n');

  return { subject, text, html };
}

const HTML_OPEN =
  '<!doctype html><html><body style="font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:14px;color:#111">';
const HTML_CLOSE = '</body></html>';

const row = ([k, v]: readonly [string, string]) =>
  `<tr><td style="padding:2px 12px 2px 0;color:#555">${escapeHtml(k)}</td><td style="padding:2px 0"><strong>${escapeHtml(v)}</strong></td></tr>`;

/** The month lines, quiet under the figures: context, not the news. */
const monthHtml = (lines: readonly string[]): string[] =>
  lines.length > 0 ? [`<p style="margin:0 0 12px;color:#555">${lines.map(escapeHtml).join('<br>')}</p>`] : [];

/** What people decided and why this receiver gets it, one sentence each. */
function contextLines(options: RenderEmailOptions): string[] {
  const lines: string[] = [];
  if (options.escalation) {
    const minutes = Math.max(1, Math.round(options.escalation.unacknowledgedForMs / 60_000));
    lines.push(
      `Nobody acknowledged this for ${minutes} min, so it now goes to ${options.escalation.to === 'oncall' ? 'on-call' : 'FinOps'}.`,
    );
  }
  if (options.reason === 'snooze_ended') lines.push('The snooze ended and it got worse.');
  if (options.reason === 'reminder') lines.push('Reminder: this is still open.');
  const l = options.lifecycle;
  if (l?.state === 'acknowledged' && l.acknowledged)
    lines.push(`Acknowledged by ${l.acknowledged.by} at ${formatInstant(l.acknowledged.at)}.`);
  else if (l?.state === 'snoozed' && l.snoozed_until)
    lines.push(`Snoozed until ${formatInstant(l.snoozed_until)}${l.decision ? ` by ${l.decision.by}` : ''}.`);
  else if (l?.state === 'resolved') lines.push(`Resolved${l.reason ? ` as ${l.reason}` : ''}${l.decision ? ` by ${l.decision.by}` : ''}.`);
  return lines.map(oneLine);
}

/** The action links to show, in a fixed order; only the Resolve ones once the episode is over. */
function actionLinks(resolved: boolean, links: EmailLinks | undefined): Array<readonly [string, string]> {
  const given = links?.actions ?? {};
  return LINK_ACTIONS.filter((action) => given[action] !== undefined && (!resolved || action.startsWith('resolve:'))).map(
    (action) => [LINK_ACTION_LABELS[action], given[action] as string] as const,
  );
}

function textLinks(actions: ReadonlyArray<readonly [string, string]>, page: string | undefined, heading?: string): string[] {
  const lines = actions.map(([label, url]) => `${label}: ${url}`);
  if (page) lines.push(`Open in Burnrate: ${page}`);
  if (lines.length === 0) return [];
  return heading ? ['', heading, ...lines] : ['', ...lines];
}

function htmlLinks(actions: ReadonlyArray<readonly [string, string]>, page: string | undefined): string[] {
  const links = actions.map(
    ([label, url], i) =>
      `<a href="${escapeHtml(url)}" style="${i === 0 ? 'background:#111;color:#fff;' : 'background:#f3f4f6;color:#111;border:1px solid #d1d5db;'}padding:6px 12px;border-radius:4px;text-decoration:none;display:inline-block;margin:0 6px 6px 0">${escapeHtml(label)}</a>`,
  );
  const out = links.length > 0 ? [`<p style="margin:0 0 12px">${links.join(' ')}</p>`] : [];
  if (page) out.push(`<p style="margin:0 0 12px"><a href="${escapeHtml(page)}">Open in Burnrate</a></p>`);
  return out;
}
