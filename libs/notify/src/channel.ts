import { createHash } from 'node:crypto';
import { BurnrateError, type Logger, type ReceiverEntry } from '@burnrate/core';
import type { Anomaly, AnomalyLifecycle } from '@burnrate/schemas';
import { z } from 'zod';

/**
 * Why this version of an anomaly is in front of a human: first sight, a higher severity, a much
 * larger impact, an update whose predecessor we cannot see, or the episode ended.
 */
export type NotificationReason = 'new' | 'escalated' | 'grown' | 'updated' | 'resolved' | 'reminder' | 'snooze_ended';

/** Where a message sits in its episode's thread. */
export interface NotificationThread {
  /** The id `send` returned for the episode's first message to this receiver (Slack `<channel id>:<ts>`, an email Message-ID). */
  parentId: string;
  /** Also show the reply in the channel (Slack `reply_broadcast`): a critical escalation. */
  broadcast: boolean;
}

/** Why a receiver that is not the team's own gets it: nobody acknowledged in time. */
export interface NotificationEscalation {
  to: 'oncall' | 'finops';
  /** How long the anomaly has been open and unacknowledged. */
  unacknowledgedForMs: number;
}

/** A team's spend this month against its budget, as a message's context line says it. */
export interface TeamMonth {
  team: string;
  /** Counted spend since the 1st (each dollar once: the providers' reports where they count, else live). */
  spent_usd: number;
  /** `teams[].budget.monthly_usd`; absent when the team has none. */
  budget_usd?: number;
  /** Month-end spend at this pace; absent while too little of the month has passed to say. */
  on_course_usd?: number;
}

/**
 * What a message says around its anomalies, looked up by the notifier when it sends. Each part is
 * optional: a message goes out without it when it is not known in time (the store is slow).
 */
export interface NotificationContext {
  /** Each team the message is about: where it stands against its month. */
  months?: readonly TeamMonth[];
  /**
   * By anomaly id, when its team is likely to look: where its projected_usd ends
   * (`by Mon 09:00 Europe/Berlin`, `within the next 1h`; lookByPhrase in @burnrate/detection).
   */
  lookBy?: Readonly<Record<string, string>>;
}

export interface Notification {
  /** The anomaly version the message is about; in a group message, the first of `group`. */
  anomaly: Anomaly;
  /**
   * A group message (Alertmanager-style grouping): every anomaly version it lists, `anomaly`
   * first, with one Acknowledge for them all. Absent for a message about one anomaly.
   */
  group?: readonly Anomaly[];
  reason: NotificationReason;
  /** A later message of an episode: a reply in the thread of its first one (Slack thread_ts, email In-Reply-To / References). */
  thread?: NotificationThread;
  /** What the humans decided so far, shown on the message (who acknowledged, until when snoozed, resolved as what). */
  lifecycle?: AnomalyLifecycle;
  escalation?: NotificationEscalation;
  /** Month-to-date spend and the projection's horizon, when the notifier could look them up. */
  context?: NotificationContext;
  /**
   * Where it goes, in the channel's own terms (its definition's `to`): exactly one Slack channel
   * (`#name` or an id), the email addresses that share one message (all in To), or the name of
   * a configured endpoint (a webhook, a PagerDuty service, a Teams channel).
   */
  to: readonly string[];
  /**
   * The notifier's stable name for the receiver (`slack:#payments`, `email:a@x,b@x`,
   * `pagerduty:payments`). With the anomaly id and version it is the message's identity, which a
   * channel attaches to what it sends (Slack metadata, the email Message-ID, a webhook's
   * Idempotency-Key) so a resend after a crash can be recognised.
   * Defaults to `<channel>:<to joined by commas>`.
   */
  receiver?: string;
}

/**
 * What tells two group messages apart when they share their first anomaly version (a group that
 * grew): a hash of every member's `id@version`, sorted, 32 hex characters. Channels put it in the
 * identity they attach to a message (Slack metadata, the email Message-ID).
 */
export function groupKey(group: readonly Pick<Anomaly, 'id' | 'version'>[]): string {
  const members = group.map((m) => `${m.id}@${m.version}`).sort();
  return createHash('sha256').update(members.join('\u0000')).digest('hex').slice(0, 32);
}

/**
 * What makes a message other than the first one about its anomaly version: a reminder or the end
 * of a snooze (the same version again), and a group's members (`group:<groupKey>`). Undefined for
 * the rest. Channels whose identity is a hash of (anomaly id, version, receiver) add it to the
 * hash when set, so such a message is not dropped as a duplicate and ids already in use stay the same.
 */
export function notificationVariant(n: Pick<Notification, 'reason' | 'group'>): string | undefined {
  const parts = [
    ...(n.reason === 'reminder' || n.reason === 'snooze_ended' ? [n.reason] : []),
    ...(n.group && n.group.length > 1 ? [`group:${groupKey(n.group)}`] : []),
  ];
  return parts.length > 0 ? parts.join('\u0000') : undefined;
}

/** A channel's name as the config, receiver names and the deliveries table spell it: `slack`, `pagerduty`. */
export type ChannelName = string;

/** The receiver a notification is for, as the notifier names it. */
export function receiverOf(channel: ChannelName, n: Notification): string {
  return n.receiver ?? receiverName(channel, n.to);
}

/**
 * The stable name of a receiver, `<channel>:<to joined by commas>`: the key of the delivery log,
 * so it must not change for a receiver that is already configured.
 */
export function receiverName(channel: ChannelName, to: readonly string[]): string {
  return `${channel}:${to.join(',')}`;
}

/**
 * The port every notification channel implements. `send` resolves once the provider accepted
 * the message, with the provider's id for it; it rejects only with a BurnrateError whose
 * `retriable` (and `retryAfterMs`) tells the caller whether and when to try again.
 */
export interface Channel {
  readonly name: ChannelName;
  send(notification: Notification): Promise<{ id: string }>;
  /**
   * Looks at the provider for a message this notification already produced in an attempt that
   * began at `since` and whose outcome was never recorded (the process died after the provider
   * accepted it). Resolves with that message's id, or undefined when there is none. Rejects like
   * `send`. Channels whose provider cannot be asked (SMTP) leave it out.
   */
  reconcile?(notification: Notification, since: Date): Promise<{ id: string } | undefined>;
  /**
   * Makes a message already sent (`messageId` as `send` returned it) show `notification` — its
   * latest version and lifecycle — in place: Slack chat.update, PagerDuty an acknowledge or
   * resolve event for the incident. Rejects like `send`. Channels whose messages cannot change
   * (email, webhooks) leave it out.
   */
  update?(messageId: string, notification: Notification): Promise<void>;
  /** Releases connections; the channel is not used afterwards. */
  close(): Promise<void>;
}

/** The environment a composition root hands over (its process.env): read, never written. */
export type ChannelEnv = Readonly<Record<string, string | undefined>>;

/** What a channel is built with, besides its receivers. */
export interface ChannelContext {
  /** Where settings (SLACK_BOT_TOKEN, SMTP_URL) and the secrets receivers name (`routing_key_env`) are read. */
  env: ChannelEnv;
  log: Logger;
  /** The config's org, for defaults such as the email sender. */
  org: string;
  /** The config's public_url: where links to an anomaly point. */
  publicUrl?: string | undefined;
}

/** One configured receiver of a channel, parsed, and where the config has it (`teams[0].receivers[1]`). */
export interface ReceiverAt<T> {
  receiver: T;
  path: string;
}

/** A channel built for its receivers, with a word for the start-up log; or off, and why. */
export type ChannelBuild = { channel: Channel; status: string } | { off: string };

/**
 * Everything Burnrate knows about one channel: the settings of its receivers in burnrate.yaml,
 * where a receiver's notifications go, and how to build the channel. The registry (CHANNELS)
 * lists one per channel; the config schema, routing and buildChannels all read it, so a new
 * channel is one file with its definition plus one registry entry.
 */
export interface ChannelDefinition<T extends ReceiverEntry = ReceiverEntry> {
  readonly name: T['channel'];
  /**
   * A receiver's settings: a `.strict()` zod object whose `channel` is `z.literal(name)`.
   * Secrets are never settings: a field ending in `_env` names the environment variable that
   * holds one (see `secrets`).
   */
  readonly receiver: z.ZodType<T>;
  /**
   * Where one receiver's notifications go (Notification.to). Its name in the delivery log is
   * `<channel>:<to joined by commas>`, so `to` must stay the same for a receiver that did not
   * change: the Slack channel; the email addresses, sorted; the receiver's `name` otherwise.
   */
  to(receiver: T): string[];
  /**
   * The environment variables a receiver needs (`{ field: 'routing_key_env', variable: 'PD_PAYMENTS' }`);
   * buildChannels checks them all at start and names every one that is missing.
   */
  secrets?(receiver: T): { field: string; variable: string }[];
  /**
   * Builds the channel for every configured receiver of it (possibly none), or says why it is
   * off. Throws a CONFIG_INVALID BurnrateError naming the receiver for a setting it cannot use.
   */
  create(receivers: readonly ReceiverAt<T>[], context: ChannelContext): ChannelBuild;
  /**
   * Every message of this channel interrupts someone (an email in an inbox, a post in a channel):
   * it is sent what needs a human — a new episode or incident, an escalation, a resolution, a
   * reminder — and not an episode's growth at the same severity, which channels with quiet thread
   * replies (Slack) get as a reply and the anomaly's page shows. Unset: growth is sent too.
   */
  readonly pagesOnly?: boolean;
}

/** `name:` of a receiver that has one (webhook, pagerduty, msteams): part of its delivery-log name, so stable. */
export const ReceiverNameField = z
  .string()
  .max(64)
  .regex(/^[a-z0-9][a-z0-9._-]*$/, { message: 'expected a lowercase name of letters, digits, ., - and _ (e.g. payments-oncall)' })
  .meta({
    description: "This receiver's name: with the channel it names the receiver in the delivery log, so keep it stable.",
    examples: ['payments-oncall'],
  });

/** A `*_env` field: the name of an environment variable that holds a secret. */
export const EnvVarField = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'expected an environment variable name such as PD_PAYMENTS_ROUTING_KEY' });

/** The value of a variable a receiver names, for `create`; buildChannels has checked the ones `secrets` declares. */
export function secretFromEnv(context: ChannelContext, variable: string, who: string): string {
  const value = context.env[variable];
  if (value === undefined || value === '') throw new BurnrateError('CONFIG_INVALID', `${who} needs ${variable}, which is not set`);
  return value;
}

/** The console page of an anomaly, when public_url is set. */
export function anomalyUrl(publicUrl: string | undefined, anomalyId: string): string | undefined {
  if (!publicUrl) return undefined;
  return `${publicUrl.replace(/\/+$/, '')}/anomalies/${encodeURIComponent(anomalyId)}`;
}
