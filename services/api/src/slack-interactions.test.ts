import { fixedConfig } from '@burnrate/core';
import { slackActionValue, type SlackAction } from '@burnrate/notify';
import { TOPICS } from '@burnrate/schemas';
import { anomaly } from '@burnrate/testing';
import { describe, expect, it } from 'vitest';
import { humanFixture, TEST_CONFIG_YAML } from '../test-support/fixture.ts';
import { signSlackRequest, slackInteractionsRoute } from './slack-interactions.ts';
import { createSlackUserDirectory } from './slack-users.ts';
import { nextLocalTime } from './snooze.ts';

const SECRET = 'slack-signing-secret-for-tests';
const NOW = new Date('2026-11-27T14:10:00Z');
const PRESSED_AT = '1795788590.123456'; // 2026-11-27T14:09:50.123Z
const A1 = anomaly({ id: 'a1' });
const A2 = anomaly({ id: 'a2', subject: { session: 'sess-2' } });
const RESEARCH = anomaly({ id: 'r1', subject: { team: 'research', developer: 'carol@acme.com' } });

function setup(options: { secret?: string | undefined; yaml?: string } = {}) {
  const f = humanFixture(NOW, options.yaml ?? TEST_CONFIG_YAML);
  const config = fixedConfig(f.config);
  const route = slackInteractionsRoute({
    config,
    store: f.store,
    recorder: f.recorder,
    users: createSlackUserDirectory({ config, log: f.log }),
    clock: f.clock,
    log: f.log,
    signingSecret: 'secret' in options ? options.secret : SECRET,
  });
  const app = f.app([route]);
  const post = (body: string, headers: Record<string, string> = {}) =>
    app.inject({
      method: 'POST',
      url: '/slack/interactions',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body,
    });
  const signed = (body: string, at = NOW, secret = SECRET, extra: Record<string, string> = {}) =>
    post(body, { ...signSlackRequest(secret, Math.floor(at.getTime() / 1000), body), ...extra });
  return { ...f, route, post, signed };
}

function press(action: SlackAction, options: { user?: string; actionTs?: string; select?: boolean; channel?: string; ts?: string } = {}) {
  const value = slackActionValue(action);
  const control = options.select
    ? { type: 'static_select', selected_option: { text: { type: 'plain_text', text: 'x' }, value } }
    : { type: 'button', value };
  const payload = {
    type: 'block_actions',
    user: { id: options.user ?? 'U0BOB', username: 'bob', team_id: 'T0000TEST' },
    api_app_id: 'A0000APP',
    container: {
      type: 'message',
      message_ts: options.ts ?? '1795788000.000100',
      channel_id: options.channel ?? 'C0PAYMENTS',
      is_ephemeral: false,
    },
    channel: { id: options.channel ?? 'C0PAYMENTS', name: 'payments-ai-spend' },
    message: { ts: options.ts ?? '1795788000.000100', text: 'Warning: session cost' },
    response_url: 'https://hooks.slack.com/actions/T0000TEST/1/abc',
    actions: [{ action_id: `burnrate_${action.verb}`, block_id: 'actions', action_ts: options.actionTs ?? PRESSED_AT, ...control }],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

describe('signSlackRequest', () => {
  it("gives Slack's own worked example", () => {
    const body =
      'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
    expect(signSlackRequest('8f742231b10e8888abcd99yyyzzz85a5', 1531420618, body)).toEqual({
      'x-slack-request-timestamp': '1531420618',
      'x-slack-signature': 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
    });
  });
});

describe('POST /slack/interactions', () => {
  it('records an Acknowledge press once, as the member the Slack user is an alias of, at the time of the press', async () => {
    const t = setup();
    await t.seed(A1);
    const res = await t.signed(press({ verb: 'ack', ref: 'a1' }));
    expect(res.status).toBe(200);
    const decision = { anomaly_id: 'a1', action: 'acknowledged', by: 'bob@acme.com', channel: 'slack', at: '2026-11-27T14:09:50.123Z' };
    expect(await t.stored('a1')).toEqual([decision]);
    // Durable on the bus first, keyed by anomaly id (the notifier that owns it edits the message).
    expect(t.producer.sent).toEqual([{ topic: TOPICS.anomalyState.name, message: { key: 'a1', value: JSON.stringify(decision) } }]);
  });

  it('records a Slack retry of the same press only once', async () => {
    const t = setup();
    await t.seed(A1);
    const body = press({ verb: 'ack', ref: 'a1' });
    expect((await t.signed(body)).status).toBe(200);
    t.clock.advance(3_500);
    // Slack retries with a new timestamp (and so a new signature) and X-Slack-Retry-Num.
    const retry = await t.signed(body, t.clock.now(), SECRET, { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' });
    expect(retry.status).toBe(200);
    expect(await t.stored('a1')).toHaveLength(1);
    expect(t.logs.filter((l) => l.msg === 'recorded a Slack press').map((l) => l.slackRetry)).toEqual([undefined, '1']);
  });

  it.each([
    ['another signing secret', (t: ReturnType<typeof setup>, body: string) => t.signed(body, NOW, 'not-the-secret'), /does not match/],
    [
      'a changed body',
      (t: ReturnType<typeof setup>, body: string) => t.post(`${body}x`, signSlackRequest(SECRET, NOW.getTime() / 1000, body)),
      /does not match/,
    ],
    [
      'a replayed request (6 minutes old)',
      (t: ReturnType<typeof setup>, body: string) => t.signed(body, new Date(NOW.getTime() - 6 * 60_000)),
      /more than 300 s/,
    ],
    [
      'a timestamp from the future',
      (t: ReturnType<typeof setup>, body: string) => t.signed(body, new Date(NOW.getTime() + 6 * 60_000)),
      /more than 300 s/,
    ],
    [
      'no signature',
      (t: ReturnType<typeof setup>, body: string) => t.post(body, { 'x-slack-request-timestamp': String(NOW.getTime() / 1000) }),
      /no X-Slack-Signature/,
    ],
    [
      'no timestamp',
      (t: ReturnType<typeof setup>, body: string) =>
        t.post(body, { 'x-slack-signature': signSlackRequest(SECRET, NOW.getTime() / 1000, body)['x-slack-signature'] }),
      /no X-Slack-Request-Timestamp/,
    ],
    ['no headers at all', (t: ReturnType<typeof setup>, body: string) => t.post(body), /no X-Slack-Request-Timestamp/],
    [
      'a signature that is not hex',
      (t: ReturnType<typeof setup>, body: string) =>
        t.post(body, { 'x-slack-request-timestamp': String(NOW.getTime() / 1000), 'x-slack-signature': 'v0=zz' }),
      /not v0=<64 hex digits>/,
    ],
  ])('refuses %s with 401, records nothing and logs why', async (_name, send, reason) => {
    const t = setup();
    await t.seed(A1);
    const res = await send(t, press({ verb: 'ack', ref: 'a1' }));
    expect(res.status).toBe(401);
    expect(res.json()).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
    expect(await t.stored()).toEqual([]);
    expect(t.producer.sent).toEqual([]);
    const refused = t.logs.find((l) => l.msg === 'refused a request that is not signed by Slack');
    expect(refused?.reason).toMatch(reason);
    expect(JSON.stringify(t.logs)).not.toContain(SECRET);
  });

  it('accepts a request exactly 5 minutes old', async () => {
    const t = setup();
    await t.seed(A1);
    expect((await t.signed(press({ verb: 'ack', ref: 'a1' }), new Date(NOW.getTime() - 300_000))).status).toBe(200);
  });

  it('tells the presser, and only them, about an anomaly it does not know, recording nothing', async () => {
    const t = setup();
    const res = await t.signed(press({ verb: 'ack', ref: 'gone' }));
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({
      response_type: 'ephemeral',
      replace_original: false,
      text: expect.stringMatching(/does not know the anomaly gone/),
    });
    expect(await t.stored()).toEqual([]);
    expect(t.producer.sent).toEqual([]);
  });

  it('acts on every anomaly a group message carried for ref *, found by the message in the delivery log', async () => {
    const t = setup();
    await t.seed(A1, A2, RESEARCH);
    const sent = (anomaly_id: string, version: number, detail: string) => ({
      anomaly_id,
      version,
      receiver: 'slack:#payments-ai-spend',
      channel: 'slack',
      status: 'sent' as const,
      detail,
      attempts: 1,
      at: '2026-11-27T14:05:00.000Z',
    });
    await t.store.insertDeliveries([
      sent('a1', 1, 'C0PAYMENTS:1795788000.000100'),
      sent('a2', 1, 'C0PAYMENTS:1795788000.000100'),
      sent('a2', 2, 'C0PAYMENTS:1795788000.000100'),
      // Another message: not touched.
      sent('r1', 1, 'C0PAYMENTS:1795788999.000100'),
    ]);
    const res = await t.signed(press({ verb: 'resolve', reason: 'noise', ref: '*' }, { select: true }));
    expect(res.status).toBe(200);
    const stored = await t.stored();
    expect(stored.map((s) => [s.anomaly_id, s.action, s.reason])).toEqual([
      ['a1', 'resolved', 'noise'],
      ['a2', 'resolved', 'noise'],
    ]);

    const unknownMessage = await t.signed(press({ verb: 'ack', ref: '*' }, { ts: '1795780000.000001' }));
    expect(unknownMessage.json()).toMatchObject({
      response_type: 'ephemeral',
      text: expect.stringMatching(/no record of the anomalies in this message/),
    });
  });

  it('snoozes for an hour, a week, or until the team’s next working-day start in its own time zone', async () => {
    const t = setup();
    await t.seed(A1, RESEARCH);
    const until = async (choice: '1h' | '1w' | 'tomorrow', ref: string, actionTs: string) => {
      expect((await t.signed(press({ verb: 'snooze', choice, ref }, { select: true, actionTs }))).status).toBe(200);
      return (await t.stored(ref)).find((s) => s.at === new Date(Number(actionTs) * 1000).toISOString())?.snoozed_until;
    };
    expect(await until('1h', 'a1', '1795788590.000000')).toBe('2026-11-27T15:09:50.000Z');
    expect(await until('1w', 'a1', '1795788591.000000')).toBe('2026-12-04T14:09:51.000Z');
    // 15:09 in Berlin on a Friday: 09:00 Berlin on Saturday is 08:00 UTC.
    expect(await until('tomorrow', 'a1', '1795788592.000000')).toBe('2026-11-28T08:00:00.000Z');
    // Research works from 10:30 in Los Angeles, where it is 06:09: later the same day, 18:30 UTC.
    expect(await until('tomorrow', 'r1', '1795788593.000000')).toBe('2026-11-27T18:30:00.000Z');
  });

  it('records unacknowledge', async () => {
    const t = setup();
    await t.seed(A1);
    await t.signed(press({ verb: 'unack', ref: 'a1' }));
    expect((await t.stored('a1')).map((s) => s.action)).toEqual(['unacknowledged']);
  });

  it('records a Slack user nobody mapped as slack:<id>', async () => {
    const t = setup();
    await t.seed(A1);
    await t.signed(press({ verb: 'ack', ref: 'a1' }, { user: 'U0NOBODY' }));
    expect((await t.stored('a1'))[0]?.by).toBe('slack:U0NOBODY');
  });

  it('answers 200 and records nothing for interactions that are not button presses, or controls it did not draw', async () => {
    const t = setup();
    await t.seed(A1);
    const shortcut = new URLSearchParams({
      payload: JSON.stringify({ type: 'shortcut', callback_id: 'x', user: { id: 'U1' } }),
    }).toString();
    expect((await t.signed(shortcut)).status).toBe(200);
    const foreign = JSON.parse(new URLSearchParams(press({ verb: 'ack', ref: 'a1' })).get('payload') as string) as {
      actions: { action_id: string; value: string }[];
    };
    foreign.actions[0]!.value = 'explode|a1';
    const res = await t.signed(new URLSearchParams({ payload: JSON.stringify(foreign) }).toString());
    expect(res.json()).toMatchObject({ response_type: 'ephemeral', text: expect.stringMatching(/does not understand this button/) });
    expect(await t.stored()).toEqual([]);
  });

  it('says what is wrong with a signed body that is not an interaction', async () => {
    const t = setup();
    expect((await t.signed('hello')).json()).toMatchObject({ error: { message: 'the form has no payload field' } });
    expect((await t.signed('payload=%7Bnot-json')).json()).toMatchObject({ error: { message: 'the payload field is not JSON' } });
    const json = JSON.stringify({ type: 'block_actions' });
    const wrongType = await t.post(json, { ...signSlackRequest(SECRET, NOW.getTime() / 1000, json), 'content-type': 'application/json' });
    expect(wrongType.status).toBe(415);
    const incomplete = await t.signed(new URLSearchParams({ payload: JSON.stringify({ type: 'block_actions', actions: [] }) }).toString());
    expect(incomplete.status).toBe(400);
    expect(incomplete.text()).toMatch(/user/);
  });

  it('says interactivity is off when there is no signing secret, and records nothing', async () => {
    const t = setup({ secret: undefined });
    await t.seed(A1);
    const res = await t.post(press({ verb: 'ack', ref: 'a1' }));
    expect(res.status).toBe(404);
    expect(res.text()).toMatch(/Slack interactivity is off on this Burnrate: set SLACK_SIGNING_SECRET/);
    expect(await t.stored()).toEqual([]);
  });

  it('answers a failed recording with a retriable 503, so Slack shows an error rather than a false success', async () => {
    const t = setup();
    await t.seed(A1);
    t.producer.failNext = true;
    const res = await t.signed(press({ verb: 'ack', ref: 'a1' }));
    expect(res.status).toBe(503);
    expect(await t.stored()).toEqual([]);
  });

  it('serves the configured path', async () => {
    const t = setup({ yaml: `${TEST_CONFIG_YAML}\nslack: { interactions_path: /hooks/slack }\n` });
    expect(t.route.path).toBe('/hooks/slack');
  });
});

describe('nextLocalTime', () => {
  const at = (iso: string) => Date.parse(iso);
  it('crosses daylight saving changes at the wall-clock time', () => {
    // Berlin moves to summer time on 2026-03-29: 09:00 is 08:00 UTC the day before, 07:00 UTC that day.
    expect(new Date(nextLocalTime(at('2026-03-28T20:00:00Z'), 'Europe/Berlin', '09:00')).toISOString()).toBe('2026-03-29T07:00:00.000Z');
    expect(new Date(nextLocalTime(at('2026-03-27T20:00:00Z'), 'Europe/Berlin', '09:00')).toISOString()).toBe('2026-03-28T08:00:00.000Z');
    // New York back to standard time on 2026-11-01.
    expect(new Date(nextLocalTime(at('2026-11-01T03:00:00Z'), 'America/New_York', '09:00')).toISOString()).toBe('2026-11-01T14:00:00.000Z');
  });
  it('is strictly after the instant', () => {
    expect(new Date(nextLocalTime(at('2026-11-27T08:00:00Z'), 'Europe/Berlin', '09:00')).toISOString()).toBe('2026-11-28T08:00:00.000Z');
    expect(new Date(nextLocalTime(at('2026-11-27T07:59:59Z'), 'Europe/Berlin', '09:00')).toISOString()).toBe('2026-11-27T08:00:00.000Z');
  });
});
