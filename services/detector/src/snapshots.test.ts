import { expect, it } from 'vitest';
import { snapshotKey, snapshotStoreFrom, type SnapshotTable } from './snapshots.ts';

it('adapts the Store snapshot table, stamping saved_at from the clock', async () => {
  const rows = new Map<string, { key: string; offset: string; state: string; saved_at: string }>();
  const table: SnapshotTable = {
    saveSnapshot: (s) => {
      rows.set(s.key, s);
      return Promise.resolve();
    },
    loadSnapshot: (key) => Promise.resolve(rows.get(key)),
  };
  const store = snapshotStoreFrom(table, () => new Date('2026-11-25T10:00:00Z'));
  const key = snapshotKey('usage.events.v1', 3);
  expect(key).toBe('detector:usage.events.v1:3');
  expect(await store.load(key)).toBeUndefined();
  await store.save({ key, offset: '41', state: '{"format":1}' });
  expect(rows.get(key)?.saved_at).toBe('2026-11-25T10:00:00.000Z');
  expect(await store.load(key)).toEqual({ offset: '41', state: '{"format":1}' });
});
