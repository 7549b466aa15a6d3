import type { Anomaly, AnomalyLifecycle, Severity } from '@burnrate/schemas';
import type { ActionsBlock, Button, ContextBlock, KnownBlock, PlainTextOption, SectionBlock, StaticSelect } from '@slack/types';
import { anomalyUrl, type NotificationContext, type NotificationEscalation, type NotificationReason } from './channel.ts';
import {
  RESOLVED_EMOJI,
  SEVERITY_EMOJI,
  capitalize,
  escalationPhrase,
  evidenceChart,
  formatEvidenceValue,
  formatInstant,
  formatMeasure,
  formatUsd,
  formatWindow,
  groupSeverity,
  groupTitle,
  headline,
  impactPhrase,
  kindTitle,
  leadPhrase,
  projectedMore,
  recentEvidence,
  relativeToExpected,
  teamMonthLines,
  truncate,
} from './format.ts';
import {
  ALL_IN_MESSAGE,
  RESOLVE_REASONS,
  type ResolveReason,
  SLACK_ACTIONS,
  SNOOZE_CHOICES,
  type SnoozeChoice,
  slackActionValue,
} from './slack-actions.ts';

export interface SlackMessage {
  /** Fallback for notifications and clients that cannot show blocks. */
  text: string;
  blocks: KnownBlock[];
}

export interface RenderSlackOptions {
  reason?: NotificationReason;
  /** A group message: every anomaly it lists, the rendered one first (Notification.group). */
  group?: readonly Anomaly[];
  /** What the humans decided so far: shown as a line, and it picks the controls. */
  lifecycle?: AnomalyLifecycle;
  /** Sent to on-call or FinOps because nobody acknowledged in time: said in the header. */
  escalation?: NotificationEscalation;
  /** A reply in the episode's thread: one compact line with the new figures, no controls. */
  reply?: boolean;
  /** The config's public_url: links to each anomaly's page. */
  publicUrl?: string | undefined;
  /** Month-to-date spend of the message's teams and when each team is likely to look (Notification.context). */
  context?: NotificationContext | undefined;
}

// Block Kit limits; beyond them Slack answers invalid_blocks and the alert is lost.
const HEADER_MAX = 150;
const SECTION_MAX = 3000;
const FIELD_MAX = 2000;
const CONTEXT_MAX = 3000;
const BLOCKS_MAX = 50;
const OPTION_VALUE_MAX = 150;
// A group lists at most this many anomalies; past it a reader wants the list in Burnrate, not Slack.
const GROUP_LINES_MAX = 40;
const GROUP_LABEL_MAX = 300;
const NOTE_MAX = 200;

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
const contextBlock = (text: string): ContextBlock => ({ type: 'context', elements: [{ type: 'mrkdwn', text }] });

/** A link in mrkdwn; the URL is ours (public_url and an encoded id), escaped as Slack asks. */
const link = (url: string, label: string): string => `<${escapeMrkdwn(url).replace(/\|/g, '%7C')}|${label}>`;

/**
 * A moment every reader sees in their own time zone (`today 9:00 AM`); clients that cannot
 * show it fall back to UTC.
 */
function slackDate(iso: string): string {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return escapeMrkdwn(iso);
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time}|${formatInstant(new Date(ms).toISOString())}>`;
}

/** Who decided: a Slack user recorded as `slack:U…` is mentioned by id, anyone else is written out. */
function who(by: string): string {
  const slackUser = /^slack:([UW][A-Z0-9]{2,})$/.exec(by)?.[1];
  return slackUser ? `<@${slackUser}>` : escapeMrkdwn(by);
}

const SNOOZE_LABELS: Record<SnoozeChoice, string> = { '1h': '1 hour', tomorrow: 'Until tomorrow 09:00', '1w': '1 week' };
const RESOLVE_LABELS: Record<ResolveReason, string> = {
  expected: 'Expected (planned spend)',
  real: 'Real problem',
  noise: 'Noise (false alarm)',
};

const isDetectorResolved = (a: Anomaly, reason: NotificationReason) => a.status === 'resolved' || reason === 'resolved';

/** Everything one message is about: one anomaly, or the members of a group. */
interface Topic {
  anomalies: readonly Anomaly[];
  /** `Session cost`, or `12 session cost anomalies for team payments`. */
  title: string;
  severity: Severity;
  /** The detector resolved every anomaly the message is about. */
  resolved: boolean;
}

function topicOf(a: Anomaly, options: RenderSlackOptions): Topic {
  const reason = options.reason ?? 'new';
  const group = options.group && options.group.length > 1 ? options.group : undefined;
  if (!group) return { anomalies: [a], title: kindTitle(a.kind), severity: a.severity, resolved: isDetectorResolved(a, reason) };
  return {
    anomalies: group,
    title: groupTitle(group),
    severity: groupSeverity(group),
    resolved: group.every((m) => m.status === 'resolved'),
  };
}

function lead(topic: Topic, options: RenderSlackOptions): string {
  return leadPhrase({
    severity: topic.severity,
    reason: options.reason ?? 'new',
    resolved: topic.resolved,
    ...(options.lifecycle ? { lifecycle: options.lifecycle } : {}),
  });
}

function emoji(topic: Topic, options: RenderSlackOptions): string {
  return topic.resolved || options.lifecycle?.state === 'resolved' ? RESOLVED_EMOJI : SEVERITY_EMOJI[topic.severity];
}

function escalationNote(escalation: NotificationEscalation | undefined): string {
  return escalation ? ` · ${escalationPhrase(escalation)}` : '';
}

/** One line per human decision that still shows: acknowledged, snoozed, resolved, or taken back. */
function lifecycleLines(lifecycle: AnomalyLifecycle | undefined): string[] {
  if (!lifecycle) return [];
  const d = lifecycle.decision;
  const note = d?.note ? ` — “${escapeMrkdwn(truncate(d.note, NOTE_MAX))}”` : '';
  const lines: string[] = [];
  if (lifecycle.state === 'resolved') {
    const as = lifecycle.reason ? ` as *${lifecycle.reason}*` : '';
    return [`${RESOLVED_EMOJI} Resolved${as}${d ? ` by ${who(d.by)} at ${slackDate(d.at)}` : ''}${note}`];
  }
  if (lifecycle.acknowledged) {
    lines.push(`:eyes: Acknowledged by ${who(lifecycle.acknowledged.by)} at ${slackDate(lifecycle.acknowledged.at)}`);
  }
  if (lifecycle.state === 'snoozed' && d && lifecycle.snoozed_until) {
    lines.push(`:zzz: Snoozed by ${who(d.by)} until ${slackDate(lifecycle.snoozed_until)}${note}`);
  } else if (lifecycle.state === 'open' && d?.action === 'unacknowledged') {
    lines.push(`:leftwards_arrow_with_hook: Acknowledgement withdrawn by ${who(d.by)} at ${slackDate(d.at)}${note}`);
  } else if (lifecycle.state === 'open' && d?.action === 'snoozed' && d.snoozed_until) {
    lines.push(`:alarm_clock: Snooze by ${who(d.by)} ended ${slackDate(d.snoozed_until)}`);
  } else if (lifecycle.state === 'acknowledged' && note) {
    lines[lines.length - 1] += note;
  }
  return lines;
}

/**
 * Acknowledge (or Unacknowledge once acknowledged), Snooze and Resolve, with the values of
 * slack-actions.ts. `ref` is the anomaly id, or `*` (every anomaly the message carries) for a
 * group, and for an id too long for a select option's value.
 */
function controls(ref: string, lifecycle: AnomalyLifecycle | undefined): ActionsBlock {
  const acknowledged = lifecycle?.acknowledged !== undefined && (lifecycle.state === 'acknowledged' || lifecycle.state === 'snoozed');
  const ack: Button = acknowledged
    ? {
        type: 'button',
        action_id: SLACK_ACTIONS.unack,
        text: { type: 'plain_text', text: 'Unacknowledge' },
        value: slackActionValue({ verb: 'unack', ref }),
      }
    : {
        type: 'button',
        action_id: SLACK_ACTIONS.ack,
        text: { type: 'plain_text', text: 'Acknowledge' },
        style: 'primary',
        value: slackActionValue({ verb: 'ack', ref }),
      };
  const option = (text: string, value: string): PlainTextOption => ({ text: { type: 'plain_text', text }, value });
  const snooze: StaticSelect = {
    type: 'static_select',
    action_id: SLACK_ACTIONS.snooze,
    placeholder: { type: 'plain_text', text: 'Snooze' },
    options: SNOOZE_CHOICES.map((choice) => option(SNOOZE_LABELS[choice], slackActionValue({ verb: 'snooze', choice, ref }))),
  };
  const resolve: StaticSelect = {
    type: 'static_select',
    action_id: SLACK_ACTIONS.resolve,
    placeholder: { type: 'plain_text', text: 'Resolve as…' },
    options: RESOLVE_REASONS.map((reason) => option(RESOLVE_LABELS[reason], slackActionValue({ verb: 'resolve', reason, ref }))),
  };
  return { type: 'actions', elements: [ack, snooze, resolve] };
}

/** The ref a single anomaly's controls carry: its id, unless the id would not fit a select option's value. */
function refOf(a: Anomaly): string {
  const longest = Math.max(
    ...SNOOZE_CHOICES.map((choice) => slackActionValue({ verb: 'snooze', choice, ref: a.id }).length),
    ...RESOLVE_REASONS.map((reason) => slackActionValue({ verb: 'resolve', reason, ref: a.id }).length),
  );
  return longest <= OPTION_VALUE_MAX ? a.id : ALL_IN_MESSAGE;
}

function identityLine(a: Anomaly, publicUrl: string | undefined): ContextBlock {
  const identity = truncateMrkdwn(escapeMrkdwn(`Burnrate · ${a.kind} · v${a.version} · window ${formatWindow(a.window)} · ${a.id}`), 2000);
  const url = anomalyUrl(publicUrl, a.id);
  return contextBlock(url ? `${identity} · ${link(url, 'Open in Burnrate')}` : identity);
}

/** `for alice@acme.com (payments)` / `for team payments`, as the headline says it. */
function forWhom(a: Anomaly): string {
  const whom = a.subject.developer ?? a.subject.model;
  return whom === undefined ? `for team ${a.subject.team}` : `for ${whom} (${a.subject.team})`;
}

function figures(a: Anomaly, lookBy: string | undefined): string {
  if (a.status === 'resolved') return `impact while it lasted ${impactPhrase(a, true)}`;
  const relative = relativeToExpected(a.observed, a.expected);
  const more = projectedMore(a, lookBy);
  return `${formatMeasure(a.observed)}${relative ? ` (${relative})` : ''} · ${impactPhrase(a)}${more ? ` · ${more} if nothing changes` : ''}`;
}

/** `Team payments: $4,210 of $6,000 this month (70%), on course for $5,900`, one line per team; none when the notifier could not say. */
function monthBlock(anomalies: readonly Anomaly[], context: NotificationContext | undefined): ContextBlock[] {
  const lines = teamMonthLines([...new Set(anomalies.map((m) => m.subject.team))], context?.months);
  return lines.length > 0 ? [contextBlock(truncateMrkdwn(escapeMrkdwn(lines.join('\n')), CONTEXT_MAX))] : [];
}

/**
 * The Slack message for a notification: one anomaly version, or a group of them (one line each,
 * one set of controls for all), or a compact reply in the episode's thread. Pure: the same input
 * always renders the same blocks.
 *
 * One anomaly: header (severity and kind, and why now: escalated, grown, still open, worse after
 * the snooze, escalated to on-call), what happened, who, how much, evidence, advice, what the
 * humans decided (acknowledged by, snoozed until, resolved as), the identity line and the
 * controls (Acknowledge or Unacknowledge, Snooze, Resolve). A version the detector resolved is a
 * short note; once resolved (by the detector or a human) there are no controls.
 */
export function renderSlack(a: Anomaly, options: RenderSlackOptions = {}): SlackMessage {
  const topic = topicOf(a, options);
  if (options.reply) return renderReply(a, topic, options);
  if (topic.anomalies.length > 1) return renderGroup(topic, options);

  const reason = options.reason ?? 'new';
  const header = headerBlock(topic, options);
  const text = fallbackText(`${headline(a)}: ${a.summary}`, options);
  const decided = lifecycleLines(options.lifecycle);
  const decidedBlock = decided.length > 0 ? [contextBlock(truncateMrkdwn(decided.join('\n'), CONTEXT_MAX))] : [];

  if (isDetectorResolved(a, reason)) {
    return {
      text,
      blocks: [
        header,
        section(`${escapeMrkdwn(a.summary)}\nImpact while it lasted: *${escapeMrkdwn(impactPhrase(a, true))}*.`),
        ...monthBlock([a], options.context),
        ...decidedBlock,
        identityLine(a, options.publicUrl),
      ],
    };
  }

  const people: Array<readonly [string, string]> = [['Team', escapeMrkdwn(a.subject.team)]];
  if (a.subject.developer) people.push(['Developer', escapeMrkdwn(a.subject.developer)]);
  if (a.subject.session) people.push(['Session', `\`${escapeMrkdwn(a.subject.session)}\``]);
  if (a.subject.model) people.push(['Model', escapeMrkdwn(a.subject.model)]);

  const relative = relativeToExpected(a.observed, a.expected);
  const more = projectedMore(a, options.context?.lookBy?.[a.id]);
  const howMuch: Array<readonly [string, string]> = [
    ['Observed', `${formatMeasure(a.observed)}${relative ? ` (${relative})` : ''}`],
    ['Expected', formatMeasure(a.expected)],
    ['Impact', escapeMrkdwn(impactPhrase(a))],
    ...(more ? [['If nothing changes', escapeMrkdwn(more)] as const] : []),
  ];

  const blocks: KnownBlock[] = [
    header,
    section(`*What happened*\n${escapeMrkdwn(a.summary)}`),
    fields(people),
    fields(howMuch),
    ...monthBlock([a], options.context),
  ];

  if (a.evidence.length > 0) {
    const chart = evidenceChart(a.evidence);
    const axis = chart ? `\`${chart.bars}\`  ${escapeMrkdwn(chart.axis)}\n` : '';
    const list = recentEvidence(a.evidence)
      .map((p) => `• ${escapeMrkdwn(p.label)} (${formatInstant(p.at)}): ${formatEvidenceValue(p)}`)
      .join('\n');
    blocks.push(section(`*Evidence*\n${axis}${list}`));
  }

  blocks.push(section(`*What to do*\n${escapeMrkdwn(a.advice)}`));
  blocks.push(...decidedBlock);
  blocks.push(identityLine(a, options.publicUrl));
  if (options.lifecycle?.state !== 'resolved') blocks.push(controls(refOf(a), options.lifecycle));
  return { text, blocks };
}

function headerBlock(topic: Topic, options: RenderSlackOptions): KnownBlock {
  const escalated = topic.resolved ? '' : escalationNote(options.escalation);
  const text = `${emoji(topic, options)} ${lead(topic, options)}: ${topic.title}${escalated}`;
  return { type: 'header', text: { type: 'plain_text', text: truncate(text, HEADER_MAX), emoji: true } };
}

/** The notification text: escaped like the blocks, and saying why now when it is not the first sight. */
function fallbackText(body: string, options: RenderSlackOptions): string {
  const why =
    options.escalation !== undefined
      ? `${capitalize(escalationPhrase(options.escalation))}: `
      : options.reason === 'reminder'
        ? 'Still open: '
        : options.reason === 'snooze_ended'
          ? 'Worse after the snooze: '
          : '';
  return truncateMrkdwn(escapeMrkdwn(`${why}${body}`), SECTION_MAX);
}

/**
 * A group: header `12 session cost anomalies for team payments`, the totals, one line per
 * anomaly (severity, who, figures, a link when public_url is set) packed into sections, `…and K
 * more` past what fits, the decisions, and controls whose ref is `*`.
 */
function renderGroup(topic: Topic, options: RenderSlackOptions): SlackMessage {
  const members = topic.anomalies;
  const impact = members.reduce((sum, m) => sum + m.impact_usd, 0);
  const projected = members.filter((m) => m.status === 'open').reduce((sum, m) => sum + m.projected_usd, 0);
  const bySeverity = (['critical', 'warning', 'info'] as const)
    .map((s) => [s, members.filter((m) => m.status === 'open' && m.severity === s).length] as const)
    .filter(([, count]) => count > 0)
    .map(([s, count]) => `${count} ${s}`);
  const resolvedCount = members.filter((m) => m.status === 'resolved').length;
  const counts = [...bySeverity, ...(resolvedCount > 0 ? [`${resolvedCount} resolved`] : [])].join(', ');
  const lookBy = options.context?.lookBy?.[members[0]?.id ?? ''];
  const more = projectedMore({ projected_usd: projected, status: 'open' }, lookBy);
  // Each kind counts its impact its own way (memberLine says how); the total is their sum.
  const totals = `*Impact so far, all together* ${formatUsd(impact)}${more ? ` · *if nothing changes* ${escapeMrkdwn(more)}` : ''} · ${counts}`;

  const text = fallbackText(`${topic.title}: ${formatUsd(impact)} of impact so far`, options);
  const decided = lifecycleLines(options.lifecycle);
  const withControls = !topic.resolved && options.lifecycle?.state !== 'resolved';
  const tail: KnownBlock[] = [
    ...(decided.length > 0 ? [contextBlock(truncateMrkdwn(decided.join('\n'), CONTEXT_MAX))] : []),
    contextBlock(
      escapeMrkdwn(
        `Burnrate · ${members.length} anomalies · ${[...new Set(members.map((m) => m.kind))].join(', ')} · controls apply to every one listed`,
      ),
    ),
    ...(withControls ? [controls(ALL_IN_MESSAGE, options.lifecycle)] : []),
  ];
  const head: KnownBlock[] = [headerBlock(topic, options), section(totals), ...monthBlock(members, options.context)];
  const mixedKinds = new Set(members.map((m) => m.kind)).size > 1;
  const lines = members.map((m) => memberLine(m, mixedKinds, options.publicUrl));
  return { text, blocks: [...head, ...packLines(lines, BLOCKS_MAX - head.length - tail.length), ...tail] };
}

/** `:rotating_light: alice@acme.com · session `s1` — $104 (4.2× expected) · $79.20 over the warning cap so far · <url|details>` */
function memberLine(m: Anomaly, mixedKinds: boolean, publicUrl: string | undefined): string {
  const parts: string[] = [];
  if (mixedKinds) parts.push(kindTitle(m.kind));
  if (m.subject.developer) parts.push(m.subject.developer);
  if (m.subject.session) parts.push(`session ${m.subject.session}`);
  if (m.subject.model && !m.subject.developer) parts.push(m.subject.model);
  if (parts.length === (mixedKinds ? 1 : 0)) parts.push(`team ${m.subject.team}`);
  const label = truncateMrkdwn(escapeMrkdwn(parts.join(' · ')), GROUP_LABEL_MAX);
  const icon = m.status === 'resolved' ? RESOLVED_EMOJI : SEVERITY_EMOJI[m.severity];
  const relative = relativeToExpected(m.observed, m.expected);
  const numbers =
    m.status === 'resolved'
      ? `resolved, ${escapeMrkdwn(impactPhrase(m, true))}`
      : `${formatMeasure(m.observed)}${relative ? ` (${relative})` : ''} · ${escapeMrkdwn(impactPhrase(m))}`;
  const url = anomalyUrl(publicUrl, m.id);
  return `${icon} *${label}* — ${numbers}${url ? ` · ${link(url, 'details')}` : ''}`;
}

/**
 * Lines into sections of at most SECTION_MAX characters and `maxBlocks` blocks, at most
 * GROUP_LINES_MAX lines, never cutting a line (a cut link would show its markup); what does not
 * fit is counted in a last `…and K more` line.
 */
function packLines(lines: readonly string[], maxBlocks: number): SectionBlock[] {
  const more = (k: number) => `…and ${k} more`;
  const sections: string[][] = [[]];
  const size = (s: string[]) => s.reduce((n, l) => n + l.length + 1, 0);
  let shown = 0;
  for (const line of lines) {
    if (shown >= GROUP_LINES_MAX) break;
    const current = sections[sections.length - 1] ?? [];
    if (size(current) + line.length <= SECTION_MAX - more(lines.length).length - 1) {
      current.push(line);
    } else if (sections.length < maxBlocks && line.length <= SECTION_MAX - more(lines.length).length - 1) {
      sections.push([line]);
    } else {
      break;
    }
    shown += 1;
  }
  const left = lines.length - shown;
  if (left > 0) sections[sections.length - 1]?.push(more(left));
  return sections.filter((s) => s.length > 0).map((s) => section(s.join('\n')));
}

/**
 * A reply in the episode's thread: one line saying what changed, with the new figures
 * (`Escalated to critical: Session cost for alice@acme.com (payments) — $104 (4.2× expected) ·
 * $79.20 over the warning cap so far · $310 more by Mon 09:00 Europe/Berlin if nothing changes`),
 * and the identity line. No controls: the thread's first message keeps them and is updated in place.
 */
function renderReply(a: Anomaly, topic: Topic, options: RenderSlackOptions): SlackMessage {
  const what =
    topic.anomalies.length > 1
      ? `${topic.title} — ${formatUsd(topic.anomalies.reduce((sum, m) => sum + m.impact_usd, 0))} of impact so far, all together`
      : `${topic.title} ${forWhom(a)} — ${figures({ ...a, status: topic.resolved ? 'resolved' : a.status }, options.context?.lookBy?.[a.id])}`;
  const sentence = `${lead(topic, options)}: ${what}${escalationNote(options.escalation)}`;
  const blocks: KnownBlock[] = [section(`${emoji(topic, options)} ${escapeMrkdwn(sentence)}`)];
  if (topic.anomalies.length === 1) blocks.push(identityLine(a, options.publicUrl));
  return { text: truncateMrkdwn(escapeMrkdwn(sentence), SECTION_MAX), blocks };
}
