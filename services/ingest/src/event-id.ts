import { createHash } from 'node:crypto';

/** JSON with object keys sorted, so the same record hashes the same whatever its key order. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => stableStringify(v)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
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
