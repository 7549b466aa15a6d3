import { BurnrateError, createLogger } from '@burnrate/core';
import { anomaly, channelId, startSlackStandIn, type SlackStandIn } from '@burnrate/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSlackChannel } from './slack.ts';

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

  it('attaches message metadata naming the anomaly version and receiver', async () => {
    const a = anomaly({ id: 'meta-1', version: 3 });
    await channel().send({ anomaly: a, reason: 'escalated', to: ['#payments-ai-spend'], receiver: 'slack:#payments-ai-spend' });
    const [call] = slack.callsTo('chat.postMessage');
    expect(call?.args.metadata).toEqual({
      event_type: 'burnrate_anomaly',
      event_payload: { anomaly_id: 'meta-1', version: 3, receiver: 'slack:#payments-ai-spend' },
    });
    expect(slack.messages[0]?.metadata).toEqual(call?.args.metadata);
  });

  describe('reconcile', () => {
    const receiver = 'slack:#payments-ai-spend';
    const to = ['#payments-ai-spend'];

    it('finds the message an earlier attempt posted, by its metadata, with a fresh client', async () => {
      const a = anomaly({ id: 'rec-1', version: 2 });
      const since = new Date();
      const { id } = await channel().send({ anomaly: a, reason: 'new', to, receiver });
      await channel().send({ anomaly: { ...a, version: 3 }, reason: 'new', to, receiver });
      await channel().send({ anomaly: a, reason: 'new', to, receiver: 'slack:#elsewhere' });

      const fresh = channel();
      await expect(fresh.reconcile?.({ anomaly: a, reason: 'new', to, receiver }, since)).resolves.toEqual({ id });
      await expect(fresh.reconcile?.({ anomaly: { ...a, version: 1 }, reason: 'new', to, receiver }, since)).resolves.toBeUndefined();
      await expect(fresh.reconcile?.({ anomaly: { ...a, id: 'rec-other' }, reason: 'new', to, receiver }, since)).resolves.toBeUndefined();
      // conversations.history takes ids only: the name is resolved once, then remembered.
      expect(slack.callsTo('conversations.list')).toHaveLength(1);
      expect(slack.callsTo('conversations.history').map((c) => c.args.channel)).toEqual(Array(3).fill(channelId('#payments-ai-spend')));
    });

    it('uses the channel id a post answered with, without listing channels', async () => {
      const a = anomaly({ id: 'rec-2' });
      const same = channel();
      const { id } = await same.send({ anomaly: a, reason: 'new', to, receiver });
      await expect(same.reconcile?.({ anomaly: a, reason: 'new', to, receiver }, new Date())).resolves.toEqual({ id });
      expect(slack.callsTo('conversations.list')).toHaveLength(0);
    });

    it('looks back only a minute before the attempt began', async () => {
      const a = anomaly({ id: 'rec-3' });
      await channel().send({ anomaly: a, reason: 'new', to, receiver });
      const later = new Date(Date.now() + 120_000);
      await expect(channel().reconcile?.({ anomaly: a, reason: 'new', to, receiver }, later)).resolves.toBeUndefined();
      const [call] = slack.callsTo('conversations.history');
      expect(call?.args.oldest).toBe(((later.getTime() - 60_000) / 1000).toFixed(6));
    });

    it('pages through a channel busy since the attempt', async () => {
      const a = anomaly({ id: 'rec-4' });
      const since = new Date();
      const poster = channel();
      const { id } = await poster.send({ anomaly: a, reason: 'new', to, receiver });
      for (let i = 0; i < 210; i++) await poster.send({ anomaly: anomaly({ id: `noise-${i}` }), reason: 'new', to, receiver });
      await expect(channel().reconcile?.({ anomaly: a, reason: 'new', to, receiver }, since)).resolves.toEqual({ id });
      const pages = slack.callsTo('conversations.history');
      expect(pages).toHaveLength(2);
      expect(pages[1]?.args.cursor).toEqual(expect.any(String));
    });

    it('turns missing_scope into NOTIFY_REJECTED naming the method', async () => {
      slack.failNext(1, { error: 'missing_scope' });
      const err = await channel()
        .reconcile?.({ anomaly: anomaly(), reason: 'new', to: [channelId('#payments-ai-spend')], receiver }, new Date())
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'NOTIFY_REJECTED', retriable: false });
      expect((err as Error).message).toBe(`Slack conversations.history for ${channelId('#payments-ai-spend')} was rejected: missing_scope`);
    });

    it('rejects a channel that conversations.list does not show', async () => {
      const err = await channel()
        .reconcile?.({ anomaly: anomaly(), reason: 'new', to: ['#not-a-member'], receiver: 'slack:#not-a-member' }, new Date())
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'NOTIFY_REJECTED' });
      expect((err as Error).message).toContain('#not-a-member');
    });
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
