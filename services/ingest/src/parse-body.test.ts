import { BurnrateError } from '@burnrate/core';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '@burnrate/testing/seeded-random';
import {
  MAX_JSON_DEPTH,
  nestedDeeperThan,
  parseJson,
  parseJsonDocument,
  parseJsonRecords,
  parseNdjsonRecords,
  textNestedDeeperThan,
} from './parse-body.ts';

/** `levels` arrays (or objects) around `inner`, as JSON text. */
const nestedText = (levels: number, kind: 'array' | 'object' = 'array', inner = '1'): string =>
  kind === 'array' ? `${'['.repeat(levels)}${inner}${']'.repeat(levels)}` : `${'{"a":'.repeat(levels)}${inner}${'}'.repeat(levels)}`;

describe('parseJson', () => {
  it.each([
    ['{"a": 1,}', 'line 1, column 9: unexpected character "}", expected a property name in double quotes'],
    ['[1, 2', "line 1, column 6: unexpected end of input, expected ',' or ']'"],
    ['{"a" 1}', 'line 1, column 6: unexpected character "1", expected \':\''],
    ['{"a": "x\ny"}', 'line 1, column 9: control character inside a string'],
    ['{"a": 1}\n{"b": 2}', 'line 2, column 1: unexpected character "{" after the JSON value'],
    ["{'a': 1}", 'line 1, column 2: unexpected character "\'", expected a property name in double quotes'],
    ['[01]', "line 1, column 3: unexpected character \"1\", expected ',' or ']'"],
    ['{"a": "\\q"}', 'line 1, column 8: invalid escape in a string'],
    ['"abc', 'line 1, column 5: unterminated string'],
  ])('%j -> %s', (text, message) => {
    expect(parseJson(text)).toEqual({ ok: false, message });
  });

  it('does not quote the body back', () => {
    const result = parseJson('{"token": "sk-secret" oops}');
    expect(!result.ok && result.message).not.toContain('sk-secret');
  });

  it('parses valid JSON', () => {
    expect(parseJson(' [1, {"a": [true, null, -1.5e3]}] ')).toEqual({ ok: true, value: [1, { a: [true, null, -1500] }] });
  });
});

describe('parseNdjsonRecords', () => {
  it('skips blank lines and CRLF endings and counts records, not lines', () => {
    expect(parseNdjsonRecords('{"a":1}\r\n\r\n{"a":2}\n')).toEqual([
      { index: 0, value: { a: 1 } },
      { index: 1, value: { a: 2 } },
    ]);
  });
});

describe('nestedDeeperThan', () => {
  it.each([
    ['a scalar', 1, 0, false],
    ['an empty object', {}, 1, false],
    ['an object one past the limit', { a: {} }, 1, true],
    ['a record with attributes', { model: 'm', attributes: { a: 'b' } }, 2, false],
    ['the same, one level less allowed', { model: 'm', attributes: { a: 'b' } }, 1, true],
    ['depth hidden in a later sibling', [1, [2], [[[3]]]], 3, true],
    ['exactly the limit', JSON.parse(nestedText(64)) as unknown, 64, false],
    ['one past it', JSON.parse(nestedText(65)) as unknown, 64, true],
  ])('%s', (_name, value, max, expected) => {
    expect(nestedDeeperThan(value, max)).toBe(expected);
  });

  it('walks 100,000 levels without recursion', () => {
    expect(nestedDeeperThan(JSON.parse(nestedText(100_000, 'object')), MAX_JSON_DEPTH)).toBe(true);
  });
});

describe('textNestedDeeperThan', () => {
  it.each([
    ['brackets inside strings', '{"a": "[[[{{{", "b": ["]]]}}}"]}', 2, false],
    ['an escaped quote before a bracket', '["\\"[[", [["x\\\\"]]]', 2, true],
    ['an escaped backslash ending a string', '["a\\\\", [1]]', 1, true],
    ['keys with brackets', '{"[": {"{": 1}}', 2, false],
  ])('%s', (_name, text, max, expected) => {
    expect(textNestedDeeperThan(text, max)).toBe(expected);
    expect(nestedDeeperThan(JSON.parse(text), max)).toBe(expected);
  });

  it('answers as the walk of the parsed value does, on random JSON with tricky strings', () => {
    const random = seededRandom(15);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
    const strings = ['', '[', ']', '{', '}', '"', '\\', '\\"', '\\\\', 'a"]}', '\u005b', 'x'];
    const value = (depth: number): unknown => {
      const r = random();
      if (depth > 12 || r < 0.3) return pick([1, -2.5e3, true, null, pick(strings)]);
      const n = Math.floor(random() * 4);
      if (r < 0.65) return Array.from({ length: n }, () => value(depth + 1));
      return Object.fromEntries(Array.from({ length: n }, (_, i) => [`${pick(strings)}${i}`, value(depth + 1)]));
    };
    for (let i = 0; i < 2_000; i++) {
      const v = value(0);
      const text = JSON.stringify(v, null, random() < 0.5 ? 1 : undefined);
      for (const max of [0, 1, 2, 4, 8])
        expect([text, max, textNestedDeeperThan(text, max)]).toEqual([text, max, nestedDeeperThan(v, max)]);
    }
  });
});

describe('deeply nested records', () => {
  const good = '{"model": "m", "attributes": {"a": "b"}}';

  it.each([5_000, 100_000])('refuses a record nested %i levels alone, with its own text', (levels) => {
    const deep = nestedText(levels, 'object', '"x"');
    const items = parseJsonRecords(`[${good}, ${deep} ,\n "str", [${nestedText(3)}]]`);
    expect(items.map((i) => i.text === undefined)).toEqual([true, false, true, true]);
    expect(items[1]).toEqual({
      index: 1,
      error: `record is nested deeper than ${MAX_JSON_DEPTH} levels of objects and arrays`,
      text: deep,
    });
  });

  it('keeps the text of the other elements when several are too deep', () => {
    const deepA = nestedText(70);
    const deepB = `{"k": "a]\\"}", "v": ${nestedText(80, 'object', '"{["')}}`;
    const items = parseJsonRecords(`[${deepA},${good},${deepB}]`);
    expect(items.map((i) => i.text)).toEqual([deepA, undefined, deepB]);
  });

  it('refuses one object body that is too deep as record 0', () => {
    const deep = nestedText(65, 'object');
    expect(parseJsonRecords(deep)).toEqual([
      { index: 0, error: 'record is nested deeper than 64 levels of objects and arrays', text: deep },
    ]);
    expect(parseJsonRecords(nestedText(64, 'object'))).toEqual([{ index: 0, value: JSON.parse(nestedText(64, 'object')) as unknown }]);
  });

  it('refuses a too deep NDJSON line alone', () => {
    const deep = nestedText(100_000);
    const items = parseNdjsonRecords(`${good}\n${deep}\n${good}`);
    expect(items.map((i) => i.text === undefined)).toEqual([true, false, true]);
    expect(items[1]).toMatchObject({ index: 1, error: 'line 2 is nested deeper than 64 levels of objects and arrays' });
    expect(items[1]?.text).toBe(deep);
  });

  it('refuses a too deep document as a whole, and malformed deep JSON says where', () => {
    expect(() => parseJsonDocument(nestedText(65, 'object'))).toThrow(
      new BurnrateError('INPUT_INVALID', 'request body is nested deeper than 64 levels of objects and arrays'),
    );
    expect(parseJsonDocument(nestedText(64, 'object'))).toBeTypeOf('object');
    const unclosed = parseJson('['.repeat(100_000));
    expect(unclosed.ok).toBe(false);
  });
});
