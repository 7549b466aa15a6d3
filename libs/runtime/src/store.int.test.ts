import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@burnrate/core';
import { tempDir, type TempDir } from '@burnrate/testing';
import { openStoreOnFirstUse } from './store.ts';

const log = createLogger({ level: 'silent' });
const silence = {
  id: 'sil-1',
  matchers: [{ label: 'team' as const, value: 'payments' }],
  starts_at: '2026-11-27T10:00:00.000Z',
  ends_at: '2026-11-27T14:00:00.000Z',
  created_by: 'bob@acme.com',
  comment: 'load test',
  created_at: '2026-11-27T09:59:00.000Z',
};

describe('openStoreOnFirstUse', () => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await tempDir();
  });
  afterAll(async () => {
    await dir?.cleanup();
  });

  it('opens nothing until a call needs it, answers STORE_UNAVAILABLE while it cannot open, and opens once it can', async () => {
    // A file where the data directory should be: the store cannot open there.
    const dataDir = join(dir.path, 'data');
    await writeFile(dataDir, 'not a directory');
    const store = openStoreOnFirstUse({ kind: 'chdb', dataDir }, log);
    await expect(store.listSilences()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', retriable: true });
    await expect(store.migrate()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });

    await rm(dataDir);
    await store.migrate();
    await store.insertSilences([silence]);
    expect(await store.listSilences()).toEqual([silence]);
    expect(store.maxSnapshotPartBytes).toBeGreaterThan(0);

    await store.close();
    await expect(store.listSilences()).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
  });

  it('answers STORE_UNAVAILABLE while the ClickHouse server is not there, and closes without having opened', async () => {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    const store = openStoreOnFirstUse({ kind: 'clickhouse', url: 'http://127.0.0.1:1', database: 'burnrate' }, log);
    await expect(store.getAnomaly('a')).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', retriable: true });
    await store.close();
    await expect(store.getAnomaly('a')).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
  });
});
