import type { Anomaly } from '@burnrate/schemas';

/**
 * Why this version of an anomaly is in front of a human: first sight, a higher severity, a much
 * larger impact, an update whose predecessor we cannot see, or the episode ended.
 */
export type NotificationReason = 'new' | 'escalated' | 'grown' | 'updated' | 'resolved';

export interface Notification {
  anomaly: Anomaly;
  reason: NotificationReason;
  /**
   * Where it goes, in the channel's own terms: exactly one Slack channel (`#name` or an id), or
   * the email addresses that share one message (all in To).
   */
  to: readonly string[];
  /**
   * The notifier's stable name for the receiver (`slack:#payments`, `email:a@x,b@x`). With the
   * anomaly id and version it is the message's identity, which a channel attaches to what it
   * sends (Slack metadata, the email Message-ID) so a resend after a crash can be recognised.
   * Defaults to `<channel>:<to joined by commas>`.
   */
  receiver?: string;
}

export type ChannelName = 'slack' | 'email' | 'webhook';

/** The receiver a notification is for, as the notifier names it. */
export function receiverOf(channel: ChannelName, n: Notification): string {
  return n.receiver ?? `${channel}:${n.to.join(',')}`;
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
  /** Releases connections; the channel is not used afterwards. */
  close(): Promise<void>;
}
