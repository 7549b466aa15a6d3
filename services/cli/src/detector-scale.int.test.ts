import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, loadConfig } from '@burnrate/core';
import { replay } from '@burnrate/detector';
import type { Anomaly } from '@burnrate/schemas';
import { createChdbStore } from '@burnrate/store';
import { waitUntil } from '@burnrate/testing';
import { INGEST_AUTH } from '../test-support/burnrate-process.ts';
import type { ServiceProcess } from '../test-support/service-process.ts';
import { canRunDistributed, type DistributedStack, startDistributedStack, waitForNoLag } from '../test-support/distributed-stack.ts';

const DEVELOPERS = ['alice@acme.com', 'bob@acme.com', ...Array.from({ length: 14 }, (_, i) => `dev-${i}@acme.com`)];
const REQUESTS_PER_DEVELOPER = 12;
const EVENTS_PER_REQUEST = 5;
const PARTITIONS = 12;

/** Partitions of usage.events.v1 the instance holds after its last rebalance, over its threads, from its bus log. */
function stageAPartitions(detector: ServiceProcess): string[] {
  const lastJoin = new Map<unknown, string[]>();
  for (const l of detector.logged('consumer joined the group')) {
    if (l.group === 'burnrate-detector') lastJoin.set(l.thread, (l.assigned as string[] | undefined) ?? []);
  }
  return [...lastJoin.values()].flat();
}

// Two detector processes in one consumer group split usage.events.v1 between them. Everything a
// developer does lands on one partition (key org:developer), so whichever instance holds it, that
// developer's anomalies must be exactly what one detector would emit: `replay` runs the same code
// in-process over the same events in the same per-developer order.
describe.skipIf(!canRunDistributed)('distributed mode: two detector instances share the partitions', () => {
  let stack: DistributedStack;

  beforeAll(async () => {
    stack = await startDistributedStack();
    await Promise.all([
      stack.start('sink'),
      stack.start('detector', 'detector-1'),
      stack.start('detector', 'detector-2'),
      stack.start('ingest'),
    ]);
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('gives each developer the anomalies a single detector gives', async () => {
    const one = stack.services.get('detector-1')!;
    const two = stack.services.get('detector-2')!;
    await waitUntil(
      () => {
        const a = stageAPartitions(one);
        const b = stageAPartitions(two);
        return a.length > 0 && b.length > 0 && new Set([...a, ...b]).size === PARTITIONS && a.length + b.length === PARTITIONS;
      },
      { timeoutMs: 30_000, message: 'both instances hold a disjoint share of the 12 partitions' },
    );

    const ingestUrl = `http://127.0.0.1:${String(stack.services.get('ingest')!.ready.port)}`;
    const order = new Map<string, number>();
    let seq = 0;
    let sent = 0;
    // One poster per developer, each request awaited: a developer's order on its partition is the send order.
    const poster = async (developer: string, d: number): Promise<void> => {
      for (let r = 0; r < REQUESTS_PER_DEVELOPER; r++) {
        const records = Array.from({ length: EVENTS_PER_REQUEST }, (_, j) => {
          const n = seq++;
          order.set(`ds-${d}-${r}-${j}`, n);
          return {
            event_id: `ds-${d}-${r}-${j}`,
            occurred_at: new Date(Date.UTC(2026, 10, 27, 9, 0, 0) + r * 60_000 + j * 1000).toISOString(),
            developer_email: developer,
            model: d % 3 === 0 ? 'claude-sonnet-4-5' : 'claude-opus-4-5',
            session_id: `scale-${d}-${r < 6 ? 'a' : 'b'}`,
            // Different sizes per developer, so the developers cross different caps.
            cost_usd: 1 + (d % 5) * 1.5,
          };
        });
        sent += records.length;
        const res = await fetch(`${ingestUrl}/v1/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...INGEST_AUTH },
          body: JSON.stringify(records),
        });
        await res.arrayBuffer();
        expect(res.status).toBe(200);
      }
    };
    await Promise.all(DEVELOPERS.map((dev, d) => poster(dev, d)));

    // Both instances have handled, published and committed everything (an idle detector commits
    // once its output is on the bus), and the team stage everything they rolled up.
    await waitForNoLag(
      stack.brokers,
      { 'burnrate-detector': ['usage.events.v1'], 'burnrate-team-detector': ['usage.rollups.v1'], 'burnrate-sink': ['usage.events.v1'] },
      30_000,
    );
    // Each instance logs its totals on SIGTERM; together they must have handled every event once.
    expect(await Promise.all([one.stop(), two.stop()])).toEqual([0, 0]);
    await waitForNoLag(stack.brokers, { 'burnrate-sink': ['usage.events.v1', 'anomalies.v1'] }, 15_000);
    const processed = [one, two].map((d) => (d.logged('detector totals')[0]?.stageA as { processed?: number } | undefined)?.processed ?? 0);
    expect(
      processed.every((n) => n > 0),
      `both instances processed events: ${processed.join(', ')}`,
    ).toBe(true);
    expect(processed[0]! + processed[1]!).toBe(sent);
    expect(await stack.services.get('sink')!.stop()).toBe(0);

    const store = await createChdbStore({ dataDir: stack.sinkChdbDir, log: createLogger({ level: 'silent' }) });
    try {
      const events = await store.listUsageEvents({ limit: 1_000_000 });
      expect(events).toHaveLength(sent);
      const expected = await replay(
        events.toSorted((a, b) => order.get(a.event_id)! - order.get(b.event_id)!),
        await loadConfig(stack.configPath),
      );
      const byDeveloper = (anomalies: readonly Anomaly[]): Record<string, string[]> => {
        const out: Record<string, string[]> = {};
        for (const a of anomalies) {
          // Team-scope anomalies depend on how rollups from different partitions interleave.
          const developer = a.subject.developer;
          if (developer === undefined) continue;
          (out[developer] ??= []).push(`${a.kind} ${a.id}@${a.version} ${a.severity} ${a.status}`);
        }
        for (const list of Object.values(out)) list.sort();
        return out;
      };
      const stored: Anomaly[] = [];
      for (const a of await store.listAnomalies({ limit: 10_000 })) stored.push(...(await store.anomalyVersions(a.id)));
      const want = byDeveloper(expected.anomalies);
      expect(Object.keys(want).length, 'the scenario makes anomalies for many developers').toBeGreaterThanOrEqual(8);
      expect(byDeveloper(stored)).toEqual(want);
      console.log(
        `detector scale: ${sent} events, partitions ${stageAPartitions(one).length} + ${stageAPartitions(two).length}, ` +
          `processed ${processed.join(' + ')}, ${Object.keys(want).length} developers with anomalies, ` +
          `${Object.values(want).flat().length} developer-scope versions (equal to replay)`,
      );
    } finally {
      await store.close();
    }
  });
});
