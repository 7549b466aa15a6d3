import { createInProcessBus } from '@burnrate/bus';
import { createLogger, parseConfig, fixedConfig } from '@burnrate/core';
import { openStore } from '@burnrate/runtime';
import { TOPICS, usageEventKey, type UsageEvent } from '@burnrate/schemas';
import { tempDir, usageEvent, waitUntil, type TempDir } from '@burnrate/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDetector } from './detector.ts';
import { decodeSnapshot } from './snapshot-codec.ts';
import { createMemorySnapshotStore, snapshotStoreFrom } from './snapshots.ts';

// The detector's snapshots in real chdb, as embedded mode keeps them: a state of thousands of
// developers at a small part size (many parts), restored after a restart to the very state an
// uninterrupted detector reaches. bench:snapshots measures the same at 1M developers.

const config = parseConfig(`
org: acme
teams:
  - id: payments
    members: [alice@acme.com]
  - id: mobile
    members: [bob@acme.com]
`);
const log = createLogger({ level: 'silent' });
const T0 = Date.parse('2026-11-25T09:00:00Z');
const DEVELOPERS = 3_000;
const PART_BYTES = 64 * 1024;
const KEY = 'detector:usage.events.v1:0';
type Store = Awaited<ReturnType<typeof openStore>>;

/** Each developer's session: three calls ten minutes apart, on one of two models, in one of two teams. */
function events(developers: number): UsageEvent[] {
  const out: UsageEvent[] = [];
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < developers; i++) {
      const at = new Date(T0 + round * 600_000 + Math.floor((i * 500_000) / developers)).toISOString();
      out.push(
        usageEvent({
          event_id: `snap-${i}-${round}`,
          occurred_at: at,
          ingested_at: at,
          developer: `dev-${i}@acme.com`,
          developer_email: `dev-${i}@acme.com`,
          team: i % 2 === 0 ? 'payments' : 'mobile',
          session_id: `sess-${i}`,
          model: i % 3 === 0 ? 'claude-sonnet-4-5' : 'claude-opus-4-5',
          cost_usd: 0.05 + (i % 7) * 0.01,
        }),
      );
    }
  }
  return out;
}

describe('detector snapshots in chdb', () => {
  let dir: TempDir;
  let store: Store | undefined;
  beforeEach(async () => {
    dir = await tempDir('burnrate-snapshots-');
  });
  afterEach(async () => {
    await store?.close();
    await dir.cleanup();
  });

  it('saves thousands of developers in many parts and restores the same state after a restart', async () => {
    store = await openStore({ kind: 'chdb', dataDir: dir.path }, log);
    await store.migrate();
    const chdb = snapshotStoreFrom(store, () => new Date());
    const all = events(DEVELOPERS);
    const last = usageEvent({
      event_id: 'snap-last',
      occurred_at: new Date(T0 + 1_900_000).toISOString(),
      ingested_at: new Date(T0 + 1_900_000).toISOString(),
      developer: 'dev-1@acme.com',
      developer_email: 'dev-1@acme.com',
      team: 'mobile',
      session_id: 'sess-1',
    });

    const bus = createInProcessBus({ dir: `${dir.path}/bus`, partitions: 1, log });
    await bus.ensureTopics([TOPICS.usageEvents.name, TOPICS.anomalies.name, TOPICS.usageRollups.name]);
    await bus.producer().send(
      TOPICS.usageEvents.name,
      all.map((e) => ({ key: usageEventKey(e), value: JSON.stringify(e) })),
    );
    const first = createDetector({
      config: fixedConfig(config),
      producer: bus.producer(),
      snapshots: chdb,
      log,
      snapshotEveryMs: 60_000,
      snapshotPartBytes: PART_BYTES,
    });
    const sub1 = bus.subscribe(first.subscribeOptions);
    await sub1.start();
    await waitUntil(() => first.stats().processed === all.length, { timeoutMs: 60_000, message: 'every event through stage A' });
    await sub1.stop();
    await first.stop();

    const saved = await store.loadSnapshot(KEY);
    expect(saved?.offset).toBe(String(all.length - 1));
    expect(saved?.partCount).toBeGreaterThan(20);
    let bytes = 0;
    for await (const part of saved?.parts() ?? []) {
      expect(Buffer.byteLength(part)).toBeLessThanOrEqual(PART_BYTES);
      bytes += Buffer.byteLength(part);
    }
    expect(bytes).toBeGreaterThan(20 * PART_BYTES * 0.9);

    // Restart: the partition restores from chdb, takes one more event and snapshots at stop.
    const second = createDetector({
      config: fixedConfig(config),
      producer: bus.producer(),
      snapshots: chdb,
      log,
      snapshotEveryMs: 60_000,
      snapshotPartBytes: PART_BYTES,
    });
    const sub2 = bus.subscribe(second.subscribeOptions);
    await sub2.start();
    await bus.producer().send(TOPICS.usageEvents.name, [{ key: usageEventKey(last), value: JSON.stringify(last) }]);
    await waitUntil(() => second.stats().processed === 1, { timeoutMs: 30_000, message: 'the event after the restart' });
    await sub2.stop();
    await second.stop();
    await bus.close();
    expect(second.stats().processed).toBe(1);

    // The same events without a restart, held in memory: the same state, key order included.
    const reference = createMemorySnapshotStore();
    const uninterrupted = createDetector({
      config: fixedConfig(config),
      producer: { send: () => Promise.resolve() },
      snapshots: reference,
      log,
      snapshotEveryMs: 60_000,
    });
    await uninterrupted.subscribeOptions.handleBatch(
      {
        topic: TOPICS.usageEvents.name,
        partition: 0,
        highWatermark: '0',
        messages: [...all, last].map((e, i) => ({
          topic: TOPICS.usageEvents.name,
          partition: 0,
          offset: String(i),
          key: usageEventKey(e),
          value: JSON.stringify(e),
          headers: {},
          timestamp: T0,
        })),
      },
      { commit: () => Promise.resolve(), signal: new AbortController().signal },
    );
    await uninterrupted.stop();
    const restored = (await store.loadSnapshot(KEY))!;
    expect(restored.offset).toBe(String(all.length));
    const restoredState = await decodeSnapshot(restored.parts());
    const referenceState = await decodeSnapshot(reference.saved.get(KEY)?.parts ?? []);
    expect(JSON.stringify(restoredState)).toBe(JSON.stringify(referenceState));
    expect((restoredState as { engine: { seen: Record<string, unknown> } }).engine.seen).toHaveProperty(['acme:dev-2999@acme.com']);
  });
});
