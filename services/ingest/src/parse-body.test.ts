import { describe, expect, it } from 'vitest';
import { parseJson, parseNdjsonRecords } from './parse-body.ts';

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
