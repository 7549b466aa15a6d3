import { fixedConfig } from '@burnrate/core';
import { anomaly, usageEvent } from '@burnrate/testing';
import { describe, expect, it } from 'vitest';
import { humanFixture } from '../../test-support/fixture.ts';
import { anomalyPageRoute } from '../anomaly-page.ts';
import { type ConsoleBacktester, createWebConsole } from './index.ts';
import { createConsoleSessions } from './session.ts';

const NOW = new Date('2026-11-27T14:10:00Z');
const TOKEN = 'api-token-of-this-burnrate';
const HOST = 'burnrate.test';

function setup(token: string | null = TOKEN, backtester?: ConsoleBacktester) {
  const apiToken = token ?? undefined;
  const f = humanFixture(NOW);
  const sessions = createConsoleSessions({ apiToken });
  const web = createWebConsole({
    store: f.store,
    recorder: f.recorder,
    config: fixedConfig(f.config),
    sessions,
    clock: f.clock,
    log: f.log,
    budgets: () => new Map(),
    warnings: () => [],
    backtester,
  });
  const app = f.app([
    ...web.routes,
    anomalyPageRoute({ store: f.store, clock: f.clock, log: f.log, linkSecret: undefined, apiToken, console: web.anomalyPage }),
  ]);
  const { session, cookie } = sessions.issue('dana@acme.com', NOW, { headers: {} });
  const signedIn = { cookie: cookie.split(';')[0] as string, host: HOST };
  const csrf = sessions.csrfToken(session);
  const get = (url: string, headers: Record<string, string> = signedIn) =>
    app.inject({ method: 'GET', url, headers: { host: HOST, ...headers } });
  const post = (url: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
    app.inject({
      method: 'POST',
      url,
      headers: { ...signedIn, origin: `http://${HOST}`, 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(fields).toString(),
    });
  return { ...f, get, post, csrf };
}

describe('the web console', () => {
  it('sends a browser without a session to the sign-in form, and back where it was after', async () => {
    const t = setup();
    for (const path of ['/', '/spend?team=payments', '/config', '/anomalies/a1']) {
      const res = await t.get(path, {});
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe(`/sign-in?next=${encodeURIComponent(path)}`);
    }
    const wrong = await t.post('/sign-in', { token: 'nope', next: '/spend' }, { cookie: '' });
    expect(wrong.status).toBe(401);
    expect(wrong.text()).toContain('That is not this Burnrate&#39;s API token.');
    const ok = await t.post('/sign-in', { token: TOKEN, name: 'dana@acme.com', next: '/spend?team=payments' }, { cookie: '' });
    expect(ok.status).toBe(303);
    expect(ok.headers.location).toBe('/spend?team=payments');
    expect(ok.headers['set-cookie']).toMatch(/^burnrate_session=.+; HttpOnly; SameSite=Strict; Path=\/; Max-Age=43200$/);
    // An off-site next= is not followed.
    expect((await t.post('/sign-in', { token: TOKEN, next: '//evil.example/x' }, { cookie: '' })).headers.location).toBe('/');
    // Signing in from another site's form is refused.
    expect((await t.post('/sign-in', { token: TOKEN }, { cookie: '', origin: 'https://evil.example' })).status).toBe(403);
  });

  it('records Acknowledge, Snooze and Resolve through the decision path, as the signed-in person, and goes back', async () => {
    const t = setup();
    await t.seed(anomaly({ id: 'a1', detected_at: '2026-11-27T13:30:00.000Z' }));
    const res = await t.post('/console/anomalies/a1/decide', { csrf: t.csrf, action: 'ack', return: '/?team=payments' });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/?team=payments');
    expect(t.published()).toMatchObject([{ anomaly_id: 'a1', action: 'acknowledged', by: 'dana@acme.com', channel: 'console' }]);
    t.clock.advance(1000);
    await t.post('/console/anomalies/a1/decide', { csrf: t.csrf, action: 'snooze:1h' });
    t.clock.advance(1000);
    await t.post('/console/anomalies/a1/decide', { csrf: t.csrf, action: 'resolve:noise', return: 'https://evil.example/' });
    expect(t.published().map((d) => d.action)).toEqual(['acknowledged', 'snoozed', 'resolved']);
    expect(t.published()[1]?.snoozed_until).toBe('2026-11-27T15:10:01.000Z');
    const inbox = await t.get('/?state=resolved');
    expect(inbox.status).toBe(200);
    expect(inbox.text()).toContain('data-state="resolved"');
  });

  it('offers the undo of every state a person can put an anomaly in, and Unacknowledge takes it back to open', async () => {
    const t = setup();
    await t.seed(anomaly({ id: 'a1' }), anomaly({ id: 'over', status: 'resolved' }));
    const undo = async (id: string) =>
      [...(await t.get(`/anomalies/${id}`)).text().matchAll(/<button type="submit" name="action" value="unack"[^>]*>([^<]+)</g)].map(
        (m) => m[1],
      );
    expect(await undo('a1')).toEqual([]);
    for (const [action, button] of [
      ['ack', 'Unacknowledge'],
      ['snooze:1h', 'End snooze'],
      ['resolve:real', 'Reopen'],
    ] as const) {
      await t.post('/console/anomalies/a1/decide', { csrf: t.csrf, action });
      t.clock.advance(1000);
      expect(await undo('a1')).toEqual([button]);
      const res = await t.post('/console/anomalies/a1/decide', { csrf: t.csrf, action: 'unack', note: 'not yet', return: '/?state=open' });
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/?state=open');
      t.clock.advance(1000);
      expect((await t.get('/?state=open')).text()).toContain('data-anomaly-id="a1"');
      expect(await undo('a1')).toEqual([]);
    }
    expect(t.published().map((d) => d.action)).toEqual([
      'acknowledged',
      'unacknowledged',
      'snoozed',
      'unacknowledged',
      'resolved',
      'unacknowledged',
    ]);
    expect(t.published()[1]).toMatchObject({ action: 'unacknowledged', by: 'dana@acme.com', channel: 'console', note: 'not yet' });
    // The detector closed this episode: there is nothing a person could reopen.
    expect(await undo('over')).toEqual([]);
  });

  it('refuses a decision without the CSRF token, from another origin, and says what is wrong with bad input', async () => {
    const t = setup();
    await t.seed(anomaly({ id: 'a1' }));
    expect((await t.post('/console/anomalies/a1/decide', { action: 'ack' })).status).toBe(403);
    expect((await t.post('/console/anomalies/a1/decide', { csrf: t.csrf, action: 'ack' }, { origin: 'https://evil.example' })).status).toBe(
      403,
    );
    const bad = await t.post('/console/anomalies/a1/decide', { csrf: t.csrf, action: 'delete' });
    expect(bad.status).toBe(400);
    expect(bad.text()).toContain(
      'action must be one of ack, snooze:1h, snooze:tomorrow, snooze:1w, resolve:expected, resolve:real, resolve:noise, unack, not &quot;delete&quot;.',
    );
    const unknown = await t.post('/console/anomalies/nope/decide', { csrf: t.csrf, action: 'ack' });
    expect(unknown.status).toBe(404);
    const json = await t.post('/console/anomalies/a1/decide', { csrf: t.csrf }, { 'content-type': 'application/json' });
    expect(json.status).toBe(415);
    expect(t.published()).toEqual([]);
  });

  it('says a backtest is already running, or ran out of time, and keeps the pasted proposal', async () => {
    const answers = [
      { ok: false, refused: 'busy', message: 'A backtest is already running (started 42s ago).' },
      { ok: false, refused: 'timeout', message: 'The backtest ran longer than 5m and was stopped.' },
    ] as const;
    let call = 0;
    const t = setup(TOKEN, { run: async () => answers[call++] as (typeof answers)[number] });
    const busy = await t.post('/config/backtest', { csrf: t.csrf, proposal: 'org: acme # mine', from: '7d' });
    expect(busy.status).toBe(409);
    expect(busy.text()).toContain('<p class="error" role="alert" data-refused="busy">A backtest is already running (started 42s ago).</p>');
    expect(busy.text()).toContain('org: acme # mine</textarea>');
    const late = await t.post('/config/backtest', { csrf: t.csrf, proposal: 'org: acme', from: '7d' });
    expect(late.status).toBe(503);
    expect(late.text()).toContain('data-refused="timeout">The backtest ran longer than 5m and was stopped.');
  });

  it('offers the spend filters as choices: configured teams, and the models, tools, providers and developers seen', async () => {
    const t = setup();
    await t.store.insertUsageEvents([
      usageEvent({ occurred_at: '2026-11-26T10:00:00.000Z', model: 'claude-opus-4-5', cost_usd: 3 }),
      usageEvent({
        occurred_at: '2026-11-26T11:00:00.000Z',
        team: 'research',
        developer: 'carol@acme.com',
        developer_email: 'carol@acme.com',
        model: 'claude-haiku-4-5',
        model_family: 'claude-haiku',
        tool: 'cursor',
        cost_usd: 1,
      }),
    ]);
    const options = (html: string, name: string): string[] => {
      const select = new RegExp(`<select name="${name}">(.*?)</select>`).exec(html)?.[1] ?? '';
      return [...select.matchAll(/<option value="([^"]*)"( selected)?>/g)].map((m) => `${m[1]}${m[2] ? '*' : ''}`);
    };
    const all = (await t.get('/spend?from=7d')).text();
    expect(options(all, 'team')).toEqual(['', 'payments', 'research']);
    expect(options(all, 'model')).toEqual(['', 'claude-haiku-4-5', 'claude-opus-4-5']);
    expect(options(all, 'tool')).toEqual(['', 'claude-code', 'cursor']);
    expect(options(all, 'provider')).toEqual(['', 'anthropic']);
    expect(all).toContain('<input type="text" name="developer" value="" size="18" list="known-developer"');
    expect(all).toContain(
      '<datalist id="known-developer"><option value="alice@acme.com"></option><option value="carol@acme.com"></option></datalist>',
    );
    // Under a team's filter, the other filters offer what that team used; the team filter still offers every team.
    const research = (await t.get('/spend?from=7d&team=research')).text();
    expect(options(research, 'team')).toEqual(['', 'payments', 'research*']);
    expect(options(research, 'tool')).toEqual(['', 'cursor']);
    expect(options(research, 'model')).toEqual(['', 'claude-haiku-4-5']);
    // A value from the URL that was not seen stays chosen, so the form shows what the page shows.
    const unseen = (await t.get('/spend?from=7d&team=research&model=gpt-5')).text();
    expect(options(unseen, 'model')).toEqual(['', 'claude-haiku-4-5', 'gpt-5*']);
  });

  it('names the filter that is wrong in the inbox and the spend explorer', async () => {
    const t = setup();
    const inbox = await t.get('/?state=sleeping');
    expect(inbox.status).toBe(400);
    expect(inbox.text()).toContain('state must be one of open, acknowledged, snoozed, resolved, not &quot;sleeping&quot;.');
    expect((await t.get('/?colour=red')).text()).toContain('colour is not a filter of the inbox');
    const spend = await t.get('/spend?granularity=week');
    expect(spend.status).toBe(400);
    expect(spend.text()).toContain('granularity must be one of hour, day, month, not &quot;week&quot;');
    expect((await t.get('/spend?group_by=colour')).text()).toContain('group_by must be one of team, model, tool, provider, developer');
    expect((await t.get('/spend?from=yesterday')).text()).toContain('from must be an instant such as 2026-11-01T00:00:00Z');
  });

  it('without an API token is open, and still hands out a session so its forms carry a CSRF token', async () => {
    const t = setup(null);
    const res = await t.get('/', {});
    expect(res.status).toBe(200);
    expect(res.headers['set-cookie']).toMatch(/^burnrate_session=/);
    expect((await t.get('/sign-in', {})).status).toBe(303);
  });
});
