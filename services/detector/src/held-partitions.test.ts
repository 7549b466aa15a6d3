import type { OutgoingMessage } from '@burnrate/bus';
import { createLogger, fixedClock } from '@burnrate/core';
import { describe, expect, it } from 'vitest';
import { createHeldPartitions } from './held-partitions.ts';
import { createPartitionOutput } from './partition-output.ts';
import { encodeSnapshot } from './snapshot-codec.ts';
import { createMemorySnapshotStore, type SnapshotStore } from './snapshots.ts';

const TOPIC = 'usage.events.v1';
const silent = createLogger({ level: 'silent' });

function partitionsOver(store: SnapshotStore, record: { loads: number; saves: number; sent: string[] }) {
  const counting: SnapshotStore = {
    load(key) {
      record.loads += 1;
      return store.load(key);
    },
    save: (s) => store.save(s),
  };
  return createHeldPartitions<{ count: number }>({
    topic: TOPIC,
    store: counting,
    logic: {
      create: () => ({ count: 0 }),
      restore: (_partition, value) => value as { count: number },
      snapshot: (state) => state,
      apply: () => undefined,
    },
    log: silent,
    clock: fixedClock(new Date('2026-11-25T10:00:00Z')),
    name: 'test',
    snapshotEveryMs: 1000,
    outputOf: (partition) =>
      createPartitionOutput({
        producer: {
          send(topic: string, messages: readonly OutgoingMessage[]) {
            record.sent.push(`${topic} ${messages.length}`);
            return Promise.resolve();
          },
        },
        log: silent,
        name: 'test',
        partition,
        acknowledged: () => undefined,
      }),
    writer: {
      save() {
        record.saves += 1;
        return Promise.resolve(true);
      },
      commitSaved: () => Promise.resolve(),
    },
    idle: { disarm: () => undefined },
  });
}

describe('createHeldPartitions', () => {
  it('loads a partition once when the assignment and its first batch ask for it together, its snapshot restored', async () => {
    const store = createMemorySnapshotStore();
    await store.save({ key: `detector:${TOPIC}:3`, offset: '41', parts: [...encodeSnapshot({ count: 42 })] });
    const record = { loads: 0, saves: 0, sent: [] as string[] };
    const partitions = partitionsOver(store, record);
    const [a, b] = await Promise.all([partitions.held(3), partitions.held(3)]);
    expect(a).toBe(b);
    expect(record.loads).toBe(1);
    expect(a.state).toEqual({ count: 42 });
    expect([a.applied, a.saved, a.committed]).toEqual([41n, 41n, null]);
    expect(partitions.get(3)).toBe(a);
    expect(await partitions.held(3)).toBe(a);
    expect(record.loads).toBe(1);
  });

  it('publishes and snapshots a partition it releases, but never snapshots a broken one', async () => {
    const record = { loads: 0, saves: 0, sent: [] as string[] };
    const partitions = partitionsOver(createMemorySnapshotStore(), record);
    const healthy = await partitions.held(0);
    healthy.output.outbox.push('anomalies.v1', { key: 'a', value: '{}' });
    await partitions.release(healthy);
    expect(healthy.released).toBe(true);
    expect(record).toMatchObject({ saves: 1, sent: ['anomalies.v1 1'] });

    const broken = await partitions.held(1);
    broken.broken = new Error('half-stepped');
    broken.output.outbox.push('anomalies.v1', { key: 'b', value: '{}' });
    await partitions.release(broken);
    expect(broken.released).toBe(true);
    expect(record).toMatchObject({ saves: 1, sent: ['anomalies.v1 1'] });
  });
});
