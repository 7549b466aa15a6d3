import { fixedConfig } from '@burnrate/core';
import { type LinkAction, type LinkPurpose, signLinkToken } from '@burnrate/notify';
import { anomaly } from '@burnrate/testing';
import { describe, expect, it } from 'vitest';
import { humanFixture } from '../test-support/fixture.ts';
import { actionLinkRoutes } from './action-links.ts';

const SECRET = 'link-secret-of-at-least-32-characters!';
const NOW = new Date('2026-11-27T14:10:00Z');
const WEEK_LATER = NOW.getTime() / 1000 + 7 * 86_400;
const A1 = anomaly({ id: 'a1' });
const A2 = anomaly({ id: 'a2', subject: { session: 'sess-2' }, summary: 'Session <b>sess-2</b> & "more"' });

function setup(secret: string | null = SECRET) {
  const f = humanFixture(NOW);
  const app = f.app(
    actionLinkRoutes({
      config: fixedConfig(f.config),
      store: f.store,
      recorder: f.recorder,
      clock: f.clock,
      log: f.log,
      linkSecret: secret ?? undefined,
    }),
  );
  const token = (action: LinkPurpose, ids = ['a1'], expiresAt = WEEK_LATER, by = 'payments-leads@acme.com') =>
    signLinkToken(SECRET, { anomalyIds: ids, action, by, expiresAt });
  const get = (t: string) => app.inject({ method: 'GET', url: `/act/${t}` });
  const post = (t: string, body = '') =>
    app.inject({ method: 'POST', url: `/act/${t}`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  return { ...f, token, get, post };
}

describe('GET /act/:token', () => {
  it('shows what the link would do, with a form, and changes nothing (mail scanners fetch every link)', async () => {
    const t = setup();
    await t.seed(A1, A2);
    const link = t.token('snooze:1h', ['a1', 'a2']);
    for (let i = 0; i < 3; i++) {
      const res = await t.get(link);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.headers['content-security-policy']).toContain("default-src 'none'");
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      const html = res.text();
      expect(html).toContain('<h1>Snooze 1 hour: these 2 anomalies?</h1>');
      expect(html).toContain('<form method="post" action="">');
      expect(html).toContain('As <strong>payments-leads@acme.com</strong>');
      expect(html).toContain('Session &lt;b&gt;sess-2&lt;/b&gt; &amp; &quot;more&quot;');
      expect(html).not.toContain('<b>sess-2</b>');
    }
    expect(await t.stored()).toEqual([]);
    expect(t.producer.sent).toEqual([]);
  });
});

describe('POST /act/:token', () => {
  it.each<[LinkAction, Record<string, unknown>]>([
    ['ack', { action: 'acknowledged' }],
    ['snooze:1h', { action: 'snoozed', snoozed_until: '2026-11-27T15:10:00.000Z' }],
    ['snooze:tomorrow', { action: 'snoozed', snoozed_until: '2026-11-28T08:00:00.000Z' }],
    ['snooze:1w', { action: 'snoozed', snoozed_until: '2026-12-04T14:10:00.000Z' }],
    ['resolve:expected', { action: 'resolved', reason: 'expected' }],
    ['resolve:real', { action: 'resolved', reason: 'real' }],
    ['resolve:noise', { action: 'resolved', reason: 'noise' }],
  ])('records %s as the receiver the link was made for, channel email', async (action, expected) => {
    const t = setup();
    await t.seed(A1);
    const res = await t.post(t.token(action));
    expect(res.status).toBe(200);
    expect(await t.stored('a1')).toEqual([
      { anomaly_id: 'a1', by: 'payments-leads@acme.com', channel: 'email', at: '2026-11-27T14:10:00.000Z', ...expected },
    ]);
    expect(t.published()).toHaveLength(1);
  });

  it('acts on every anomaly of a group link, keeps the note, and links each page with a fresh view token', async () => {
    const t = setup();
    await t.seed(A1, A2);
    const res = await t.post(t.token('ack', ['a1', 'a2', 'gone']), new URLSearchParams({ note: '  looking into it  ' }).toString());
    expect(res.status).toBe(200);
    expect((await t.stored()).map((s) => [s.anomaly_id, s.action, s.note])).toEqual([
      ['a1', 'acknowledged', 'looking into it'],
      ['a2', 'acknowledged', 'looking into it'],
    ]);
    const html = res.text();
    expect(html).toContain('<h1>Acknowledged</h1>');
    expect(html).toMatch(/href="\.\.\/anomalies\/a1\?t=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"/);
  });

  it('refuses a tampered link with 400 and an expired one with 410, recording nothing', async () => {
    const t = setup();
    await t.seed(A1);
    const good = t.token('ack');
    const [payload, signature] = good.split('.') as [string, string];
    const forged = `${Buffer.from(JSON.stringify({ a: 'a1', x: 'resolve:noise', b: 'x@acme.com', e: WEEK_LATER })).toString('base64url')}.${signature}`;
    for (const bad of [
      forged,
      `${payload}.${signature.slice(1)}A`,
      'not-a-token',
      signLinkToken('another-secret-of-32-characters-long', { anomalyIds: ['a1'], action: 'ack', by: 'x', expiresAt: WEEK_LATER }),
    ]) {
      expect((await t.get(bad)).status).toBe(400);
      const res = await t.post(bad);
      expect(res.status).toBe(400);
      expect(res.text()).toContain('This link does not work');
    }
    const expired = t.token('ack', ['a1'], NOW.getTime() / 1000 - 1);
    expect((await t.get(expired)).status).toBe(410);
    const res = await t.post(expired);
    expect(res.status).toBe(410);
    expect(res.text()).toContain('This link has expired');
    expect(await t.stored()).toEqual([]);
    expect(t.producer.sent).toEqual([]);
    expect(t.logs.filter((l) => l.msg === 'refused an action link').map((l) => l.problem)).toContain('forged');
  });

  it('refuses a link that only opens a page, an unknown anomaly, and any link when no secret is set', async () => {
    const t = setup();
    expect((await t.post(t.token('view'))).status).toBe(400);
    expect((await t.post(t.token('ack', ['gone']))).status).toBe(404);
    const off = setup(null);
    await off.seed(A1);
    const res = await off.post(off.token('ack'));
    expect(res.status).toBe(404);
    expect(res.text()).toContain('BURNRATE_LINK_SECRET is not set');
    expect(await t.stored()).toEqual([]);
    expect(await off.stored()).toEqual([]);
  });

  it('records a button of the anomaly page as channel console', async () => {
    const t = setup();
    await t.seed(A1);
    const token = signLinkToken(SECRET, { anomalyIds: ['a1'], action: 'ack', by: 'web', expiresAt: WEEK_LATER, via: 'console' });
    expect((await t.post(token)).status).toBe(200);
    expect((await t.stored('a1')).map((s) => [s.channel, s.by])).toEqual([['console', 'web']]);
  });

  it('refuses a note that is too long, recording nothing', async () => {
    const t = setup();
    await t.seed(A1);
    const res = await t.post(t.token('ack'), new URLSearchParams({ note: 'x'.repeat(2001) }).toString());
    expect(res.status).toBe(400);
    expect(await t.stored()).toEqual([]);
  });
});
