import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '@burnrate/testing';
import {
  type BurnrateProcess,
  postJson,
  startBurnrate,
  startSurroundings,
  type Surroundings,
  TEST_CONFIG,
  waitForCaughtUp,
} from '../test-support/burnrate-process.ts';

// Debian's chromium package (browsers cannot be downloaded here; .ci/run installs it). CHROMIUM_PATH
// points at another build.
const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
  (p): p is string => p !== undefined && p !== '' && existsSync(p),
);
const IN_CI = process.env.CI === 'true';
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/console/', import.meta.url));
const API_TOKEN = 'console-test-api-token-5b0e7d1c9a';

// Two teams with budgets, so the spend explorer's team filter changes the total.
const CONFIG = `${TEST_CONFIG.replace(
  '    email: [payments-leads@acme.com]\n',
  '    email: [payments-leads@acme.com]\n    budget: { monthly_usd: 2000 }\n  - id: research\n    members: [carol@acme.com]\n    budget: { monthly_usd: 500 }\n',
)}`;

if (CHROMIUM === undefined && !IN_CI) {
  console.warn('console.int.test.ts: skipped: no Chromium at /usr/bin/chromium (apt-get install chromium, or set CHROMIUM_PATH)');
}

describe.runIf(CHROMIUM === undefined && IN_CI)('the web console in CI', () => {
  it('has a Chromium to test in', () => {
    throw new Error('CI=true but no Chromium at /usr/bin/chromium: .ci/run installs it (apt-get install chromium), or set CHROMIUM_PATH');
  });
});

// `burnrate start` as its own process, driven by headless Chromium as a person would: sign in
// with the API token, act on a seeded anomaly, read its chart, filter the spend explorer.
describe.skipIf(CHROMIUM === undefined)('the web console in headless Chromium', () => {
  let around: Surroundings;
  let burnrate: BurnrateProcess;
  let browser: Browser;
  let page: Page;
  const loads: Record<string, number> = {};

  const shot = async (name: string): Promise<void> => {
    const path = join(ARTIFACTS, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    console.log(`console screenshot: ${path}`);
  };
  const timed = async (name: string, go: () => Promise<unknown>): Promise<void> => {
    const started = performance.now();
    await go();
    await page.waitForLoadState('load');
    loads[name] = Math.round(performance.now() - started);
  };

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    around = await startSurroundings();
    await writeFile(around.env.BURNRATE_CONFIG as string, CONFIG);
    burnrate = await startBurnrate({ ...around.env, BURNRATE_API_TOKEN: API_TOKEN });
    // Two hours ago and on: alice's session crosses the $25 warning cap, bob's the $100 critical
    // one; carol (research) spends a little, so the team filter has something to tell apart.
    const base = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 3_600_000;
    const at = (minutes: number): string => new Date(base + minutes * 60_000).toISOString();
    const events = [
      ...[8, 9, 10, 11].map((cost_usd, i) => ({
        occurred_at: at(5 + i * 20),
        developer_email: 'alice@acme.com',
        model: 'claude-opus-4-5',
        session_id: 'alice-session',
        cost_usd,
      })),
      ...[30, 40, 50].map((cost_usd, i) => ({
        occurred_at: at(10 + i * 30),
        developer_email: 'bob@acme.com',
        model: 'claude-sonnet-4-5',
        session_id: 'bob-session',
        cost_usd,
      })),
      ...[2, 3].map((cost_usd, i) => ({
        occurred_at: at(15 + i * 40),
        developer_email: 'carol@acme.com',
        model: 'claude-haiku-4-5',
        session_id: 'carol-session',
        cost_usd,
      })),
    ];
    expect((await postJson(`${burnrate.url}/v1/events`, events)).status).toBe(200);
    await waitForCaughtUp(burnrate.url);
    await waitUntil(
      async () => {
        const res = await fetch(`${burnrate.url}/api/anomalies`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
        return ((await res.json()) as { anomalies: unknown[] }).anomalies.length >= 2;
      },
      { timeoutMs: 20_000, message: 'two session anomalies stored' },
    );
    browser = await chromium.launch({ executablePath: CHROMIUM as string, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  });

  afterAll(async () => {
    if (Object.keys(loads).length > 0) console.log(`console page loads in Chromium (ms): ${JSON.stringify(loads)}`);
    await browser?.close();
    await burnrate?.stop();
    await around?.close();
  });

  it('shows no page without signing in, and signs in with the API token', async () => {
    await page.goto(`${burnrate.url}/spend`);
    expect(new URL(page.url()).pathname).toBe('/sign-in');
    await page.fill('input[name=token]', 'not-the-token');
    await page.click('button[type=submit]');
    expect(await page.textContent('[role=alert]')).toContain("not this Burnrate's API token");
    await page.fill('input[name=token]', API_TOKEN);
    await page.fill('input[name=name]', 'dana@acme.com');
    await timed('sign-in → spend', () => page.click('button[type=submit]'));
    expect(new URL(page.url()).pathname).toBe('/spend');
    const cookie = (await page.context().cookies()).find((c) => c.name === 'burnrate_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
  });

  it('lists the seeded anomalies by team, and Acknowledge changes the state', async () => {
    await timed('inbox', () => page.goto(`${burnrate.url}/`));
    const rows = page.locator('tr.anomaly');
    expect(await rows.count()).toBeGreaterThanOrEqual(2);
    expect(await page.locator('section[data-team=payments] tr.anomaly').count()).toBeGreaterThanOrEqual(2);
    const bob = page.locator('tr.anomaly', { hasText: 'bob@acme.com' }).first();
    expect(await bob.locator('td.state').getAttribute('data-state')).toBe('open');
    await shot('inbox');
    await bob.locator('button[value=ack]').click();
    await page.waitForLoadState('load');
    expect(new URL(page.url()).pathname).toBe('/');
    const after = page.locator('tr.anomaly', { hasText: 'bob@acme.com' }).first();
    expect(await after.locator('td.state').getAttribute('data-state')).toBe('acknowledged');
    expect(await after.locator('td.state').textContent()).toContain('by dana@acme.com');
    // The filters are the URL.
    await page.selectOption('select[name=state]', 'acknowledged');
    await page.click('form.filters button[type=submit]');
    expect(new URL(page.url()).searchParams.get('state')).toBe('acknowledged');
    expect(await page.locator('tr.anomaly').count()).toBe(1);
  });

  it("opens the anomaly's page: a chart with data, what is behind it, the decision in its history", async () => {
    await page.goto(`${burnrate.url}/?state=acknowledged`);
    await timed('anomaly page', () => page.locator('tr.anomaly a').first().click());
    expect(new URL(page.url()).pathname).toMatch(/^\/anomalies\//);
    const chart = page.locator('svg#anomaly-chart');
    expect(await chart.getAttribute('aria-labelledby')).toBe('anomaly-chart-title');
    expect(await chart.locator('rect.bar').count()).toBeGreaterThan(0);
    expect(await chart.locator('circle.point').count()).toBeGreaterThan(0);
    expect(await chart.locator('path.cumulative').getAttribute('d')).toMatch(/^M[\d.]+,[\d.]+( L[\d.]+,[\d.]+)+$/);
    expect(await chart.locator('line.cap-line').count()).toBe(1);
    const bars = await Promise.all((await chart.locator('rect.bar').all()).map(async (bar) => Number(await bar.getAttribute('data-usd'))));
    expect(bars.reduce((s, x) => s + x, 0)).toBeCloseTo(120, 6);
    expect(await page.textContent('#behind-sessions')).toContain('bob-session');
    // One timeline, oldest first: the detector's version, then dana's acknowledgement.
    const timeline = page.locator('ol#timeline > li');
    const times = await Promise.all((await timeline.locator('time').all()).map(async (t) => (await t.getAttribute('datetime')) ?? ''));
    expect(times).toEqual([...times].sort((x, y) => Date.parse(x) - Date.parse(y)));
    expect(await timeline.first().getAttribute('data-kind')).toBe('version');
    expect(await timeline.first().textContent()).toMatch(/Version 1 raised \((warning|critical)\).*over the warning cap/);
    expect(await timeline.last().textContent()).toContain('Acknowledged by dana@acme.com (console)');
    await shot('anomaly-page');
  });

  it('Unacknowledge on the anomaly page takes it back to open, and the timeline says so', async () => {
    const id = decodeURIComponent(new URL(page.url()).pathname.replace('/anomalies/', ''));
    expect(await page.locator('button[value=ack]').count()).toBe(0);
    await page.click('button[value=unack]');
    await page.waitForLoadState('load');
    expect(new URL(page.url()).pathname).toBe(`/anomalies/${encodeURIComponent(id)}`);
    expect(await page.textContent('h1 .badge')).toBe('open');
    expect(await page.locator('ol#timeline > li').last().textContent()).toContain('Unacknowledged by dana@acme.com (console)');
    expect(await page.locator('button[value=unack]').count()).toBe(0);
    expect(await page.locator('button[value=ack]').count()).toBe(1);
    await page.goto(`${burnrate.url}/?state=open`);
    expect(await page.locator(`tr.anomaly[data-anomaly-id="${id}"] td.state`).getAttribute('data-state')).toBe('open');
  });

  it('spend explorer: changing a filter changes the URL and the totals', async () => {
    await timed('spend', () => page.goto(`${burnrate.url}/spend`));
    const all = Number(await page.getAttribute('#spend-total', 'data-usd'));
    expect(all).toBeCloseTo(8 + 9 + 10 + 11 + 30 + 40 + 50 + 2 + 3, 6);
    expect(await page.locator('svg#spend-chart rect.segment').count()).toBeGreaterThan(0);
    expect(await page.textContent('#budget')).toContain('research');
    await shot('spend-explorer');
    // The filters offer what there is to pick: the config's teams, the models seen in the range.
    const choices = async (name: string): Promise<string[]> => page.locator(`select[name=${name}] option`).allTextContents();
    expect(await choices('team')).toEqual(['all', 'payments', 'research']);
    expect(await choices('model')).toEqual(['all', 'claude-haiku-4-5', 'claude-opus-4-5', 'claude-sonnet-4-5']);
    expect(await page.locator('datalist#known-developer option').count()).toBe(3);
    await page.selectOption('select[name=team]', 'research');
    await page.selectOption('select[name=group_by]', 'model');
    await timed('spend, filtered', () => page.click('#spend-filters button[type=submit]'));
    const url = new URL(page.url());
    expect(url.searchParams.get('team')).toBe('research');
    expect(url.searchParams.get('group_by')).toBe('model');
    expect(Number(await page.getAttribute('#spend-total', 'data-usd'))).toBeCloseTo(5, 6);
    expect(await page.textContent('#spend-groups')).toContain('claude-haiku-4-5');
    await shot('spend-explorer-research');
  });

  it('config: the running config redacted, and a backtest of a pasted proposal lists NEW anomalies', async () => {
    await timed('config', () => page.goto(`${burnrate.url}/config`));
    expect(await page.textContent('#config-yaml')).toContain('org: acme');
    await page.fill('textarea[name=proposal]', CONFIG.replace('warning_usd: 25', 'warning_usd: 4'));
    await page.click('form[action="/config/backtest"] button[type=submit]');
    const result = await page.textContent('#backtest-result');
    expect(result).toMatch(/Backtest: [1-9]\d* new/);
    await shot('config-backtest');
    await page.fill('textarea[name=proposal]', 'org: acme\nteams: nope\n');
    await page.click('form[action="/config/backtest"] button[type=submit]');
    expect(await page.textContent('[role=alert]')).toContain('not a valid Burnrate config');
    expect(await page.textContent('ul.issues')).toContain('teams');
  });

  it('refuses a state-changing request without the CSRF token, and from another origin', async () => {
    // The page's CSP lets no script fetch anything, so the request is made with the browser's cookies from outside it.
    const withoutToken = await page.context().request.post(`${burnrate.url}/config/backtest`, {
      headers: { origin: burnrate.url },
      form: { proposal: 'org: acme' },
    });
    expect(withoutToken.status()).toBe(403);
    expect(await withoutToken.text()).toContain('The form has no csrf token');
    const status = (
      await page.context().request.post(`${burnrate.url}/config/backtest`, {
        headers: { origin: burnrate.url },
        form: { proposal: 'org: acme', csrf: 'forged' },
      })
    ).status();
    expect(status).toBe(403);
    const forged = await fetch(`${burnrate.url}/sign-out`, {
      method: 'POST',
      headers: { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' },
      body: 'csrf=x',
    });
    expect(forged.status).toBe(403);
    // The bearer-token API is unchanged by the console.
    expect((await fetch(`${burnrate.url}/api/anomalies`)).status).toBe(401);
    expect((await fetch(`${burnrate.url}/api/anomalies`, { headers: { authorization: `Bearer ${API_TOKEN}` } })).status).toBe(200);
  });
});
