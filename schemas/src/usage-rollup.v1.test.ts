import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import { safeParseUsageRollup, UsageRollup } from './usage-rollup.v1.ts';

// The schema's own method, kept before the spy below replaces it on the object.
const zodSafeParse = UsageRollup.safeParse.bind(UsageRollup);
let zodCalls: MockInstance<typeof UsageRollup.safeParse>;
beforeEach(() => {
  zodCalls = vi.spyOn(UsageRollup, 'safeParse');
});
afterEach(() => vi.restoreAllMocks());

/**
 * Asserts that safeParseUsageRollup answers as UsageRollup.safeParse does: same acceptance, and for
 * an accepted input the same value with the same keys in the same order, without asking zod.
 * Returns whether the input was valid.
 */
function expectSameAsZod(input: unknown, label: string): boolean {
  const expected = zodSafeParse(input);
  zodCalls.mockClear();
  const actual = safeParseUsageRollup(input);
  // A rejection is zod's own answer (issues and all): only acceptance and values can differ.
  expect(actual.success, label).toBe(expected.success);
  if (actual.success && expected.success) {
    expect(zodCalls, `${label}: valid input took the fast path`).not.toHaveBeenCalled();
    expect(Object.keys(actual.data), `${label}: keys`).toEqual(Object.keys(expected.data));
    expect(actual.data, label).toStrictEqual(expected.data);
  }
  return expected.success;
}

/** A small seeded generator, so a failing case is the same on every run. */
function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1_664_525) + 1_013_904_223) >>> 0;
    return x / 2 ** 32;
  };
}

/** Valid rollups as stage A sends them, keys in a shuffled order. */
function rollups(count: number): Record<string, unknown>[] {
  const next = rng(7);
  const int = (max: number): number => Math.floor(next() * max);
  return Array.from({ length: count }, (_, i) => {
    const hour = Date.UTC(2026, 9, 5) + int(24 * 60) * 3_600_000;
    const events = int(500);
    const fields: Array<[string, unknown]> = [
      ['org', 'acme'],
      ['team', ['payments', 'platform', 'research'][int(3)]],
      ['developer', `dev-${int(40)}@acme.com`],
      ['model', ['claude-opus-4-5', 'gpt-5', 'claude-haiku-4-5'][int(3)]],
      ['tier', ['premium', 'standard', 'economy', 'unknown'][int(4)]],
      ['hour', new Date(hour).toISOString()],
      ['cost_usd', next() * 50],
      ['cost_premium_usd', i % 5 === 0 ? 0 : next() * 10],
      ['events', events],
      ['premium_events', int(events + 1)],
      ['input_tokens', int(5_000_000)],
      ['cache_read_tokens', int(5_000_000)],
      ['cache_write_tokens', int(100_000)],
      ['output_tokens', int(1_000_000)],
      ['source', `usage.events.v1:${int(12)}`],
      ['seq', int(1_000_000)],
      ['watermark', new Date(hour + int(3_600_000)).toISOString()],
    ];
    // Optional: producers from before it send none.
    if (i % 3 === 0) fields.push(['developer_spike_usd', i % 2 === 0 ? 0 : next() * 80]);
    if (i % 2 === 1) fields.reverse();
    return Object.fromEntries(fields);
  });
}

const ODD_VALUES: unknown[] = [
  undefined,
  null,
  true,
  '',
  'x',
  'premium',
  -1,
  -0,
  0,
  0.5,
  7,
  2 ** 53,
  1e300,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  [],
  {},
  '2026-10-05T14:00:00.000Z',
  '2026-10-05T14:00:00Z',
  '2026-10-05T15:00:00+01:00',
  '2026-10-05T14:30:00+00:30',
  '2026-10-05T14:00:00.001Z',
  '2026-10-05T14:00:01.000Z',
  '2026-10-05T14:00Z',
  '2026-10-05T24:00:00.000Z',
  '0000-01-01T00:00:00+01:00',
];

describe('safeParseUsageRollup', () => {
  it('answers as UsageRollup.safeParse on valid rollups and on every mutation of them', () => {
    let valid = 0;
    let invalid = 0;
    const tally = (ok: boolean): void => {
      if (ok) valid += 1;
      else invalid += 1;
    };
    for (const [i, r] of rollups(40).entries()) {
      expect(expectSameAsZod(r, `rollup ${i}`)).toBe(true);
      for (const field of Object.keys(UsageRollup.shape)) {
        const { [field]: _, ...without } = r;
        tally(expectSameAsZod(without, `rollup ${i}: ${field} removed`));
        for (const [v, value] of ODD_VALUES.entries()) {
          const mutated = { ...r, [field]: value };
          tally(expectSameAsZod(mutated, `rollup ${i}: ${field} = odd value #${v}`));
          tally(expectSameAsZod(JSON.parse(JSON.stringify(mutated)), `rollup ${i}: ${field} = odd value #${v}, from JSON`));
        }
      }
      tally(expectSameAsZod({ ...r, extra: 1 }, `rollup ${i}: an extra key`));
      tally(expectSameAsZod({ ...r, premium_events: (r.events as number) + 1 }, `rollup ${i}: more premium events than events`));
      tally(expectSameAsZod(Object.assign(Object.create(null) as object, r), `rollup ${i}: a null-prototype object`));
      tally(expectSameAsZod([r], `rollup ${i}: an array`));
    }
    // Both answers must be common, or agreeing proves little.
    expect(valid).toBeGreaterThan(1_000);
    expect(invalid).toBeGreaterThan(5_000);
  });

  it('names the path and the reason of a rejection, as zod does', () => {
    const [r] = rollups(1);
    const result = safeParseUsageRollup({ ...r, hour: '2026-10-05T14:30:00Z', seq: -1 });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.')).sort()).toEqual(['hour', 'seq']);
  });
});
