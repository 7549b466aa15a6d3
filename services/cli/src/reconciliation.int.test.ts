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
import { runCli } from '../test-support/service-process.ts';
import type { BacktestReport } from './backtest-report.ts';

const ADMIN_KEY = 'sk-ant-admin01-reconciliation-test';
const DAY = 86_400_000;

interface PollerLine {
  source: string;
  last_success_at: string | null;
  published: number;
}

interface Row {
  day: string;
  provider: string;
  team: string;
  live_usd: number;
  report_usd: number;
  report_source: string | null;
  counted_usd: number;
  delta_usd: number;
}

// The same day of Anthropic spend from two sources: Claude Code's events per request as they
// happen, and the Anthropic cost report (the invoice's figures) polled from a stand-in of the
// Admin API once the day is over. Counted once, judged once, the delta visible.
describe('burnrate start (embedded): live events and the cost report of the same day', () => {
  let around: Surroundings;
  let api: UsageApiStandIn;
  let burnrate: BurnrateProcess | undefined;
  const yesterday = new Date(Math.floor(Date.now() / DAY) * DAY - DAY);
  const day = yesterday.toISOString().slice(0, 10);
  const at = (minutes: number): string => new Date(yesterday.getTime() + 10 * 3_600_000 + minutes * 60_000).toISOString();

  beforeAll(async () => {
    around = await startSurroundings();
    // The cost report attributes spend to workspaces only: the default one is the payments team's.
    await writeFile(
      join(around.dir.path, 'burnrate.yaml'),
      `${TEST_CONFIG}\nownership:\n  - match: { project: default }\n    team: payments\n`,
    );
    api = await startAnthropicStandIn(ADMIN_KEY);
    burnrate = await startBurnrate({
      ...around.env,
      ANTHROPIC_ADMIN_API_KEY: ADMIN_KEY,
      ANTHROPIC_API_URL: api.origin,
      BURNRATE_POLL_SOURCES: 'anthropic_cost_report',
      BURNRATE_POLL_INTERVAL: '10s',
      BURNRATE_POLL_BACKFILL: '3d',
    });
  });

  afterAll(async () => {
    await burnrate?.stop();
    await api?.close();
    await around?.close();
  });

  it('counts the day once at the report figure, raises the session anomaly once, and shows the delta', async () => {
    const url = burnrate?.url ?? '';
    // Alice's session crosses the $25 warning cap live: $30 over three calls.
    const live = [10, 10, 10].map((cost_usd, i) => ({
      occurred_at: at(i),
      developer_email: 'alice@acme.com',
      model: 'claude-opus-4-5',
      session_id: 'session-reconciled',
      cost_usd,
    }));
    expect((await postJson(`${url}/v1/events`, live)).status).toBe(200);
    await waitForCaughtUp(url);
    const before = (await (await fetch(`${url}/api/anomalies`)).json()) as { anomalies: { kind: string; id: string }[] };
    expect(before.anomalies.map((a) => a.kind)).toEqual(['session_cost']);
    const slackBefore = around.slack.messages.length;

    // The day's cost report arrives: $33.50, $3.50 more than the events showed (a call lost on the way).
    api.setRows(ANTHROPIC_COST_PATH, yesterday.toISOString(), [anthropicCostRow(3350)]);
    await waitUntil(
      async () => {
        const health = (await (await fetch(`${url}/healthz`)).json()) as { pollers: PollerLine[] };
        return health.pollers.some((p) => p.source === 'anthropic_cost_report' && p.published >= 1);
      },
      { timeoutMs: 30_000, message: 'the cost report bucket to be polled and published' },
    );
    await waitForCaughtUp(url);

    const report = (await (await fetch(`${url}/api/report/reconciliation?since=3d`)).json()) as {
      rows: Row[];
      total: { live_usd: number; report_usd: number; counted_usd: number; delta_usd: number };
    };
    expect(
      report.rows.map((r) => [r.day, r.provider, r.team, r.live_usd, r.report_usd, r.report_source, r.counted_usd, r.delta_usd]),
    ).toEqual([[day, 'anthropic', 'payments', 30, 33.5, 'anthropic_cost_report', 33.5, 3.5]]);
    expect(report.total).toEqual({ live_usd: 30, report_usd: 33.5, counted_usd: 33.5, delta_usd: 3.5 });

    // Nothing new was raised or sent for the reported spend: the live events already judged it.
    const after = (await (await fetch(`${url}/api/anomalies`)).json()) as { anomalies: { kind: string; id: string }[] };
    expect(after.anomalies.map((a) => a.id)).toEqual(before.anomalies.map((a) => a.id));
    expect(around.slack.messages.length).toBe(slackBefore);

    // A backtest over the stored day replays the bucket after its day, as it arrived, and
    // supersedes it the same way: the same anomaly, nothing more.
    expect(await burnrate?.stop()).toBe(0);
    burnrate = undefined;
    const backtest = await runCli(['backtest', '--config', join(around.dir.path, 'burnrate.yaml'), '--from', day, '--json'], {
      BURNRATE_DATA_DIR: join(around.dir.path, 'data'),
    });
    expect(backtest.stderr).toBe('');
    const replayed = JSON.parse(backtest.stdout) as BacktestReport;
    expect(replayed.runs[0]?.replay).toEqual({ events: 4, duplicates: 0, late: 0, superseded: 1, invalid: 0 });
    expect(replayed.runs[0]?.anomalies.map((a) => [a.kind, a.subject.session])).toEqual([['session_cost', 'session-reconciled']]);
  });
});
