import { createHash } from 'node:crypto';

/**
 * JSON with object keys sorted (by UTF-16 code units) and undefined members left out, so the same
 * record hashes the same whatever its key order. Event ids and fingerprints are made of this text
 * and are stored, so the output must never change: event-id.test.ts holds it to the reference form.
 */
export function stableStringify(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        // A hole is nothing between its commas, as Array.prototype.join writes it.
        for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + (i in value ? stableStringify(value[i]) : '');
        return `${out}]`;
      }
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record).sort();
      let out = '{';
      let first = true;
      for (const key of keys) {
        const member = record[key];
        if (member === undefined) continue;
        out += `${first ? '' : ','}${JSON.stringify(key)}:${stableStringify(member)}`;
        first = false;
      }
      return `${out}}`;
    }
    default:
      // undefined, a function, a symbol: JSON has none of them; a bigint is not JSON either.
      return JSON.stringify(value) ?? 'null';
  }
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * `<source>:<sha256 hex>` of a native record key (or of the whole record when the source has no
 * key). A resent record gets the same id, which is what makes every retry idempotent downstream.
 */
export function deterministicEventId(source: string, nativeKey: unknown): string {
  return `${source}:${sha256Hex(stableStringify(nativeKey))}`;
}
