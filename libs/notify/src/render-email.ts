import type { Anomaly } from '@burnrate/schemas';
import type { NotificationReason } from './channel.ts';
import {
  capitalize,
  formatEvidenceValue,
  formatInstant,
  formatMeasure,
  formatUsd,
  formatWindow,
  headline,
  kindTitle,
  oneLine,
  recentEvidence,
  relativeToExpected,
  sparkline,
} from './format.ts';

export interface EmailMessage {
  subject: string;
  text: string;
  html: string;
}

export interface RenderEmailOptions {
  reason?: NotificationReason;
  /** Where "Acknowledge" points; no link is shown without one. */
  acknowledgeUrl?: string;
}

export const escapeHtml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

const SEVERITY_COLOUR = { info: '#2563eb', warning: '#d97706', critical: '#dc2626' } as const;

function lead(a: Anomaly, reason: NotificationReason): string {
  if (a.status === 'resolved' || reason === 'resolved') return `Resolved: ${kindTitle(a.kind)}`;
  if (reason === 'escalated') return `Escalated to ${a.severity}: ${kindTitle(a.kind)}`;
  return `${capitalize(a.severity)}: ${kindTitle(a.kind)}`;
}

/**
 * The email for one anomaly version: subject `[Burnrate][critical] Session cost $104.20 for
 * alice@acme.com (payments)`, and HTML and text bodies with the same content (what happened, who,
 * how much, evidence, advice, and an acknowledge link when one is given). Pure.
 */
export function renderEmail(a: Anomaly, options: RenderEmailOptions = {}): EmailMessage {
  const reason = options.reason ?? 'new';
  const resolved = a.status === 'resolved' || reason === 'resolved';
  const subject = oneLine(`[Burnrate]${headline(a)}`);
  const relative = relativeToExpected(a.observed, a.expected);

  const who: Array<readonly [string, string]> = [['Team', a.subject.team]];
  if (a.subject.developer) who.push(['Developer', a.subject.developer]);
  if (a.subject.session) who.push(['Session', a.subject.session]);
  if (a.subject.model) who.push(['Model', a.subject.model]);

  const howMuch: Array<readonly [string, string]> = resolved
    ? [['Impact while it lasted', formatUsd(a.impact_usd)]]
    : [
        ['Observed', `${formatMeasure(a.observed)}${relative ? ` (${relative})` : ''}`],
        ['Expected', formatMeasure(a.expected)],
        ['Impact so far', formatUsd(a.impact_usd)],
        ['Projected if it goes on', formatUsd(a.projected_usd)],
      ];

  const evidence = resolved ? [] : recentEvidence(a.evidence);
  const spark = resolved ? '' : sparkline(a.evidence.map((p) => p.value));
  const footer = `Burnrate · ${a.kind} · v${a.version} · window ${formatWindow(a.window)} · ${a.id}`;
  const ack = resolved ? undefined : options.acknowledgeUrl;

  const text = [
    lead(a, reason),
    '',
    a.summary,
    '',
    ...who.map(([k, v]) => `${k}: ${v}`),
    '',
    ...howMuch.map(([k, v]) => `${k}: ${v}`),
    ...(evidence.length > 0
      ? ['', `Evidence: ${spark}`, ...evidence.map((p) => `  - ${p.label} (${formatInstant(p.at)}): ${formatEvidenceValue(p)}`)]
      : []),
    ...(resolved ? [] : ['', `What to do: ${a.advice}`]),
    ...(ack ? ['', `Acknowledge: ${ack}`] : []),
    '',
    '-- ',
    footer,
    '',
  ].join('\n');

  const row = ([k, v]: readonly [string, string]) =>
    `<tr><td style="padding:2px 12px 2px 0;color:#555">${escapeHtml(k)}</td><td style="padding:2px 0"><strong>${escapeHtml(v)}</strong></td></tr>`;
  const colour = resolved ? '#16a34a' : SEVERITY_COLOUR[a.severity];
  const html = [
    '<!doctype html><html><body style="font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:14px;color:#111">',
    `<h2 style="margin:0 0 8px;color:${colour}">${escapeHtml(lead(a, reason))}</h2>`,
    `<p style="margin:0 0 12px">${escapeHtml(a.summary)}</p>`,
    `<table style="border-collapse:collapse;margin:0 0 12px">${who.map(row).join('')}</table>`,
    `<table style="border-collapse:collapse;margin:0 0 12px">${howMuch.map(row).join('')}</table>`,
    ...(evidence.length > 0
      ? [
          `<p style="margin:0 0 4px"><strong>Evidence</strong> <code>${escapeHtml(spark)}</code></p>`,
          `<ul style="margin:0 0 12px">${evidence.map((p) => `<li>${escapeHtml(p.label)} (${escapeHtml(formatInstant(p.at))}): ${escapeHtml(formatEvidenceValue(p))}</li>`).join('')}</ul>`,
        ]
      : []),
    ...(resolved ? [] : [`<p style="margin:0 0 12px"><strong>What to do:</strong> ${escapeHtml(a.advice)}</p>`]),
    ...(ack
      ? [
          `<p style="margin:0 0 12px"><a href="${escapeHtml(ack)}" style="background:#111;color:#fff;padding:8px 14px;border-radius:4px;text-decoration:none">Acknowledge</a></p>`,
        ]
      : []),
    `<p style="margin:16px 0 0;color:#888;font-size:12px">${escapeHtml(footer)}</p>`,
    '</body></html>',
  ].join('\n');

  return { subject, text, html };
}
