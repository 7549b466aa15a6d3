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
}

export type ChannelName = 'slack' | 'email' | 'webhook';

/**
 * The port every notification channel implements. `send` resolves once the provider accepted
 * the message, with the provider's id for it; it rejects only with a BurnrateError whose
 * `retriable` (and `retryAfterMs`) tells the caller whether and when to try again.
 */
export interface Channel {
  readonly name: ChannelName;
  send(notification: Notification): Promise<{ id: string }>;
  /** Releases connections; the channel is not used afterwards. */
  close(): Promise<void>;
}
