import { describe, expect, it } from 'vitest';
import { Instant } from './common.ts';
import { normaliseInstant, normaliseInstantWithin } from './fast-checks.ts';

/** What `Instant` answers: its output, or undefined when it rejects. */
const viaZod = (s: unknown): string | undefined => {
  const r = Instant.safeParse(s);
  return r.success ? r.data : undefined;
};

/** A small seeded generator, so a failing case is the same on every run. */
function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1_664_525) + 1_013_904_223) >>> 0;
    return x / 2 ** 32;
  };
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

describe('normaliseInstant', () => {
  it.each([
    ['the normal form', '2026-11-28T14:05:00.123Z', '2026-11-28T14:05:00.123Z'],
    ['no fraction', '2026-11-28T14:05:00Z', '2026-11-28T14:05:00.000Z'],
    ['an offset', '2026-11-28T15:05:00+01:00', '2026-11-28T14:05:00.000Z'],
    ['-00:00', '2026-11-28T14:05:00-00:00', '2026-11-28T14:05:00.000Z'],
    ['7 fraction digits (truncated)', '2026-11-28T14:05:00.9999999Z', '2026-11-28T14:05:00.999Z'],
    ['Feb 29 of a leap year', '2028-02-29T00:00:00.000Z', '2028-02-29T00:00:00.000Z'],
    ['Feb 29 of year 2000', '2000-02-29T00:00:00.000Z', '2000-02-29T00:00:00.000Z'],
    ['year 0000 moved back a year by its offset', '0000-01-01T00:00:00+01:00', '-000001-12-31T23:00:00.000Z'],
    ['Feb 29 of 1900', '1900-02-29T00:00:00.000Z', undefined],
    ['Feb 30', '2028-02-30T00:00:00.000Z', undefined],
    ['hour 24', '2026-11-28T24:00:00.000Z', undefined],
    ['a leap second', '2026-12-31T23:59:60.000Z', undefined],
    ['no seconds', '2026-11-28T14:05Z', undefined],
    ['lower-case t', '2026-11-28t14:05:00.000Z', undefined],
    ['lower-case z', '2026-11-28T14:05:00.000z', undefined],
    ['an offset without colon', '2026-11-28T14:05:00+0100', undefined],
    ['an offset of 24 hours', '2026-11-28T14:05:00+24:00', undefined],
    ['no zone', '2026-11-28T14:05:00.000', undefined],
    ['a dot without digits', '2026-11-28T14:05:00.Z', undefined],
    ['a space for T', '2026-11-28 14:05:00.000Z', undefined],
    ['non-ASCII digits', '2026-11-28T14:05:0٠.000Z', undefined],
    ['a number', 1_764_338_700_000, undefined],
  ])('%s', (_, input, expected) => {
    expect(viaZod(input)).toBe(expected);
    expect(normaliseInstant(input)).toBe(expected);
  });

  it('agrees with Instant on every day of every month, leap years and centuries included', () => {
    let checked = 0;
    for (const year of ['0000', '0004', '0100', '1800', '1900', '1996', '2000', '2023', '2024', '2100', '2200', '2400', '9999']) {
      for (let month = 0; month <= 13; month++) {
        for (let day = 0; day <= 32; day++) {
          const s = `${year}-${pad(month)}-${pad(day)}T12:00:00.000Z`;
          expect(normaliseInstant(s), s).toBe(viaZod(s));
          checked += 1;
        }
      }
    }
    expect(checked).toBe(13 * 14 * 33);
  });

  it('agrees with Instant on random near-valid timestamps', () => {
    const next = rng(20261128);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
    const years = ['0000', '0001', '1900', '1970', '2000', '2024', '2026', '9999', '202', '20266', 'abcd'];
    const fractions = ['.123', '.123', '.123', '', '.', '.1', '.12', '.123', '.1234', '.999', '.9999999', '.000000000001', '.12a'];
    const zones = [
      'Z',
      'Z',
      'Z',
      'Z',
      'z',
      '',
      ' Z',
      'Z ',
      '+00:00',
      '-00:00',
      '+05:30',
      '-23:59',
      '+23:59',
      '+24:00',
      '-12:60',
      '+0530',
      '+05',
      '+5:30',
      '+05:30:00',
    ];
    const two = (max: number): string => (next() < 0.1 ? String(Math.floor(next() * 10)) : pad(Math.floor(next() * (max + 1))));
    let accepted = 0;
    let normal = 0;
    for (let i = 0; i < 20_000; i++) {
      const s =
        `${pick(years)}-${two(13)}-${two(31)}${pick(['T', 'T', 'T', 't', ' '])}` +
        `${two(24)}:${two(60)}${next() < 0.9 ? `:${two(60)}` : ''}${pick(fractions)}${pick(zones)}`;
      const expected = viaZod(s);
      expect(normaliseInstant(s), s).toBe(expected);
      if (expected !== undefined) accepted += 1;
      if (expected === s) normal += 1;
    }
    // The mix must exercise both answers and the as-is path, or agreeing would prove little.
    expect(accepted).toBeGreaterThan(1_000);
    expect(normal).toBeGreaterThan(100);
    expect(20_000 - accepted).toBeGreaterThan(1_000);
  });
});

describe('normaliseInstantWithin', () => {
  const FROM = Date.UTC(1970, 0, 1);
  const TO = Date.UTC(2100, 0, 1);
  /** `Instant` refined to [FROM, TO), as the usage event's instants are. */
  const bounded = Instant.refine((s) => Date.parse(s) >= FROM && Date.parse(s) < TO);
  const viaBounded = (s: unknown): string | undefined => {
    const r = bounded.safeParse(s);
    return r.success ? r.data : undefined;
  };

  it.each([
    ['the first instant', '1970-01-01T00:00:00.000Z', '1970-01-01T00:00:00.000Z'],
    ['a millisecond before it', '1969-12-31T23:59:59.999Z', undefined],
    ['before it by its offset', '1970-01-01T00:30:00+01:00', undefined],
    ['after it by its offset', '1969-12-31T23:30:00-01:00', '1970-01-01T00:30:00.000Z'],
    ['the last millisecond', '2099-12-31T23:59:59.999Z', '2099-12-31T23:59:59.999Z'],
    ['the last millisecond, more digits', '2099-12-31T23:59:59.9999999Z', '2099-12-31T23:59:59.999Z'],
    ['the end (exclusive)', '2100-01-01T00:00:00.000Z', undefined],
    ['before the end by its offset', '2100-01-01T00:59:59+01:00', '2099-12-31T23:59:59.000Z'],
    ['past the end by its offset', '2099-12-31T23:30:00-01:00', undefined],
    ['where DateTime overflows', '2106-02-07T06:28:16Z', undefined],
    ['year 0000', '0000-01-01T00:00:00Z', undefined],
    ['not an instant', 'May 32', undefined],
    ['a number', 0, undefined],
  ])('%s', (_, input, expected) => {
    expect(viaBounded(input)).toBe(expected);
    expect(normaliseInstantWithin(input, FROM, TO)).toBe(expected);
  });

  it('agrees with the refined Instant on random instants around both ends', () => {
    const next = rng(2100);
    let accepted = 0;
    for (let i = 0; i < 5_000; i++) {
      const around = next() < 0.5 ? FROM : TO;
      const ms = around + Math.round((next() - 0.5) * 4 * 86_400_000);
      const offset = Math.floor(next() * 48 - 24);
      const local = new Date(ms + offset * 3_600_000).toISOString().slice(0, 19);
      const zone = offset === 0 ? 'Z' : `${offset > 0 ? '+' : '-'}${pad(Math.abs(offset) % 24)}:00`;
      const s = `${local}${zone}`;
      const expected = viaBounded(s);
      expect(normaliseInstantWithin(s, FROM, TO), s).toBe(expected);
      if (expected !== undefined) accepted += 1;
    }
    expect(accepted).toBeGreaterThan(1_000);
    expect(accepted).toBeLessThan(4_000);
  });
});
