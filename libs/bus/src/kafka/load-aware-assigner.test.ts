import { describe, expect, it } from 'vitest';
import { assignByLoad, type WeightedPartition } from './load-aware-assigner.ts';

const topic = 'usage.events.v1';
const weighted = (weights: readonly number[]): WeightedPartition[] => weights.map((weight, partition) => ({ topic, partition, weight }));
const loadOf = (assigned: Record<string, number[]> | undefined, weights: readonly number[]): number =>
  (assigned?.[topic] ?? []).reduce((n, p) => n + (weights[p] ?? 0), 0);

describe('assignByLoad', () => {
  // The partition sizes of the generated scenario stream (29 developers on 12 partitions).
  const skewed = [7844, 2276, 12532, 159, 908, 9915, 44163, 13543, 513, 19302, 26852, 5369];

  it('splits skewed partitions by load where a round robin gives one member 1.8x the other', () => {
    const total = skewed.reduce((n, w) => n + w, 0);
    const roundRobin = [0, 2, 4, 6, 8, 10].reduce((n, p) => n + (skewed[p] ?? 0), 0);
    expect(roundRobin / (total - roundRobin)).toBeGreaterThan(1.8);

    const byLoad = assignByLoad(['member-b', 'member-a'], weighted(skewed));
    const a = loadOf(byLoad.get('member-a'), skewed);
    const b = loadOf(byLoad.get('member-b'), skewed);
    expect(a + b).toBe(total);
    expect(Math.max(a, b) / Math.min(a, b)).toBeLessThan(1.01);
  });

  it('assigns every partition exactly once, sorted, and spreads equal weights evenly', () => {
    const assignment = assignByLoad(['m1', 'm2', 'm3'], weighted(new Array(12).fill(1)));
    const all = [...assignment.values()].flatMap((t) => t[topic] ?? []);
    expect(all.sort((x, y) => x - y)).toEqual([...Array(12).keys()]);
    for (const assigned of assignment.values()) {
      expect(assigned[topic]).toHaveLength(4);
      expect(assigned[topic]).toEqual([...(assigned[topic] ?? [])].sort((x, y) => x - y));
    }
  });

  it('gives a heavy partition a member of its own and is the same for the same input', () => {
    const weights = [100, 1, 1, 1, 1, 1];
    const first = assignByLoad(['x', 'y'], weighted(weights));
    expect(first.get('x')?.[topic]).toEqual([0]);
    expect(first.get('y')?.[topic]).toEqual([1, 2, 3, 4, 5]);
    expect(assignByLoad(['y', 'x'], weighted(weights))).toEqual(first);
  });

  it('leaves members beyond the partitions without any', () => {
    const assignment = assignByLoad(['a', 'b', 'c'], weighted([5, 3]));
    expect(assignment.get('a')?.[topic]).toEqual([0]);
    expect(assignment.get('b')?.[topic]).toEqual([1]);
    expect(assignment.get('c')).toEqual({});
  });
});
