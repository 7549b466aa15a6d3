import { expect, it } from 'vitest';
import { formatDuration, formatUsd, roundMoney, shortId } from './format.ts';

it.each([
  [25, '$25'],
  [104.2, '$104.20'],
  [1250, '$1,250'],
  [0.004, '$0'],
  [99.999, '$100'],
  [1234567.5, '$1,234,567.50'],
  [0.07, '$0.07'],
])('formatUsd(%s) = %s', (v, want) => expect(formatUsd(v)).toBe(want));

it.each([
  [0, '0m'],
  [45 * 60_000, '45m'],
  [192 * 60_000, '3h 12m'],
  [53 * 3_600_000, '2d 5h'],
])('formatDuration(%s) = %s', (v, want) => expect(formatDuration(v)).toBe(want));

it('shortens ids and rounds money', () => {
  expect(shortId('28b3c0de-7f1a')).toBe('28b3c0de…');
  expect(shortId('abc')).toBe('abc');
  expect(roundMoney(0.1 + 0.2)).toBe(0.3);
});
