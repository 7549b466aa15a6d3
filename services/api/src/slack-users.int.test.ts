import { createLogger, fixedConfig } from '@burnrate/core';
import { type SlackStandIn, startSlackStandIn } from '@burnrate/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { humanFixture } from '../test-support/fixture.ts';
import { createSlackUserDirectory } from './slack-users.ts';

describe('Slack user directory against the Web API stand-in', () => {
  let slack: SlackStandIn;
  const lines: string[] = [];
  const log = createLogger({ level: 'warn', destination: { write: (l: string) => void lines.push(l) } });
  const config = fixedConfig(humanFixture().config);

  beforeAll(async () => {
    slack = await startSlackStandIn({
      users: { U0ALICE: { email: 'Alice@acme.com' }, U0NOMAIL: { name: 'mallory' }, U0BOB: { email: 'robert@elsewhere.com' } },
    });
  });
  afterAll(async () => {
    await slack?.close();
  });

  it('prefers a config alias, then users.info, then slack:<id>; caches what users.info said', async () => {
    let now = 0;
    const users = createSlackUserDirectory({ config, log, botToken: slack.token, slackApiUrl: slack.url, now: () => now });
    // The config's alias wins without asking Slack.
    expect(await users.identify('U0BOB')).toBe('bob@acme.com');
    expect(slack.callsTo('users.info')).toHaveLength(0);

    expect(await users.identify('U0ALICE')).toBe('alice@acme.com');
    expect(await users.identify('U0ALICE')).toBe('alice@acme.com');
    expect(slack.callsTo('users.info').map((c) => [c.args.user, c.authorization])).toEqual([['U0ALICE', `Bearer ${slack.token}`]]);

    // No users:read.email scope, or nobody by that id: the Slack id, and a log line saying why.
    expect(await users.identify('U0NOMAIL')).toBe('slack:U0NOMAIL');
    expect(await users.identify('U0GHOST')).toBe('slack:U0GHOST');
    expect(lines.join('\n')).toMatch(/users:read.email/);
    expect(lines.join('\n')).toMatch(/users.info failed/);

    // A failed lookup is tried again after a while, a found one is kept.
    const calls = slack.callsTo('users.info').length;
    now += 6 * 60_000;
    await users.identify('U0GHOST');
    await users.identify('U0ALICE');
    expect(slack.callsTo('users.info').length).toBe(calls + 1);
  });

  it('answers slack:<id> when Slack fails, without failing the press', async () => {
    const users = createSlackUserDirectory({ config, log, botToken: slack.token, slackApiUrl: slack.url });
    slack.failNext(1, { status: 503 });
    expect(await users.identify('U0ALICE')).toBe('slack:U0ALICE');
    slack.failNext(1, { status: 429, retryAfterSec: 30 });
    expect(await users.identify('U0OTHER')).toBe('slack:U0OTHER');
  });
});
