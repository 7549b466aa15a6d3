import { createHash } from 'node:crypto';
import { BurnrateError, Email, type Logger, redactUrl } from '@burnrate/core';
import { createTransport } from 'nodemailer';
import { z } from 'zod';
import { anomalyUrl, type Channel, type ChannelDefinition, type Notification, notificationVariant, receiverOf } from '../channel.ts';
import { groupTitle, kindTitle, oneLine } from '../format.ts';
import { actionLinkUrl, DEFAULT_LINK_LIFETIME_S, LINK_ACTIONS, linkSecretFrom, signLinkToken, VIEW_LINK } from '../link-token.ts';
import { type EmailLinks, renderEmail } from '../render-email.ts';

export interface EmailChannelOptions {
  /** `smtp://user:pass@host:port` (or `smtps://` for implicit TLS), from SMTP_URL. */
  url: string;
  /** The From header, e.g. `Burnrate <burnrate@acme.com>`. */
  from: string;
  log: Logger;
  /** Where the email's links point and how they are signed; no links without it. */
  links?: EmailLinkSettings;
  /** Connection, greeting and socket timeout (default 10 s), so a hung server is a retriable error. */
  timeoutMs?: number;
}

export interface EmailLinkSettings {
  /** The config's public_url. */
  publicUrl: string;
  /**
   * BURNRATE_LINK_SECRET: signs the action links (Acknowledge, Snooze, Resolve) and the page links
   * that let their holder act there. Without it an email links only to the anomaly's page.
   */
  secret?: string | undefined;
  /** How long the links work; default DEFAULT_LINK_LIFETIME_S (7 days). */
  lifetimeS?: number;
  now?: () => Date;
}

/**
 * The links of one email: an action link per LINK_ACTIONS entry acting on the anomaly (on every
 * anomaly of a group), and each anomaly's page. Tokens name the email's addresses as who acts:
 * whoever holds the email is taken to be one of its receivers.
 */
export function emailLinks(n: Notification, settings: EmailLinkSettings): EmailLinks {
  const anomalies = n.group && n.group.length > 0 ? n.group : [n.anomaly];
  const secret = settings.secret;
  if (!secret) {
    return { pages: Object.fromEntries(anomalies.map((a) => [a.id, anomalyUrl(settings.publicUrl, a.id) as string])) };
  }
  const by = n.to.join(',');
  const expiresAt = Math.floor((settings.now?.() ?? new Date()).getTime() / 1000) + (settings.lifetimeS ?? DEFAULT_LINK_LIFETIME_S);
  const anomalyIds = anomalies.map((a) => a.id);
  const actions = Object.fromEntries(
    LINK_ACTIONS.map((action) => [action, actionLinkUrl(settings.publicUrl, signLinkToken(secret, { anomalyIds, action, by, expiresAt }))]),
  );
  const pages = Object.fromEntries(
    anomalies.map((a) => {
      const token = signLinkToken(secret, { anomalyIds: [a.id], action: VIEW_LINK, by, expiresAt });
      return [a.id, `${anomalyUrl(settings.publicUrl, a.id) as string}?t=${token}`];
    }),
  );
  return { actions, pages };
}

// Errors that mean the server or the path to it is unwell, not that it refused this message.
const CONNECTION_CODES = new Set([
  'ECONNECTION',
  'ETIMEDOUT',
  'ESOCKET',
  'EDNS',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EPROTOCOL',
  'ETLS',
]);

/**
 * Translates a nodemailer error: an SMTP 4xx reply (greylisting, a full queue, a busy server)
 * or a connection problem → NOTIFY_UNAVAILABLE, retriable; a 5xx reply (unknown recipient,
 * bad credentials, policy) → NOTIFY_REJECTED.
 */
export function translateSmtpError(err: unknown, url: string): BurnrateError {
  const e = err as { responseCode?: unknown; code?: unknown; command?: unknown; message?: unknown };
  const responseCode = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  const where = `SMTP send via ${redactUrl(url)}`;
  const details = { responseCode, code: e.code, command: e.command };
  const message = typeof e.message === 'string' ? e.message : String(err);
  if (responseCode !== undefined && responseCode >= 400 && responseCode < 500) {
    return new BurnrateError('NOTIFY_UNAVAILABLE', `${where} deferred (${responseCode}): ${message}`, { cause: err, details });
  }
  if (responseCode !== undefined && responseCode >= 500) {
    return new BurnrateError('NOTIFY_REJECTED', `${where} rejected (${responseCode}): ${message}`, { cause: err, details });
  }
  if (typeof e.code === 'string' && CONNECTION_CODES.has(e.code)) {
    return new BurnrateError('NOTIFY_UNAVAILABLE', `${where} failed (${e.code}): ${message}`, { cause: err, details });
  }
  return new BurnrateError('NOTIFY_REJECTED', `${where} failed: ${message}`, { cause: err, details });
}

/**
 * The Message-ID of the email for one anomaly version and receiver, the same on every send:
 * `<burnrate.{anomaly id}.v{version}.{hash}@{domain of From}>`. SMTP has no way to ask whether
 * an earlier send got through, so a notifier killed after the server accepted a message (before
 * it recorded the delivery) sends it again after restart; with the same Message-ID, mail systems
 * and clients that deduplicate by Message-ID show it once. The hash covers the anomaly id and the
 * receiver, so a cleaned-up id never makes two receivers' or two anomalies' ids collide, and
 * `variant` when given (`notificationVariant`: a reminder, a group's members), so a message that
 * carries the same version as an earlier one is not hidden as its duplicate.
 */
export function anomalyMessageId(anomalyId: string, version: number, receiver: string, from: string, variant?: string): string {
  const hash = createHash('sha256')
    .update(`${anomalyId}\u0000${receiver}${variant === undefined ? '' : `\u0000${variant}`}`)
    .digest('hex')
    .slice(0, 12);
  // Letters, digits, - and _ keep the id-left a dot-atom (RFC 5322 3.6.4) that no mail system rewrites.
  const safeId = anomalyId.replace(/[^A-Za-z0-9_-]/g, '-');
  return `<burnrate.${safeId}.v${version}.${hash}@${domainOf(from)}>`;
}

/**
 * The Subject of every message of an episode: the same text, `Re: ` before it on a reply, so mail
 * clients that thread by subject (Gmail, besides In-Reply-To) keep the episode together. It
 * names no severity and no figure, which change from one version to the next:
 * `[Burnrate] Session cost for alice@acme.com (payments)`. A group names its count,
 * `[Burnrate] 12 session cost anomalies for team payments`.
 */
export function emailSubject(n: Pick<Notification, 'anomaly' | 'group' | 'thread'>): string {
  const a = n.anomaly;
  const whom = a.subject.developer ?? a.subject.model;
  const about =
    n.group && n.group.length > 1
      ? groupTitle(n.group)
      : `${kindTitle(a.kind)} ${whom === undefined ? `for team ${a.subject.team}` : `for ${whom} (${a.subject.team})`}`;
  return oneLine(`${n.thread ? 'Re: ' : ''}[Burnrate] ${about}`);
}

/** `critical`, `warning`, `info`, or `resolved` once every anomaly the message is about is resolved. */
function severityOf(n: Pick<Notification, 'anomaly' | 'group' | 'reason'>): string {
  const members = n.group && n.group.length > 1 ? n.group : [n.anomaly];
  const open = members.filter((m) => m.status === 'open');
  if (open.length === 0 || (members.length === 1 && n.reason === 'resolved')) return 'resolved';
  for (const s of ['critical', 'warning'] as const) if (open.some((m) => m.severity === s)) return s;
  return 'info';
}

// A Message-ID as `send` returns it: one `<id-left@id-right>`, nothing that could end the header.
const MESSAGE_ID = /^<[^<>\s@]+@[^<>\s@]+>$/;

function domainOf(from: string): string {
  const match = /@([A-Za-z0-9.-]+)>?\s*$/.exec(from.trim());
  return match?.[1] ?? 'burnrate.invalid';
}

/**
 * The email channel: one message per notification, every address of the receiver in To, HTML
 * and text alternatives, and a Message-ID fixed by (anomaly id, version, receiver) (see
 * `anomalyMessageId`). The id it returns is that Message-ID. A later message of an episode
 * (`thread`) carries In-Reply-To and References = the first message's Message-ID, and every
 * message of the episode the same Subject (`emailSubject`), so mail clients thread them. It has
 * no `reconcile`: a resend after a crash is possible and carries the same Message-ID. It has no
 * `update` either: a sent email cannot change; the next message in the thread says what did.
 */
export function createEmailChannel(options: EmailChannelOptions): Channel {
  const log = options.log.child({ component: 'email' });
  const timeout = options.timeoutMs ?? 10_000;
  const transport = createTransport(
    { url: options.url, connectionTimeout: timeout, greetingTimeout: timeout, socketTimeout: timeout },
    { from: options.from },
  );

  return {
    name: 'email',
    async send(n: Notification) {
      if (n.to.length === 0) throw new BurnrateError('NOTIFY_REJECTED', 'an email notification needs at least one address');
      const parentId = n.thread?.parentId;
      if (parentId !== undefined && !MESSAGE_ID.test(parentId)) {
        throw new BurnrateError(
          'NOTIFY_REJECTED',
          `an email reply needs the first message's Message-ID as <id@domain>, got ${JSON.stringify(parentId)}`,
        );
      }
      const message = renderEmail(n.anomaly, {
        reason: n.reason,
        ...(n.group ? { group: n.group } : {}),
        ...(n.lifecycle ? { lifecycle: n.lifecycle } : {}),
        ...(n.escalation ? { escalation: n.escalation } : {}),
        ...(n.context ? { context: n.context } : {}),
        ...(options.links ? { links: emailLinks(n, options.links) } : {}),
      });
      let info;
      try {
        info = await transport.sendMail({
          to: [...n.to],
          subject: emailSubject(n),
          text: message.text,
          html: message.html,
          messageId: anomalyMessageId(n.anomaly.id, n.anomaly.version, receiverOf('email', n), options.from, notificationVariant(n)),
          ...(parentId !== undefined ? { inReplyTo: parentId, references: [parentId] } : {}),
          // The subject names no severity (it must not change within an episode): mail rules filter on this header.
          headers: { 'X-Burnrate-Anomaly': `${n.anomaly.id}; v=${n.anomaly.version}`, 'X-Burnrate-Severity': severityOf(n) },
        });
      } catch (err) {
        throw translateSmtpError(err, options.url);
      }
      const rejected = (info.rejected ?? []).map(String);
      if (rejected.length > 0) log.warn({ anomalyId: n.anomaly.id, rejected }, 'SMTP server refused some recipients');
      return { id: info.messageId };
    },
    async close() {
      transport.close();
    },
  };
}

/**
 * `{ channel: email, to: [a@acme.com, b@acme.com] }` (or one address): one message with every
 * address in To. `email: [...]` is shorthand for it.
 */
export const EmailReceiver = z
  .object({
    channel: z.literal('email').describe('Send an email (SMTP_URL, SMTP_FROM).'),
    to: z
      .union([Email, z.array(Email).min(1, { message: 'expected at least one address' })])
      .meta({ description: 'One address, or several that share one message.', examples: [['payments-leads@acme.com']] }),
  })
  .strict();
export type EmailReceiver = z.infer<typeof EmailReceiver>;

/**
 * On when SMTP_URL is set; SMTP_FROM defaults to burnrate@<org>.invalid. Links need public_url;
 * action links also BURNRATE_LINK_SECRET (a secret too short to resist guessing stops start-up).
 */
export const email: ChannelDefinition<EmailReceiver> = {
  name: 'email',
  pagesOnly: true,
  receiver: EmailReceiver,
  // Sorted and without repeats, so the receiver's name does not depend on how the list is written.
  to: (r) => [...new Set(typeof r.to === 'string' ? [r.to] : r.to)].sort(),
  create(_receivers, { env, log, org, publicUrl }) {
    const url = env.SMTP_URL;
    if (!url) return { off: 'SMTP_URL not set' };
    const secret = linkSecretFrom(env);
    const linksOff = !publicUrl ? 'public_url not set' : !secret ? 'BURNRATE_LINK_SECRET not set' : undefined;
    if (linksOff) {
      log.info(
        { why: linksOff },
        publicUrl ? 'emails link to the anomaly page but carry no action links' : 'emails carry no links (no page, no actions)',
      );
    }
    const channel = createEmailChannel({
      url,
      from: env.SMTP_FROM || `burnrate@${org}.invalid`,
      log,
      ...(publicUrl ? { links: { publicUrl, secret } } : {}),
    });
    return { channel, status: `on (${redactUrl(url)}; action links ${linksOff ? `off: ${linksOff}` : 'on'})` };
  },
};
