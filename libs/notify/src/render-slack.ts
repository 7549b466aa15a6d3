import type { Anomaly } from '@burnrate/schemas';
import type { KnownBlock, SectionBlock } from '@slack/types';
import type { NotificationReason } from './channel.ts';
import {
  RESOLVED_EMOJI,
  SEVERITY_EMOJI,
  capitalize,
  formatEvidenceValue,
  formatInstant,
  formatMeasure,
  formatUsd,
  formatWindow,
  headline,
  kindTitle,
  recentEvidence,
  relativeToExpected,
  sparkline,
  truncate,
} from './format.ts';

export interface SlackMessage {
  /** Fallback for notifications and clients that cannot show blocks. */
  text: string;
  blocks: KnownBlock[];
}

export interface RenderSlackOptions {
  reason?: NotificationReason;
}

// Block Kit limits; beyond them Slack answers invalid_blocks and the alert is lost.
const HEADER_MAX = 150;
const SECTION_MAX = 3000;
const FIELD_MAX = 2000;
const ACTION_ID_MAX = 255;

/**
 * Slack mrkdwn treats &, < and > as control characters (`<!channel>` pings everyone,
 * `<https://evil|click>` disguises a link); anything user-derived is escaped.
 */
export const escapeMrkdwn = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** `truncate` for escaped mrkdwn: never ends in half an entity (`&am…`), which Slack would show as text. */
function truncateMrkdwn(text: string, max: number): string {
  const cut = truncate(text, max);
  return cut === text ? text : cut.replace(/&[a-z]{0,3}…$/, '…');
}

const section = (text: string): SectionBlock => ({ type: 'section', text: { type: 'mrkdwn', text: truncateMrkdwn(text, SECTION_MAX) } });
const fields = (pairs: ReadonlyArray<readonly [string, string]>): SectionBlock => ({
  type: 'section',
  fields: pairs.map(([k, v]) => ({ type: 'mrkdwn', text: truncateMrkdwn(`*${k}*\n${v}`, FIELD_MAX) })),
});

/** The action ids the interactivity handler routes on; the button values carry the full id. */
export const ackActionId = (anomalyId: string): string => truncate(`ack:${anomalyId}`, ACTION_ID_MAX);
export const snoozeActionId = (anomalyId: string): string => truncate(`snooze:${anomalyId}`, ACTION_ID_MAX);

function headerText(a: Anomaly, reason: NotificationReason): string {
  if (a.status === 'resolved' || reason === 'resolved') return `${RESOLVED_EMOJI} Resolved: ${kindTitle(a.kind)}`;
  const prefix = reason === 'escalated' ? `Escalated to ${a.severity}` : capitalize(a.severity);
  return `${SEVERITY_EMOJI[a.severity]} ${prefix}: ${kindTitle(a.kind)}`;
}

function contextLine(a: Anomaly): KnownBlock {
  return {
    type: 'context',
    elements: [
      {
        type: 'mrkdwn',
        text: escapeMrkdwn(`Burnrate · ${a.kind} · v${a.version} · window ${formatWindow(a.window)} · ${a.id}`),
      },
    ],
  };
}

/**
 * The Slack message for one anomaly version: header (severity and kind), what happened, who,
 * how much, evidence, advice and Acknowledge / Snooze buttons. A resolved version gets a short
 * note without buttons. Pure: the same anomaly always renders the same blocks.
 */
export function renderSlack(a: Anomaly, options: RenderSlackOptions = {}): SlackMessage {
  const reason = options.reason ?? 'new';
  // The notification and fallback text is mrkdwn too: it is escaped like the blocks.
  const text = truncateMrkdwn(escapeMrkdwn(`${headline(a)}: ${a.summary}`), SECTION_MAX);
  const header: KnownBlock = {
    type: 'header',
    text: { type: 'plain_text', text: truncate(headerText(a, reason), HEADER_MAX), emoji: true },
  };

  if (a.status === 'resolved' || reason === 'resolved') {
    return {
      text,
      blocks: [header, section(`${escapeMrkdwn(a.summary)}\nImpact while it lasted: *${formatUsd(a.impact_usd)}*.`), contextLine(a)],
    };
  }

  const who: Array<readonly [string, string]> = [['Team', escapeMrkdwn(a.subject.team)]];
  if (a.subject.developer) who.push(['Developer', escapeMrkdwn(a.subject.developer)]);
  if (a.subject.session) who.push(['Session', `\`${escapeMrkdwn(a.subject.session)}\``]);
  if (a.subject.model) who.push(['Model', escapeMrkdwn(a.subject.model)]);

  const relative = relativeToExpected(a.observed, a.expected);
  const howMuch: Array<readonly [string, string]> = [
    ['Observed', `${formatMeasure(a.observed)}${relative ? ` (${relative})` : ''}`],
    ['Expected', formatMeasure(a.expected)],
    ['Impact so far', formatUsd(a.impact_usd)],
    ['Projected if it goes on', formatUsd(a.projected_usd)],
  ];

  const blocks: KnownBlock[] = [header, section(`*What happened*\n${escapeMrkdwn(a.summary)}`), fields(who), fields(howMuch)];

  if (a.evidence.length > 0) {
    const values = a.evidence.map((p) => p.value);
    const first = a.evidence[0];
    const last = a.evidence[a.evidence.length - 1];
    const range = first && last ? `  ${formatEvidenceValue(first)} → ${formatEvidenceValue(last)}` : '';
    const list = recentEvidence(a.evidence)
      .map((p) => `• ${escapeMrkdwn(p.label)} (${formatInstant(p.at)}): ${formatEvidenceValue(p)}`)
      .join('\n');
    blocks.push(section(`*Evidence*\n\`${sparkline(values)}\`${range}\n${list}`));
  }

  blocks.push(section(`*What to do*\n${escapeMrkdwn(a.advice)}`));
  blocks.push(contextLine(a));
  blocks.push({
    type: 'actions',
    elements: [
      {
        type: 'button',
        action_id: ackActionId(a.id),
        text: { type: 'plain_text', text: 'Acknowledge' },
        style: 'primary',
        value: `ack:${a.id}`,
      },
      { type: 'button', action_id: snoozeActionId(a.id), text: { type: 'plain_text', text: 'Snooze' }, value: `snooze:${a.id}` },
    ],
  });
  return { text, blocks };
}
