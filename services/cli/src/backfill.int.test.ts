import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnomalyEntry } from '@burnrate/api';
import { waitUntil } from '@burnrate/testing';
import type { AnomalyDetailBody } from './on-call-format.ts';
import {
  type BurnrateProcess,
  postJson,
  startBurnrate,
  startSurroundings,
  type Surroundings,
  waitForCaughtUp,
} from '../test-support/burnrate-process.ts';

const DAY_MS = 86_400_000;

// A month-old import into a running `burnrate start`, through POST /v1/events, with a real SMTP
// server and a Slack stand-in listening: live detection has moved past it, so the backfill runner
// judges it over the embedded store, and what it finds is stored as historical, never sent.
describe('a backfill of 30 days old events', () => {
  let around: Surroundings;
  let burnrate: BurnrateProcess;

  beforeAll(async () => {
    around = await startSurroundings();
    const configPath = around.env.BURNRATE_CONFIG as string;
    // Judged a second after the import stops, so the test waits seconds, not the default 30.
    const config = (await readFile(configPath, 'utf8')).replace(
      'detectors:\n',
      'detectors:\n  backfill: { quiet: 1s, max_wait: 1m, warmup: 14d }\n',
    );
    expect(config).toContain('backfill: { quiet: 1s');
    await writeFile(configPath, config);
    burnrate = await startBurnrate(around.env);
  }, 60_000);

  afterAll(async () => {
    await burnrate?.stop();
    await around?.close();
  });

  const get = async <T>(path: string): Promise<T> => (await (await fetch(`${burnrate.url}${path}`)).json()) as T;

  it('yields historical anomalies and no pages', async () => {
    const now = Date.now();
    // Today's usage: live detection's watermark is now. Cents, so nothing here is an anomaly.
    const today = ['alice@acme.com', 'bob@acme.com'].map((developer_email, i) => ({
      occurred_at: new Date(now - 60_000 + i * 1_000).toISOString(),
      developer_email,
      model: 'claude-sonnet-4-5',
      session_id: `today-${i}`,
      cost_usd: 0.05,
    }));
    expect((await postJson(`${burnrate.url}/v1/events`, today)).status).toBe(200);
    await waitForCaughtUp(burnrate.url);

    // A month ago alice's agent ran a session up to $150, a call a minute: live, that pages
    // (warning at $25, critical at $100). Imported in batches, as `burnrate import` posts.
    const monthAgo = now - 30 * DAY_MS;
    const costly = Array.from({ length: 15 }, (_, i) => ({
      occurred_at: new Date(monthAgo + i * 60_000).toISOString(),
      developer_email: 'alice@acme.com',
      model: 'claude-opus-4-5',
      session_id: 'runaway-last-month',
      cost_usd: 10,
    }));
    const cheap = Array.from({ length: 5 }, (_, i) => ({
      occurred_at: new Date(monthAgo + 3_600_000 + i * 60_000).toISOString(),
      developer_email: 'bob@acme.com',
      model: 'claude-sonnet-4-5',
      session_id: 'quiet-last-month',
      cost_usd: 0.2,
    }));
    for (const batch of [costly.slice(0, 5), costly.slice(5, 10), costly.slice(10), cheap]) {
      expect(await postJson(`${burnrate.url}/v1/events`, batch)).toMatchObject({ status: 200, body: { accepted: batch.length } });
    }

    const found = await waitUntil(
      async () => {
        const { anomalies } = await get<{ anomalies: AnomalyEntry[] }>('/api/anomalies?historical=true');
        return anomalies.some((a) => a.kind === 'session_cost' && a.severity === 'critical') && anomalies;
      },
      { timeoutMs: 60_000, intervalMs: 250, message: 'a historical critical session_cost anomaly listed by the API' },
    );
    expect(found.every((a) => a.historical && a.subject.session === 'runaway-last-month')).toBe(true);
    // Detected at the time the events tell, a month ago.
    expect(found.every((a) => Date.parse(a.first_detected_at) < now - 29 * DAY_MS)).toBe(true);

    // Every stage has handled everything, the notifier the historical anomalies included.
    await waitForCaughtUp(burnrate.url);
    const health = await get<{ status: string; backfill: Record<string, unknown> }>('/healthz');
    expect(health.status).toBe('ok');
    expect(health.backfill).toMatchObject({ pending_windows: 0, judging: null, failures: 0, late_events: 20 });
    expect(health.backfill.judged_windows).toBeGreaterThanOrEqual(1);
    expect(health.backfill.historical_anomalies).toBe(found.length);

    // No pages: nothing on Slack, no email, no delivery recorded, and nothing found live.
    expect(around.slack.messages).toEqual([]);
    expect(around.smtp.messages).toEqual([]);
    for (const a of found) expect((await get<AnomalyDetailBody>(`/api/anomalies/${a.id}`)).deliveries).toEqual([]);
    expect((await get<{ anomalies: AnomalyEntry[] }>('/api/anomalies?historical=false')).anomalies).toEqual([]);
    // The notifier read them and said why it sent nothing.
    expect(burnrate.logs.some((l) => l.includes('"historical anomaly (found by a backfill): stored, not sent"'))).toBe(true);
  }, 90_000);
});
