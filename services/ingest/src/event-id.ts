import { hash } from 'node:crypto';

/**
 * JSON with object keys sorted (by UTF-16 code units) and undefined members left out, so the same
 * record hashes the same whatever its key order. Event ids and fingerprints are made of this text
 * and are stored, so the output must never change: event-id.test.ts holds it to the reference form.
 */
export function stableStringify(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        // A hole is nothing between its commas, as Array.prototype.join writes it.
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          if (i in value) out += stableStringify(value[i]);
        }
        return `${out}]`;
      }
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record);
      if (keys.length > 1) keys.sort();
      let out = '{';
      for (const key of keys) {
        const member = record[key];
        if (member === undefined) continue;
        if (out.length > 1) out += ',';
        out += quote(key);
        out += ':';
        out += stableStringify(member);
      }
      return `${out}}`;
    }
    default:
      // undefined, a function, a symbol: JSON has none of them; a bigint is not JSON either.
      return JSON.stringify(value) ?? 'null';
  }
}

/** Printable ASCII but `"` and `\`: what JSON.stringify writes between quotes unchanged. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** JSON.stringify of a string; most are plain, and a regular expression says so faster than it escapes. */
function quote(s: string): string {
  return PLAIN.test(s) ? `"${s}"` : JSON.stringify(s);
}

export function sha256Hex(text: string): string {
  return hash('sha256', text, 'hex');
}

/**
 * `<source>:<sha256 hex>` of a native record key (or of the whole record when the source has no
 * key). A resent record gets the same id, which is what makes every retry idempotent downstream.
 */
export function deterministicEventId(source: string, nativeKey: unknown): string {
  return `${source}:${sha256Hex(stableStringify(nativeKey))}`;
}
