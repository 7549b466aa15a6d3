import { describe, expect, it } from 'vitest';
import { PLANNED, SETTLING } from '../buckets/planned.ts';
import {
  addToChange,
  addToSlot,
  addToSums,
  adoptChangeHabit,
  BASELINE_SUMS,
  CHANGE_SUMS,
  countLearntDay,
  decaySums,
  developerTable,
  learnHour,
  markSlotLearnt,
  newDeveloper,
  newKey,
  NEWER_SLOT,
  OLDER_SLOT,
  phaseOfDay,
  rememberHourDay,
  ringSlot,
  ringSlotOf,
  setFastJudgedAt,
  setHabitLearntAt,
  setLastSpendAt,
  setLastSpendHour,
  setNewestDay,
  setNewestPhase,
  setSlotPhase,
  SETTLING_DAY_SUMS,
  setWeeklyJudgedHour,
  shareOf,
  shiftSlots,
} from './mix-key.ts';

// The packed records are the snapshot format: snapshots written by earlier versions hold these
// exact positions. If one of these tests fails, old snapshots would restore into the wrong fields.
describe('the packed layout of model_mix_drift state', () => {
  it('keeps every field of a key at its position', () => {
    const day = 20_400; // 2025-11-08; 20 400 % 7 = 2, the ring's third slot
    const k = newKey('payments', day, 1_000, PLANNED, 'team');
    const v = k.v;
    setNewestDay(v, day + 1);
    setWeeklyJudgedHour(v, 2_000);
    setFastJudgedAt(v, 3_000);
    countLearntDay(v);
    countLearntDay(v);
    setNewestPhase(v, SETTLING);
    rememberHourDay(v, 4_000, day + 1);
    addToSums(v, BASELINE_SUMS, 1, 2, 3, 4, 5);
    addToSums(v, CHANGE_SUMS, 6, 7, 8, 9, 10);
    addToSums(v, SETTLING_DAY_SUMS, 11, 12, 13, 14, 15);
    addToSums(v, ringSlotOf(day + 1), 16, 17, 18, 19, 20);
    setSlotPhase(v, ringSlotOf(day + 1), SETTLING);

    const ring = new Array<number>(42).fill(0);
    ring.splice(2 * 6, 6, 0, 0, 0, 0, 0, PLANNED); // newKey: the first day's phase
    ring.splice(3 * 6, 6, 16, 17, 18, 19, 20, SETTLING);
    expect(v).toEqual([
      day,
      day + 1,
      2_000,
      3_000,
      2,
      SETTLING,
      4_000,
      day + 1,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8,
      9,
      10,
      11,
      12,
      13,
      14,
      15,
      ...ring,
    ]);
    expect(k.devs).toEqual({});
    expect(newKey('payments', day, 1_000, PLANNED, 'developer').devs).toBeNull();
  });

  it('keeps a team key’s developers in a table without a prototype, also when restored from JSON', () => {
    const k = newKey('payments', 20_000, 1_000, PLANNED, 'team');
    expect(Object.getPrototypeOf(k.devs)).toBeNull();
    (k.devs as Record<string, number[]>)['constructor'] = newDeveloper();
    const restored = developerTable(JSON.parse(JSON.stringify(k.devs)) as Record<string, number[]>);
    expect(Object.getPrototypeOf(restored)).toBeNull();
    expect(Object.keys(restored)).toEqual(['constructor']);
    expect(restored['constructor']).toEqual(newDeveloper());
  });

  it('keeps every field of a developer record at its position', () => {
    const d = newDeveloper();
    setLastSpendHour(d, 7_200_000);
    addToSlot(d, OLDER_SLOT, 1, 2, 3);
    shiftSlots(d, 3_600_000); // older ← newer (empty), newer starts at 3 600 000
    addToSlot(d, OLDER_SLOT, 1, 2, 3);
    addToSlot(d, NEWER_SLOT, 4, 5, 6);
    shiftSlots(d, 7_200_000);
    addToSlot(d, NEWER_SLOT, 7, 8, 9);
    markSlotLearnt(d, OLDER_SLOT, 3_600_000);
    learnHour(d, 1, 1, 10, 11, 12);
    setHabitLearntAt(d, 3_600_000);
    addToChange(d, 1, 13, 14, 15);
    setLastSpendAt(d, 7_300_000);
    expect(d).toEqual([7_200_000, -3_600_000, 4, 5, 6, 7_200_000, 7, 8, 9, 1, 1, 10, 11, 12, 3_600_000, 1, 1, 13, 14, 15, 7_300_000]);
    adoptChangeHabit(d);
    expect(d.slice(9, 14)).toEqual([1, 1, 13, 14, 15]);
  });

  it('reads the ring by day and by storage slot alike', () => {
    const day = 20_400;
    const k = newKey('payments', day, 0, PLANNED, 'developer');
    expect(ringSlotOf(day)).toBe(ringSlot(day % 7));
    expect(phaseOfDay(k.v, day)).toBe(PLANNED);
    expect(phaseOfDay(k.v, day - 7)).toBe(0); // outside the ring: NORMAL
    addToSums(k.v, BASELINE_SUMS, 4, 1, 0, 0, 0);
    expect(shareOf(k.v, BASELINE_SUMS)).toBe(0.25);
    decaySums(k.v, BASELINE_SUMS, 0.5, null);
    expect(k.v.slice(8, 13)).toEqual([2, 0.5, 0, 0, 0]);
  });
});
