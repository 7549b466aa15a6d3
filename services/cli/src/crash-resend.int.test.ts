import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, loadConfig } from '@burnrate/core';
import { replay } from '@burnrate/detector';
import type { Anomaly } from '@burnrate/schemas';
import { createChdbStore } from '@burnrate/store';
import { waitUntil } from '@burnrate/testing';
import {
  type BurnrateProcess,
  postJson,
  startBurnrate,
  startSurroundings,
  type Surroundings,
  waitForCaughtUp,
} from '../test-support/burnrate-process.ts';

const EVENTS_PER_BATCH = 5;
const SESSIONS = 4;

interface Sent {
  records: { event_id: string }[];
  status: number | 'cut';
}

// A client that lost its answers in a crash sends its batches again. Every copy of an event that
// was already accepted must change nothing: the detector's state after the resend is what a replay
// of the stored events gives, however many of the developer's events came in between.
describe('embedded mode: clients resend after kill -9', () => {
  let around: Surroundings;
  let burnrate: BurnrateProcess | undefined;

  beforeAll(async () => {
    around = await startSurroundings();
  });

  afterAll(async () => {
    await burnrate?.stop();
    await around?.close();
  });

  it('counts every event once: the anomalies equal a replay of what was stored', async () => {
    burnrate = await startBurnrate(around.env);
    const batches: Sent[] = [];
    let stop = false;
    let seq = 0;
    const batch = (n: number) =>
      Array.from({ length: EVENTS_PER_BATCH }, (_, j) => ({
        event_id: `resend-${n}-${j}`,
        occurred_at: new Date(Date.UTC(2026, 10, 27, 9, 0, 0) + (n * EVENTS_PER_BATCH + j) * 1000).toISOString(),
        developer_email: 'alice@acme.com',
        model: 'claude-opus-4-5',
        session_id: `resend-session-${n % SESSIONS}`,
        cost_usd: 2,
      }));
    const post = async (records: { event_id: string }[]): Promise<number | 'cut'> => {
      try {
        return (await postJson(`${burnrate!.url}/v1/events`, records)).status;
      } catch {
        return 'cut';
      }
    };

    // One client, in order, so arrival order is post order; bounded at 600 batches.
    const posting = (async () => {
      for (let i = 0; i < 600 && !stop; i++) {
        const records = batch(seq++);
        batches.push({ records, status: 'cut' });
        (batches.at(-1) as Sent).status = await post(records);
      }
    })();
    // Well past the 64 ids per developer the detector's own dedupe remembers.
    await waitUntil(() => batches.filter((b) => b.status === 200).length >= 60, { timeoutMs: 30_000, message: 'traffic before the kill' });
    await burnrate.kill9();
    stop = true;
    await posting;
    const ackedBeforeKill = batches.filter((b) => b.status === 200).length;

    burnrate = await startBurnrate(around.env);
    // The client sends everything again, oldest first: what it never heard back about, and what
    // it did (it cannot tell a lost answer from a refused request).
    const resent = { batches: 0, duplicates: 0, accepted: 0 };
    for (const b of batches) {
      const res = await postJson(`${burnrate.url}/v1/events`, b.records);
      expect(res.status).toBe(200);
      const body = res.body as { accepted: number; duplicates: number };
      resent.batches += 1;
      resent.accepted += body.accepted;
      resent.duplicates += body.duplicates;
      if (b.status === 200) expect(body.duplicates, `batch ${b.records[0]?.event_id} was acknowledged before`).toBe(EVENTS_PER_BATCH);
    }
    await waitForCaughtUp(burnrate.url, 30_000);
    expect(await burnrate.stop()).toBe(0);
    burnrate = undefined;

    const store = await createChdbStore({ dataDir: around.chdbDir, log: createLogger({ level: 'silent' }) });
    try {
      const events = await store.listUsageEvents({ limit: 1_000_000 });
      const sentIds = batches.flatMap((b) => b.records.map((r) => r.event_id));
      expect(events.map((e) => e.event_id).sort()).toEqual([...sentIds].sort());

      const order = new Map(sentIds.map((id, i) => [id, i]));
      const expected = await replay(
        events.toSorted((a, b) => order.get(a.event_id)! - order.get(b.event_id)!),
        await loadConfig(around.env.BURNRATE_CONFIG as string),
      );
      const summary = (a: Anomaly) =>
        `${a.subject.session} v${a.version} ${a.severity} observed ${a.observed.value} impact ${a.impact_usd}`;
      const live: Anomaly[] = [];
      for (const a of await store.listAnomalies({ limit: 1000 })) live.push(...(await store.anomalyVersions(a.id)));
      expect(live.map(summary).sort()).toEqual(expected.anomalies.map(summary).sort());
      expect(expected.anomalies.filter((a) => a.severity === 'critical').length).toBeGreaterThanOrEqual(1);

      console.log(
        `crash + resend: sent ${batches.length} batches (${sentIds.length} events), ${ackedBeforeKill} acknowledged before the kill; ` +
          `resent all ${resent.batches} after the restart: ${resent.duplicates} duplicates, ${resent.accepted - resent.duplicates} new; ` +
          `stored ${events.length}; ${live.length} anomaly versions, equal to a replay of the stored events`,
      );
    } finally {
      await store.close();
    }
  });
});
