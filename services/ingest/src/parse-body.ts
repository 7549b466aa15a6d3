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

/**
 * Deepest nesting of objects and arrays a record or an OTLP body may have. JSON.parse itself takes
 * any depth, but whatever walks the value recursively afterwards (zod, JSON.stringify for the
 * dead-letter queue, the event-id hash) overflows the stack at a few thousand levels. Real records
 * nest 2 levels, OTLP bodies about 12.
 */
export const MAX_JSON_DEPTH = 64;

/** Whether `value` nests objects and arrays more than `max` levels deep; walked with an explicit stack. */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  const stack: unknown[] = [value];
  const depths: number[] = [1];
  while (stack.length > 0) {
    const node = stack.pop() as object;
    const depth = depths.pop() as number;
    if (depth > max) return true;
    // for…in allocates no array of values per object (this walk runs over every body).
    for (const key in node) {
      if (!Object.hasOwn(node, key)) continue;
      const child = (node as Record<string, unknown>)[key];
      if (child !== null && typeof child === 'object') {
        stack.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}

/**
 * Whether the JSON text `text` (which must be valid: it parsed) nests objects and arrays more than
 * `max` levels deep. The same answer as `nestedDeeperThan` on its value, from one pass over the
 * characters: strings are skipped whole with indexOf, so it costs a fraction of walking the
 * parsed objects (the walk ran over every request body).
 */
export function textNestedDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      // The closing quote is the next one not escaped: preceded by an even number of backslashes.
      for (;;) {
        i = text.indexOf('"', i + 1);
        if (i < 0) return false;
        let slashes = 0;
        while (text.charCodeAt(i - 1 - slashes) === 92 /* \ */) slashes++;
        if (slashes % 2 === 0) break;
      }
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > max) return true;
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return false;
}

const TOO_DEEP = `nested deeper than ${MAX_JSON_DEPTH} levels of objects and arrays`;

/**
 * A JSON document that is one request (an OTLP export): malformed or too deeply nested JSON is a
 * 400 for the whole request.
 */
export function parseJsonDocument(text: string): unknown {
  const parsed = parseJson(text);
  if (!parsed.ok) throw new BurnrateError('INPUT_INVALID', `request body is not valid JSON: ${parsed.message}`);
  if (textNestedDeeperThan(text, MAX_JSON_DEPTH)) throw new BurnrateError('INPUT_INVALID', `request body is ${TOO_DEEP}`);
  return parsed.value;
}

/**
 * The text of each element of the top-level array of `text`, which must be valid JSON (it parsed).
 * Only for records that must go to the dead-letter queue verbatim and cannot be re-serialised.
 */
function arrayElementTexts(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      if (depth >= 1 && start < 0) start = i;
      for (i += 1; text.charCodeAt(i) !== 34; i++) if (text.charCodeAt(i) === 92 /* \ */) i += 1;
      continue;
    }
    if (c === 91 /* [ */ || c === 123 /* { */) {
      if (depth === 1 && start < 0) start = i;
      depth += 1;
    } else if (c === 93 /* ] */ || c === 125 /* } */) {
      depth -= 1;
      if (depth === 0 && start >= 0) out.push(text.slice(start, i).trim());
    } else if (c === 44 /* , */ && depth === 1) {
      out.push(text.slice(start, i).trim());
      start = -1;
    } else if (depth >= 1 && start < 0 && c > 32) start = i;
  }
  return out;
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
  if (!Array.isArray(parsed.value)) {
    if (textNestedDeeperThan(text, MAX_JSON_DEPTH)) return [{ index: 0, error: `record is ${TOO_DEEP}`, text }];
    return [{ index: 0, value: parsed.value }];
  }
  // The array adds one level: within that, no record is too deep and none needs a look of its own.
  if (!textNestedDeeperThan(text, MAX_JSON_DEPTH + 1)) return (parsed.value as unknown[]).map((value, index) => ({ index, value }));
  // A record nested too deeply is refused alone, with its own text for the dead-letter queue.
  let texts: string[] | undefined;
  return (parsed.value as unknown[]).map((value, index): PostedItem => {
    if (!nestedDeeperThan(value, MAX_JSON_DEPTH)) return { index, value };
    texts ??= arrayElementTexts(text);
    return { index, error: `record is ${TOO_DEEP}`, text: texts[index] ?? '' };
  });
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
    if (!parsed.ok)
      items.push({ index, error: `line ${i + 1} is not valid JSON (${parsed.message.replace(/^line 1, /, '')})`, text: line });
    else if (textNestedDeeperThan(line, MAX_JSON_DEPTH)) items.push({ index, error: `line ${i + 1} is ${TOO_DEEP}`, text: line });
    else items.push({ index, value: parsed.value });
  }
  return items;
}
