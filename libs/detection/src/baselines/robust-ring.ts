/**
 * A fixed ring of the last few values with robust median and MAD. Rings stay small (≤ 8 values a
 * slot), so the median is an insertion sort of a handful of numbers, done when a bucket closes
 * (once per key-hour), never per event.
 *
 * The ring is flat JSON data: `values` holds `capacity` numbers per slot and `n[slot]` counts
 * every value ever pushed (the write position is `n % capacity`, the fill `min(n, capacity)`).
 * One ring serves many slots (the seasonal profile of a team is 48 slots of 8).
 */
export interface RobustRing {
  capacity: number;
  values: number[];
  n: number[];
}

export const MAX_RING_CAPACITY = 32;

export function createRobustRing(slots: number, capacity: number): RobustRing {
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_RING_CAPACITY) {
    throw new RangeError(`ring capacity must be an integer in 1..${MAX_RING_CAPACITY}, got ${capacity}`);
  }
  if (!Number.isInteger(slots) || slots < 1) throw new RangeError(`ring slots must be a positive integer, got ${slots}`);
  return { capacity, values: new Array<number>(slots * capacity).fill(0), n: new Array<number>(slots).fill(0) };
}

export function ringPush(r: RobustRing, slot: number, x: number): void {
  const n = r.n[slot] as number;
  r.values[slot * r.capacity + (n % r.capacity)] = x;
  r.n[slot] = n + 1;
}

/** Values held for `slot` (at most `capacity`). */
export function ringFill(r: RobustRing, slot: number): number {
  return Math.min(r.n[slot] as number, r.capacity);
}

export interface RobustStats {
  median: number;
  /** Median absolute deviation from the median (not scaled; ×1.4826 estimates σ for normal data). */
  mad: number;
  count: number;
}

// Scratch space, reused: a median of ≤ 32 numbers should not allocate.
const scratch = new Array<number>(MAX_RING_CAPACITY).fill(0);

function sortedMedian(k: number): number {
  for (let i = 1; i < k; i++) {
    const v = scratch[i] as number;
    let j = i - 1;
    while (j >= 0 && (scratch[j] as number) > v) {
      scratch[j + 1] = scratch[j] as number;
      j--;
    }
    scratch[j + 1] = v;
  }
  const mid = k >> 1;
  return k % 2 === 1 ? (scratch[mid] as number) : ((scratch[mid - 1] as number) + (scratch[mid] as number)) / 2;
}

/** Median and MAD of the values held for `slot`; null when it holds none. */
export function ringStats(r: RobustRing, slot: number): RobustStats | null {
  return statsOf(r.values, slot * r.capacity, ringFill(r, slot));
}

/** Median and MAD of `values[base, base + k)` (k ≤ MAX_RING_CAPACITY); null when k is 0. */
export function statsOf(values: ArrayLike<number>, base: number, k: number): RobustStats | null {
  if (k === 0) return null;
  for (let i = 0; i < k; i++) scratch[i] = values[base + i] as number;
  const median = sortedMedian(k);
  for (let i = 0; i < k; i++) scratch[i] = Math.abs((values[base + i] as number) - median);
  return { median, mad: sortedMedian(k), count: k };
}

/** σ ≈ 1.4826 × MAD for normal data. */
export const MAD_TO_SIGMA = 1.4826;

/**
 * Robust z-score of `x` against median/MAD, with a floor on the scale: a slot whose values were
 * all equal (MAD 0, e.g. all zero at night) would otherwise make any change infinitely surprising.
 */
export function robustScore(x: number, stats: RobustStats, minScale: number): number {
  return (x - stats.median) / Math.max(MAD_TO_SIGMA * stats.mad, minScale);
}
