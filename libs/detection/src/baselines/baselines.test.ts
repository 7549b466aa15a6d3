import { mean, median, medianAbsoluteDeviation, sampleVariance, variance } from 'simple-statistics';
import { seededRandom } from '@burnrate/testing/seeded-random';
import { describe, expect, it } from 'vitest';
import { createEwma, EWMA_FIELDS, updateEwma, updateEwmaAt } from './ewma.ts';
import {
  createPackedRing,
  decodeUsd,
  encodeUsd,
  PackedRing,
  packedRing,
  packedRingCount,
  packedRingPush,
  packedRingStats,
} from './packed-ring.ts';
import { poissonBinomialTail, twoProportionPValue } from './proportions.ts';
import { createRobustRing, ringFill, ringPush, ringStats, robustScore } from './robust-ring.ts';
import {
  createShareProfile,
  learnShare,
  profileLearntAt,
  profileShare,
  profileWeeks,
  ShareProfile,
  shareProfile,
  skipShareHour,
} from './share-profile.ts';
import {
  createEwmaProfile,
  createRingProfile,
  ewmaExpectation,
  hourOfWeek,
  ringExpectation,
  seasonalSlot,
  updateEwmaProfile,
  updateRingProfile,
} from './seasonal.ts';
import { createWelford, mergeWelford, updateWelford, welfordSampleVariance, welfordVariance } from './welford.ts';

const samples = (seed: number, n: number, scale = 100): number[] => {
  const r = seededRandom(seed);
  return Array.from({ length: n }, () => r() * scale + (r() < 0.05 ? 10 * scale : 0));
};

const roundTrip = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

describe('Welford', () => {
  it.each([1, 2, 3, 4, 5])('matches simple-statistics mean and variances on random data (seed %i)', (seed) => {
    const xs = samples(seed, 500);
    const w = createWelford();
    for (const x of xs) updateWelford(w, x);
    expect(w.count).toBe(500);
    expect(w.mean).toBeCloseTo(mean(xs), 9);
    expect(welfordVariance(w)).toBeCloseTo(variance(xs), 6);
    expect(welfordSampleVariance(w)).toBeCloseTo(sampleVariance(xs), 6);
  });

  it('merging partial states equals one pass over everything', () => {
    const xs = samples(7, 300);
    const a = createWelford();
    const b = createWelford();
    xs.slice(0, 120).forEach((x) => updateWelford(a, x));
    xs.slice(120).forEach((x) => updateWelford(b, x));
    mergeWelford(a, roundTrip(b));
    expect(a.mean).toBeCloseTo(mean(xs), 9);
    expect(welfordVariance(a)).toBeCloseTo(variance(xs), 6);
    expect(mergeWelford(createWelford(), a)).toEqual(a);
  });

  it('is 0 before it has data', () => {
    expect(welfordVariance(createWelford())).toBe(0);
    expect(welfordSampleVariance(updateWelford(createWelford(), 3))).toBe(0);
  });
});

describe('EWMA', () => {
  it('equals the running mean and population variance while count ≤ 1/alpha', () => {
    const xs = samples(11, 50);
    const s = createEwma();
    for (const x of xs) updateEwma(s, x, 0.01);
    expect(s.mean).toBeCloseTo(mean(xs), 9);
    expect(s.variance).toBeCloseTo(variance(xs), 6);
  });

  it('weights values exponentially once warm', () => {
    const xs = samples(12, 400);
    const alpha = 0.1;
    const s = createEwma();
    for (const x of xs) updateEwma(s, x, alpha);
    // Reference: the same recurrence written as explicit weights (1/n while 1/n > alpha, then alpha).
    let m = 0;
    for (let i = 0; i < xs.length; i++) m += Math.max(alpha, 1 / (i + 1)) * ((xs[i] as number) - m);
    expect(s.mean).toBeCloseTo(m, 9);
    const tail = xs.slice(-60);
    expect(Math.abs(s.mean - mean(tail))).toBeLessThan(2 * Math.sqrt(variance(tail)));
  });

  it('flat form equals the object form, and its clamp limits what an outlier moves', () => {
    const xs = samples(13, 200);
    const s = createEwma();
    const a = [0, 0, 0, 0, 0, 0];
    for (const x of xs) {
      updateEwma(s, x, 0.05);
      updateEwmaAt(a, EWMA_FIELDS, x, 0.05);
    }
    expect(a[EWMA_FIELDS]).toBeCloseTo(s.mean, 9);
    expect(a[EWMA_FIELDS + 1]).toBeCloseTo(s.absDev, 9);
    expect(a[EWMA_FIELDS + 2]).toBe(200);
    expect(a.slice(0, EWMA_FIELDS)).toEqual([0, 0, 0]);

    const before = a[EWMA_FIELDS] as number;
    updateEwmaAt(a, EWMA_FIELDS, before + 1e6, 0.05, 10);
    expect((a[EWMA_FIELDS] as number) - before).toBeCloseTo(0.05 * 10, 9);
  });

  it('mean absolute deviation tracks the spread (≈ 0.8σ for uniform noise around a level)', () => {
    const r = seededRandom(14);
    const s = createEwma();
    for (let i = 0; i < 5000; i++) updateEwma(s, 50 + (r() - 0.5) * 20, 0.01);
    // Uniform on [-10, 10]: mean absolute deviation 5.
    expect(s.absDev).toBeGreaterThan(4.3);
    expect(s.absDev).toBeLessThan(5.7);
  });
});

describe('robust ring', () => {
  it.each([1, 2, 3])('median and MAD over the last `capacity` values match simple-statistics (seed %i)', (seed) => {
    const xs = samples(20 + seed, 37);
    const ring = createRobustRing(3, 8);
    xs.forEach((x, i) => ringPush(ring, i % 3, x));
    for (let slot = 0; slot < 3; slot++) {
      const mine = xs.filter((_, i) => i % 3 === slot).slice(-8);
      const stats = ringStats(roundTrip(ring), slot);
      expect(stats).toEqual({ median: median(mine), mad: medianAbsoluteDeviation(mine), count: 8 });
    }
  });

  it('works before it is full, and an empty slot has no stats', () => {
    const ring = createRobustRing(2, 8);
    ringPush(ring, 0, 5);
    ringPush(ring, 0, 1);
    ringPush(ring, 0, 9);
    expect(ringFill(ring, 0)).toBe(3);
    expect(ringStats(ring, 0)).toEqual({ median: 5, mad: 4, count: 3 });
    expect(ringStats(ring, 1)).toBeNull();
  });

  it('robust score floors the scale so a constant slot is not infinitely surprised', () => {
    const ring = createRobustRing(1, 4);
    for (let i = 0; i < 4; i++) ringPush(ring, 0, 0);
    const stats = ringStats(ring, 0);
    expect(stats).not.toBeNull();
    if (stats !== null) expect(robustScore(10, stats, 2)).toBe(5);
  });

  it('rejects sizes that would make medians costly or meaningless', () => {
    expect(() => createRobustRing(1, 0)).toThrow(/capacity/);
    expect(() => createRobustRing(1, 64)).toThrow(/capacity/);
    expect(() => createRobustRing(0, 8)).toThrow(/slots/);
  });
});

describe('packed ring', () => {
  /** Values each slot has room for now (the ring's length past its header and counts). */
  const room = (r: PackedRing): number => (r.length - 2 - r.slots) / r.slots;
  /** Pushes the same values into a RobustRing and a PackedRing of 48 slots of 8. */
  function both(values: readonly [slot: number, x: number][]): { robust: ReturnType<typeof createRobustRing>; packed: PackedRing } {
    const robust = createRobustRing(48, 8);
    let packed = createPackedRing(48, 8);
    for (const [slot, x] of values) {
      ringPush(robust, slot, x);
      packed = packedRingPush(packed, slot, x);
    }
    return { robust, packed };
  }
  // Values a code holds exactly (hourly dollars from a cent to $5,000), so the packed ring must agree to the last bit.
  const exact = (seed: number, n: number): [number, number][] => {
    const r = seededRandom(seed);
    const low = encodeUsd(0.01);
    const high = encodeUsd(5_000);
    return Array.from({ length: n }, () => [Math.floor(r() * 48), decodeUsd(low + Math.floor(r() * (high - low)))]);
  };

  it.each([1, 2, 3])('gives the median and MAD of a RobustRing of the same capacity, wrapped or not (seed %i)', (seed) => {
    const { robust, packed } = both(exact(seed, 1000));
    for (let slot = 0; slot < 48; slot++) expect(packedRingStats(packed, slot)).toEqual(ringStats(robust, slot));
  });

  it('starts with room for one value a slot and doubles as a slot fills, up to its capacity', () => {
    let ring = createPackedRing(48, 8);
    expect(room(ring)).toBe(1);
    ring = packedRingPush(ring, 5, 1);
    ring = packedRingPush(ring, 6, 1);
    expect(room(ring)).toBe(1);
    const grownAt: number[] = [];
    for (let i = 2; i <= 20; i++) {
      const before = room(ring);
      ring = packedRingPush(ring, 5, i);
      if (room(ring) !== before) grownAt.push(i);
    }
    expect(grownAt).toEqual([2, 3, 5]);
    expect(room(ring)).toBe(8);
    const five = packedRingStats(ring, 5);
    expect(five?.count).toBe(8);
    expect(five?.median).toBeCloseTo(16.5, 2);
    expect(five?.mad).toBeCloseTo(2, 2);
    expect(packedRingStats(ring, 6)?.median).toBeCloseTo(1, 3);
    expect(packedRingStats(ring, 7)).toBeNull();
    expect(ring.slots).toBe(48);
    expect(ring.capacity).toBe(8);
  });

  it('keeps each amount within 0.025% of itself and in order, nothing as 0, and clamps what is out of range', () => {
    const r = seededRandom(11);
    let previous = -1;
    for (let i = 0; i < 2_000; i++) {
      const x = 10 ** (-5 + r() * 12);
      const back = decodeUsd(encodeUsd(x));
      expect(Math.abs(back - x) / x).toBeLessThanOrEqual(2.5e-4);
    }
    for (const x of [0.001, 0.0011, 0.5, 0.5005, 1, 1.001, 99.9, 100, 1e6]) {
      expect(encodeUsd(x)).toBeGreaterThan(previous);
      previous = encodeUsd(x);
    }
    expect(decodeUsd(encodeUsd(0))).toBe(0);
    expect(encodeUsd(-3)).toBe(0);
    expect(encodeUsd(Number.NaN)).toBe(0);
    expect(decodeUsd(encodeUsd(1e-9))).toBeCloseTo(1e-6, 9);
    expect(encodeUsd(1e12)).toBe(0xffff);
  });

  it('keeps counting a slot past what 16 bits hold, at the same write position', () => {
    let ring = createPackedRing(1, 8);
    for (let i = 0; i < 70_000; i++) ring = packedRingPush(ring, 0, i % 8 === 0 ? 100 : 1);
    expect(packedRingCount(ring, 0)).toBeGreaterThanOrEqual(8);
    expect(packedRingCount(ring, 0) % 8).toBe(70_000 % 8);
    expect(packedRingStats(ring, 0)?.count).toBe(8);
    expect(packedRingStats(ring, 0)?.median).toBeCloseTo(1, 3);
  });

  it('serialises as the RobustRing it stands for, and comes back from that JSON', () => {
    const { robust, packed } = both(exact(4, 300));
    expect(JSON.stringify(packed)).toBe(JSON.stringify(robust));
    const young = both(exact(5, 20));
    expect(JSON.stringify(young.packed)).toBe(JSON.stringify(young.robust));
    const back = packedRing(roundTrip(young.packed));
    expect(back).toBeInstanceOf(PackedRing);
    expect(Array.from(back)).toEqual(Array.from(young.packed));
  });

  it('restores a RobustRing saved before rings were packed, at the smallest size that holds it, and goes on as it would have', () => {
    const doubles = samples(9, 400, 50);
    const saved = createRobustRing(48, 8);
    doubles.slice(0, 60).forEach((x, i) => ringPush(saved, i % 48, x));
    let young = packedRing(roundTrip(saved));
    expect(room(young)).toBe(2);
    doubles.slice(60).forEach((x, i) => {
      ringPush(saved, (i * 7) % 48, x);
      young = packedRingPush(young, (i * 7) % 48, x);
    });
    for (let slot = 0; slot < 48; slot++) {
      const want = ringStats(saved, slot);
      const got = packedRingStats(young, slot);
      expect(got?.count).toBe(want?.count);
      expect(got?.median).toBeCloseTo(want?.median ?? 0, 1);
      expect(Math.abs((got?.median ?? 0) - (want?.median ?? 0))).toBeLessThanOrEqual(2.5e-4 * (want?.median ?? 0));
      expect(got?.mad).toBeCloseTo(want?.mad ?? 0, 1);
    }
    // Wrapped: every position kept where it was, so the next push overwrites the oldest value.
    let full = packedRing(roundTrip(saved));
    expect(room(full)).toBe(8);
    ringPush(saved, 3, 1000);
    full = packedRingPush(full, 3, 1000);
    expect(packedRingStats(full, 3)?.median).toBeCloseTo(ringStats(saved, 3)?.median ?? 0, 1);
  });

  it('takes back a structured clone of itself (class gone), and one from before values were coded', () => {
    const { packed } = both(exact(6, 100));
    const back = packedRing(structuredClone(packed));
    expect(back).toBeInstanceOf(PackedRing);
    for (let slot = 0; slot < 48; slot++) expect(packedRingStats(back, slot)).toEqual(packedRingStats(packed, slot));
    // Before: { capacity, slots, data: Float32Array of counts, then dollars }.
    const older = { capacity: 8, slots: 2, data: Float32Array.from([2, 1, 3.5, 4.5, 7, 0]) };
    const upgraded = packedRing(older);
    expect(packedRingCount(upgraded, 0)).toBe(2);
    expect(packedRingStats(upgraded, 0)?.median).toBeCloseTo(4, 2);
    expect(packedRingStats(upgraded, 1)?.median).toBeCloseTo(7, 2);
  });

  it('rejects what is not a ring', () => {
    expect(() => createPackedRing(1, 0)).toThrow(/capacity/);
    expect(() => createPackedRing(0, 8)).toThrow(/slots/);
    expect(() => packedRing({ capacity: 8, values: [1, 2, 3], n: [1] })).toThrow(/not a ring/);
    expect(() => packedRing(Uint16Array.from([3, 8, 0, 0]))).toThrow(/not a ring/);
    expect(() => packedRing(Uint16Array.from([0, 8, 0, 0]))).toThrow(/not a ring/);
    expect(() => packedRing(Uint16Array.from([1, 0, 0, 0]))).toThrow(/not a ring/);
    expect(() => packedRing(new Uint16Array(0))).toThrow(/not a ring/);
    expect(() => packedRing({ capacity: 8, slots: 2, data: [1, 1, 5] })).toThrow(/not a ring/);
  });
});

describe('share profile', () => {
  const HOUR = 3_600_000;
  const T0 = Date.parse('2026-11-02T09:00:00Z');

  it('decays each slot with the hours since it last learnt, and counts the weeks it is told are new', () => {
    const p = createShareProfile(48);
    expect(profileShare(p, 3)).toBe(0);
    expect(profileLearntAt(p, 3)).toBe(0);
    learnShare(p, 3, T0, 600, 1000, 168, true);
    expect(profileShare(p, 3)).toBeCloseTo(0.6, 6);
    expect(profileLearntAt(p, 3)).toBe(T0);
    learnShare(p, 3, T0 + 24 * HOUR, 100, 1000, 168, false);
    const decay = Math.exp(-24 / 168);
    expect(profileShare(p, 3)).toBeCloseTo((600 * decay + 100) / (1000 * decay + 1000), 6);
    expect(profileWeeks(p, 3)).toBe(1);
    learnShare(p, 3, T0 + 168 * HOUR, 100, 1000, 168, true);
    expect(profileWeeks(p, 3)).toBe(2);
    expect(profileLearntAt(p, 3)).toBe(T0 + 168 * HOUR);
    expect(profileWeeks(p, 4)).toBe(0);
  });

  it('skipping an hour moves a learnt slot on without learning, and leaves an unlearnt one unlearnt', () => {
    const p = createShareProfile(48);
    learnShare(p, 3, T0, 600, 1000, 168, true);
    skipShareHour(p, 3, T0 + 48 * HOUR);
    skipShareHour(p, 4, T0 + 48 * HOUR);
    learnShare(p, 3, T0 + 49 * HOUR, 100, 1000, 168, false);
    learnShare(p, 4, T0 + 49 * HOUR, 100, 1000, 168, true);
    const decay = Math.exp(-1 / 168);
    expect(profileShare(p, 3)).toBeCloseTo((600 * decay + 100) / (1000 * decay + 1000), 6);
    expect(profileShare(p, 4)).toBeCloseTo(0.1, 6);
  });

  it('serialises as the flat array it was before it was packed (hours in epoch ms), and comes back from it', () => {
    const p = createShareProfile(48);
    learnShare(p, 3, T0, 600, 1000, 168, true);
    const json = roundTrip(p) as unknown as number[];
    expect(json).toHaveLength(192);
    expect(json.slice(12, 16)).toEqual([600, 1000, T0, 1]);
    const back = shareProfile(json);
    expect(back).toBeInstanceOf(ShareProfile);
    expect(back).toEqual(p);
    expect(shareProfile(structuredClone(p))).toEqual(p);
  });

  it('restores a profile saved before it was packed and goes on from it', () => {
    const saved = new Array<number>(192).fill(0);
    saved.splice(12, 4, 0.3 * 7000.7, 7000.7, T0, 5);
    const p = shareProfile(saved);
    expect(profileShare(p, 3)).toBeCloseTo(0.3, 6);
    expect(profileWeeks(p, 3)).toBe(5);
    expect(profileLearntAt(p, 3)).toBe(T0);
    learnShare(p, 3, T0 + HOUR, 0, 7000.7, 24, false);
    expect(profileShare(p, 3)).toBeCloseTo((0.3 * Math.exp(-1 / 24)) / (Math.exp(-1 / 24) + 1), 6);
  });
});

describe('seasonal slots and profiles', () => {
  it('maps a local hour and day type to a slot', () => {
    expect(seasonalSlot(false, 0, 8)).toBe(0);
    expect(seasonalSlot(false, 14, 8)).toBe(4);
    expect(seasonalSlot(true, 14, 8)).toBe(12);
    expect(seasonalSlot(true, 23, 24)).toBe(47);
    expect(hourOfWeek(2, 14)).toBe(62);
  });

  it('an EWMA profile keeps slots apart and round-trips through JSON', () => {
    const p = createEwmaProfile(16);
    for (let i = 0; i < 30; i++) {
      updateEwmaProfile(p, 4, 10 + (i % 3), 0.05);
      updateEwmaProfile(p, 12, 1, 0.05);
    }
    const e = ewmaExpectation(roundTrip(p), 4);
    expect(e.center).toBeCloseTo(mean(Array.from({ length: 30 }, (_, i) => 10 + (i % 3))), 1);
    expect(e.count).toBe(30);
    expect(ewmaExpectation(p, 12)).toEqual({ center: 1, sigma: 0, count: 30 });
    expect(ewmaExpectation(p, 0)).toEqual({ center: 0, sigma: 0, count: 0 });
  });

  it('a ring profile gives median and σ from MAD', () => {
    let r = createRingProfile(48, 8);
    for (const x of [10, 12, 11, 100, 9]) r = updateRingProfile(r, 30, x);
    const e = ringExpectation(r, 30);
    expect(e.center).toBeCloseTo(11, 2);
    expect(e.sigma).toBeCloseTo(1.4826 * 1, 2);
    expect(e.count).toBe(5);
    expect(ringExpectation(r, 0)).toEqual({ center: 0, sigma: 0, count: 0 });
  });
});

describe('two-proportion test', () => {
  it('gives the textbook one-sided p-value', () => {
    // 60/100 vs 40/100: pooled 0.5, se 0.0707, z 2.828, upper tail 0.00234.
    expect(twoProportionPValue(60, 100, 40, 100)).toBeCloseTo(0.00234, 4);
    expect(twoProportionPValue(40, 100, 40, 100)).toBeCloseTo(0.5, 6);
    expect(twoProportionPValue(30, 100, 40, 100)).toBeGreaterThan(0.9);
  });

  it('is 1 without data and decisive when nothing varies', () => {
    expect(twoProportionPValue(0, 0, 4, 10)).toBe(1);
    expect(twoProportionPValue(10, 10, 10, 10)).toBe(1);
    expect(twoProportionPValue(0, 10, 0, 10)).toBe(1);
  });
});

describe('Poisson-binomial tail', () => {
  /** P(X ≥ k) by enumerating every outcome: the definition, for small n. */
  function brute(ps: number[], k: number): number {
    let total = 0;
    for (let mask = 0; mask < 1 << ps.length; mask++) {
      let p = 1;
      let hits = 0;
      ps.forEach((q, i) => {
        const hit = (mask >> i) & 1;
        hits += hit;
        p *= hit === 1 ? q : 1 - q;
      });
      if (hits >= k) total += p;
    }
    return total;
  }

  it.each([1, 2, 3])('matches enumeration on random probabilities (seed %i)', (seed) => {
    const r = seededRandom(40 + seed);
    const ps = Array.from({ length: 9 }, () => r());
    for (let k = 0; k <= 10; k++) expect(poissonBinomialTail(ps, k)).toBeCloseTo(brute(ps, k), 12);
  });

  it('is the binomial tail when every probability is the same', () => {
    // Two developers who each use the premium model one hour in twenty: both at once, 1 in 400.
    expect(poissonBinomialTail([0.05, 0.05], 2)).toBeCloseTo(0.0025, 12);
    expect(poissonBinomialTail([0.1, 0.1, 0.1, 0.1], 2)).toBeCloseTo(1 - 0.9 ** 4 - 4 * 0.1 * 0.9 ** 3, 12);
  });

  it('a developer who is always on premium explains nothing', () => {
    expect(poissonBinomialTail([0.9, 0.05], 2)).toBeCloseTo(0.045, 12);
    expect(poissonBinomialTail([0.9], 1)).toBeCloseTo(0.9, 12);
  });

  it('edges: nothing needed is certain, more than there are is impossible', () => {
    expect(poissonBinomialTail([], 0)).toBe(1);
    expect(poissonBinomialTail([0.5], 2)).toBe(0);
    expect(poissonBinomialTail([1, 1], 2)).toBe(1);
  });
});
