import { BurnrateError, createLogger } from '@burnrate/core';
import { anomaly, channelId, startSlackStandIn, type SlackStandIn } from '@burnrate/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSlackChannel } from './slack-channel.ts';

const log = createLogger({ level: 'silent' });

describe('Slack channel against the Web API stand-in', () => {
  let slack: SlackStandIn;
  beforeAll(async () => {
    slack = await startSlackStandIn({ channels: ['#payments-ai-spend'] });
  });
  afterAll(async () => {
    await slack.close();
  });
  beforeEach(() => {
    slack.calls.length = 0;
    slack.messages.length = 0;
  });

  const channel = () => createSlackChannel({ token: slack.token, slackApiUrl: slack.url, log });

  it('posts the Block Kit message and returns channel id and ts', async () => {
    const a = anomaly({ severity: 'critical', observed: { value: 104.2, unit: 'usd' } });
    const { id } = await channel().send({ anomaly: a, reason: 'new', to: ['#payments-ai-spend'] });

    const [call] = slack.callsTo('chat.postMessage');
    expect(call?.contentType).toBe('application/x-www-form-urlencoded');
    expect(call?.authorization).toBe(`Bearer ${slack.token}`);
    expect(call?.args.channel).toBe('#payments-ai-spend');
    expect(call?.args.text).toMatch(/^\[critical\] Session cost \$104\.20 for alice@acme\.com \(payments\)/);
    expect((call?.args.blocks as Array<{ type: string }>).map((b) => b.type)).toContain('actions');
    const [message] = slack.messages;
    expect(id).toBe(`${channelId('#payments-ai-spend')}:${message?.ts}`);
  });

  it('turns a 429 into NOTIFY_RATE_LIMITED with the Retry-After delay, without sleeping in the client', async () => {
    slack.failNext(1, { status: 429, retryAfterSec: 7 });
    const started = Date.now();
    const err = await channel()
      .send({ anomaly: anomaly(), reason: 'new', to: ['#payments-ai-spend'] })
      .catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(err).toBeInstanceOf(BurnrateError);
    expect(err).toMatchObject({ code: 'NOTIFY_RATE_LIMITED', retriable: true, retryAfterMs: 7_000 });
    expect(slack.callsTo('chat.postMessage')).toHaveLength(1);
  });

  it('turns a 5xx into retriable NOTIFY_UNAVAILABLE', async () => {
    slack.failNext(1, { status: 503 });
    const err = await channel()
      .send({ anomaly: anomaly(), reason: 'new', to: ['#payments-ai-spend'] })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NOTIFY_UNAVAILABLE', retriable: true });
  });

  it('turns an unreachable API into retriable NOTIFY_UNAVAILABLE', async () => {
    const dead = createSlackChannel({ token: 'xoxb-x', slackApiUrl: 'http://127.0.0.1:1/api/', log, timeoutMs: 2_000 });
    const err = await dead.send({ anomaly: anomaly(), reason: 'new', to: ['#x'] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NOTIFY_UNAVAILABLE', retriable: true });
  });

  it.each(['channel_not_found', 'not_in_channel', 'invalid_auth'])('turns %s into NOTIFY_REJECTED, not retriable', async (error) => {
    slack.failNext(1, { error });
    const err = await channel()
      .send({ anomaly: anomaly(), reason: 'new', to: ['#payments-ai-spend'] })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NOTIFY_REJECTED', retriable: false });
    expect((err as Error).message).toContain(error);
  });

  it('is rejected for an unknown channel and a wrong token', async () => {
    await expect(channel().send({ anomaly: anomaly(), reason: 'new', to: ['#nowhere'] })).rejects.toMatchObject({
      code: 'NOTIFY_REJECTED',
    });
    const wrong = createSlackChannel({ token: 'xoxb-wrong', slackApiUrl: slack.url, log });
    await expect(wrong.send({ anomaly: anomaly(), reason: 'new', to: ['#payments-ai-spend'] })).rejects.toThrow(/invalid_auth/);
  });
});
