import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@burnrate/core';
import { waitUntil } from '@burnrate/testing/wait-until';
import type { Batch, Bus } from '../port.ts';
import { faultyLogFs } from './faulty-log-fs.ts';
import { createInProcessBus, type InProcessBus } from './in-process-bus.ts';

const log = createLogger({ level: 'silent' });
const dirs: string[] = [];
const buses: Bus[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'burnrate-bus-'));
  dirs.push(dir);
  return dir;
}

function bus(options: Partial<Parameters<typeof createInProcessBus>[0]> = {}): InProcessBus {
  const b = createInProcessBus({ log, retryDelayMs: 5, ...options });
  buses.push(b);
  return b;
}

afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.close()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

const committed = (dir: string, group: string): string | undefined => {
  try {
    return readFileSync(join(dir, 't', '0', `${group}.offset`), 'utf8');
  } catch {
    return undefined;
  }
};

const msgs = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ key: `k${(from + i) % 3}`, value: `v${from + i}` }));

describe('in-process bus', () => {
  it('delivers messages in offset order and commits after the handler resolves', async () => {
    const b = bus();
    const seen: string[] = [];
    const sub = b.subscribe({
      groupId: 'g',
      topics: ['t'],
      handleBatch: async (batch) => void seen.push(...batch.messages.map((m) => m.value)),
    });
    await sub.start();
    await b.producer().send('t', msgs(5));
    await b.producer().send('t', msgs(5, 5));
    await waitUntil(() => seen.length === 10);
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => `v${i}`));
  });

  it('redelivers a batch whose handler threw, and skips nothing', async () => {
    const b = bus();
    const seen: string[] = [];
    let failures = 2;
    const sub = b.subscribe({
      groupId: 'g',
      topics: ['t'],
      handleBatch: async (batch) => {
        if (failures-- > 0) throw new Error('store down');
        seen.push(...batch.messages.map((m) => m.value));
      },
    });
    await sub.start();
    await b.producer().send('t', msgs(3));
    await waitUntil(() => seen.length === 3);
    expect(seen).toEqual(['v0', 'v1', 'v2']);
  });

  it('survives a restart: acknowledged sends are on disk and a group resumes after its commit', async () => {
    const dir = await tempDir();
    const first = bus({ dir });
    const seen: string[] = [];
    const sub = first.subscribe({
      groupId: 'g',
      topics: ['t'],
      handleBatch: async (b) => void seen.push(...b.messages.map((m) => m.value)),
    });
    await sub.start();
    await first.producer().send('t', msgs(4));
    await waitUntil(() => seen.length === 4);
    await first.close();
    // Sent while nobody consumed, then the process "restarts".
    const second = bus({ dir });
    await second.producer().send('t', msgs(2, 4));
    await second.close();

    const third = bus({ dir });
    const after: string[] = [];
    const sub3 = third.subscribe({
      groupId: 'g',
      topics: ['t'],
      handleBatch: async (b) => void after.push(...b.messages.map((m) => m.value)),
    });
    await sub3.start();
    await waitUntil(() => after.length === 2);
    expect(after).toEqual(['v4', 'v5']);
    // The log retains what some known group has not committed yet; a new group starts there.
    const retained: string[] = [];
    await third
      .subscribe({ groupId: 'new', topics: ['t'], handleBatch: async (b) => void retained.push(...b.messages.map((m) => m.value)) })
      .start();
    await waitUntil(() => retained.length === 2);
    expect(retained).toEqual(['v4', 'v5']);
  });

  it('with autoCommit off, resumes from the explicit commit, and honours start offsets from onAssigned', async () => {
    const dir = await tempDir();
    const first = bus({ dir });
    const seen: Batch[] = [];
    await first
      .subscribe({
        groupId: 'g',
        topics: ['t'],
        autoCommit: false,
        handleBatch: async (batch, ctx) => {
          seen.push(batch);
          if (batch.messages.some((m) => m.value === 'v2')) await ctx.commit('2');
        },
      })
      .start();
    await first.producer().send('t', msgs(3));
    await first.producer().send('t', msgs(3, 3));
    await waitUntil(() => seen.flatMap((b) => b.messages).length === 6);
    await first.close();

    // A restored snapshot may ask to start later than the committed offset.
    const second = bus({ dir });
    const fromSnapshot: string[] = [];
    await second
      .subscribe({
        groupId: 'g',
        topics: ['t'],
        autoCommit: false,
        onAssigned: async () => ({ 't:0': '4' }),
        handleBatch: async (b) => void fromSnapshot.push(...b.messages.map((m) => m.value)),
      })
      .start();
    await waitUntil(() => fromSnapshot.length === 2);
    expect(fromSnapshot).toEqual(['v4', 'v5']);
    await second.close();

    // Without an override the group resumes right after its last explicit commit.
    const third = bus({ dir });
    const replay: string[] = [];
    await third
      .subscribe({ groupId: 'g', topics: ['t'], handleBatch: async (b) => void replay.push(...b.messages.map((m) => m.value)) })
      .start();
    await waitUntil(() => replay.length === 3);
    expect(replay).toEqual(['v3', 'v4', 'v5']);
  });

  it('keeps messages for a group that has not committed yet, even when another group has', async () => {
    const dir = await tempDir();
    const first = bus({ dir, segmentBytes: 100 });
    const fast: string[] = [];
    await first
      .subscribe({ groupId: 'fast', topics: ['t'], handleBatch: async (b) => void fast.push(...b.messages.map((m) => m.value)) })
      .start();
    // `slow` only commits explicitly (as the detector does with snapshots) and never gets to.
    const slow: string[] = [];
    await first
      .subscribe({
        groupId: 'slow',
        topics: ['t'],
        autoCommit: false,
        handleBatch: async (b) => void slow.push(...b.messages.map((m) => m.value)),
      })
      .start();
    for (let i = 0; i < 10; i++) await first.producer().send('t', msgs(1, i));
    await waitUntil(() => fast.length === 10 && slow.length === 10);
    await first.close();

    const second = bus({ dir, segmentBytes: 100 });
    const replay: string[] = [];
    await second
      .subscribe({
        groupId: 'slow',
        topics: ['t'],
        autoCommit: false,
        handleBatch: async (b) => void replay.push(...b.messages.map((m) => m.value)),
      })
      .start();
    await waitUntil(() => replay.length === 10);
    expect(replay).toEqual(Array.from({ length: 10 }, (_, i) => `v${i}`));
  });

  it('keeps order per key across partitions and group-commits concurrent sends', async () => {
    const b = bus({ dir: await tempDir(), partitions: 4 });
    const byKey = new Map<string, string[]>();
    await b
      .subscribe({
        groupId: 'g',
        topics: ['t'],
        handleBatch: async (batch) => {
          for (const m of batch.messages) byKey.set(m.key, [...(byKey.get(m.key) ?? []), m.value]);
        },
      })
      .start();
    const producer = b.producer();
    await Promise.all(Array.from({ length: 50 }, (_, i) => producer.send('t', [{ key: `k${i % 5}`, value: String(i) }])));
    await waitUntil(() => [...byKey.values()].flat().length === 50);
    for (const [key, values] of byKey) {
      const expected = Array.from({ length: 50 }, (_, i) => i)
        .filter((i) => `k${i % 5}` === key)
        .map(String);
      expect(values).toEqual(expected);
    }
  });

  it('rolls segments and deletes those every group has consumed', async () => {
    const dir = await tempDir();
    const b = bus({ dir, segmentBytes: 200 });
    let count = 0;
    await b.subscribe({ groupId: 'g', topics: ['t'], handleBatch: async (batch) => void (count += batch.messages.length) }).start();
    for (let i = 0; i < 20; i++) await b.producer().send('t', msgs(2, i * 2));
    await waitUntil(() => count === 40);
    // Segments go once the commit past them is written, just after the last batch.
    const segments = async (): Promise<string[]> => (await readdir(join(dir, 't', '0'))).filter((n) => n.endsWith('.log'));
    await waitUntil(async () => (await segments()).length < 5, { message: 'consumed segments deleted' });
    expect(committed(dir, 'g')).toBe('40');
  });

  it('refuses a second consumer in one group with a clear error', async () => {
    const b = bus();
    await b.subscribe({ groupId: 'g', topics: ['t'], handleBatch: async () => {} }).start();
    await expect(b.subscribe({ groupId: 'g', topics: ['t'], handleBatch: async () => {} }).start()).rejects.toThrow(
      /one consumer per group/,
    );
  });

  it('on a full disk refuses sends retriably, says why, keeps consuming without spinning, and resumes when space returns', async () => {
    const { fs, faults } = faultyLogFs();
    const dir = await tempDir();
    const b = bus({ dir, fs });
    const seen: string[] = [];
    await b
      .subscribe({ groupId: 'g', topics: ['t'], handleBatch: async (batch) => void seen.push(...batch.messages.map((m) => m.value)) })
      .start();
    await b.producer().send('t', msgs(2));
    // Consumed and committed before the disk fills up.
    await waitUntil(() => seen.length === 2 && committed(dir, 'g') === '2');
    expect(b.problems()).toEqual([]);

    faults.space = 0;
    for (let i = 0; i < 3; i++) {
      await expect(b.producer().send('t', msgs(1, 10 + i))).rejects.toMatchObject({ code: 'BUS_UNAVAILABLE', retriable: true });
    }
    expect(b.problems()).toEqual([
      expect.stringMatching(/^cannot write t\/0: ENOSPC: no space left on device, write \(since \S+Z, 3 attempts\)$/),
    ]);
    // The consumer waits for data without starving the event loop: timers still fire.
    const ticks = await new Promise<number>((resolve) => {
      let n = 0;
      const timer = setInterval(() => {
        if (++n === 5) {
          clearInterval(timer);
          resolve(n);
        }
      }, 2);
    });
    expect(ticks).toBe(5);

    faults.space = Infinity;
    await b.producer().send('t', msgs(2, 20));
    await waitUntil(() => seen.length === 4);
    expect(seen).toEqual(['v0', 'v1', 'v20', 'v21']);
    expect(b.problems()).toEqual([]);
  });

  it('backs off a group whose commits cannot be written, reports it, and catches up once they can', async () => {
    const { fs, faults } = faultyLogFs();
    const dir = await tempDir();
    const b = bus({ dir, fs, retryDelayMs: 20, maxRetryDelayMs: 40 });
    await b.producer().send('t', msgs(3));
    let calls = 0;
    const sub = b.subscribe({ groupId: 'g', topics: ['t'], handleBatch: async () => void (calls += 1) });
    await sub.start();
    faults.failRename = 'EIO';
    await b.producer().send('t', msgs(1, 3));
    await waitUntil(() => calls >= 2);
    // The backoff itself is under test: 200 ms of failing commits, redelivered at most every
    // 20-40 ms, is a few calls, not thousands.
    await new Promise((r) => setTimeout(r, 200));
    expect(calls).toBeLessThan(15);
    expect(b.problems()).toEqual([expect.stringMatching(/^g cannot process t\/0: cannot commit g at t\/0@\d: EIO: i\/o error, rename/)]);

    faults.failRename = undefined;
    // Caught up: everything handled and committed, so nothing is left to redeliver.
    await waitUntil(() => b.problems().length === 0 && sub.lag() === 0 && committed(dir, 'g') === '4');
  });

  it('stops at once while the disk is full', async () => {
    const { fs, faults } = faultyLogFs();
    const b = bus({ dir: await tempDir(), fs, retryDelayMs: 10_000, maxRetryDelayMs: 10_000 });
    await b.subscribe({ groupId: 'g', topics: ['t'], handleBatch: async () => {} }).start();
    await b.producer().send('t', msgs(1));
    faults.space = 0;
    faults.failRename = 'ENOSPC';
    await expect(b.producer().send('t', msgs(1, 1))).rejects.toMatchObject({ code: 'BUS_UNAVAILABLE' });
    await waitUntil(() => b.problems().length === 2);
    const started = Date.now();
    await b.close();
    expect(Date.now() - started).toBeLessThan(1_000);
    await expect(b.producer().send('t', msgs(1, 2))).rejects.toMatchObject({ code: 'BUS_CLOSED' });
  });
});
