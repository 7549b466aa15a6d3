import { describe, expect, it } from 'vitest';
import { recurrenceOf, rememberOpening, updateLatestImpact } from './recurrence.ts';

const H = 3_600_000;
const W = 7 * 24 * H;
const SUNDAY_2AM = Date.parse('2026-03-01T02:00:00Z');

describe('recurrenceOf', () => {
  it('finds an episode opened whole weeks earlier, within two hours, and takes the biggest of them', () => {
    const openings = [SUNDAY_2AM, 80, SUNDAY_2AM + W + H, 50];
    expect(recurrenceOf(openings, SUNDAY_2AM + 2 * W)).toEqual({ hour: SUNDAY_2AM, impact: 80 });
    expect(recurrenceOf(openings, SUNDAY_2AM + 3 * W - 2 * H)).toEqual({ hour: SUNDAY_2AM, impact: 80 });
  });

  it('finds nothing a day, three hours or seven weeks off the weekly beat, or for a key that never spiked', () => {
    const openings = [SUNDAY_2AM, 80];
    expect(recurrenceOf(openings, SUNDAY_2AM + 24 * H)).toBeUndefined();
    expect(recurrenceOf(openings, SUNDAY_2AM + W + 3 * H)).toBeUndefined();
    expect(recurrenceOf(openings, SUNDAY_2AM + 7 * W)).toBeUndefined();
    expect(recurrenceOf(null, SUNDAY_2AM)).toBeUndefined();
  });
});

describe('rememberOpening', () => {
  it('keeps the last four openings, and the newest one’s impact as it grows', () => {
    let list: number[] | null = null;
    for (let i = 0; i < 6; i++) list = rememberOpening(list, SUNDAY_2AM + i * W, 10 + i);
    updateLatestImpact(list, 99);
    expect(list).toEqual([SUNDAY_2AM + 2 * W, 12, SUNDAY_2AM + 3 * W, 13, SUNDAY_2AM + 4 * W, 14, SUNDAY_2AM + 5 * W, 99]);
  });
});
