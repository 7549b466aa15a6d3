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
});
