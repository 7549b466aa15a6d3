import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@burnrate/core';
import { createChdbStore } from '@burnrate/store';
import { type SlackStandIn, type TestSmtpServer, waitUntil } from '@burnrate/testing';
import {
  type BurnrateProcess,
  postJson,
  startBurnrate,
  startSurroundings,
  type Surroundings,
  TEST_CONFIG,
} from '../test-support/burnrate-process.ts';

// The grouping defaults (group_by team + kind, group_wait 10 s, group_interval 5 min), without
// inhibition so the session pages themselves are what is grouped.
const CONFIG = TEST_CONFIG.replace(/routes:\n(?: {2}.*\n)+? {2}rules:/, 'inhibit: []\nroutes:\n  rules:');

describe('burnrate start groups a burst of pages into one message, and sends the first critical fast', () => {
  let around: Surroundings;
  let smtp: TestSmtpServer;
  let slack: SlackStandIn;
  let burnrate: BurnrateProcess;

  beforeAll(async () => {
    around = await startSurroundings();
    ({ smtp, slack } = around);
    const configPath = join(around.dir.path, 'grouping.yaml');
    await writeFile(configPath, CONFIG);
    burnrate = await startBurnrate({ ...around.env, BURNRATE_CONFIG: configPath });
  });
  afterAll(async () => {
    await burnrate?.stop();
    await around?.close();
  });

  const session = (n: number, costs: number[], minute = 0) =>
    costs.map((cost_usd, i) => ({
      occurred_at: new Date(Date.UTC(2026, 10, 27, 10, minute + i)).toISOString(),
      developer_email: n % 2 === 0 ? 'alice@acme.com' : 'bob@acme.com',
      model: 'claude-opus-4-5',
      session_id: `burst-${n}`,
      cost_usd,
    }));

  it('sends 30 session warnings of one team as one Slack message and one email, after group_wait', async () => {
    expect(CONFIG).toContain('inhibit: []');
    const started = performance.now();
    const posted = await postJson(`${burnrate.url}/v1/events`, Array.from({ length: 30 }, (_, n) => session(n, [10, 10, 10])).flat());
    expect(posted.status).toBe(200);
    await slack.waitFor((m) => m.channelName === '#payments-ai-spend', 30_000);
    const firstAfterMs = performance.now() - started;
    await waitUntil(() => smtp.messages.length >= 1, { timeoutMs: 15_000, message: 'the group email' });
    // Nothing else follows for the burst.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(slack.messages).toHaveLength(1);
    expect(smtp.messages).toHaveLength(1);

    const listed = (await (await fetch(`${burnrate.url}/api/anomalies?limit=1000`)).json()) as { anomalies: unknown[] };
    console.log(
      `grouping: ${listed.anomalies.length} session anomalies in, ${slack.messages.length} Slack message and ` +
        `${smtp.messages.length} email out; first message ${Math.round(firstAfterMs)} ms after the post (group_wait 10 s)`,
    );
    expect(listed.anomalies).toHaveLength(30);
    expect(firstAfterMs).toBeGreaterThanOrEqual(10_000);
  });

  it('sends a new critical within group_wait even though its group was sent to a moment ago', async () => {
    const started = performance.now();
    const posted = await postJson(`${burnrate.url}/v1/events`, session(100, [120], 30));
    expect(posted.status).toBe(200);
    await waitUntil(() => slack.messages.length >= 2, { timeoutMs: 30_000, message: 'the critical Slack message' });
    const afterMs = performance.now() - started;
    console.log(`first critical: on Slack ${Math.round(afterMs)} ms after the post that caused it (group_wait 10 s, group_interval 5 min)`);
    expect(slack.messages[1]?.text).toMatch(/critical/i);
    expect(afterMs).toBeLessThan(10_000 + 5_000);
  });

  it('has every one of the 30 anomalies on record as carried by the one Slack message', async () => {
    await burnrate.stop();
    const store = await createChdbStore({ dataDir: around.chdbDir, log: createLogger({ level: 'silent' }) });
    try {
      const message = slack.messages[0];
      const carried = await store.listDeliveries({ status: 'sent', detail: `${message?.channel}:${message?.ts}` });
      expect(new Set(carried.map((d) => d.anomaly_id)).size).toBe(30);
    } finally {
      await store.close();
    }
  });
});
