import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';
import { createLogger } from '@burnrate/core';
import { describeStoreContract } from '../test-support/store-contract.ts';
import { usageEvent } from '../test-support/fixtures.ts';
import { startTestClickHouse } from '../../../infra/clickhouse/test-clickhouse.ts';
import { createClickHouseStore, createClickHouseStoreFromClient } from './clickhouse-store.ts';

const log = createLogger({ level: 'silent' });
// CLICKHOUSE_URL, else a testcontainers server where a Docker engine runs, else none (see below).
const server = await startTestClickHouse();
afterAll(async () => {
  await server?.stop();
});

// A real server when there is one: the same contract, in a database of its own.
describeStoreContract(
  server === null
    ? 'ClickHouse server (none: CLICKHOUSE_URL not set and no Docker engine)'
    : `ClickHouse server (${server.via}) at ${server.url}`,
  () =>
    createClickHouseStore({
      url: server?.url ?? '',
      database: 'burnrate_store_test',
      ...(server?.username === undefined ? {} : { username: server.username }),
      ...(server?.password === undefined ? {} : { password: server.password }),
      log,
    }),
  { skip: server === null },
);

// Without a server, the server adapter's own code (query params, JSONEachRow inserts with
// dedup tokens, ClickHouseError translation) still runs against a real engine: chdb plugged
// into @clickhouse/client through chdb's connection hook.
let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'burnrate-chconn-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

const clientOverChdb = () => createClient({ connection: createChdbConnection({ path: dataDir }) as never });

describeStoreContract('ClickHouse adapter over chdb/connection', async () => createClickHouseStoreFromClient(clientOverChdb(), { log }));

describe('createClickHouseStore', () => {
  it('reports a server that is not there as a retriable STORE_UNAVAILABLE', async () => {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    const store = await createClickHouseStore({ url: 'http://127.0.0.1:1', log, requestTimeoutMs: 5_000 });
    await expect(store.countUsageEvents()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', retriable: true });
    await store.close();
  });

  it('reports a statement the engine rejects as a non-retriable STORE_QUERY_FAILED', async () => {
    const dir = join(dataDir, 'bad-migrations');
    await mkdir(dir, { recursive: true });
    // Shares the default database with the contract above, so a version it never used.
    await writeFile(join(dir, '0099_broken.sql'), 'CREATE TABLE IF NOT EXISTS broken_v1 (x NoSuchType) ENGINE = Memory');
    const store = createClickHouseStoreFromClient(clientOverChdb(), { log, migrationsDir: dir });
    await expect(store.migrate()).rejects.toMatchObject({
      code: 'STORE_QUERY_FAILED',
      retriable: false,
      message: expect.stringContaining('broken_v1'),
    });
    await store.close();
  });

  it('refuses a database name that is not an identifier', async () => {
    await expect(createClickHouseStore({ url: 'http://127.0.0.1:1', database: 'a-b', log })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
  });

  it('dedupes a retried insert by its token before any merge', async () => {
    const store = createClickHouseStoreFromClient(clientOverChdb(), { log });
    await store.migrate();
    const org = 'dedup-token-org';
    const batch = Array.from({ length: 30 }, (_, i) => usageEvent({ org, event_id: `t-${i}` }));
    await store.insertUsageEvents(batch);
    await store.insertUsageEvents(batch);
    const client = clientOverChdb();
    const result = await client.query({
      query: 'SELECT count() AS n FROM usage_events_v1 WHERE org = {org:String}',
      query_params: { org },
      format: 'JSONEachRow',
    });
    expect(Number((await result.json<{ n: string | number }>())[0]?.n)).toBe(30);
    await client.close();
    await store.close();
  });
});
