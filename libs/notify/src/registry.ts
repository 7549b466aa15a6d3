import type { ReceiverSchema } from '@burnrate/core';
import { z } from 'zod';
import type { ChannelDefinition } from './channel.ts';
import { email } from './channels/email.ts';
import { msteams } from './channels/msteams.ts';
import { pagerduty } from './channels/pagerduty.ts';
import { slack } from './channels/slack.ts';
import { webhook } from './channels/webhook.ts';

/**
 * Every channel Burnrate sends through. The config schema (`receiverSchema`), routing and
 * buildChannels read this list and nothing else: a new channel is its file in channels/ and
 * one entry here.
 */
export const CHANNELS: readonly ChannelDefinition[] = [slack, email, webhook, pagerduty, msteams];

const byName = new Map(CHANNELS.map((c) => [c.name, c]));

/** The definition of the channel a receiver names, if there is one. */
export function channelDefinition(name: string): ChannelDefinition | undefined {
  return byName.get(name);
}

const names = CHANNELS.map((c) => c.name).join(', ');

/**
 * A receiver in burnrate.yaml, checked by its channel's schema: what the config loader is given
 * (`loadConfig(path, { receiver: receiverSchema })`) by the processes that send notifications
 * and by `burnrate config check`.
 */
export const receiverSchema: ReceiverSchema = z.discriminatedUnion(
  'channel',
  // Each definition's receiver is a strict object with `channel: z.literal(name)`; registry.test.ts holds them to it.
  CHANNELS.map((c) => c.receiver) as unknown as [
    z.ZodObject<{ channel: z.ZodLiteral<string> }>,
    ...z.ZodObject<{ channel: z.ZodLiteral<string> }>[],
  ],
  {
    error: (issue) => {
      if (issue.code !== 'invalid_union') return undefined;
      const channel = (issue.input as { channel?: unknown } | undefined)?.channel;
      return channel === undefined
        ? `is required (one of ${names})`
        : `unknown channel ${JSON.stringify(channel)}; expected one of ${names}`;
    },
  },
);
