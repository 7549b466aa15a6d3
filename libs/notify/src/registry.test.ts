import { ConfigError, parseConfig, receiversOf } from '@burnrate/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CHANNELS, channelDefinition, receiverSchema } from './registry.ts';

const parse = (yaml: string) => parseConfig(yaml, '<inline>', { receiver: receiverSchema });
const names = CHANNELS.map((c) => c.name).join(', ');

/** `path (line n): message` of every problem in a config with one team whose receivers are `receivers`. */
function receiverIssues(...receivers: string[]): string[] {
  try {
    parse(`org: acme\nteams:\n  - id: payments\n    receivers:\n${receivers.map((r) => `      - ${r}\n`).join('')}`);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => `${i.path}${i.line ? ` (line ${i.line})` : ''}: ${i.message}`);
  }
  throw new Error('expected the config to be rejected');
}

describe('the channel registry', () => {
  it('holds each channel once, its receiver a strict object keyed by the channel’s name', () => {
    expect(new Set(CHANNELS.map((c) => c.name)).size).toBe(CHANNELS.length);
    expect(CHANNELS.map((c) => c.name)).toEqual(expect.arrayContaining(['slack', 'email']));
    for (const c of CHANNELS) {
      expect(channelDefinition(c.name)).toBe(c);
      const receiver = c.receiver as unknown as z.ZodObject;
      expect(receiver).toBeInstanceOf(z.ZodObject);
      const channel = receiver.shape.channel as z.ZodLiteral<string>;
      expect(channel).toBeInstanceOf(z.ZodLiteral);
      expect(channel.value).toBe(c.name);
      // Unknown keys are errors, so a misspelt setting is never silently ignored.
      expect(receiver.safeParse({ channel: c.name, colour: 'red' }).error?.issues.map((i) => i.code)).toContain('unrecognized_keys');
    }
  });

  it('reads slack: and email: as shorthand for slack and email receivers, first, with the names delivery logs already hold', () => {
    const config = parse(`
org: acme
teams:
  - id: payments
    slack: { channel: "#payments" }
    email: [b@acme.com, a@acme.com]
    receivers:
      - { channel: email, to: cto@acme.com }
      - { channel: slack, to: C0123ABCD }
`);
    const receivers = receiversOf(config.teams[0]);
    const named = receivers.map((r) => {
      const def = channelDefinition(r.channel)!;
      return `${def.name}:${def.to(def.receiver.parse(r)).join(',')}`;
    });
    expect(named).toEqual(['slack:#payments', 'email:a@acme.com,b@acme.com', 'email:cto@acme.com', 'slack:C0123ABCD']);
  });

  it.each([
    [
      'an unknown channel',
      ['{ channel: pigeon, loft: 3 }'],
      [`teams[0].receivers[0].channel (line 5): unknown channel "pigeon"; expected one of ${names}`],
    ],
    ['no channel', ['{ to: "#x" }'], [`teams[0].receivers[0].channel (line 5): is required (one of ${names})`]],
    [
      'a bad Slack channel',
      ['{ channel: slack, to: payments }'],
      ['teams[0].receivers[0].to (line 5): expected a channel like #name (or a channel id like C0123ABCD)'],
    ],
    [
      'a bad address',
      ['{ channel: email, to: [nobody] }'],
      ['teams[0].receivers[0].to[0] (line 5): expected an email address such as alice@acme.com'],
    ],
    ['no address', ['{ channel: email, to: [] }'], ['teams[0].receivers[0].to (line 5): expected at least one address']],
    [
      'a misspelt setting, on the second receiver',
      ['{ channel: slack, to: "#ok" }', '{ channel: slack, channnel: "#x" }'],
      ['teams[0].receivers[1].to (line 6): is required (string)', 'teams[0].receivers[1] (line 6): unknown key "channnel"'],
    ],
  ])('names the receiver, the line and the problem for %s', (_name, receivers, expected) => {
    expect(receiverIssues(...receivers)).toEqual(expected);
  });

  it('lets a process that sends nothing load any receiver with a channel name', () => {
    const config = parseConfig('org: acme\nteams:\n  - id: a\n    receivers: [{ channel: carrier-pigeon, loft: 3 }]\n');
    expect(receiversOf(config.teams[0])).toEqual([{ channel: 'carrier-pigeon', loft: 3 }]);
  });
});
