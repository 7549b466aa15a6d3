import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ANTHROPIC_COST_PATH, anthropicCostRow, startAnthropicStandIn, type UsageApiStandIn, waitUntil } from '@burnrate/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpendResponse, SpendTopResponse } from '@burnrate/api';
import {
  type BurnrateProcess,
  postJson,
  startBurnrate,
  startSurroundings,
  type Surroundings,
  TEST_CONFIG,
  waitForCaughtUp,
} from '../test-support/burnrate-process.ts';
import { runCli } from '../test-support/service-process.ts';

const ADMIN_KEY = 'sk-ant-admin01-spend-test';
const DAY = 86_400_000;

// Two teams' live spend posted per request, and Anthropic's cost report for yesterday polled from
// a stand-in of the Admin API: it covers the payments team's Anthropic spend (its default
// workspace) and replaces those live events for the day; research's OpenAI spend, which no report
// covers, counts live.
describe('burnrate start (embedded): GET /api/spend, /api/spend/top and burnrate spend / report', () => {
  let around: Surroundings;
  let api: UsageApiStandIn;
  let burnrate: BurnrateProcess | undefined;
  const today = Math.floor(Date.now() / DAY) * DAY;
  const yesterday = new Date(today - DAY);
  const twoDaysAgo = new Date(today - 2 * DAY);
  const day = (d: Date): string => d.toISOString().slice(0, 10);
  const at = (d: Date, hour: number): string => new Date(d.getTime() + hour * 3_600_000).toISOString();
  const from = twoDaysAgo.toISOString();
  const to = new Date(today).toISOString();
  let url = '';
  const get = async <T>(path: string): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${url}${path}`);
    return { status: res.status, body: (await res.json()) as T };
  };

  beforeAll(async () => {
    around = await startSurroundings();
    const config = TEST_CONFIG.replace(
      '    email: [payments-leads@acme.com]\n',
      '    email: [payments-leads@acme.com]\n    budget: { monthly_usd: 6000 }\n' +
        '  - id: research\n    members: [carol@acme.com]\n    email: [research-leads@acme.com]\n    budget: { monthly_usd: 1500.5 }\n',
    );
    expect(config).toContain('id: research');
    await writeFile(join(around.dir.path, 'burnrate.yaml'), `${config}\nownership:\n  - match: { project: default }\n    team: payments\n`);
    api = await startAnthropicStandIn(ADMIN_KEY);
    burnrate = await startBurnrate({
      ...around.env,
      ANTHROPIC_ADMIN_API_KEY: ADMIN_KEY,
      ANTHROPIC_API_URL: api.origin,
      BURNRATE_POLL_SOURCES: 'anthropic_cost_report',
      BURNRATE_POLL_INTERVAL: '10s',
      BURNRATE_POLL_BACKFILL: '3d',
    });
    url = burnrate.url;
  });

  afterAll(async () => {
    await burnrate?.stop();
    await api?.close();
    await around?.close();
  });

  it('counts the reported day once at the report figure, groups and filters, ranks sessions, and the CLI prints the same', async () => {
    const live = [
      { occurred_at: at(yesterday, 10), developer_email: 'alice@acme.com', model: 'claude-opus-4-5', session_id: 'sess-a', cost_usd: 10 },
      { occurred_at: at(yesterday, 11), developer_email: 'alice@acme.com', model: 'claude-opus-4-5', session_id: 'sess-a', cost_usd: 10 },
      { occurred_at: at(twoDaysAgo, 9), developer_email: 'bob@acme.com', model: 'claude-opus-4-5', session_id: 'sess-b', cost_usd: 4 },
      {
        occurred_at: at(yesterday, 14),
        developer_email: 'carol@acme.com',
        provider: 'openai',
        model: 'gpt-5',
        session_id: 'sess-c',
        cost_usd: 7.25,
        input_tokens: 1500,
      },
    ];
    expect((await postJson(`${url}/v1/events`, live)).status).toBe(200);
    await waitForCaughtUp(url);

    // Before the report: every live dollar counts.
    const before = await get<SpendResponse>(`/api/spend?from=${from}&to=${to}&group_by=team`);
    expect(before.status).toBe(200);
    expect(before.body.total.cost_usd).toBe(31.25);

    // Yesterday's cost report: $25.00 for the default workspace (payments), where the live events
    // showed $20 (a call lost on the way); it is the invoice, so it is the figure.
    api.setRows(ANTHROPIC_COST_PATH, yesterday.toISOString(), [anthropicCostRow(2500)]);
    await waitUntil(
      async () => {
        const health = (await (await fetch(`${url}/healthz`)).json()) as { pollers: { source: string; published: number }[] };
        return health.pollers.some((p) => p.source === 'anthropic_cost_report' && p.published >= 1);
      },
      { timeoutMs: 30_000, message: 'the cost report bucket to be polled and published' },
    );
    await waitForCaughtUp(url);

    const byTeam = await get<SpendResponse>(`/api/spend?from=${from}&to=${to}&group_by=team&granularity=day`);
    expect(byTeam.status).toBe(200);
    expect(byTeam.body.rows.map((r) => [r.period, r.team, r.cost_usd])).toEqual([
      [`${day(twoDaysAgo)}T00:00:00.000Z`, 'payments', 4],
      [`${day(yesterday)}T00:00:00.000Z`, 'payments', 25],
      [`${day(yesterday)}T00:00:00.000Z`, 'research', 7.25],
    ]);
    // 4 + 25 + 7.25: the report replaced payments' $20 of live Anthropic spend, not added to it.
    expect(byTeam.body.total.cost_usd).toBe(36.25);
    // The same as the reconciliation report counts.
    const reconciliation = await get<{ total: { counted_usd: number } }>('/api/report/reconciliation?since=3d');
    expect(reconciliation.body.total.counted_usd).toBe(36.25);

    const byProvider = await get<SpendResponse>(`/api/spend?from=${from}&to=${to}&group_by=provider&granularity=month`);
    const perProvider = new Map<string, number>();
    // Two months when the range starts in the previous one.
    for (const r of byProvider.body.rows) perProvider.set(r.provider ?? '', (perProvider.get(r.provider ?? '') ?? 0) + r.cost_usd);
    expect([...perProvider]).toEqual([
      ['anthropic', 29],
      ['openai', 7.25],
    ]);
    const research = await get<SpendResponse>(`/api/spend?from=${from}&to=${to}&team=research&group_by=developer,model`);
    expect(research.body.rows.map((r) => [r.developer, r.model, r.cost_usd])).toEqual([['carol@acme.com', 'gpt-5', 7.25]]);
    expect(research.body.total.input_tokens).toBe(1500);

    // Month to date against the budget, per configured team, equal to the month's rows.
    const monthStart = Date.UTC(new Date(today).getUTCFullYear(), new Date(today).getUTCMonth(), 1);
    const budget = await get<SpendResponse>(`/api/spend?from=${from}&to=${to}&group_by=team&budget=true`);
    const mtd = (team: string): number =>
      byTeam.body.rows.filter((r) => r.team === team && Date.parse(r.period) >= monthStart).reduce((n, r) => n + r.cost_usd, 0);
    expect(budget.body.budget?.teams.map((t) => [t.team, t.budget_usd, t.month_to_date_usd])).toEqual([
      ['payments', 6000, mtd('payments')],
      ['research', 1500.5, mtd('research')],
    ]);

    const sessions = await get<SpendTopResponse>(`/api/spend/top?by=session&from=${from}&to=${to}`);
    expect(sessions.body.rows.map((r) => [r.key, r.developer, r.cost_usd])).toEqual([
      ['sess-a', 'alice@acme.com', 20],
      ['sess-c', 'carol@acme.com', 7.25],
      ['sess-b', 'bob@acme.com', 4],
    ]);
    const developers = await get<SpendTopResponse>(`/api/spend/top?by=developer&from=${from}&to=${to}&limit=1`);
    expect(developers.body.rows).toHaveLength(1);

    // Bad parameters: 400 naming the parameter.
    for (const [query, field] of [
      ['group_by=team,colour', 'group_by'],
      [`from=${to}&to=${from}`, 'from'],
      ['granularity=week', 'granularity'],
      ['teem=payments', 'teem'],
    ] as const) {
      const res = await get<{ error: { message: string } }>(`/api/spend?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.error.message.startsWith(field), res.body.error.message).toBe(true);
    }
    expect((await get<{ error: { message: string } }>('/api/spend/top?by=model')).body.error.message).toMatch(/^by /);

    // The CLI: the same totals as JSON, CSV and a table.
    const env = { BURNRATE_URL: url };
    const json = await runCli(['spend', '--group-by', 'team', '--from', from, '--to', to, '--json'], env);
    expect(json.stderr).toBe('');
    expect((JSON.parse(json.stdout) as SpendResponse).total.cost_usd).toBe(36.25);
    const csv = await runCli(['spend', '--group-by', 'team', '--from', from, '--to', to, '--csv'], env);
    const lines = csv.stdout.trim().split('\n');
    expect(lines[0]).toBe('period,team,events,input_tokens,output_tokens,cache_write_tokens,cache_read_tokens,total_tokens,cost_usd');
    expect(lines.slice(1).reduce((n, l) => n + Number(l.split(',').at(-1)), 0)).toBe(36.25);
    const daily = await runCli(['report', 'daily', '--from', from, '--to', to], env);
    expect(daily.code).toBe(0);
    expect(daily.stdout).toMatch(new RegExp(`${day(yesterday)}\\s.*gpt-5\\s.*\\$32\\.25`));
    expect(daily.stdout).toMatch(/Total\s.*\$36\.25/);
    const monthly = await runCli(['report', 'monthly', '--from', from, '--to', to], env);
    expect(monthly.stdout).toMatch(/payments\s+\$6,000(?![\d.,])/);
    const sessionReport = await runCli(['report', 'session', '--from', from, '--to', to, '--csv'], env);
    expect(
      sessionReport.stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split(',')[0]),
    ).toEqual(['sess-a', 'sess-c', 'sess-b']);
    const bad = await runCli(['spend', '--granularity', 'week'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/granularity must be one of hour, day, month/);
  });
});
