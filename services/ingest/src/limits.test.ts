import { parseConfig } from '@burnrate/core';
import { describe, expect, it } from 'vitest';
import { costIssue, countIssue, preview, reservedKeyIssue, shortJson, textIssue, timeIssue, type TextKind } from './limits.ts';

const limits = parseConfig('org: acme').ingest.limits;
const NOW = Date.parse('2026-11-28T21:40:00.000Z');
const DAY = 86_400_000;

describe('textIssue', () => {
  it.each<[string, string, TextKind, string | undefined]>([
    ['a plain id', 'sess-28b333cc', 'identifier', undefined],
    ['non-ASCII letters and an emoji pair', 'Zoë 😀 日本', 'identifier', undefined],
    ['exactly the limit', 'x'.repeat(512), 'identifier', undefined],
    [
      'one past the limit',
      'x'.repeat(513),
      'identifier',
      `"${'x'.repeat(40)}…" is 513 characters long; the limit is 512 (ingest.limits.max_text_length)`,
    ],
    [
      'a 2 MB email',
      `${'a'.repeat(2_000_000)}@acme.com`,
      'email',
      `"${'a'.repeat(40)}…" is 2,000,009 characters long; the limit is 254 (the limit for an email address)`,
    ],
    ['an email of 254', `${'a'.repeat(245)}@acme.com`, 'email', undefined],
    ['an attribute value of 1024', 'v'.repeat(1024), 'description', undefined],
    [
      'an attribute value of 1025',
      'v'.repeat(1025),
      'description',
      `"${'v'.repeat(40)}…" is 1,025 characters long; the limit is 1024 (ingest.limits.max_attribute_length)`,
    ],
    ['a lone high surrogate', '\ud800', 'identifier', 'is not valid Unicode: a lone surrogate (U+D800) at character 1 of "\\ud800"'],
    [
      'a lone low surrogate after a pair',
      'a😀\udc00',
      'description',
      'is not valid Unicode: a lone surrogate (U+DC00) at character 4 of "a😀\\udc00"',
    ],
    [
      'NUL',
      'al\u0000ice',
      'identifier',
      'holds a control character (U+0000) at character 3 of "al\\u0000ice"; not allowed in an identifier',
    ],
    ['a newline', 'alice\n', 'identifier', 'holds a control character (U+000A) at character 6 of "alice\\n"; not allowed in an identifier'],
    [
      'a tab in an identifier',
      'a\tb',
      'identifier',
      'holds a control character (U+0009) at character 2 of "a\\tb"; not allowed in an identifier',
    ],
    ['a tab in a description', 'a\tb', 'description', undefined],
    [
      'a newline in a description',
      'a\r\nBcc: x',
      'description',
      'holds a control character (U+000D) at character 2 of "a\\r\\nBcc: x"; not allowed in text (tab is the one control character allowed)',
    ],
    ['DEL', 'a\u007f', 'identifier', 'holds a control character (U+007F) at character 2 of "a\\u007F"; not allowed in an identifier'],
    ['a C1 control', 'a\u0085b', 'description', expect.stringContaining('(U+0085) at character 2 of "a\\u0085b"')],
    ['a line separator', 'a\u2028b', 'description', expect.stringContaining('(U+2028)')],
    ['a bidi override in an identifier', 'evil\u202egnp.exe', 'identifier', expect.stringContaining('(U+202E)')],
    ['a bidi override in a description', 'evil\u202egnp', 'description', undefined],
  ])('%s', (_name, value, kind, expected) => {
    expect(textIssue(value, kind, limits)).toEqual(expected);
  });

  it('follows the configured limits', () => {
    const tight = { ...limits, max_text_length: 64, max_attribute_length: 64 };
    expect(textIssue('x'.repeat(65), 'identifier', tight)).toMatch(/is 65 characters long; the limit is 64/);
    expect(textIssue('x'.repeat(65), 'description', tight)).toMatch(/the limit is 64 \(ingest.limits.max_attribute_length\)/);
    // An email never exceeds the text limit either.
    expect(textIssue(`${'a'.repeat(60)}@acme.com`, 'email', tight)).toMatch(/the limit is 64 \(the limit for an email address\)/);
  });
});

describe('preview and shortJson', () => {
  it.each([
    ['short text as JSON', 'alice', '"alice"'],
    ['cut at 40 with an ellipsis', 'y'.repeat(100), `"${'y'.repeat(40)}…"`],
    ['never splitting a surrogate pair', `${'y'.repeat(39)}😀tail`, `"${'y'.repeat(39)}…"`],
    ['escaping C0, C1, separators and bidi controls', '\u0001\u0085\u2028\u202e', '"\\u0001\\u0085\\u2028\\u202E"'],
  ])('preview: %s', (_name, value, expected) => {
    expect(preview(value)).toBe(expected);
    expect(preview(value).isWellFormed()).toBe(true);
  });

  it('shortJson keeps small values whole and cuts big ones', () => {
    expect(shortJson({ stringValue: 'lots' })).toBe('{"stringValue":"lots"}');
    expect(shortJson({ stringValue: 'z'.repeat(100) })).toBe(`{"stringValue":"${'z'.repeat(44)}…`);
  });
});

describe('numeric and time bounds', () => {
  it.each<[string, string | undefined]>([
    ['cost at the limit', costIssue(100_000, limits)],
    ['tokens at the limit', countIssue(1e11, limits)],
    ['a time a day ahead', timeIssue(NOW + DAY, NOW, limits)],
    ['a time 400 days old', timeIssue(NOW - 400 * DAY, NOW, limits)],
  ])('accepts %s', (_name, issue) => {
    expect(issue).toBeUndefined();
  });

  it.each<[string, string | undefined, string]>([
    [
      'a cost of 1e308',
      costIssue(1e308, limits),
      '1e+308 USD is above the limit of 100000 USD per event (ingest.limits.max_cost_usd_per_event)',
    ],
    [
      'Infinity',
      costIssue(Infinity, limits),
      'Infinity USD is above the limit of 100000 USD per event (ingest.limits.max_cost_usd_per_event)',
    ],
    [
      'a computed cost',
      costIssue(7.5e6, limits, 'computed from the token counts: '),
      'computed from the token counts: 7500000 USD is above the limit of 100000 USD per event (ingest.limits.max_cost_usd_per_event)',
    ],
    [
      '9e15 tokens',
      countIssue(9e15, limits),
      '9000000000000000 is above the limit of 100000000000 per event (ingest.limits.max_tokens_per_event)',
    ],
    [
      'a time a day and a millisecond ahead',
      timeIssue(NOW + DAY + 1, NOW, limits),
      '2026-11-29T21:40:00.001Z is more than 1d after the ingest clock (2026-11-28T21:40:00.000Z); the limit is ingest.limits.max_future',
    ],
    [
      'year 9999',
      timeIssue(Date.parse('9999-12-31T23:59:59Z'), NOW, limits),
      '9999-12-31T23:59:59.000Z is more than 1d after the ingest clock (2026-11-28T21:40:00.000Z); the limit is ingest.limits.max_future',
    ],
    [
      'a time 401 days old',
      timeIssue(NOW - 401 * DAY, NOW, limits),
      '2025-10-23T21:40:00.000Z is more than 400d before the ingest clock (2026-11-28T21:40:00.000Z); the limit is ingest.limits.max_age',
    ],
    [
      'year 0000',
      timeIssue(Date.parse('0000-01-01T00:00:00Z'), NOW, limits),
      '0000-01-01T00:00:00.000Z is more than 400d before the ingest clock (2026-11-28T21:40:00.000Z); the limit is ingest.limits.max_age',
    ],
  ])('refuses %s, naming the value and the limit', (_name, issue, expected) => {
    expect(issue).toBe(expected);
  });
});

describe('reservedKeyIssue', () => {
  it.each(['__proto__', 'constructor', 'prototype'])('refuses %s by name', (key) => {
    expect(reservedKeyIssue(key)).toBe(
      `"${key}" is a reserved name (JavaScript objects treat it as their prototype or constructor); rename the attribute`,
    );
  });
  it.each(['proto', '__proto', 'terminal.type', 'Constructor'])('takes %s', (key) => {
    expect(reservedKeyIssue(key)).toBeUndefined();
  });
});
