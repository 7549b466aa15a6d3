/**
 * What a Burnrate Slack message's controls carry, and how the interactivity endpoint reads it
 * back. Every control's `action_id` is one of SLACK_ACTIONS; its value (a button's `value`, a
 * select option's `value`) is `<verb>[:<argument>]|<ref>`, where ref is the anomaly id, or `*`
 * for every anomaly the message carries (a group message: the endpoint finds them by the
 * message's channel and ts in the delivery log).
 */
export const SLACK_ACTIONS = {
  ack: 'burnrate_ack',
  unack: 'burnrate_unack',
  snooze: 'burnrate_snooze',
  resolve: 'burnrate_resolve',
} as const;
export type SlackActionId = (typeof SLACK_ACTIONS)[keyof typeof SLACK_ACTIONS];

/** Snooze choices the message offers: an hour, until 09:00 tomorrow in the team's time zone (working hours' start), a week. */
export const SNOOZE_CHOICES = ['1h', 'tomorrow', '1w'] as const;
export type SnoozeChoice = (typeof SNOOZE_CHOICES)[number];

export const RESOLVE_REASONS = ['expected', 'real', 'noise'] as const;
export type ResolveReason = (typeof RESOLVE_REASONS)[number];

/** The ref that means every anomaly the message carries. */
export const ALL_IN_MESSAGE = '*';

export type SlackAction =
  | { verb: 'ack'; ref: string }
  | { verb: 'unack'; ref: string }
  | { verb: 'snooze'; choice: SnoozeChoice; ref: string }
  | { verb: 'resolve'; reason: ResolveReason; ref: string };

/** The value a control carries for an action. */
export function slackActionValue(action: SlackAction): string {
  switch (action.verb) {
    case 'ack':
    case 'unack':
      return `${action.verb}|${action.ref}`;
    case 'snooze':
      return `snooze:${action.choice}|${action.ref}`;
    case 'resolve':
      return `resolve:${action.reason}|${action.ref}`;
  }
}

/** Reads a control's value back; undefined for anything Burnrate did not draw. */
export function parseSlackActionValue(value: string): SlackAction | undefined {
  const bar = value.indexOf('|');
  if (bar <= 0 || bar === value.length - 1) return undefined;
  const head = value.slice(0, bar);
  const ref = value.slice(bar + 1);
  const [verb, argument, ...rest] = head.split(':');
  if (rest.length > 0) return undefined;
  if ((verb === 'ack' || verb === 'unack') && argument === undefined) return { verb, ref };
  if (verb === 'snooze' && (SNOOZE_CHOICES as readonly string[]).includes(argument ?? ''))
    return { verb, choice: argument as SnoozeChoice, ref };
  if (verb === 'resolve' && (RESOLVE_REASONS as readonly string[]).includes(argument ?? ''))
    return { verb, reason: argument as ResolveReason, ref };
  return undefined;
}
