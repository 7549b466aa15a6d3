import { expect, it } from 'vitest';
import { snapshotKey, snapshotStoreFrom, type SnapshotTable } from './snapshots.ts';

it('adapts the Store snapshot table, stamping saved_at from the clock and reading parts as they are iterated', async () => {
  const rows = new Map<string, { key: string; offset: string; parts: readonly string[]; saved_at: string }>();
  const table: SnapshotTable = {
    maxSnapshotPartBytes: 4096,
    saveSnapshot: (s) => {
      rows.set(s.key, s);
      return Promise.resolve();
    },
    loadSnapshot: (key) => {
      const row = rows.get(key);
      return Promise.resolve(
        row === undefined
          ? undefined
          : {
              offset: row.offset,
              parts: async function* () {
                yield* row.parts;
              },
            },
      );
    },
  };
  const store = snapshotStoreFrom(table, () => new Date('2026-11-25T10:00:00Z'));
  expect(store.maxPartBytes).toBe(4096);
  const key = snapshotKey('usage.events.v1', 3);
  expect(key).toBe('detector:usage.events.v1:3');
  expect(await store.load(key)).toBeUndefined();
  await store.save({ key, offset: '41', parts: ['["a"]', '["b"]'] });
  expect(rows.get(key)?.saved_at).toBe('2026-11-25T10:00:00.000Z');
  const loaded = await store.load(key);
  expect(loaded?.offset).toBe('41');
  const parts: string[] = [];
  for await (const part of loaded?.parts ?? []) parts.push(part);
  expect(parts).toEqual(['["a"]', '["b"]']);
});
