import { ABS_DEV_TO_SIGMA, EWMA_FIELDS, updateEwmaAt } from './ewma.ts';
import { createPackedRing, packedRingPush, packedRingStats, type PackedRing } from './packed-ring.ts';
import { MAD_TO_SIGMA } from './robust-ring.ts';

/**
 * Seasonal baselines: what a key usually does at this time of day on this kind of day.
 *
 * Memory decides the shape. A developer key cannot carry 168 hour-of-week slots of 8 values
 * (1,344 doubles, ~11 KB) when the target is ≤ 1 KB per key at 100k keys, and an hour-of-week slot
 * sees one value a week, so it would need months to warm up. So:
 * - per developer (many keys): {workday, off-day} × `slotsPerDay` blocks of the local day, each an
 *   EWMA of mean and absolute deviation (3 doubles). 8 blocks of 3 hours → 48 doubles; a block sees
 *   about three values per day of its type, so a few days warm it up.
 * - per team (few keys): {workday, off-day} × 24 hours, each a ring of the last 8 values with
 *   median/MAD: robust to the spike being measured, and 8 workday values are ~1.5 weeks. Per
 *   team×model the same over 3-hour blocks. Packed in 16-bit codes and grown as it fills
 *   (packed-ring.ts): 10k teams are tens of thousands of keys.
 * Day type comes from the team's working calendar (working days, holidays) in its own time zone.
 */

/** What a baseline expects for a slot: a centre, a σ-like scale, and how many values it rests on. */
export interface Expectation {
  center: number;
  sigma: number;
  count: number;
}

/** Slot of a local hour (0-23) on a working day or an off day, with `slotsPerDay` equal blocks a day. */
export function seasonalSlot(offDay: boolean, localHour: number, slotsPerDay: number): number {
  return (offDay ? slotsPerDay : 0) + Math.floor((localHour * slotsPerDay) / 24);
}

/** Hour of the week, 0 = Sunday 00:00 … 167 = Saturday 23:00 (weekday 0 = Sunday, as Date). */
export function hourOfWeek(weekday: number, localHour: number): number {
  return weekday * 24 + localHour;
}

/** Flat EWMA profile: EWMA_FIELDS doubles per slot. */
export function createEwmaProfile(slots: number): number[] {
  return new Array<number>(slots * EWMA_FIELDS).fill(0);
}

export function ewmaExpectation(profile: readonly number[], slot: number): Expectation {
  const i = slot * EWMA_FIELDS;
  return { center: profile[i] as number, sigma: ABS_DEV_TO_SIGMA * (profile[i + 1] as number), count: profile[i + 2] as number };
}

/** Folds `x` into `slot`, its residual clamped to ±clamp (see updateEwmaAt). */
export function updateEwmaProfile(profile: number[], slot: number, x: number, alpha: number, clamp?: number): void {
  updateEwmaAt(profile, slot * EWMA_FIELDS, x, alpha, clamp);
}

export function createRingProfile(slots: number, capacity: number): PackedRing {
  return createPackedRing(slots, capacity);
}

export function ringExpectation(ring: PackedRing, slot: number): Expectation {
  const s = packedRingStats(ring, slot);
  return s === null ? { center: 0, sigma: 0, count: 0 } : { center: s.median, sigma: MAD_TO_SIGMA * s.mad, count: s.count };
}

/** Folds `x` into `slot`; returns the ring to keep (a new one when it grew). */
export function updateRingProfile(ring: PackedRing, slot: number, x: number): PackedRing {
  return packedRingPush(ring, slot, x);
}
