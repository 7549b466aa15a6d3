import { createHash } from 'node:crypto';
import { BurnrateError, type Logger } from '@burnrate/core';
import type { Anomaly } from '@burnrate/schemas';
import { z } from 'zod';
import {
  anomalyUrl,
  type Channel,
  type ChannelDefinition,
  EnvVarField,
  type Notification,
  notificationVariant,
  ReceiverNameField,
  receiverOf,
  secretFromEnv,
} from '../channel.ts';
import {
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
  impactPhrase,
  kindTitle,
  leadPhrase,
  projectedMore,
  recentEvidence,
  relativeToExpected,
  teamMonthLines,
  truncate,
} from '../format.ts';
import { answerDetail, postJson, statusError } from '../http-post.ts';

/**
 * `{ channel: msteams, name, url_env }`: a Microsoft Teams channel through an incoming webhook
 * or a Workflows "When a Teams webhook request is received" URL. The URL is a credential (it
 * carries a signature), so the config names the variable that holds it.
 */
export const MsTeamsReceiver = z
  .object({
    channel: z.literal('msteams').describe('Post an Adaptive Card to a Microsoft Teams channel.'),
    name: ReceiverNameField,
    url_env: EnvVarField.meta({
      description: 'The environment variable that holds the Teams incoming-webhook or Workflows URL (it is a credential).',
      examples: ['TEAMS_PAYMENTS_URL'],
    }),
  })
  .strict();
export type MsTeamsReceiver = z.infer<typeof MsTeamsReceiver>;

type CardElement = Record<string, unknown>;

export interface MsTeamsMessage {
  type: 'message';
  attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive'; contentUrl: null; content: AdaptiveCard }];
}

export interface AdaptiveCard {
  $schema: 'http://adaptivecards.io/schemas/adaptive-card.json';
  type: 'AdaptiveCard';
  version: '1.4';
  msteams: { width: 'Full' };
  body: CardElement[];
  actions?: CardElement[];
}

/**
 * What Teams takes from a webhook is about 28 KB; the card is kept under this many bytes of
 * UTF-8 JSON, with room for the envelope and for Teams counting some text as UTF-16.
 */
export const MSTEAMS_MAX_BYTES = 20_000;
// Limits tried in turn on every text taken from the anomaly until the card fits; at the last,
// the evidence goes too, and a group lists fewer of its members.
const TEXT_LIMITS = [2000, 500, 120] as const;
const GROUP_MEMBERS_MAX = 40;
const SHRINKING = [
  ...TEXT_LIMITS.map((limit) => ({ limit, evidence: true, members: GROUP_MEMBERS_MAX })),
  { limit: 120, evidence: false, members: 10 },
];

const SEVERITY_COLOR = { critical: 'Attention', warning: 'Warning', info: 'Accent' } as const;

/**
 * Text from the anomaly (summary, advice, team, developer, session, model, evidence labels) is
 * put only in TextRuns: Teams renders Markdown in a TextBlock and a Fact, where `[x](https://…)`
 * is a link, but a TextRun is shown as written, so nothing in an event becomes a link, a
 * heading or a mention. The labels around it are Burnrate's own words, in TextBlocks.
 */
const plain = (text: string, limit: number, extra: CardElement = {}): CardElement => ({
  type: 'RichTextBlock',
  inlines: [{ type: 'TextRun', text: truncate(text, limit), ...extra }],
});
const label = (text: string, extra: CardElement = {}): CardElement => ({ type: 'TextBlock', text, wrap: true, ...extra });
const fact = (name: string, value: CardElement): CardElement => ({
  type: 'ColumnSet',
  spacing: 'None',
  columns: [
    { type: 'Column', width: 'auto', items: [label(name, { weight: 'Bolder' })] },
    { type: 'Column', width: 'stretch', items: [value] },
  ],
});

/**
 * The card's identity: (anomaly id, version, receiver), hashed, as the id of its outer container;
 * `variant` (`notificationVariant`: a reminder, a group's members) is hashed in too when set.
 */
export function msTeamsCardId(anomalyId: string, version: number, receiver: string, variant?: string): string {
  const identity = `${anomalyId}\u0000${version}\u0000${receiver}${variant === undefined ? '' : `\u0000${variant}`}`;
  return `burnrate-${createHash('sha256').update(identity).digest('hex').slice(0, 40)}`;
}

const cardIdOf = (n: Notification) => msTeamsCardId(n.anomaly.id, n.anomaly.version, receiverOf('msteams', n), notificationVariant(n));

/** `Critical: Session cost`, `Critical, still open: 12 session cost anomalies for team payments · escalated to on-call after 30 min unacknowledged`. */
function title(n: Notification, about: string, severity: Anomaly['severity'], resolved: boolean): string {
  const lead = leadPhrase({ severity, reason: n.reason, resolved });
  return `${lead}: ${about}${n.escalation && !resolved ? ` · ${escalationPhrase(n.escalation)}` : ''}`;
}

function cardBody(n: Notification, limit: number, withEvidence: boolean, members: number, publicUrl: string | undefined): CardElement[] {
  if (n.group && n.group.length > 1) return groupBody(n, n.group, limit, members, publicUrl);
  const a = n.anomaly;
  const resolved = a.status === 'resolved' || n.reason === 'resolved';
  const items: CardElement[] = [
    label(title(n, kindTitle(a.kind), a.severity, resolved), {
      size: 'Medium',
      weight: 'Bolder',
      color: resolved ? 'Good' : SEVERITY_COLOR[a.severity],
    }),
    plain(a.summary, limit),
  ];
  if (resolved) {
    items.push(fact('Impact while it lasted', plain(impactPhrase(a, true), limit)));
  } else {
    items.push(fact('Team', plain(a.subject.team, limit)));
    if (a.subject.developer) items.push(fact('Developer', plain(a.subject.developer, limit)));
    if (a.subject.session) items.push(fact('Session', plain(a.subject.session, limit, { fontType: 'Monospace' })));
    if (a.subject.model) items.push(fact('Model', plain(a.subject.model, limit)));
    const relative = relativeToExpected(a.observed, a.expected);
    items.push(fact('Observed', plain(`${formatMeasure(a.observed)}${relative ? ` (${relative})` : ''}`, limit)));
    items.push(fact('Expected', plain(formatMeasure(a.expected), limit)));
    items.push(fact('Impact', plain(impactPhrase(a), limit)));
    const more = projectedMore(a, n.context?.lookBy?.[a.id]);
    if (more) items.push(fact('If nothing changes', plain(more, limit)));
    if (withEvidence && a.evidence.length > 0) {
      items.push(label('Evidence', { weight: 'Bolder', spacing: 'Medium' }));
      const chart = evidenceChart(a.evidence);
      if (chart) {
        items.push(plain(chart.bars, limit, { fontType: 'Monospace' }));
        items.push(plain(chart.axis, limit, { isSubtle: true, size: 'Small' }));
      }
      for (const p of recentEvidence(a.evidence)) {
        items.push(plain(`• ${truncate(p.label, 200)} (${formatInstant(p.at)}): ${formatEvidenceValue(p)}`, limit));
      }
    }
    items.push(label('What to do', { weight: 'Bolder', spacing: 'Medium' }));
    items.push(plain(a.advice, limit));
  }
  for (const line of teamMonthLines([a.subject.team], n.context?.months)) items.push(plain(line, limit, { isSubtle: true }));
  items.push(
    plain(`Burnrate · ${a.kind} · v${a.version} · window ${formatWindow(a.window)} · ${a.id}`, limit, { isSubtle: true, size: 'Small' }),
  );
  return [{ type: 'Container', id: cardIdOf(n), items }];
}

/**
 * A group: the count in the title, the totals, one line per member (severity, who, figures; a
 * link to its page when public_url is set), `…and K more` past `members`, the identity line.
 * Member text is in TextRuns like the rest.
 */
function groupBody(
  n: Notification,
  group: readonly Anomaly[],
  limit: number,
  members: number,
  publicUrl: string | undefined,
): CardElement[] {
  const resolved = group.every((m) => m.status === 'resolved');
  const severity = groupSeverity(group);
  const impact = group.reduce((sum, m) => sum + m.impact_usd, 0);
  const projected = group.filter((m) => m.status === 'open').reduce((sum, m) => sum + m.projected_usd, 0);
  const items: CardElement[] = [
    label(title(n, groupTitle(group), severity, resolved), {
      size: 'Medium',
      weight: 'Bolder',
      color: resolved ? 'Good' : SEVERITY_COLOR[severity],
    }),
    fact('Impact so far, all together', plain(formatUsd(impact), limit)),
  ];
  const more = projectedMore({ projected_usd: projected, status: 'open' }, n.context?.lookBy?.[group[0]?.id ?? '']);
  if (more) items.push(fact('If nothing changes', plain(more, limit)));
  for (const line of teamMonthLines([...new Set(group.map((m) => m.subject.team))], n.context?.months))
    items.push(plain(line, limit, { isSubtle: true }));
  const mixedKinds = new Set(group.map((m) => m.kind)).size > 1;
  for (const m of group.slice(0, members)) {
    const who = [
      ...(mixedKinds ? [kindTitle(m.kind)] : []),
      ...(m.subject.developer ? [m.subject.developer] : []),
      ...(m.subject.session ? [`session ${m.subject.session}`] : []),
      ...(m.subject.model && !m.subject.developer ? [m.subject.model] : []),
    ];
    const relative = relativeToExpected(m.observed, m.expected);
    const figures =
      m.status === 'resolved'
        ? `resolved, ${impactPhrase(m, true)}`
        : `${formatMeasure(m.observed)}${relative ? ` (${relative})` : ''}, ${impactPhrase(m)}`;
    const url = anomalyUrl(publicUrl, m.id);
    items.push({
      type: 'RichTextBlock',
      spacing: 'Small',
      inlines: [
        {
          type: 'TextRun',
          text: `${m.status === 'resolved' ? 'Resolved' : capitalize(m.severity)} `,
          weight: 'Bolder',
          color: m.status === 'resolved' ? 'Good' : SEVERITY_COLOR[m.severity],
        },
        {
          type: 'TextRun',
          text: truncate(`${who.length > 0 ? who.join(' · ') : `team ${m.subject.team}`} — ${figures}`, limit),
          ...(url ? { selectAction: { type: 'Action.OpenUrl', url } } : {}),
        },
      ],
    });
  }
  if (group.length > members) items.push(label(`…and ${group.length - members} more`, { isSubtle: true }));
  items.push(
    plain(`Burnrate · ${group.length} anomalies · ${[...new Set(group.map((m) => m.kind))].join(', ')}`, limit, {
      isSubtle: true,
      size: 'Small',
    }),
  );
  return [{ type: 'Container', id: cardIdOf(n), items }];
}

/**
 * The Teams message for one notification: an Adaptive Card (1.4) with what happened, who, how
 * much, evidence, advice, the identity line and an "Open in Burnrate" button when public_url is
 * set; kept under MSTEAMS_MAX_BYTES by cutting the anomaly's texts (then the evidence) further.
 */
export function renderMsTeams(n: Notification, options: { publicUrl?: string | undefined } = {}): MsTeamsMessage {
  // A group links each member on its line instead: one button would open only the first.
  const link = n.group && n.group.length > 1 ? undefined : anomalyUrl(options.publicUrl, n.anomaly.id);
  const actions = link ? [{ type: 'Action.OpenUrl', title: 'Open in Burnrate', url: link }] : undefined;
  let message: MsTeamsMessage | undefined;
  for (const { limit, evidence, members } of SHRINKING) {
    message = {
      type: 'message',
      attachments: [
        {
          contentType: 'application/vnd.microsoft.card.adaptive',
          contentUrl: null,
          content: {
            $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
            type: 'AdaptiveCard',
            version: '1.4',
            msteams: { width: 'Full' },
            body: cardBody(n, limit, evidence, members, options.publicUrl),
            ...(actions ? { actions } : {}),
          },
        },
      ],
    };
    if (Buffer.byteLength(JSON.stringify(message)) <= MSTEAMS_MAX_BYTES) break;
  }
  return message as MsTeamsMessage;
}

export interface MsTeamsWebhook {
  name: string;
  url: string;
}

export interface MsTeamsChannelOptions {
  webhooks: readonly MsTeamsWebhook[];
  log: Logger;
  publicUrl?: string | undefined;
  /** Per request (default 10 s). */
  timeoutMs?: number;
}

// An Office 365 connector answers 200 and says in the body that Teams refused the message:
// "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429 …".
const EMBEDDED_STATUS = /returned HTTP error (\d{3})/;

/**
 * The Microsoft Teams channel: one Adaptive Card per notification (a group's card lists its
 * members), POSTed to the webhook named in `to`. No `update`: an incoming webhook or a Workflows
 * trigger posts and answers nothing that names the message, so a card cannot be edited later;
 * editing needs a bot (Bot Framework, an app registration), which Burnrate does not require.
 * 2xx is delivered (an incoming webhook answers 200 `1`, a Workflows URL 202), except a 200 whose body reports that Teams failed, which is classified by the status it names; 429 (with
 * Retry-After) and 5xx are retried by the notifier; other 4xx are refused for good. No
 * `reconcile`: a webhook cannot be asked what it posted, so a crash between Teams' answer and the
 * delivery record posts the card again (with the same identity in it).
 */
export function createMsTeamsChannel(options: MsTeamsChannelOptions): Channel {
  const webhooks = new Map(options.webhooks.map((w) => [w.name, w]));
  const timeoutMs = options.timeoutMs ?? 10_000;
  return {
    name: 'msteams',
    async send(n) {
      const [name, ...extra] = n.to;
      const webhook = name === undefined || extra.length > 0 ? undefined : webhooks.get(name);
      if (!webhook) throw new BurnrateError('NOTIFY_REJECTED', `no msteams receiver named ${JSON.stringify(n.to.join(','))} is configured`);
      const where = `Teams webhook ${JSON.stringify(webhook.name)}`;
      const answer = await postJson(where, { url: webhook.url, body: JSON.stringify(renderMsTeams(n, options)), timeoutMs });
      const detail = answerDetail(answer.text);
      const error = statusError(where, answer.status, detail, answer.retryAfterMs) ?? embeddedFailure(where, answer.text, detail);
      if (error) throw error;
      options.log.debug(
        { anomalyId: n.anomaly.id, version: n.anomaly.version, receiver: receiverOf('msteams', n) },
        'Teams accepted the card',
      );
      return { id: cardIdOf(n) };
    },
    async close() {},
  };
}

function embeddedFailure(where: string, text: string, detail: string): BurnrateError | undefined {
  const status = EMBEDDED_STATUS.exec(text)?.[1];
  if (status !== undefined) return statusError(where, Number(status), detail) ?? undefined;
  // Any other failure it reports is not retried: an unknown answer must not loop.
  if (/delivery failed/i.test(text)) return new BurnrateError('NOTIFY_REJECTED', `${where} answered that it failed: ${detail}`);
  return undefined;
}

export const msteams: ChannelDefinition<MsTeamsReceiver> = {
  name: 'msteams',
  pagesOnly: true,
  receiver: MsTeamsReceiver,
  to: (r) => [r.name],
  secrets: (r) => [{ field: 'url_env', variable: r.url_env }],
  create(receivers, context) {
    if (receivers.length === 0) return { off: 'no msteams receivers' };
    const webhooks = new Map<string, MsTeamsWebhook>();
    for (const { receiver: r } of receivers) {
      const who = `msteams receiver "${r.name}"`;
      const url = secretFromEnv(context, r.url_env, who);
      if (!/^https?:\/\/[^\s/]+/.test(url)) throw new BurnrateError('CONFIG_INVALID', `${who}: ${r.url_env} does not hold an http(s) URL`);
      webhooks.set(r.name, { name: r.name, url });
    }
    const channel = createMsTeamsChannel({
      webhooks: [...webhooks.values()],
      log: context.log.child({ component: 'msteams' }),
      publicUrl: context.publicUrl,
    });
    return { channel, status: `on (${webhooks.size} receiver${webhooks.size === 1 ? '' : 's'})` };
  },
};
