import { createHash } from 'node:crypto';

/**
 * Deterministic anomaly id: the same kind, subject parts and episode start give the same id in a
 * replay, on another instance or after a restart, so downstream keeps one row per episode.
 * 128 bits of SHA-256 as hex: collisions are not a concern at any realistic anomaly count.
 */
export function anomalyId(kind: string, parts: readonly string[]): string {
  return createHash('sha256')
    .update([kind, ...parts].join('\u001f'))
    .digest('hex')
    .slice(0, 32);
}

/**
 * A fast 53-bit string hash (cyrb53) that fits exactly in a JSON number. Used to remember recent
 * event ids compactly; at 53 bits a false "already seen" within a ring of a few hundred ids is
 * about one in 10^13 events.
 */
export function hash53(s: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
