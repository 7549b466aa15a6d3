import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@burnrate/core';
import { createChdbStore } from '@burnrate/store';
import { tempDir, type TempDir, waitUntil } from '@burnrate/testing';
import { type LocalKafka, startLocalKafka } from '../../../infra/kafka/local-kafka-lib.ts';
import { INGEST_AUTH } from '../test-support/burnrate-process.ts';
import { canRunLocalKafka, type DistributedStack, java, startDistributedStack, waitForNoLag } from '../test-support/distributed-stack.ts';

const POSTERS = 3;
const EVENTS_PER_REQUEST = 5;

// The broker goes away while events flow and comes back on the same data and port, as a
// restarted server does. Ingest must refuse (503) rather than acknowledge what it could not make
// durable, the services must reconnect on their own, and everything acknowledged must reach the
// store. Needs a broker this test can stop and start on the same data and port: always the local
// one of infra/kafka, whatever KAFKA_BROKERS or a Docker engine offer.
describe.skipIf(!canRunLocalKafka)('distributed mode: the broker restarts', () => {
  let brokerDir: TempDir;
  let stack: DistributedStack;
  let restarted: LocalKafka | undefined;

  beforeAll(async () => {
    brokerDir = await tempDir();
    stack = await startDistributedStack({ brokerDir: brokerDir.path });
    await Promise.all([stack.start('sink'), stack.start('notifier'), stack.start('detector'), stack.start('ingest')]);
  });

  afterAll(async () => {
    await stack?.close();
    await restarted?.stop();
    await brokerDir?.cleanup();
  });

  // Each wait below is bounded on its own; together (traffic, stop, restart, catch-up, drain) they
  // take ~50 s on a quiet machine, more than the suite's default 60 s allows on a busy one.
  it('refuses with 503 while the broker is down, recovers by itself and loses nothing acknowledged', async () => {
    const ingestUrl = `http://127.0.0.1:${String(stack.services.get('ingest')!.ready.port)}`;
    const acked = new Set<string>();
    const statuses = new Map<string, number>();
    let sent = 0;
    let seq = 0;
    let stop = false;

    const poster = async (): Promise<void> => {
      // Bounded: at most 400 requests, each retried at most 60 times as a client would.
      for (let r = 0; r < 400 && !stop; r++) {
        const n = seq++;
        const records = Array.from({ length: EVENTS_PER_REQUEST }, (_, j) => ({
          event_id: `br-${n}-${j}`,
          occurred_at: new Date(Date.UTC(2026, 10, 27, 9, 0, 0) + n * 1000 + j).toISOString(),
          developer_email: n % 2 === 0 ? 'alice@acme.com' : 'bob@acme.com',
          model: 'claude-opus-4-5',
          session_id: `restart-${n % 4}`,
          cost_usd: 0.5,
        }));
        sent += records.length;
        for (let attempt = 0; attempt < 60; attempt++) {
          let status: string;
          try {
            const res = await fetch(`${ingestUrl}/v1/events`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', ...INGEST_AUTH },
              body: JSON.stringify(records),
              signal: AbortSignal.timeout(60_000),
            });
            await res.arrayBuffer();
            status = String(res.status);
          } catch (err) {
            status = (err as Error).name;
          }
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          if (status === '200') {
            for (const rec of records) acked.add(rec.event_id);
            break;
          }
          // A client's backoff before it resends what was refused.
          await sleep(500);
        }
        // Paces the posters so the traffic spans the broker's stop and restart.
        await sleep(20);
      }
    };

    const posting = Promise.all(Array.from({ length: POSTERS }, poster));
    await waitUntil(() => acked.size >= 200, { timeoutMs: 20_000, message: 'traffic before the broker stops' });
    const broker = stack.broker!;
    await broker.stop();
    const stoppedAt = Date.now();
    await waitUntil(() => (statuses.get('503') ?? 0) >= 1, {
      timeoutMs: 60_000,
      message: 'ingest answers 503 while the broker is down',
    }).catch((err: unknown) => {
      throw new Error(
        `${(err as Error).message}; answers ${JSON.stringify(Object.fromEntries(statuses))}\n${stack.services.get('ingest')!.logs.slice(-15).join('\n')}`,
      );
    });
    const ackedWhileDown = acked.size;
    restarted = await startLocalKafka({ java, dir: broker.dir, restart: { port: broker.port, controllerPort: broker.controllerPort } });
    const downMs = Date.now() - stoppedAt;
    await waitUntil(() => acked.size >= ackedWhileDown + 200, {
      timeoutMs: 45_000,
      message: 'ingest acknowledges again after the restart',
    });
    stop = true;
    await posting;

    for (const name of ['ingest', 'detector', 'notifier', 'sink']) {
      const s = stack.services.get(name)!;
      expect([name, s.child.exitCode, s.child.signalCode], s.logs.slice(-20).join('\n')).toEqual([name, null, null]);
    }
    // The detector's groups too: once the traffic stops, a quiet period snapshots and commits them.
    await waitForNoLag(
      stack.brokers,
      {
        'burnrate-sink': ['usage.events.v1', 'anomalies.v1'],
        'burnrate-detector': ['usage.events.v1'],
        'burnrate-team-detector': ['usage.rollups.v1'],
      },
      45_000,
    );
    expect(await stack.services.get('sink')!.stop()).toBe(0);

    const store = await createChdbStore({ dataDir: stack.sinkChdbDir, log: createLogger({ level: 'silent' }) });
    try {
      const stored = new Set((await store.listUsageEvents({ limit: 1_000_000 })).map((e) => e.event_id));
      expect([...acked].filter((id) => !stored.has(id))).toEqual([]);
      expect(await store.countUsageEvents()).toBe(stored.size);
      console.log(
        `broker restart: sent ${sent}, acknowledged ${acked.size} (${ackedWhileDown} before the first 503), stored ${stored.size}, ` +
          `broker down ${downMs} ms, answers ${JSON.stringify(Object.fromEntries(statuses))}`,
      );
    } finally {
      await store.close();
    }
  }, 180_000);
});
