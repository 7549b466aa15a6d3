import { describe, expect, it } from 'vitest';
import { parseInstant } from './time.ts';

describe('parseInstant', () => {
  it.each([
    // The schema's normalised form and RFC 3339 variants the fast path reads.
    ['2026-11-28T09:00:00.000Z', Date.UTC(2026, 10, 28, 9)],
    ['2026-11-28T09:00:00Z', Date.UTC(2026, 10, 28, 9)],
    ['2026-11-28T09:00:00.5Z', Date.UTC(2026, 10, 28, 9, 0, 0, 500)],
    ['2026-11-28T09:00:00.05Z', Date.UTC(2026, 10, 28, 9, 0, 0, 50)],
    ['2026-11-28T09:00:00.123456789Z', Date.UTC(2026, 10, 28, 9, 0, 0, 123)],
    ['2026-11-28T09:00:00.9999Z', Date.UTC(2026, 10, 28, 9, 0, 0, 999)],
    ['2026-11-28T09:00:00+01:00', Date.UTC(2026, 10, 28, 8)],
    ['2026-11-28T09:00:00.250-05:30', Date.UTC(2026, 10, 28, 14, 30, 0, 250)],
    ['2026-01-01T00:30:00+01:00', Date.UTC(2025, 11, 31, 23, 30)],
    ['2026-12-31T23:59:59.999-23:59', Date.UTC(2027, 0, 1, 23, 58, 59, 999)],
    ['2024-02-29T12:00:00Z', Date.UTC(2024, 1, 29, 12)],
    ['2000-02-29T00:00:00Z', Date.UTC(2000, 1, 29)],
    ['1970-01-01T00:00:00Z', 0],
    ['1969-12-31T23:59:59.999Z', -1],
    ['0000-03-01T00:00:00Z', -62_162_035_200_000],
    ['9999-12-31T23:59:59.999Z', Date.UTC(9999, 11, 31, 23, 59, 59, 999)],
  ])('reads %s as Date.parse does', (text, expected) => {
    expect(parseInstant(text)).toBe(Date.parse(text));
    expect(parseInstant(text)).toBe(expected);
  });

  it.each([
    // Left to Date.parse; whatever it answers (a value or NaN) is the answer.
    '2026-02-29T00:00:00Z',
    '1900-02-29T00:00:00Z',
    '2026-04-31T00:00:00Z',
    '2026-01-01T24:00:00Z',
    '2026-01-01T24:00:01Z',
    '2026-01-01T23:60:00Z',
    '2026-01-01T23:59:60Z',
    '2026-00-10T00:00:00Z',
    '2026-13-10T00:00:00Z',
    '2026-01-00T00:00:00Z',
    '2026-01-01t00:00:00z',
    '2026-01-01 00:00:00Z',
    '2026-01-01T00:00:00',
    '2026-01-01T00:00:00.Z',
    '2026-01-01T00:00:00.1234567890123Z',
    '2026-01-01T00:00:00+0100',
    '2026-01-01T00:00:00+24:00',
    '2026-01-01T00:00:00+05:60',
    '2026-01-01T00:00:00+01:00x',
    '2026-01-01T00:00:00Zx',
    '2026-01-01T00:00Z',
    '+010000-01-01T00:00:00.000Z',
    '-000001-01-01T00:00:00.000Z',
    '2O26-01-01T00:00:00Z',
    '2026-01-01T0a:00:00Z',
    '',
    'not a time at all, but long',
  ])('answers what Date.parse answers for %j', (text) => {
    expect(parseInstant(text)).toBe(Date.parse(text));
  });

  it('agrees with Date.parse on every day of four centuries, at random times, offsets and fractions', () => {
    // Deterministic (a fixed LCG), so a failure names an instant that fails again.
    let seed = 20_261_128;
    const next = (n: number): number => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      return seed % n;
    };
    const pad = (v: number, w: number): string => String(v).padStart(w, '0');
    const start = Date.UTC(1800, 0, 1);
    const days = (Date.UTC(2200, 0, 1) - start) / 86_400_000;
    let checked = 0;
    for (let d = 0; d < days; d++) {
      const date = new Date(start + d * 86_400_000).toISOString().slice(0, 10);
      const time = `${pad(next(24), 2)}:${pad(next(60), 2)}:${pad(next(60), 2)}`;
      const digits = next(10);
      const fraction = digits === 0 ? '' : `.${pad(next(10 ** Math.min(digits, 9)), Math.min(digits, 9))}`;
      const zone = next(3) === 0 ? 'Z' : `${next(2) === 0 ? '+' : '-'}${pad(next(24), 2)}:${pad(next(60), 2)}`;
      const text = `${date}T${time}${fraction}${zone}`;
      if (parseInstant(text) !== Date.parse(text)) expect(parseInstant(text), text).toBe(Date.parse(text));
      checked++;
    }
    expect(checked).toBe(days);
  });
});
