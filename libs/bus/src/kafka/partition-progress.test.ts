import { describe, expect, it } from 'vitest';
import { commitThrough, createHeldPartitions, newProgress, type CommitOffsets } from './partition-progress.ts';

const tp = { topic: 'usage.events.v1', partition: 3 };

describe('partition progress', () => {
  it('commits the next offset to read once, never going back, and records it', async () => {
    const sent: string[] = [];
    const commit: CommitOffsets = async (offsets) => {
      for (const t of offsets?.topics ?? []) for (const p of t.partitions) sent.push(`${t.topic}/${p.partition}@${p.offset}`);
    };
    const p = newProgress(tp);
    await commitThrough(commit, p, 10n);
    await commitThrough(commit, p, 10n);
    await commitThrough(commit, p, 7n);
    await commitThrough(commit, p, 12n);
    expect(sent).toEqual(['usage.events.v1/3@10', 'usage.events.v1/3@12']);
    expect(p.committed).toBe(12n);
  });

  it('records nothing when the commit fails', async () => {
    const p = newProgress(tp);
    const failing: CommitOffsets = async () => {
      throw new Error('REBALANCE_IN_PROGRESS');
    };
    await expect(commitThrough(failing, p, 5n)).rejects.toThrow('REBALANCE_IN_PROGRESS');
    expect(p.committed).toBeUndefined();
  });

  it('holds a partition by its record: a record from before a reassignment is not held, and dropping it leaves the new one', () => {
    const held = createHeldPartitions();
    const before = newProgress(tp);
    held.add(before);
    before.retryTimer = setTimeout(() => expect.unreachable('the redelivery of a dropped partition fired'), 5);
    held.drop(before);
    expect(before.retryTimer).toBeUndefined();
    const after = newProgress(tp);
    held.add(after);
    expect([held.holds(before), held.holds(after)]).toEqual([false, true]);
    held.drop(before);
    expect(held.get(after.key)).toBe(after);
  });

  it('counts lag from the position, or from where reading started before the first batch', () => {
    const held = createHeldPartitions();
    const reading = newProgress(tp);
    Object.assign(reading, { highWatermark: 100n, position: 90n, startHint: 0n });
    const starting = newProgress({ topic: 'usage.events.v1', partition: 4 });
    Object.assign(starting, { highWatermark: 50n, startHint: 45n });
    const unknown = newProgress({ topic: 'usage.events.v1', partition: 5 });
    for (const p of [reading, starting, unknown]) held.add(p);
    expect(held.lag()).toBe(15);
  });
});
