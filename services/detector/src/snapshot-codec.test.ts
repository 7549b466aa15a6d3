import { seededRandom } from '@burnrate/testing/seeded-random';
import { describe, expect, it } from 'vitest';
import { decodeSnapshot, encodeSnapshot, encodeSnapshotYielding, MIN_SNAPSHOT_PART_BYTES, SNAPSHOT_PART_FORMAT } from './snapshot-codec.ts';

const KEYS = ['a', 'b', 'sessions', '__proto__', '10', '2', 'acme:dev@x.com', 'é✓', 'a"b\\c', '', 'constructor'];

/**
 * A JSON-like value with big maps and arrays in it, and the things JSON.stringify treats
 * specially; `budget.left` bounds the values it holds.
 */
function randomValue(next: () => number, depth: number, budget: { left: number }): unknown {
  const r = next();
  budget.left -= 1;
  if (depth > 4 || r < 0.35 || budget.left <= 0) {
    const leaf = Math.floor(next() * 9);
    switch (leaf) {
      case 0:
        return null;
      case 1:
        return next() < 0.5;
      case 2:
        return Math.floor(next() * 2 ** 53);
      case 3:
        return next() * 1e6 - 5e5;
      case 4:
        return `s${Math.floor(next() * 1e6)}-é-\u{1F600}-"quoted"`;
      case 5:
        return undefined;
      case 6:
        return Number.NaN;
      case 7:
        return new Date(Math.floor(next() * 1e12));
      default:
        return '';
    }
  }
  const size = Math.min(budget.left, next() < 0.2 ? Math.floor(next() * 3000) : Math.floor(next() * 6));
  if (next() < 0.4) return Array.from({ length: size }, () => randomValue(next, depth + 1, budget));
  const obj: Record<string, unknown> = {};
  for (let i = 0; i < size; i++) {
    const key = next() < 0.3 ? (KEYS[Math.floor(next() * KEYS.length)] as string) : `k${Math.floor(next() * 1e5)}`;
    const v = randomValue(next, depth + 1, budget);
    if (key === '__proto__') Object.defineProperty(obj, key, { value: v, enumerable: true, writable: true, configurable: true });
    else obj[key] = v;
  }
  return obj;
}

const bytes = (s: string): number => Buffer.byteLength(s);

describe('snapshot parts', () => {
  it('rebuild what JSON would, key order and all, with every part within its size', async () => {
    for (let seed = 1; seed <= 40; seed++) {
      const value = { root: randomValue(seededRandom(seed), 0, { left: 20_000 }), seed };
      const maxPartBytes = seed % 2 === 0 ? 4096 : 64 * 1024;
      const parts = [...encodeSnapshot(value, maxPartBytes)];
      for (const part of parts) expect(bytes(part), `seed ${seed}`).toBeLessThanOrEqual(maxPartBytes);
      const decoded = await decodeSnapshot(parts);
      // Same text means the same values in the same key order.
      expect(JSON.stringify(decoded), `seed ${seed}`).toBe(JSON.stringify(value));
    }
  });

  it('splits a map of many keys over parts and keeps each key once, in order', async () => {
    const seen: Record<string, { ids: number[]; next: number; last: number }> = {};
    for (let i = 0; i < 20_000; i++) seen[`acme:dev-${i}@acme.com`] = { ids: [i * 7919, i * 104729], next: 0, last: i };
    const state = { format: 2, engine: { format: 1, watermark: 5, seen, detectors: { x: { open: [] } } }, rollups: {} };
    const parts = [...encodeSnapshot(state, 64 * 1024)];
    expect(parts.length).toBeGreaterThan(10);
    expect(await decodeSnapshot(parts)).toEqual(state);
    expect(Object.keys(((await decodeSnapshot(parts)) as typeof state).engine.seen)).toEqual(Object.keys(seen));
  });

  it('counts every byte of a part, however many segments it holds', async () => {
    // 3,600 arrays too large (in values) to write whole under parents of few keys: each is a short
    // segment of its own, about a hundred to a 256 KiB part, so a part is full of segment brackets
    // and paths and any miscount in them adds up past the limit.
    const value = Array.from({ length: 60 }, () =>
      Object.fromEntries(Array.from({ length: 60 }, (_, k) => [`k${k}`, Array.from({ length: 1100 }, () => 0)])),
    );
    const maxPartBytes = 256 * 1024;
    const parts = [...encodeSnapshot(value, maxPartBytes)];
    expect(parts.length).toBeGreaterThan(20);
    expect(Math.max(...parts.map((p) => p.split('],[').length))).toBeGreaterThan(100);
    for (const part of parts) expect(bytes(part)).toBeLessThanOrEqual(maxPartBytes);
    expect(await decodeSnapshot(parts)).toEqual(value);
  });

  it('keeps "__proto__" an own key, as JSON.parse does', async () => {
    const big: Record<string, number> = {};
    for (let i = 0; i < 2000; i++) big[`k${i}`] = i;
    Object.defineProperty(big, '__proto__', { value: 1, enumerable: true, writable: true, configurable: true });
    const decoded = (await decodeSnapshot(encodeSnapshot({ big }, MIN_SNAPSHOT_PART_BYTES))) as { big: Record<string, number> };
    expect(Object.getPrototypeOf(decoded.big)).toBe(Object.prototype);
    expect(Object.hasOwn(decoded.big, '__proto__')).toBe(true);
    expect(JSON.stringify(decoded)).toBe(JSON.stringify({ big }));
  });

  it('writes a small state as one part and roots of any kind', async () => {
    expect([...encodeSnapshot({ format: 1 })]).toEqual([`["${SNAPSHOT_PART_FORMAT}",0,1,[[],[{"format":1}]]]`]);
    for (const root of [null, 3, 'text', [], {}, [1, [2, [3]]]]) expect(await decodeSnapshot(encodeSnapshot(root))).toEqual(root);
    expect(
      await decodeSnapshot(
        await encodeSnapshotYielding(
          Array.from({ length: 5000 }, (_, i) => i),
          2048,
        ),
      ),
    ).toHaveLength(5000);
  });

  it('reads a whole-JSON snapshot saved before parts', async () => {
    expect(await decodeSnapshot(['{"format":2,"engine":{"format":1}}'])).toEqual({ format: 2, engine: { format: 1 } });
  });

  it('names the value that no part can hold', () => {
    const state = { engine: { notes: { big: 'x'.repeat(5000) } } };
    expect(() => [...encodeSnapshot(state, 2048)]).toThrow(/snapshot value at engine\.notes\.big is 5002 bytes/);
  });

  it('refuses parts that are missing, repeated, reordered, cut short or not parts', async () => {
    const parts = [...encodeSnapshot({ m: Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`k${i}`, i])) }, 4096)];
    expect(parts.length).toBeGreaterThan(3);
    const unreadable = (p: string[]) => expect(decodeSnapshot(p)).rejects.toMatchObject({ code: 'SNAPSHOT_UNREADABLE' });
    await unreadable(parts.slice(0, -1));
    await unreadable([parts[0]!, ...parts.slice(2)]);
    await unreadable([parts[0]!, parts[2]!, parts[1]!, ...parts.slice(3)]);
    await unreadable([...parts, parts.at(-1)!]);
    await unreadable([parts[0]!, '{"format":2}']);
    await unreadable([parts[0]!.slice(0, -5)]);
    await unreadable([]);
    await unreadable(['["burnrate.snapshot-part/1",0,1,[["nowhere"],[1]]]']);
  });

  it('passes on what the parts source throws', async () => {
    async function* failing(): AsyncGenerator<string> {
      yield* encodeSnapshot({ a: 1 }, 4096);
      throw new Error('store went away');
    }
    await expect(decodeSnapshot(failing())).rejects.toThrow('store went away');
  });
});
