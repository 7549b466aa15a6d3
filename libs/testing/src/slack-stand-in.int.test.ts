import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { channelId, startSlackStandIn, type SlackStandIn } from './slack-stand-in.ts';

// Calls go out the way @slack/web-api sends them: form-encoded, objects as JSON strings.
describe('Slack stand-in', () => {
  let slack: SlackStandIn;
  beforeAll(async () => {
    slack = await startSlackStandIn();
  });
  afterAll(async () => {
    await slack.close();
  });
  beforeEach(() => {
    slack.calls.length = 0;
    slack.messages.length = 0;
  });

  const call = async <T = Record<string, unknown>>(
    method: string,
    args: Record<string, string | number | boolean | object>,
  ): Promise<T> => {
    const body = new URLSearchParams(
      Object.entries(args).map(([k, v]): [string, string] => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)]),
    ).toString();
    const res = await fetch(`${slack.url}${method}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${slack.token}`, 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
    return (await res.json()) as T;
  };
  const post = (channel: string, n: number) =>
    call('chat.postMessage', {
      channel,
      text: `message ${n}`,
      metadata: { event_type: 'burnrate_anomaly', event_payload: { anomaly_id: `a${n}`, version: n } },
    });
  type History = {
    messages: Array<{ ts: string; text: string; metadata?: unknown }>;
    has_more: boolean;
    response_metadata: { next_cursor: string };
  };

  it('keeps metadata and shows it in conversations.history only with include_all_metadata, newest first', async () => {
    for (let n = 1; n <= 3; n++) await post('#alerts', n);
    const id = channelId('#alerts');
    const plain = await call<History>('conversations.history', { channel: id });
    expect(plain.messages.map((m) => m.text)).toEqual(['message 3', 'message 2', 'message 1']);
    expect(plain.messages.every((m) => m.metadata === undefined)).toBe(true);
    const full = await call<History>('conversations.history', { channel: id, include_all_metadata: true });
    expect(full.messages[0]?.metadata).toEqual({ event_type: 'burnrate_anomaly', event_payload: { anomaly_id: 'a3', version: 3 } });
  });

  it('answers channel_not_found for a channel name, as Slack does for conversations.history', async () => {
    await post('#alerts', 1);
    expect(await call('conversations.history', { channel: '#alerts' })).toEqual({ ok: false, error: 'channel_not_found' });
    expect(await call('conversations.history', { channel: channelId('#never-posted') })).toEqual({ ok: false, error: 'channel_not_found' });
  });

  it('filters by oldest (exclusive unless inclusive) and pages with a cursor', async () => {
    for (let n = 1; n <= 5; n++) await post('#alerts', n);
    const id = channelId('#alerts');
    const ts = slack.messages.map((m) => m.ts);
    const after = await call<History>('conversations.history', { channel: id, oldest: ts[1] ?? '' });
    expect(after.messages.map((m) => m.text)).toEqual(['message 5', 'message 4', 'message 3']);
    const from = await call<History>('conversations.history', { channel: id, oldest: ts[1] ?? '', inclusive: true });
    expect(from.messages).toHaveLength(4);

    const first = await call<History>('conversations.history', { channel: id, limit: 2 });
    expect(first.messages.map((m) => m.text)).toEqual(['message 5', 'message 4']);
    expect(first.has_more).toBe(true);
    const second = await call<History>('conversations.history', { channel: id, limit: 2, cursor: first.response_metadata.next_cursor });
    expect(second.messages.map((m) => m.text)).toEqual(['message 3', 'message 2']);
    const last = await call<History>('conversations.history', { channel: id, limit: 2, cursor: second.response_metadata.next_cursor });
    expect(last.messages.map((m) => m.text)).toEqual(['message 1']);
    expect(last).toMatchObject({ has_more: false, response_metadata: { next_cursor: '' } });
  });

  it('lists channels posted to, with ids, in pages', async () => {
    await post('#alerts', 1);
    await post('#finops', 2);
    type List = { channels: Array<{ id: string; name: string }>; response_metadata: { next_cursor: string } };
    const first = await call<List>('conversations.list', { types: 'public_channel,private_channel', limit: 1 });
    const second = await call<List>('conversations.list', { limit: 1, cursor: first.response_metadata.next_cursor });
    const listed = [...first.channels, ...second.channels].map((c) => [c.name, c.id]).sort();
    expect(listed).toEqual([
      ['alerts', channelId('#alerts')],
      ['finops', channelId('#finops')],
    ]);
    expect(second.response_metadata.next_cursor).toBe('');
  });

  it('refuses malformed metadata', async () => {
    expect(await call('chat.postMessage', { channel: '#alerts', text: 'x', metadata: { event_payload: {} } })).toEqual({
      ok: false,
      error: 'invalid_metadata_format',
    });
  });

  describe('threads', () => {
    type Posted = { ok: boolean; ts: string; channel: string; error?: string };
    const reply = (thread_ts: string, n: number, broadcast = false) =>
      call<Posted>('chat.postMessage', {
        channel: '#alerts',
        text: `reply ${n}`,
        thread_ts,
        ...(broadcast ? { reply_broadcast: true } : {}),
      });

    it('keeps replies out of the channel history unless broadcast, and lists them with conversations.replies', async () => {
      await post('#alerts', 1);
      const parent = slack.messages[0]?.ts ?? '';
      await reply(parent, 2);
      await reply(parent, 3, true);
      const id = channelId('#alerts');
      const history = await call<History>('conversations.history', { channel: id });
      expect(history.messages.map((m) => m.text)).toEqual(['reply 3', 'message 1']);
      const replies = await call<History>('conversations.replies', { channel: id, ts: parent });
      expect(replies.messages.map((m) => m.text)).toEqual(['message 1', 'reply 2', 'reply 3']);
      expect(slack.repliesTo(parent).map((m) => [m.text, m.replyBroadcast])).toEqual([
        ['reply 2', false],
        ['reply 3', true],
      ]);
    });

    it('pages replies oldest first after `oldest`, the parent first on the first page', async () => {
      await post('#alerts', 1);
      const parent = slack.messages[0]?.ts ?? '';
      for (let n = 2; n <= 5; n++) await reply(parent, n);
      const id = channelId('#alerts');
      const after = slack.messages[1]?.ts ?? '';
      const first = await call<History>('conversations.replies', { channel: id, ts: parent, oldest: after, limit: 2 });
      expect(first.messages.map((m) => m.text)).toEqual(['message 1', 'reply 3', 'reply 4']);
      expect(first.has_more).toBe(true);
      const second = await call<History>('conversations.replies', {
        channel: id,
        ts: parent,
        oldest: after,
        limit: 2,
        cursor: first.response_metadata.next_cursor,
      });
      expect(second.messages.map((m) => m.text)).toEqual(['reply 5']);
      expect(second.has_more).toBe(false);
    });

    it('joins a reply to a reply to the parent’s thread, and refuses an unknown or malformed thread_ts', async () => {
      await post('#alerts', 1);
      const parent = slack.messages[0]?.ts ?? '';
      const first = await reply(parent, 2);
      await reply(first.ts, 3);
      expect(slack.repliesTo(parent).map((m) => m.text)).toEqual(['reply 2', 'reply 3']);
      expect(await reply('1700000000.000001', 4)).toEqual({ ok: false, error: 'thread_not_found' });
      expect(await reply('yesterday', 5)).toEqual({ ok: false, error: 'invalid_thread_ts' });
      expect(await call('conversations.replies', { channel: channelId('#alerts'), ts: '1700000000.000001' })).toEqual({
        ok: false,
        error: 'thread_not_found',
      });
    });
  });

  describe('chat.update', () => {
    it('replaces text and blocks by channel id and ts, keeps the metadata, and counts the edits', async () => {
      const posted = await post('#alerts', 1);
      const ts = (posted as { ts: string }).ts;
      const id = channelId('#alerts');
      const answer = await call('chat.update', {
        channel: id,
        ts,
        text: 'edited',
        blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'x' } }],
      });
      expect(answer).toMatchObject({ ok: true, channel: id, ts, text: 'edited' });
      expect(slack.messages[0]).toMatchObject({ text: 'edited', updates: 1, metadata: { event_type: 'burnrate_anomaly' } });
      expect(await call('chat.update', { channel: '#alerts', ts, text: 'by name' })).toEqual({ ok: false, error: 'channel_not_found' });
      expect(await call('chat.update', { channel: id, ts: '1700000000.000001', text: 'x' })).toEqual({
        ok: false,
        error: 'message_not_found',
      });
    });

    it('fails only the method it is told to fail', async () => {
      const posted = (await post('#alerts', 1)) as { ts: string };
      slack.failNext(1, { status: 429, retryAfterSec: 2 }, 'chat.update');
      await post('#alerts', 2);
      const res = await fetch(`${slack.url}chat.update`, {
        method: 'POST',
        headers: { authorization: `Bearer ${slack.token}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ channel: channelId('#alerts'), ts: posted.ts, text: 'edited' }).toString(),
      });
      expect([res.status, res.headers.get('retry-after')]).toEqual([429, '2']);
      expect(slack.calls.map((c) => [c.method, c.status])).toEqual([
        ['chat.postMessage', 200],
        ['chat.postMessage', 200],
        ['chat.update', 429],
      ]);
      expect(await call('chat.update', { channel: channelId('#alerts'), ts: posted.ts, text: 'edited' })).toMatchObject({ ok: true });
    });

    it('answers as usual again once the pending failures are cleared', async () => {
      const posted = (await post('#alerts', 1)) as { ts: string };
      slack.failNext(1_000, { status: 503 }, 'chat.update');
      const edit = () => call('chat.update', { channel: channelId('#alerts'), ts: posted.ts, text: 'edited' });
      expect(await edit()).toEqual({ ok: false, error: 'service_unavailable' });
      slack.clearFailures();
      expect(await edit()).toMatchObject({ ok: true, text: 'edited' });
      expect(slack.callsTo('chat.update').map((c) => c.status)).toEqual([503, 200]);
    });
  });
});
