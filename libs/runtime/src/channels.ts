import { BurnrateError, type Config, configuredReceivers, formatPath, type Logger, type ReceiverEntry } from '@burnrate/core';
import { CHANNELS, type Channel, channelDefinition, type ReceiverAt } from '@burnrate/notify';
import type { Env } from './env.ts';

/** The channels a process sends through, built from the config's receivers and the environment. */
export interface ChannelSet {
  /** By channel name, the channels that are on: what createNotifier takes. */
  channels: Readonly<Partial<Record<string, Channel>>>;
  /**
   * For the start-up log, one word per channel in the registry: `on`, `on (2 receivers)`,
   * `off (SLACK_BOT_TOKEN not set)`, `off (no pagerduty receivers)`.
   */
  status: Record<string, string>;
  /** Closes every channel (SMTP connections); after the notifier stopped. */
  close(): Promise<void>;
}

/**
 * Builds every channel in the registry for the receivers the config lists, reading settings
 * (SLACK_BOT_TOKEN, SMTP_URL, PAGERDUTY_EVENTS_URL …) and the secrets receivers name
 * (`routing_key_env`, `secret_env`, `url_env`) from `env`. The one place both `burnrate start`
 * and the standalone notifier get their channels.
 *
 * Throws CONFIG_INVALID naming every receiver that its channel cannot read and every variable a
 * receiver names that is not set, so a process never starts with a receiver it cannot reach.
 * A channel whose own setting is missing (no SLACK_BOT_TOKEN) is off, and the notifier records
 * its deliveries as skipped, as it always has.
 */
export function buildChannels(env: Env, config: Config, log: Logger): ChannelSet {
  const problems: string[] = [];
  const byChannel = new Map<string, ReceiverAt<ReceiverEntry>[]>();
  for (const { receiver, path } of configuredReceivers(config)) {
    const at = formatPath(path);
    const definition = channelDefinition(receiver.channel);
    if (!definition) {
      problems.push(`${at}: unknown channel "${receiver.channel}"; expected one of ${CHANNELS.map((c) => c.name).join(', ')}`);
      continue;
    }
    const parsed = definition.receiver.safeParse(receiver);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) problems.push(`${formatPath([...path, ...issue.path])}: ${issue.message}`);
      continue;
    }
    for (const { field, variable } of definition.secrets?.(parsed.data) ?? []) {
      if (!env[variable]) {
        const name = typeof receiver.name === 'string' ? ` "${receiver.name}"` : '';
        problems.push(`${at}: ${definition.name} receiver${name} needs ${variable} (its ${field}), which is not set`);
      }
    }
    const list = byChannel.get(definition.name) ?? [];
    list.push({ receiver: parsed.data, path: at });
    byChannel.set(definition.name, list);
  }
  if (problems.length > 0) {
    throw new BurnrateError('CONFIG_INVALID', `the config's receivers cannot be used:\n${problems.map((p) => `  ${p}`).join('\n')}`, {
      details: { problems },
    });
  }

  const channels: Record<string, Channel> = {};
  const status: Record<string, string> = {};
  const context = { env, log, org: config.org, publicUrl: config.public_url };
  try {
    for (const definition of CHANNELS) {
      const built = definition.create(byChannel.get(definition.name) ?? [], context);
      if ('off' in built) {
        status[definition.name] = `off (${built.off})`;
        continue;
      }
      channels[definition.name] = built.channel;
      status[definition.name] = built.status;
    }
  } catch (err) {
    void closeAll(Object.values(channels), log);
    throw err;
  }
  const receivers = [...byChannel.values()].reduce((n, list) => n + list.length, 0);
  for (const [name, list] of byChannel) {
    if (!channels[name])
      log.warn(
        { channel: name, receivers: list.length, why: status[name] },
        'receivers configured for a channel that is off: their deliveries are skipped',
      );
  }
  log.debug({ receivers, status }, 'channels built');
  return { channels, status, close: () => closeAll(Object.values(channels), log) };
}

async function closeAll(channels: readonly Channel[], log: Logger): Promise<void> {
  const results = await Promise.allSettled(channels.map((c) => c.close()));
  results.forEach((r, i) => {
    if (r.status === 'rejected') log.warn({ err: r.reason as unknown, channel: channels[i]?.name }, 'closing a channel failed');
  });
}
