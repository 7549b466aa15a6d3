import { createInProcessBus, type Bus, type Subscription } from '@burnrate/bus';
import { createLogger, parseConfig, fixedConfig } from '@burnrate/core';
import { Anomaly, TOPICS, usageEventKey, type UsageEvent } from '@burnrate/schemas';
import { tempDir, usageEvent, waitUntil, type TempDir } from '@burnrate/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDetector } from './detector.ts';
import { createMemorySnapshotStore, type SnapshotStore } from './snapshots.ts';

// The detector over the real in-process bus and its on-disk log: offsets from onAssigned,
// manual commits and restarts as the embedded mode runs them.

const config = parseConfig(`
org: acme
teams:
  - id: payments
    timezone: Europe/Berlin
    members: [alice@acme.com]
`);
const log = createLogger({ level: 'silent' });
const T0 = Date.parse('2026-11-25T10:00:00Z');

const events: UsageEvent[] = [10, 10, 10, 50, 30, 5].map((cost, i) =>
  usageEvent({
    event_id: `int-${i}`,
    occurred_at: new Date(T0 + i * 60_000).toISOString(),
    ingested_at: new Date(T0 + i * 60_000).toISOString(),
    org: 'acme',
    developer: 'alice@acme.com',
    developer_email: 'alice@acme.com',
    team: 'payments',
    session_id: 'sess-int',
    cost_usd: cost,
  }),
);

async function publish(bus: Bus, evs: readonly UsageEvent[]): Promise<void> {
  await bus.producer().send(
    TOPICS.usageEvents.name,
    evs.map((e) => ({ key: usageEventKey(e), value: JSON.stringify(e) })),
  );
}

/** Everything ever published on anomalies.v1, read from the beginning by a fresh group. */
async function readAnomalies(bus: Bus, group: string): Promise<{ all: Anomaly[]; sub: Subscription }> {
  const all: Anomaly[] = [];
  const sub = bus.subscribe({
    groupId: group,
    topics: [TOPICS.anomalies.name],
    handleBatch: (batch) => {
      for (const m of batch.messages) all.push(Anomaly.parse(JSON.parse(m.value)));
      return Promise.resolve();
    },
  });
  await sub.start();
  return { all, sub };
}

/**
 * A store that can "die": saves after the crash fail, as with kill -9 before they happened, so
 * the clean close that stands in for the crash can neither snapshot nor commit.
 */
function crashable(store: SnapshotStore): SnapshotStore & { crash(): void } {
  let dead = false;
  return {
    crash: () => {
      dead = true;
    },
    load: (key) => store.load(key),
    save: (s) => (dead ? Promise.reject(new Error('the process crashed before this save')) : store.save(s)),
  };
}

describe('detector over the in-process bus', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir('burnrate-detector-');
  });
  afterEach(async () => {
    await dir.cleanup();
  });

  it('continues an episode across a clean restart without re-alerting', async () => {
    const store = createMemorySnapshotStore();

    const bus1 = createInProcessBus({ dir: dir.path, partitions: 2, log });
    await bus1.ensureTopics([TOPICS.usageEvents.name, TOPICS.anomalies.name]);
    const d1 = createDetector({ config: fixedConfig(config), producer: bus1.producer(), snapshots: store, log, snapshotEveryMs: 60_000 });
    const sub1 = bus1.subscribe(d1.subscribeOptions);
    await sub1.start();
    await publish(bus1, events.slice(0, 3));
    await waitUntil(() => d1.stats().published === 1, { message: 'the warning to be published' });
    await sub1.stop();
    await d1.stop();
    await bus1.close();
    expect([...store.saved.values()].map((s) => s.offset)).toEqual(['2']);

    const bus2 = createInProcessBus({ dir: dir.path, partitions: 2, log });
    const d2 = createDetector({ config: fixedConfig(config), producer: bus2.producer(), snapshots: store, log, snapshotEveryMs: 60_000 });
    const sub2 = bus2.subscribe(d2.subscribeOptions);
    await sub2.start();
    await publish(bus2, events.slice(3));
    const reader = await readAnomalies(bus2, 'test-reader-clean');
    await waitUntil(() => reader.all.length >= 2, { message: 'warning and critical on anomalies.v1' });
    await sub2.stop();
    await d2.stop();
    await reader.sub.stop();
    await bus2.close();

    expect(d2.stats().processed).toBe(3);
    expect(reader.all.map((a) => [a.version, a.severity, a.observed.value])).toEqual([
      [1, 'warning', 30],
      [2, 'critical', 110],
    ]);
    expect(reader.all[1]?.id).toBe(reader.all[0]?.id);
  });

  it('after a crash before any snapshot, replays and re-emits only the same versions', async () => {
    const inner = createMemorySnapshotStore();
    const store = crashable(inner);

    const bus1 = createInProcessBus({ dir: dir.path, partitions: 1, log });
    await bus1.ensureTopics([TOPICS.usageEvents.name, TOPICS.anomalies.name]);
    const d1 = createDetector({ config: fixedConfig(config), producer: bus1.producer(), snapshots: store, log, snapshotEveryMs: 60_000 });
    const sub1 = bus1.subscribe(d1.subscribeOptions);
    await sub1.start();
    await publish(bus1, events.slice(0, 4));
    await waitUntil(() => d1.stats().published === 1, { message: 'the warning to be published' });
    store.crash();
    await bus1.close();
    expect(inner.saved.size).toBe(0);

    const bus2 = createInProcessBus({ dir: dir.path, partitions: 1, log });
    const d2 = createDetector({ config: fixedConfig(config), producer: bus2.producer(), snapshots: inner, log });
    const sub2 = bus2.subscribe(d2.subscribeOptions);
    await sub2.start();
    await publish(bus2, events.slice(4));
    const reader = await readAnomalies(bus2, 'test-reader-crash');
    await waitUntil(() => reader.all.some((a) => a.severity === 'critical'), { message: 'the critical version' });
    await sub2.stop();
    await reader.sub.stop();
    await bus2.close();

    // Nothing was committed, so all six events were replayed: the warning went out twice, identical.
    expect(d2.stats().processed).toBe(6);
    expect(reader.all.map((a) => [a.version, a.severity])).toEqual([
      [1, 'warning'],
      [1, 'warning'],
      [2, 'critical'],
    ]);
    expect(reader.all[1]).toEqual(reader.all[0]);
    expect(new Set(reader.all.map((a) => a.id)).size).toBe(1);
  });
});
