import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDuration, formatUsd, formatUsdRate, roundMoney, shortId } from './format.ts';

describe('formatUsd', () => {
  it.each([
    [25, '$25'],
    [0, '$0'],
    [0.07, '$0.07'],
    [12.4, '$12.40'],
    [99.99, '$99.99'],
    // Rounds to $100.00, so it is written as whole dollars like every amount from $100 up.
    [99.996, '$100'],
    [104.2, '$104'],
    [1250, '$1,250'],
    [1234567.5, '$1,234,568'],
    [999_999_999.4, '$999,999,999'],
    [999_999_999.6, '$1 billion'],
    [1.234e9, '$1.23 billion'],
    [5.6e12, '$5.6 trillion'],
    [1e15, 'over $1,000 trillion'],
    [Number.MAX_VALUE, 'over $1,000 trillion'],
    [Infinity, 'over $1,000 trillion'],
    [-Infinity, '−$1,000 trillion or less'],
    [Number.NaN, 'an unknown amount'],
    [0.004, '<$0.01'],
    [0.005, '$0.01'],
    [1e-9, '<$0.01'],
    [-3.5, '−$3.50'],
    [-12_345.6, '−$12,346'],
    [-2e9, '−$2 billion'],
    [-0.004, '−<$0.01'],
    [-0.0, '$0'],
  ])('formatUsd(%s) = %s', (v, want) => expect(formatUsd(v)).toBe(want));

  const FORM = /^(−)?(<)?\$(\d{1,3}(,\d{3})*)(\.\d{2})?( billion| trillion)?$/;
  // Magnitudes from a billionth of a dollar to a trillion, spread evenly over the exponents.
  const amount = fc
    .tuple(fc.double({ min: -9, max: 12, noNaN: true }), fc.boolean())
    .map(([exponent, negative]) => (negative ? -1 : 1) * 10 ** exponent);

  it('always writes a sign, a dollar, grouped digits and at most cents: never an exponent', () => {
    fc.assert(
      fc.property(amount, (v) => {
        const text = formatUsd(v);
        expect(text).toMatch(FORM);
        expect(text).not.toMatch(/e[+-]?\d|NaN|Infinity|-/);
      }),
    );
  });

  it('has cents only under $100, and reads back within the rounding it shows', () => {
    fc.assert(
      fc.property(amount, (v) => {
        const m = FORM.exec(formatUsd(v)) as RegExpExecArray;
        const [, minus, lessThan, digits = '', , cents, word] = m;
        const shown = Number(`${digits.replace(/,/g, '')}${cents ?? ''}`) * (word === ' trillion' ? 1e12 : word === ' billion' ? 1e9 : 1);
        if (minus !== undefined) expect(v).toBeLessThan(0);
        if (lessThan !== undefined) {
          expect(Math.abs(v)).toBeLessThan(0.005);
          return;
        }
        if (cents !== undefined) expect(Math.abs(v)).toBeLessThan(100);
        if (word === undefined && Math.abs(v) >= 100) expect(cents).toBeUndefined();
        // Cents under $100, whole dollars above, 2 decimals of a billion or trillion in words.
        const step = word === ' trillion' ? 0.005e12 : word === ' billion' ? 0.005e9 : Math.abs(v) >= 99.995 ? 0.5 : 0.005;
        expect(Math.abs(Math.abs(v) - shown)).toBeLessThanOrEqual(step * (1 + 1e-9));
      }),
    );
  });

  it('is symmetric: a negative amount is its positive one after a minus sign', () => {
    fc.assert(
      fc.property(amount, (v) => {
        const positive = formatUsd(Math.abs(v));
        expect(formatUsd(-Math.abs(v))).toBe(positive === '$0' ? '$0' : `−${positive}`);
      }),
    );
  });

  it('never decreases as the amount grows (compared as numbers read back)', () => {
    const readBack = (text: string): number => {
      const m = FORM.exec(text) as RegExpExecArray;
      const scale = m[6] === ' trillion' ? 1e12 : m[6] === ' billion' ? 1e9 : 1;
      return (m[2] ? 0.001 : Number(`${(m[3] ?? '').replace(/,/g, '')}${m[5] ?? ''}`) * scale) * (m[1] ? -1 : 1);
    };
    fc.assert(
      fc.property(amount, amount, (a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(readBack(formatUsd(lo))).toBeLessThanOrEqual(readBack(formatUsd(hi)));
      }),
    );
  });
});

it('formatUsdRate writes every rate per hour with the same dollars', () => {
  expect(formatUsdRate(12.4)).toBe('$12.40/h');
  expect(formatUsdRate(1250.4)).toBe('$1,250/h');
  expect(formatUsdRate(0.001)).toBe('<$0.01/h');
});

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
