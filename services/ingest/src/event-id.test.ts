import { seededRandom } from '@burnrate/testing/seeded-random';
import { describe, expect, it } from 'vitest';
import { deterministicEventId, stableStringify } from './event-id.ts';

/** The form event ids and fingerprints were first made with; stored ids depend on it never changing. */
function reference(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => reference(v)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${reference(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

const STRINGS = [
  '',
  'a',
  'Z',
  'é',
  '\u0000',
  '\n"\\',
  '\ud83d\ude00',
  '\ud800',
  'key with spaces',
  '10',
  '2',
  '__proto__',
  'ß',
  'a\u2028b',
];
const NUMBERS = [0, -0, 1, -1, 0.1, 1e21, 1e-7, 123456789.125, Number.MAX_SAFE_INTEGER, Number.NaN, Infinity, -Infinity];

function arbitrary(next: () => number, depth: number): unknown {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
  const kind = Math.floor(next() * (depth > 3 ? 6 : 9));
  switch (kind) {
    case 0:
      return pick(STRINGS);
    case 1:
      return pick(NUMBERS);
    case 2:
      return next() < 0.5;
    case 3:
      return null;
    case 4:
      return undefined;
    case 5:
      return `${pick(STRINGS)}${Math.floor(next() * 1000)}`;
    case 6: {
      const list = Array.from({ length: Math.floor(next() * 4) }, () => arbitrary(next, depth + 1));
      // A hole, now and then.
      if (next() < 0.2) list.length += 1;
      return list;
    }
    default: {
      const record: Record<string, unknown> = {};
      for (let i = Math.floor(next() * 5); i > 0; i--) record[pick(STRINGS) + (next() < 0.5 ? '' : String(i))] = arbitrary(next, depth + 1);
      return record;
    }
  }
}

describe('stableStringify', () => {
  it('writes exactly what event ids and fingerprints were first made of, for any JSON-like value', () => {
    const next = seededRandom(20261207);
    for (let i = 0; i < 20_000; i++) {
      const value = arbitrary(next, 0);
      expect(stableStringify(value), JSON.stringify(value)).toBe(reference(value));
    }
  });

  it('sorts keys and leaves undefined members out, so key order does not change an id', () => {
    expect(stableStringify({ b: 1, a: [true, null, undefined], c: undefined, A: 'x' })).toBe('{"A":"x","a":[true,null,null],"b":1}');
    expect(deterministicEventId('src', { b: 2, a: 1 })).toBe(deterministicEventId('src', { a: 1, b: 2 }));
    // The id of a known key, as stored: it must never change.
    expect(deterministicEventId('claude_code_otel', 'request_id=req_011CVZ')).toBe(
      'claude_code_otel:d3745e618b49c4d8a6878e33262938790e5085f8bde7bf02c8f6f3928386b978',
    );
  });
});
