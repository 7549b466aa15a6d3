import { usageEvent } from '@burnrate/testing/builders';
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import { generateScenario } from '@burnrate/scenarios';
import { safeParseUsageEvent, UsageEvent } from './usage-event.v1.ts';

const FIELDS = Object.keys(UsageEvent.shape);

// The schema's own method, kept before the spy below replaces it on the object.
const zodSafeParse = UsageEvent.safeParse.bind(UsageEvent);
let zodCalls: MockInstance<typeof UsageEvent.safeParse>;
beforeEach(() => {
  zodCalls = vi.spyOn(UsageEvent, 'safeParse');
});
afterEach(() => vi.restoreAllMocks());

/**
 * Asserts that safeParseUsageEvent answers as UsageEvent.safeParse does: same acceptance, and for an
 * accepted input the same value with the same keys in the same order, without asking zod unless
 * `fastPath` is false (inputs the hand-written check leaves to zod on purpose).
 * Returns whether the input was valid.
 */
function expectSameAsZod(input: unknown, label: string, fastPath = true): boolean {
  const expected = zodSafeParse(input);
  zodCalls.mockClear();
  const actual = safeParseUsageEvent(input);
  // A rejection is zod's own answer (issues and all): only acceptance and values can differ.
  expect(actual.success, label).toBe(expected.success);
  if (actual.success && expected.success) {
    if (fastPath) expect(zodCalls, `${label}: valid input took the fast path`).not.toHaveBeenCalled();
    expect(Object.keys(actual.data), `${label}: keys`).toEqual(Object.keys(expected.data));
    expect(actual.data, label).toStrictEqual(expected.data);
    expect(Object.getPrototypeOf(actual.data.attributes), `${label}: attributes prototype`).toBe(Object.prototype);
  }
  return expected.success;
}

const ODD_INSTANTS: unknown[] = [
  '2026-11-28T14:05:00.123Z',
  '2026-11-28T14:05:00Z',
  '2026-11-28T14:05:00.1Z',
  '2026-11-28T14:05:00.1234567Z',
  '2026-11-28T15:05:00+01:00',
  '2026-11-28T09:05:00.5-05:00',
  '2026-11-28T14:05:00-00:00',
  '2026-11-28T14:05:00+0100',
  '2026-11-28T14:05:00+24:00',
  '2026-11-28T14:05Z',
  '2026-11-28t14:05:00.000Z',
  '2026-11-28T14:05:00.000z',
  '2026-11-28 14:05:00.000Z',
  '2026-11-28T14:05:00.000',
  '2026-12-31T23:59:60.000Z',
  '2028-02-29T00:00:00.000Z',
  '2026-02-29T00:00:00.000Z',
  '2028-02-30T00:00:00.000Z',
  '2026-11-28T24:00:00.000Z',
  '0000-01-01T00:00:00+01:00',
  // The caps: 1970-01-01 inclusive, 2100-01-01 exclusive, offsets included.
  '1969-12-31T23:59:59.999Z',
  '1970-01-01T00:00:00.000Z',
  '1970-01-01T00:30:00+01:00',
  '1970-01-01T00:00:00-00:01',
  '2099-12-31T23:59:59.999Z',
  '2099-12-31T23:59:59.9999999Z',
  '2100-01-01T00:00:00.000Z',
  '2100-01-01T00:59:59+01:00',
  '2099-12-31T23:30:00-01:00',
  '2106-02-07T06:28:16Z',
  '9999-12-31T23:59:59Z',
  '',
  1_764_338_700_000,
];

/** Values that break (or, for some fields, fit) a field: each is tried on every field. */
const ODD_VALUES: unknown[] = [
  undefined,
  null,
  true,
  '',
  'x',
  'x'.repeat(128),
  'x'.repeat(129),
  'PREMIUM',
  // Text the schema leaves to ingest: a lone surrogate, a surrogate pair, a tab.
  '\ud800',
  'a\udc00b',
  'x\ud83d',
  '\ud83d\ude00',
  'tab\there',
  'request',
  '1h',
  'economy',
  'computed',
  0,
  -0,
  1,
  -1,
  0.5,
  2 ** 53,
  Number.MAX_SAFE_INTEGER,
  1e300,
  Number.MAX_VALUE,
  // The caps: 1e9 USD, 1e12 requests or tokens.
  1e9,
  1e9 + 1e-6,
  1e12,
  1e12 + 1,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  [],
  ['a'],
  {},
  { a: 'b' },
  { a: 1 },
  { a: null },
  { a: '\ud800' },
  { '\udfff': 'b' },
  { '\ud83d\ude00': '\ud83d\ude00' },
  Object.assign(Object.create(null) as object, { a: 'b' }),
  new Date('2026-11-28T14:05:00Z'),
  ...ODD_INSTANTS,
];

/** Every way the test breaks (or bends) one valid event, and whether a valid result comes from the fast path. */
function* mutations(event: UsageEvent): Generator<[string, unknown, boolean?]> {
  const base = event as unknown as Record<string, unknown>;
  for (const field of FIELDS) {
    const { [field]: _, ...without } = base;
    yield [`${field} removed`, without];
    for (const [i, value] of ODD_VALUES.entries()) yield [`${field} = odd value #${i}`, { ...base, [field]: value }];
  }
  yield ['an extra key', { ...base, colour: 'red' }];
  yield ['an extra key set to undefined', { ...base, colour: undefined }];
  yield ['an own __proto__ key', JSON.parse(`{"__proto__": 1, ${JSON.stringify(base).slice(1)}`)];
  // zod drops the key; rare enough to leave to it.
  yield ['attributes with an own __proto__ key', { ...base, attributes: JSON.parse('{"__proto__": "x", "a": "b"}') }, false];
  yield ['attributes with a symbol key', { ...base, attributes: { a: 'b', [Symbol('s')]: 'c' } }];
  yield ['attributes with numeric keys', { ...base, attributes: { b: 'x', 2: 'y', 1: 'z' } }];
  yield ['a 1h bucket without its period', { ...base, granularity: '1h', period_start: undefined, period_end: undefined }];
  yield [
    'a 1h bucket with a period',
    { ...base, granularity: '1h', period_start: '2026-11-28T14:00:00Z', period_end: '2026-11-28T15:00:00+01:00' },
  ];
  yield ['a 1d bucket with only its start', { ...base, granularity: '1d', period_start: '2026-11-28T00:00:00Z' }];
  yield ['an array', [base]];
  yield ['a class instance', Object.assign(new (class Event {})(), base), false];
  yield ['a null-prototype object', Object.assign(Object.create(null) as object, base)];
  yield ['a string', JSON.stringify(base)];
  yield ['null', null];
}

const scenario = generateScenario({ weeks: 3, scale: 'small' }).events;
// Every 97th request and every bucket: the scenario's sources, optional fields and key orders.
const sample = [...scenario.filter((e, i) => i % 97 === 0), ...scenario.filter((e) => e.granularity !== 'request')];

describe('safeParseUsageEvent', () => {
  it('answers as UsageEvent.safeParse on the generated scenario, as objects and as the JSON the bus carries', () => {
    expect(sample.length).toBeGreaterThan(500);
    for (const e of sample) {
      expect(expectSameAsZod(e, e.event_id)).toBe(true);
      expect(expectSameAsZod(JSON.parse(JSON.stringify(e)), `${e.event_id} from JSON`)).toBe(true);
    }
  });

  it('answers as UsageEvent.safeParse on the builder with every optional field set', () => {
    const full = usageEvent({
      api_key_id: 'key-1',
      project: 'p',
      service_tier: 'priority',
      speed: 'fast',
      computed_cost_usd: 0.41,
      overlap_group: 'g-1',
      attributes: { terminal: 'xterm', 'query.source': 'main' },
    });
    expect(expectSameAsZod(full, 'full')).toBe(true);
    expect(expectSameAsZod(usageEvent(), 'builder default')).toBe(true);
  });

  it('answers as UsageEvent.safeParse on every mutation of valid events', { timeout: 30_000 }, () => {
    const bases = [
      usageEvent({ service_tier: 'priority', speed: 'fast', overlap_group: 'g-1', api_key_id: 'k', project: 'p', computed_cost_usd: 1 }),
      ...sample.filter((e, i) => e.granularity === 'request' && i % 100 === 0),
      ...sample.filter((e) => e.granularity !== 'request').slice(0, 2),
    ];
    let valid = 0;
    let invalid = 0;
    for (const base of bases) {
      for (const [what, input, fastPath] of mutations(base)) {
        const label = `${base.event_id}: ${what}`;
        if (expectSameAsZod(input, label, fastPath)) valid += 1;
        else invalid += 1;
        // As the detector sees it: through JSON (undefined dropped, NaN and Infinity become null).
        if (typeof input === 'object' && input !== null)
          expectSameAsZod(JSON.parse(JSON.stringify(input)), `${label}, from JSON`, fastPath);
      }
    }
    // Both answers must be common, or agreeing proves little.
    expect(valid).toBeGreaterThan(1_000);
    expect(invalid).toBeGreaterThan(5_000);
  });

  it('refuses what no consumer should sum or store: the caps on cost, counts and instants', () => {
    const base = usageEvent();
    const cases: [string, Record<string, unknown>][] = [
      ['cost_usd', { cost_usd: 1e308 }],
      ['computed_cost_usd', { computed_cost_usd: 2e9 }],
      ['cache_read_tokens', { cache_read_tokens: 9e15 }],
      ['requests', { requests: 1e12 + 1 }],
      ['occurred_at', { occurred_at: '2107-01-01T00:00:00Z' }],
      ['occurred_at', { occurred_at: '0000-01-01T00:00:00Z' }],
      ['ingested_at', { ingested_at: '1969-12-31T23:59:59Z' }],
    ];
    for (const [path, change] of cases) {
      const result = safeParseUsageEvent({ ...base, ...change });
      expect(result.success, path).toBe(false);
      expect(
        result.error?.issues.map((i) => i.path.join('.')),
        path,
      ).toEqual([path]);
    }
    expect(safeParseUsageEvent({ ...base, cost_usd: 1e9, input_tokens: 1e12, occurred_at: '2099-12-31T23:59:59.999Z' }).success).toBe(true);
  });

  it('names the path and the reason of a rejection, as zod does', () => {
    const result = safeParseUsageEvent({ ...usageEvent(), cost_usd: -1, occurred_at: '2026-11-28T14:05Z' });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.')).sort()).toEqual(['cost_usd', 'occurred_at']);
  });
});
