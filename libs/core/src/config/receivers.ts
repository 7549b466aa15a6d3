import { z } from 'zod';

/**
 * A receiver in burnrate.yaml: the channel it goes through (`slack`, `email`, `webhook`,
 * `pagerduty`, `msteams`, …) and that channel's settings for it. Core knows only that it names a
 * channel: the channels and their settings are @burnrate/notify's registry, and the loader checks
 * each receiver against it when given its schema (`loadConfig(path, { receiver })`). Without one
 * (a process that sends nothing, such as the detector) any receiver with a channel name loads.
 */
export const ReceiverEntry = z.looseObject({
  channel: z
    .string({ message: 'expected a channel name such as slack, email, webhook, pagerduty or msteams' })
    .min(1)
    .describe("The channel this receiver goes through; the channel's own settings sit beside it."),
});
export type ReceiverEntry = z.infer<typeof ReceiverEntry>;

/** What the loader checks every receiver with: a channel registry's union of receiver schemas. */
export type ReceiverSchema = z.ZodType<ReceiverEntry>;

/** Where receivers are configured: a team, its on-call, FinOps. */
export interface ReceiverHolder {
  /** Shorthand for `{ channel: slack, to: <channel> }`. */
  slack?: { channel: string } | undefined;
  /** Shorthand for `{ channel: email, to: [...] }`. */
  email: readonly string[];
  receivers: readonly ReceiverEntry[];
}

/** The three receiver groups a route can notify. */
export type ReceiverGroup = 'team' | 'oncall' | 'finops';

/**
 * The receivers of a team, its on-call or FinOps, in file order: the `slack:` and `email:`
 * shorthand first (the order routing always had), then `receivers`.
 */
export function receiversOf(holder: ReceiverHolder | undefined): ReceiverEntry[] {
  if (!holder) return [];
  return shorthandOf(holder)
    .map((s) => s.receiver)
    .concat(holder.receivers);
}

function shorthandOf(holder: ReceiverHolder): { key: 'slack' | 'email'; receiver: ReceiverEntry }[] {
  const out: { key: 'slack' | 'email'; receiver: ReceiverEntry }[] = [];
  if (holder.slack) out.push({ key: 'slack', receiver: { channel: 'slack', to: holder.slack.channel } });
  if (holder.email.length > 0) out.push({ key: 'email', receiver: { channel: 'email', to: [...holder.email] } });
  return out;
}

/** One receiver of the config with where it is written, for errors that point at it. */
export interface ConfiguredReceiver {
  receiver: ReceiverEntry;
  /** `['teams', 0, 'receivers', 1]`, or `['teams', 0, 'slack']` for shorthand. */
  path: (string | number)[];
  group: ReceiverGroup;
  /** The team whose receiver it is; undefined for FinOps. */
  team?: string;
}

/** The part of a config that holds receivers (structural, so the schema can use it while it is being built). */
export interface ReceiverTree {
  teams: readonly (ReceiverHolder & { id: string; oncall?: ReceiverHolder | undefined })[];
  finops?: ReceiverHolder | undefined;
}

/** Every receiver in the config, in file order, with its path. */
export function configuredReceivers(config: ReceiverTree): ConfiguredReceiver[] {
  const out: ConfiguredReceiver[] = [];
  const add = (holder: ReceiverHolder | undefined, at: (string | number)[], group: ReceiverGroup, team?: string): void => {
    if (!holder) return;
    for (const s of shorthandOf(holder)) out.push({ receiver: s.receiver, path: [...at, s.key], group, ...(team ? { team } : {}) });
    holder.receivers.forEach((receiver, j) => out.push({ receiver, path: [...at, 'receivers', j], group, ...(team ? { team } : {}) }));
  };
  config.teams.forEach((t, i) => {
    add(t, ['teams', i], 'team', t.id);
    add(t.oncall, ['teams', i, 'oncall'], 'oncall', t.id);
  });
  add(config.finops, ['finops'], 'finops');
  return out;
}
