import { BurnrateError } from '@burnrate/core';

export type ParsedJson = { ok: true; value: unknown } | { ok: false; message: string };

function lineAndColumn(text: string, position: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < position && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line += 1;
      lineStart = i + 1;
    }
  }
  return { line, column: position - lineStart + 1 };
}

class JsonSyntaxError extends Error {
  readonly position: number;
  constructor(position: number, message: string) {
    super(message);
    this.position = position;
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

function describeChar(text: string, i: number): string {
  return i >= text.length ? 'unexpected end of input' : `unexpected character ${JSON.stringify(text[i])}`;
}

/**
 * Finds where JSON.parse gave up. V8's messages do not always say where, and they quote the
 * input, which may hold secrets; this scanner runs only after JSON.parse failed.
 */
function locateJsonError(text: string): JsonSyntaxError {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const expect = (ch: string, what: string): void => {
    ws();
    if (text[i] !== ch) throw new JsonSyntaxError(i, `${describeChar(text, i)}, expected ${what}`);
    i++;
  };
  const string = (): void => {
    i++;
    while (i < text.length && text[i] !== '"') {
      const c = text.charCodeAt(i);
      if (c < 0x20) throw new JsonSyntaxError(i, 'control character inside a string');
      if (text[i] === '\\') {
        const esc = text[i + 1] ?? '';
        if (esc === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) throw new JsonSyntaxError(i, 'invalid \\u escape');
          i += 6;
          continue;
        }
        if (!'"\\/bfnrt'.includes(esc) || esc === '') throw new JsonSyntaxError(i, 'invalid escape in a string');
        i += 2;
        continue;
      }
      i++;
    }
    if (i >= text.length) throw new JsonSyntaxError(i, 'unterminated string');
    i++;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') throw new JsonSyntaxError(i, `${describeChar(text, i)}, expected a property name in double quotes`);
        string();
        expect(':', "':'");
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        expect('}', "',' or '}'");
        return;
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        expect(']', "',' or ']'");
        return;
      }
    }
    if (c === '"') return string();
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return;
      }
    }
    NUMBER.lastIndex = i;
    if (c !== undefined && /[-0-9]/.test(c) && NUMBER.test(text)) {
      i = NUMBER.lastIndex;
      return;
    }
    throw new JsonSyntaxError(i, `${describeChar(text, i)}, expected a value`);
  };
  try {
    value();
    ws();
    if (i < text.length) return new JsonSyntaxError(i, `${describeChar(text, i)} after the JSON value`);
    return new JsonSyntaxError(0, 'invalid JSON');
  } catch (err) {
    if (err instanceof JsonSyntaxError) return err;
    // Nesting deep enough to overflow the stack.
    return new JsonSyntaxError(i, 'nested too deeply');
  }
}

/** JSON.parse, with a message that says where: `line 3, column 9: unexpected character "}", expected a value`. */
export function parseJson(text: string): ParsedJson {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    const err = locateJsonError(text);
    const { line, column } = lineAndColumn(text, err.position);
    return { ok: false, message: `line ${line}, column ${column}: ${err.message}` };
  }
}

export type PostedItem = { index: number; value: unknown; text?: undefined } | { index: number; error: string; text: string };

/** Text of a body: UTF-8 without a byte-order mark; empty bodies are a 400. */
export function bodyText(body: Buffer, hint: string): string {
  const text = body.toString('utf8').replace(/^\uFEFF/, '');
  if (text.trim() === '') throw new BurnrateError('INPUT_INVALID', `request body is empty; ${hint}`);
  return text;
}

/**
 * A JSON body: an array of records or one record. Malformed JSON rejects the whole request,
 * since nothing in it can be trusted to be where it seems.
 */
export function parseJsonRecords(text: string): PostedItem[] {
  const parsed = parseJson(text);
  if (!parsed.ok) throw new BurnrateError('INPUT_INVALID', `request body is not valid JSON: ${parsed.message}`);
  const values = Array.isArray(parsed.value) ? (parsed.value as unknown[]) : [parsed.value];
  return values.map((value, index) => ({ index, value }));
}

/**
 * An NDJSON body: one record per line, blank lines skipped. A bad line rejects only that record
 * (it goes to the DLQ as text), so one corrupt line does not lose a whole exported file.
 * `index` counts records, not lines; the message names the line.
 */
export function parseNdjsonRecords(text: string): PostedItem[] {
  const items: PostedItem[] = [];
  const lines = text.split('\n');
  for (const [i, rawLine] of lines.entries()) {
    const line = rawLine.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const parsed = parseJson(line);
    const index = items.length;
    if (parsed.ok) items.push({ index, value: parsed.value });
    else items.push({ index, error: `line ${i + 1} is not valid JSON (${parsed.message.replace(/^line 1, /, '')})`, text: line });
  }
  return items;
}
