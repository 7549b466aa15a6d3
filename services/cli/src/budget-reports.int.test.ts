import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ANTHROPIC_COST_PATH, anthropicCostRow, startAnthropicStandIn, type UsageApiStandIn, waitUntil } from '@burnrate/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BurnrateProcess,
  postJson,
  startBurnrate,
  startSurroundings,
  type Surroundings,
  TEST_CONFIG,
  waitForCaughtUp,
} from '../test-support/burnrate-process.ts';

const ADMIN_KEY = 'sk-ant-admin01-budget-reports-test';
const DAY = 86_400_000;

interface Listed {
  kind: string;
  id: string;
  severity: string;
  summary: string;
  subject: { team?: string };
}

interface CorrectionsLine {
  last_run_at: string | null;
  published: number;
  teams_days_corrected: number;
  delta_usd: number;
  last_error: unknown;
}

// The live feed shows a team well within its month; the provider's cost report, polled hours
// later, says the day cost three times that (an API key nothing sends live for). The budget
// forecast takes the report's figure: it warns once, says how much the reports added, and the
// team's channel hears of it. Nothing already raised is raised again.
describe('burnrate start (embedded): the cost report corrects the budget forecast', () => {
  let around: Surroundings;
  let api: UsageApiStandIn;
  let burnrate: BurnrateProcess | undefined;
  // A UTC team, so the report's UTC day is the team's day whatever the hour the test runs at.
  const spentAt = Date.now() - 20 * 60_000;
  const dayStart = Math.floor(spentAt / DAY) * DAY;

  beforeAll(async () => {
    around = await startSurroundings();
    const config = TEST_CONFIG.replaceAll('Europe/Berlin', 'UTC').replace(
      '    email: [payments-leads@acme.com]\n',
      '    email: [payments-leads@acme.com]\n    budget: { monthly_usd: 100 }\n',
    );
    await writeFile(
      join(around.dir.path, 'burnrate.yaml'),
      `${config.replace('detectors:\n', 'detectors:\n  budget_forecast: { min_impact_usd: 1, warning_share: 0.9, critical_share: 1.5 }\n')}` +
        `ownership:\n  - match: { project: default }\n    team: payments\n`,
    );
    api = await startAnthropicStandIn(ADMIN_KEY);
    burnrate = await startBurnrate({
      ...around.env,
      ANTHROPIC_ADMIN_API_KEY: ADMIN_KEY,
      ANTHROPIC_API_URL: api.origin,
      BURNRATE_POLL_SOURCES: 'anthropic_cost_report',
      BURNRATE_POLL_INTERVAL: '10s',
      BURNRATE_POLL_BACKFILL: '2d',
      BURNRATE_RECONCILE_INTERVAL: '1s',
    });
  });

  afterAll(async () => {
    await burnrate?.stop();
    await api?.close();
    await around?.close();
  });

  const anomalies = async (url: string): Promise<Listed[]> =>
    ((await (await fetch(`${url}/api/anomalies`)).json()) as { anomalies: Listed[] }).anomalies;

  it('warns from the report figure, names what the reports added, and raises nothing twice', async () => {
    const url = burnrate?.url ?? '';
    // $30 over three calls in three sessions: 30% of the $100 budget, under every session cap.
    const live = [10, 10, 10].map((cost_usd, i) => ({
      occurred_at: new Date(spentAt + i * 1000).toISOString(),
      developer_email: 'alice@acme.com',
      model: 'claude-opus-4-5',
      session_id: `budget-${String(i)}`,
      cost_usd,
    }));
    expect((await postJson(`${url}/v1/events`, live)).status).toBe(200);
    // Team time moves on a minute (as it does with any traffic), so the team detectors have taken the $30.
    const later = { ...live[0], session_id: 'budget-later', occurred_at: new Date(spentAt + 60_000).toISOString(), cost_usd: 0 };
    expect((await postJson(`${url}/v1/events`, [later])).status).toBe(200);
    await waitForCaughtUp(url);
    // Give the reconciler a few runs: with no report yet it has nothing to say.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    await waitForCaughtUp(url);
    expect((await anomalies(url)).filter((a) => a.kind === 'budget_forecast')).toEqual([]);
    const slackBefore = around.slack.messages.length;

    // The day's cost report: $95, where the live feed saw $30.
    api.setRows(ANTHROPIC_COST_PATH, new Date(dayStart).toISOString(), [anthropicCostRow(9500)]);
    await waitUntil(
      async () => {
        const health = (await (await fetch(`${url}/healthz`)).json()) as { report_corrections: CorrectionsLine };
        return health.report_corrections.teams_days_corrected === 1;
      },
      { timeoutMs: 40_000, message: 'the cost report to be polled, stored and published as a correction' },
    );
    const health = (await (await fetch(`${url}/healthz`)).json()) as { report_corrections: CorrectionsLine };
    expect(health.report_corrections).toMatchObject({ delta_usd: 65, last_error: null });

    await waitUntil(async () => (await anomalies(url)).some((a) => a.kind === 'budget_forecast'), {
      timeoutMs: 20_000,
      message: 'a budget_forecast anomaly from the corrected month to date',
    });
    const budget = (await anomalies(url)).filter((a) => a.kind === 'budget_forecast');
    expect(budget.map((a) => [a.subject.team, a.severity])).toEqual([['payments', 'warning']]);
    expect(budget[0]?.summary).toMatch(
      /has spent \$95(\.00)? of its \$100(\.00)? budget .*the providers' reports count \$65(\.00)? more than was seen live/,
    );
    await waitUntil(() => around.slack.messages.length > slackBefore, { timeoutMs: 20_000, message: "the team's Slack message" });

    // The reconciler keeps running: the same figures are not published again, nothing new is raised.
    const raised = (await anomalies(url)).map((a) => a.id).sort();
    await new Promise((resolve) => setTimeout(resolve, 2500));
    await waitForCaughtUp(url);
    const again = (await (await fetch(`${url}/healthz`)).json()) as { report_corrections: CorrectionsLine };
    expect(again.report_corrections.published).toBe(health.report_corrections.published);
    expect((await anomalies(url)).map((a) => a.id).sort()).toEqual(raised);
  });
});
