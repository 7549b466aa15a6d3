import { createLogger } from '@burnrate/core';
import { createChdbStore } from '@burnrate/store';
import { ANTHROPIC_USAGE_PATH, startAnthropicStandIn, type UsageApiStandIn, waitUntil } from '@burnrate/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BurnrateProcess,
  startBurnrate,
  startSurroundings,
  type Surroundings,
  waitForCaughtUp,
} from '../test-support/burnrate-process.ts';

const ADMIN_KEY = 'sk-ant-admin01-embedded-test';
const HOUR = 3_600_000;

interface PollerLine {
  source: string;
  last_success_at: string | null;
  lag_s: number | null;
  last_error: unknown;
  published: number;
}

// burnrate start with an Anthropic admin key: the usage, cost and Claude Code report pollers run in the
// process, against a stand-in of the Admin API, and their events reach the store.
describe('burnrate start (embedded) with provider pollers', () => {
  let around: Surroundings;
  let api: UsageApiStandIn;
  let burnrate: BurnrateProcess | undefined;
  const lastHour = new Date(Math.floor(Date.now() / HOUR) * HOUR - HOUR).toISOString();

  beforeAll(async () => {
    around = await startSurroundings();
    api = await startAnthropicStandIn(ADMIN_KEY);
    api.setRows(ANTHROPIC_USAGE_PATH, lastHour, [
      {
        account_id: null,
        api_key_id: 'apikey_embedded',
        workspace_id: null,
        model: 'claude-sonnet-4-5',
        service_tier: 'standard',
        uncached_input_tokens: 1000,
        cache_read_input_tokens: 0,
        cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
        output_tokens: 1000,
        server_tool_use: null,
      },
    ]);
    burnrate = await startBurnrate({
      ...around.env,
      ANTHROPIC_ADMIN_API_KEY: ADMIN_KEY,
      ANTHROPIC_API_URL: api.origin,
      BURNRATE_POLL_BACKFILL: '3h',
    });
  });

  afterAll(async () => {
    await burnrate?.stop();
    await api?.close();
    await around?.close();
  });

  it('polls the usage report of the provider whose key is set (not the overlapping ones), shows its line on /healthz, and stores the events', async () => {
    const url = burnrate?.url ?? '';
    const lines = await waitUntil(
      async () => {
        const health = (await (await fetch(`${url}/healthz`)).json()) as { pollers: PollerLine[] };
        return health.pollers.every((p) => p.last_success_at !== null) && health.pollers;
      },
      { timeoutMs: 15_000, message: 'every poller to succeed once' },
    );
    expect(lines.map((l) => l.source)).toEqual(['anthropic_usage_report']);
    expect(lines[0]).toMatchObject({ last_error: null, published: 1 });
    expect(lines[0]?.lag_s).toBeLessThan(HOUR / 1000);
    await waitForCaughtUp(url);

    expect(await burnrate?.stop()).toBe(0);
    burnrate = undefined;
    const store = await createChdbStore({ dataDir: around.chdbDir, log: createLogger({ level: 'silent' }) });
    try {
      const events = await store.listUsageEvents({ limit: 100 });
      expect(events).toMatchObject([
        { granularity: '1h', period_start: lastHour, api_key_id: 'apikey_embedded', output_tokens: 1000, cost_source: 'computed' },
      ]);
      // Sonnet 4.5: $3 in, $15 out per million.
      expect(events[0]?.cost_usd).toBeCloseTo(0.018, 9);
    } finally {
      await store.close();
    }
  });
});
