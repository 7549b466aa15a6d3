import { BurnrateError, createLogger } from '@burnrate/core';
import { lifecycleOf } from '@burnrate/schemas';
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
    expect(call?.args.text).toMatch(/^\[critical\] Session cost \$104 for alice@acme\.com \(payments\)/);
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
      event_payload: { anomaly_id: 'meta-1', version: 3, receiver: 'slack:#payments-ai-spend', reason: 'escalated' },
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

  describe('threads', () => {
    const to = ['#payments-ai-spend'];
    const receiver = 'slack:#payments-ai-spend';
    const v1 = anomaly({ id: 'th-1', version: 1, severity: 'warning' });
    const v2 = anomaly({ id: 'th-1', version: 2, severity: 'critical', observed: { value: 104.2, unit: 'usd' } });

    it('posts a later version as a reply in the thread of the first, which stays out of the channel history', async () => {
      const c = channel();
      const parent = await c.send({ anomaly: v1, reason: 'new', to, receiver });
      const reply = await c.send({ anomaly: v2, reason: 'escalated', to, receiver, thread: { parentId: parent.id, broadcast: false } });

      const [first, second] = slack.callsTo('chat.postMessage');
      const parentTs = parent.id.split(':')[1];
      expect(first?.args.thread_ts).toBeUndefined();
      expect(second?.args.thread_ts).toBe(parentTs);
      expect(second?.args.reply_broadcast).toBeUndefined();
      expect(reply.id).toBe(`${channelId('#payments-ai-spend')}:${slack.messages[1]?.ts}`);
      expect(slack.repliesTo(parentTs ?? '')).toMatchObject([{ ts: slack.messages[1]?.ts, replyBroadcast: false }]);
      // The reply is the compact line, not a second full message.
      expect((second?.args.blocks as Array<{ type: string }>).map((b) => b.type)).toEqual(['section', 'context']);
      expect(second?.args.text).toMatch(
        /^Escalated to critical: Session cost for alice@acme\.com \(payments\) — \$104 \(4\.2× expected\) · \$6\.20 over the warning cap so far/,
      );
    });

    it('broadcasts a reply to the channel when asked (a critical escalation)', async () => {
      const c = channel();
      const parent = await c.send({ anomaly: v1, reason: 'new', to, receiver });
      await c.send({ anomaly: v2, reason: 'escalated', to, receiver, thread: { parentId: parent.id, broadcast: true } });
      const [, second] = slack.callsTo('chat.postMessage');
      expect(second?.args.reply_broadcast).toBe('true');
      expect(slack.messages[1]).toMatchObject({ threadTs: parent.id.split(':')[1], replyBroadcast: true });
    });

    it('posts on its own, in full, when the thread parent was deleted', async () => {
      const c = channel();
      const parent = await c.send({ anomaly: v1, reason: 'new', to, receiver });
      slack.messages.splice(0, 1);
      const { id } = await c.send({ anomaly: v2, reason: 'escalated', to, receiver, thread: { parentId: parent.id, broadcast: false } });
      const calls = slack.callsTo('chat.postMessage');
      expect(calls.map((x) => x.error)).toEqual([undefined, 'thread_not_found', undefined]);
      expect(calls[2]?.args.thread_ts).toBeUndefined();
      expect((calls[2]?.args.blocks as Array<{ type: string }>).at(-1)?.type).toBe('actions');
      expect(id).toBe(`${channelId('#payments-ai-spend')}:${slack.messages[0]?.ts}`);
    });

    it('refuses a parent id that is not <channel id>:<ts>, naming it', async () => {
      await expect(
        channel().send({ anomaly: v2, reason: 'escalated', to, receiver, thread: { parentId: 'slack-1', broadcast: false } }),
      ).rejects.toMatchObject({ code: 'NOTIFY_REJECTED', message: expect.stringContaining('"slack-1"') as unknown });
      expect(slack.callsTo('chat.postMessage')).toHaveLength(0);
    });

    it('reconciles a thread reply with conversations.replies of its parent', async () => {
      const c = channel();
      const parent = await c.send({ anomaly: v1, reason: 'new', to, receiver });
      const since = new Date();
      const thread = { parentId: parent.id, broadcast: false };
      const reply = await c.send({ anomaly: v2, reason: 'escalated', to, receiver, thread });

      const fresh = channel();
      await expect(fresh.reconcile?.({ anomaly: v2, reason: 'escalated', to, receiver, thread }, since)).resolves.toEqual({ id: reply.id });
      const [call] = slack.callsTo('conversations.replies');
      expect(call?.args).toMatchObject({
        channel: channelId('#payments-ai-spend'),
        ts: parent.id.split(':')[1],
        include_all_metadata: 'true',
      });
      // Not in the channel's history: only the replies hold it.
      await expect(fresh.reconcile?.({ anomaly: v2, reason: 'escalated', to, receiver }, since)).resolves.toBeUndefined();
    });

    it('does not take the parent for a reminder of the same version posted in its thread', async () => {
      const c = channel();
      const since = new Date();
      const parent = await c.send({ anomaly: v2, reason: 'escalated', to, receiver });
      const thread = { parentId: parent.id, broadcast: false };
      await expect(channel().reconcile?.({ anomaly: v2, reason: 'reminder', to, receiver, thread }, since)).resolves.toBeUndefined();
      const reminder = await c.send({ anomaly: v2, reason: 'reminder', to, receiver, thread });
      await expect(channel().reconcile?.({ anomaly: v2, reason: 'reminder', to, receiver, thread }, since)).resolves.toEqual({
        id: reminder.id,
      });
    });

    it('reconciles a reply whose parent was deleted from the channel history', async () => {
      const c = channel();
      const parent = await c.send({ anomaly: v1, reason: 'new', to, receiver });
      slack.messages.splice(0, 1);
      const since = new Date();
      const thread = { parentId: parent.id, broadcast: false };
      const { id } = await c.send({ anomaly: v2, reason: 'escalated', to, receiver, thread });
      await expect(channel().reconcile?.({ anomaly: v2, reason: 'escalated', to, receiver, thread }, since)).resolves.toEqual({ id });
    });
  });

  describe('groups', () => {
    const to = ['#payments-ai-spend'];
    const receiver = 'slack:#payments-ai-spend';
    const members = Array.from({ length: 3 }, (_, i) =>
      anomaly({ id: `grp-${i}`, subject: { developer: `dev${i}@acme.com`, session: `s-${i}` } }),
    );

    it('posts one message listing every member, with controls for all of them', async () => {
      const first = members[0] ?? anomaly();
      await channel().send({ anomaly: first, group: members, reason: 'new', to, receiver });
      const [call] = slack.callsTo('chat.postMessage');
      expect(call?.args.text).toBe('3 session cost anomalies for team payments: $18.60 of impact so far');
      const actions = (call?.args.blocks as Array<{ type: string; elements?: Array<{ value?: string }> }>).find(
        (b) => b.type === 'actions',
      );
      expect(actions?.elements?.[0]?.value).toBe('ack|*');
    });

    it('tells two messages of a growing group apart when reconciling, though they share the first member', async () => {
      const first = members[0] ?? anomaly();
      const since = new Date();
      const c = channel();
      const small = await c.send({ anomaly: first, group: members.slice(0, 2), reason: 'new', to, receiver });
      await expect(c.reconcile?.({ anomaly: first, group: members, reason: 'new', to, receiver }, since)).resolves.toBeUndefined();
      await expect(c.reconcile?.({ anomaly: first, group: members.slice(0, 2), reason: 'new', to, receiver }, since)).resolves.toEqual({
        id: small.id,
      });
    });
  });

  describe('update', () => {
    const to = ['#payments-ai-spend'];
    const a = anomaly({ id: 'up-1', severity: 'critical' });
    const acknowledged = lifecycleOf(
      [{ anomaly_id: 'up-1', action: 'acknowledged', by: 'bob@acme.com', channel: 'slack', at: '2026-11-27T14:10:00.000Z' }],
      new Date('2026-11-27T14:30:00.000Z'),
    );

    it('edits the message in place with chat.update: who acknowledged, and Unacknowledge', async () => {
      const c = channel();
      const { id } = await c.send({ anomaly: a, reason: 'new', to });
      await c.update?.(id, { anomaly: a, reason: 'new', to, lifecycle: acknowledged });

      const [call] = slack.callsTo('chat.update');
      expect(call?.args).toMatchObject({ channel: channelId('#payments-ai-spend'), ts: id.split(':')[1] });
      const [message] = slack.messages;
      expect(message?.updates).toBe(1);
      const blocks = message?.blocks as Array<{ type: string; elements?: Array<{ text?: string; action_id?: string }> }>;
      expect(blocks.find((b) => b.type === 'context')?.elements?.[0]?.text).toMatch(/^:eyes: Acknowledged by bob@acme\.com at /);
      expect(blocks.find((b) => b.type === 'actions')?.elements?.[0]?.action_id).toBe('burnrate_unack');
      // The metadata still names the version that was posted, so reconciliation is not misled.
      expect(message?.metadata?.event_payload).toMatchObject({ anomaly_id: 'up-1', version: 1, reason: 'new' });
    });

    it('renders the full message even when the notification is a thread reply', async () => {
      const c = channel();
      const { id } = await c.send({ anomaly: a, reason: 'new', to });
      await c.update?.(id, { anomaly: a, reason: 'escalated', to, thread: { parentId: id, broadcast: false }, lifecycle: acknowledged });
      const blocks = slack.messages[0]?.blocks as Array<{ type: string }>;
      expect(blocks[0]?.type).toBe('header');
    });

    it.each([
      ['429', { status: 429 as const, retryAfterSec: 3 }, { code: 'NOTIFY_RATE_LIMITED', retriable: true, retryAfterMs: 3_000 }],
      ['503', { status: 503 as const }, { code: 'NOTIFY_UNAVAILABLE', retriable: true }],
      ['message_not_found', { error: 'message_not_found' }, { code: 'NOTIFY_REJECTED', retriable: false }],
    ])('translates %s from chat.update like a send, naming the method', async (_name, failure, expected) => {
      const c = channel();
      const { id } = await c.send({ anomaly: a, reason: 'new', to });
      slack.failNext(1, failure, 'chat.update');
      const err = await c.update?.(id, { anomaly: a, reason: 'new', to, lifecycle: acknowledged }).catch((e: unknown) => e);
      expect(err).toMatchObject(expected);
      expect((err as Error).message).toContain(`Slack chat.update for ${channelId('#payments-ai-spend')}`);
      expect(slack.messages[0]?.updates).toBe(0);
      // Then it goes through.
      await c.update?.(id, { anomaly: a, reason: 'new', to, lifecycle: acknowledged });
      expect(slack.messages[0]?.updates).toBe(1);
    });

    it('answers message_not_found for a message that does not exist, and refuses an id it cannot read', async () => {
      const c = channel();
      await expect(
        c.update?.(`${channelId('#payments-ai-spend')}:1700000000.000001`, { anomaly: a, reason: 'new', to }),
      ).rejects.toMatchObject({ code: 'NOTIFY_REJECTED', message: expect.stringContaining('message_not_found') as unknown });
      await expect(c.update?.('#payments-ai-spend', { anomaly: a, reason: 'new', to })).rejects.toMatchObject({
        code: 'NOTIFY_REJECTED',
        message: expect.stringContaining('"#payments-ai-spend"') as unknown,
      });
    });
  });
});
