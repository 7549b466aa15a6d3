import { createRobustRing, MAX_RING_CAPACITY, statsOf, type RobustRing, type RobustStats } from './robust-ring.ts';

/**
 * A RobustRing (the last `capacity` values of each slot, median and MAD) kept the way a team key
 * can afford: 48 slots of 8 doubles in a JS array are ~3.5 KB a key, against a target of 1 KB.
 *
 * - 16-bit log codes: a slot's values are dollars spent in one hour of one key. Each is kept as
 *   a code, 0 for nothing spent, else 1 + round(ln(x / MIN_USD) / STEP), codes 1 … 65 535 spanning
 *   a micro-dollar to $10⁸ an hour; a value is off by at most STEP / 2 ≈ 0.025 % of itself. That is
 *   far finer than the spread a median/MAD baseline of 8 such hours measures, and the order of
 *   values (so which one is the median) is kept. Under a micro-dollar is a micro-dollar, over the
 *   top is the top; a negative or NaN amount is kept as 0. Money that is reported or added up (an
 *   episode's impact, a budget) never goes through here.
 * - Grown as it fills: a slot holds `held` values (1, 2, 4 … `capacity`), the same for every
 *   slot, doubled when a slot needs one more. Until a slot first wraps, its values sit in push
 *   order from its start, so growing is a copy; a key seen for a day holds 1 value a slot, and a
 *   key reaches full size only after `capacity` days of one kind (weeks of history).
 * - The ring IS one Uint16Array: [slots, capacity, pushes per slot (`slots` numbers), then each
 *   slot's values (`slots × held` codes)]. Every typed array costs ~200 B of heap besides its
 *   contents, and a wrapper object around it would cost more. A push count past 65 535 (years of
 *   one slot) goes on from `capacity` + its remainder, so the write position and "full" still hold.
 *   Growing makes a new array, so a push returns the ring to keep.
 *
 * It serialises (toJSON) as the RobustRing it stands for, values at full capacity, so snapshots
 * keep the shape they had before it was packed (either version reads the other's) and
 * `packedRing` turns what JSON.parse gives back into one.
 */
export class PackedRing extends Uint16Array {
  /** Slots of the ring. */
  get slots(): number {
    return this[SLOTS] as number;
  }

  /** Values a slot keeps at most. */
  get capacity(): number {
    return this[CAPACITY] as number;
  }

  toJSON(): RobustRing {
    const slots = this.slots;
    const capacity = this.capacity;
    const full = createRobustRing(slots, capacity);
    const held = heldOf(this);
    for (let slot = 0; slot < slots; slot++) {
      full.n[slot] = this[COUNTS + slot] as number;
      for (let i = 0; i < held; i++) full.values[slot * capacity + i] = decodeUsd(this[valuesAt(slots) + slot * held + i] as number);
    }
    return full;
  }
}

const SLOTS = 0;
const CAPACITY = 1;
const COUNTS = 2;
const valuesAt = (slots: number): number => COUNTS + slots;

/** The smallest amount a code tells from nothing: a micro-dollar. */
const MIN_USD = 1e-6;
const MAX_CODE = 0xffff;
const LN_MIN = Math.log(MIN_USD);
/** ln of the ratio between neighbouring codes: codes 1 … MAX_CODE span MIN_USD … 10¹⁴ × MIN_USD. */
const STEP = Math.log(1e14) / (MAX_CODE - 1);

/** The 16-bit code of `x` dollars (see PackedRing). */
export function encodeUsd(x: number): number {
  if (!(x > 0)) return 0;
  const code = Math.round((Math.log(x) - LN_MIN) / STEP) + 1;
  return code < 1 ? 1 : code > MAX_CODE ? MAX_CODE : code;
}

/** The dollars a code stands for. */
export function decodeUsd(code: number): number {
  return code === 0 ? 0 : Math.exp(LN_MIN + (code - 1) * STEP);
}

/** A slot's push count as held: past what 16 bits hold, `capacity` + its remainder (same write position, still full). */
const countCode = (n: number, capacity: number): number => (n <= MAX_CODE ? n : capacity + (n % capacity));

/** An empty ring of `slots` slots with room for `held` values each. */
function emptyRing(slots: number, capacity: number, held: number): PackedRing {
  const r = new PackedRing(valuesAt(slots) + slots * held);
  r[SLOTS] = slots;
  r[CAPACITY] = capacity;
  return r;
}

/** A ring of `slots` slots that will keep up to `capacity` values each, holding 1 each for now. */
export function createPackedRing(slots: number, capacity: number): PackedRing {
  // Validates as a RobustRing does (the shape it serialises to).
  createRobustRing(1, capacity);
  if (!Number.isInteger(slots) || slots < 1 || slots > MAX_CODE)
    throw new RangeError(`ring slots must be an integer in 1..${MAX_CODE}, got ${slots}`);
  return emptyRing(slots, capacity, 1);
}

/** Values each slot has room for now. */
const heldOf = (r: PackedRing): number => (r.length - valuesAt(r.slots)) / r.slots;

/** Pushes `x` dollars into `slot`; returns the ring, a new one when it had to grow. */
export function packedRingPush(ring: PackedRing, slot: number, x: number): PackedRing {
  let r = ring;
  const slots = r.slots;
  const capacity = r.capacity;
  const values = valuesAt(slots);
  const n = r[COUNTS + slot] as number;
  let held = heldOf(r);
  if (n >= held && held < capacity) {
    // Nothing has wrapped while held < capacity: each slot's values are its first n positions.
    const next = Math.min(capacity, held * 2);
    const grown = emptyRing(slots, capacity, next);
    grown.set(r.subarray(0, values));
    for (let s = 0; s < slots; s++) grown.set(r.subarray(values + s * held, values + (s + 1) * held), values + s * next);
    r = grown;
    held = next;
  }
  r[values + slot * held + (n % held)] = encodeUsd(x);
  r[COUNTS + slot] = countCode(n + 1, capacity);
  return r;
}

// Decoded values of one slot, reused: stats should not allocate.
const decoded = new Float64Array(MAX_RING_CAPACITY);

/** Median and MAD of the values held for `slot`; null when it holds none. */
export function packedRingStats(r: PackedRing, slot: number): RobustStats | null {
  const held = heldOf(r);
  const count = Math.min(r[COUNTS + slot] as number, held);
  const base = valuesAt(r.slots) + slot * held;
  for (let i = 0; i < count; i++) decoded[i] = decodeUsd(r[base + i] as number);
  return statsOf(decoded, 0, count);
}

/**
 * The ring a snapshot holds: a PackedRing as is; its JSON (a RobustRing, from this version or
 * one before rings were packed) packed again, at the smallest size that holds what it has; a
 * structured clone of one (a plain Uint16Array) wrapped again; a structured clone from before
 * values were coded (`{ capacity, slots, data }`, counts then dollars in Float32) coded.
 */
export function packedRing(
  saved: PackedRing | RobustRing | Uint16Array | { capacity: number; slots: number; data: ArrayLike<number> },
): PackedRing {
  if (saved instanceof PackedRing) return saved;
  if (saved instanceof Uint16Array) {
    const slots = saved[SLOTS] ?? 0;
    const r = emptyRing(slots, saved[CAPACITY] ?? 0, checkedHeld(slots, saved[CAPACITY] ?? 0, saved.length - valuesAt(slots)));
    r.set(saved);
    return r;
  }
  if ('data' in saved) {
    const { capacity, slots, data } = saved;
    const r = emptyRing(slots, capacity, checkedHeld(slots, capacity, data.length - slots));
    for (let slot = 0; slot < slots; slot++) r[COUNTS + slot] = countCode(data[slot] as number, capacity);
    for (let i = slots; i < data.length; i++) r[COUNTS + i] = encodeUsd(data[i] as number);
    return r;
  }
  const { capacity, n } = saved;
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_RING_CAPACITY || saved.values.length !== n.length * capacity) {
    throw new RangeError(`not a ring: capacity ${capacity}, ${n.length} slots, ${saved.values.length} values`);
  }
  let most = 0;
  for (const count of n) most = Math.max(most, Math.min(count, capacity));
  let held = 1;
  while (held < most) held = Math.min(capacity, held * 2);
  // Below capacity no slot has wrapped, so its first `held` positions hold all it has.
  const r = emptyRing(n.length, capacity, held);
  const values = valuesAt(n.length);
  for (let slot = 0; slot < n.length; slot++) {
    r[COUNTS + slot] = countCode(n[slot] as number, capacity);
    for (let i = 0; i < held; i++) r[values + slot * held + i] = encodeUsd(saved.values[slot * capacity + i] as number);
  }
  return r;
}

/** Values a restored ring holds per slot, from the length of its values; throws when that is not a ring's. */
function checkedHeld(slots: number, capacity: number, values: number): number {
  const held = values / slots;
  if (
    !Number.isInteger(slots) ||
    slots < 1 ||
    !Number.isInteger(capacity) ||
    capacity < 1 ||
    capacity > MAX_RING_CAPACITY ||
    !Number.isInteger(held) ||
    held < 1 ||
    held > capacity
  ) {
    throw new RangeError(`not a ring: ${slots} slots of capacity ${capacity}, ${values} values`);
  }
  return held;
}

/** Values slot `slot` has taken, all told (it keeps only the last `capacity`). */
export const packedRingCount = (r: PackedRing, slot: number): number => r[COUNTS + slot] as number;
