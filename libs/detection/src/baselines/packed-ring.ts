import { createRobustRing, MAX_RING_CAPACITY, statsOf, type RobustRing, type RobustStats } from './robust-ring.ts';

/**
 * A RobustRing (the last `capacity` values of each slot, median and MAD) kept the way a team key
 * can afford: 48 slots of 8 doubles in a JS array are ~3.5 KB a key, against a target of 1 KB.
 *
 * - Float32: a slot's values are dollars spent in one hour of one key; 7 significant digits are
 *   far finer than the spread a median/MAD baseline of 8 such hours measures, so the scores and
 *   expectations move only in their last digits. Money that is reported or added up (an
 *   episode's impact, a budget) never goes through here.
 * - Grown as it fills: a slot holds `held` values (1, 2, 4 … `capacity`), the same for every
 *   slot, doubled when a slot needs one more. Until a slot first wraps, its values sit in push
 *   order from its start, so growing is a copy; a key seen for a day holds 1 value a slot, and a
 *   key reaches full size only after `capacity` days of one kind (weeks of history).
 * - One Float32Array per ring, [pushes per slot (`slots` numbers), then each slot's values
 *   (`slots × held`)]: every typed array costs ~200 B of heap besides its contents. Push counts
 *   are whole numbers, exact in Float32 up to 2^24 (a slot takes one value an hour at most).
 *
 * It serialises (toJSON) as the RobustRing it stands for, values at full capacity, so snapshots
 * keep the shape they had before it was packed (either version reads the other's) and
 * `packedRing` turns what JSON.parse gives back into one.
 */
export class PackedRing {
  /** Values a slot keeps at most. */
  readonly capacity: number;
  readonly slots: number;
  data: Float32Array;

  constructor(capacity: number, slots: number, data: Float32Array) {
    this.capacity = capacity;
    this.slots = slots;
    this.data = data;
  }

  toJSON(): RobustRing {
    const full = createRobustRing(this.slots, this.capacity);
    const held = heldOf(this);
    for (let slot = 0; slot < this.slots; slot++) {
      full.n[slot] = this.data[slot] as number;
      for (let i = 0; i < held; i++) full.values[slot * this.capacity + i] = this.data[this.slots + slot * held + i] as number;
    }
    return full;
  }
}

/** A ring of `slots` slots that will keep up to `capacity` values each, holding 1 each for now. */
export function createPackedRing(slots: number, capacity: number): PackedRing {
  // Validates as a RobustRing does (the shape it serialises to).
  createRobustRing(1, capacity);
  if (!Number.isInteger(slots) || slots < 1) throw new RangeError(`ring slots must be a positive integer, got ${slots}`);
  return new PackedRing(capacity, slots, new Float32Array(slots * 2));
}

/** Values each slot has room for now. */
const heldOf = (r: PackedRing): number => (r.data.length - r.slots) / r.slots;

export function packedRingPush(r: PackedRing, slot: number, x: number): void {
  const n = r.data[slot] as number;
  let held = heldOf(r);
  if (n >= held && held < r.capacity) {
    // Nothing has wrapped while held < capacity: each slot's values are its first n positions.
    const next = Math.min(r.capacity, held * 2);
    const grown = new Float32Array(r.slots * (1 + next));
    grown.set(r.data.subarray(0, r.slots));
    for (let s = 0; s < r.slots; s++) grown.set(r.data.subarray(r.slots + s * held, r.slots + (s + 1) * held), r.slots + s * next);
    r.data = grown;
    held = next;
  }
  r.data[r.slots + slot * held + (n % held)] = x;
  r.data[slot] = n + 1;
}

/** Median and MAD of the values held for `slot`; null when it holds none. */
export function packedRingStats(r: PackedRing, slot: number): RobustStats | null {
  const held = heldOf(r);
  return statsOf(r.data, r.slots + slot * held, Math.min(r.data[slot] as number, held));
}

/**
 * The ring a snapshot holds: a PackedRing as is; its JSON (a RobustRing, from this version or
 * one before rings were packed) or a structured clone of one (class gone, fields kept) packed
 * again, at the smallest size that holds what it has.
 */
export function packedRing(saved: PackedRing | RobustRing | { capacity: number; slots: number; data: ArrayLike<number> }): PackedRing {
  if (saved instanceof PackedRing) return saved;
  if ('data' in saved) return new PackedRing(saved.capacity, saved.slots, Float32Array.from(saved.data));
  const { capacity, n } = saved;
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_RING_CAPACITY || saved.values.length !== n.length * capacity) {
    throw new RangeError(`not a ring: capacity ${capacity}, ${n.length} slots, ${saved.values.length} values`);
  }
  let most = 0;
  for (const count of n) most = Math.max(most, Math.min(count, capacity));
  let held = 1;
  while (held < most) held = Math.min(capacity, held * 2);
  // Below capacity no slot has wrapped, so its first `held` positions hold all it has.
  const data = new Float32Array(n.length * (1 + held));
  data.set(n);
  for (let slot = 0; slot < n.length; slot++) {
    for (let i = 0; i < held; i++) data[n.length + slot * held + i] = saved.values[slot * capacity + i] as number;
  }
  return new PackedRing(capacity, n.length, data);
}

/** Values slot `slot` has taken, all told (it keeps only the last `capacity`). */
export const packedRingCount = (r: PackedRing, slot: number): number => r.data[slot] as number;
