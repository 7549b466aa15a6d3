import type { BatchContext, ConsumedMessage } from '@burnrate/bus';
import { createLogger, fixedClock } from '@burnrate/core';
import { describe, expect, it } from 'vitest';
import { createPartitionedConsumer } from './partitioned.ts';
import { createMemorySnapshotStore, type SnapshotStore } from './snapshots.ts';

const TOPIC = 'usage.events.v1';
const silent = createLogger({ level: 'silent' });

describe('createPartitionedConsumer', () => {
  it('spaces snapshots to ten times their serialising time, past maxSnapshotEveryMs', async () => {
    const clock = fixedClock(new Date('2026-11-25T10:00:00Z'));
    const inner = createMemorySnapshotStore();
    const saved: string[] = [];
    const snapshots: SnapshotStore = {
      load: (key) => inner.load(key),
      async save(s) {
        await inner.save(s);
        saved.push(s.offset);
      },
    };
    // A state that takes 5 s of the clock to serialise (a partition of millions of keys).
    const consumer = createPartitionedConsumer<{ count: number }>(
      {
        groupId: 'g',
        topic: TOPIC,
        producer: { send: () => Promise.resolve() },
        snapshots,
        log: silent,
        clock,
        snapshotEveryMs: 1000,
        maxSnapshotEveryMs: 30_000,
        name: 'test',
      },
      {
        create: () => ({ count: 0 }),
        restore: (_partition, value) => value as { count: number },
        snapshot(state) {
          clock.advance(5000);
          return { count: state.count };
        },
        apply(state) {
          state.count += 1;
        },
      },
    );
    await consumer.subscribeOptions.onAssigned?.([{ topic: TOPIC, partition: 0 }]);
    const ctx: BatchContext = { commit: () => Promise.resolve(), signal: new AbortController().signal };
    // A batch every 10 s of the clock for 200 s.
    for (let i = 0; i < 20; i++) {
      clock.advance(10_000);
      const message: ConsumedMessage = { topic: TOPIC, partition: 0, offset: String(i), key: 'k', value: '{}', headers: {}, timestamp: 0 };
      await consumer.subscribeOptions.handleBatch({ topic: TOPIC, partition: 0, messages: [message], highWatermark: '0' }, ctx);
      await new Promise((resolve) => setImmediate(resolve));
    }
    // 20 x 5 s of serialising = 100 s: not 30 s apart (the cap) but 50 s, so serialising holds the
    // partition a tenth of the time (the clock also moves 5 s per snapshot).
    expect(saved).toEqual(['0', '5', '10', '15']);
  });
});
