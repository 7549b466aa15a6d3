import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Session } from 'chdb';
import { createLogger } from '@burnrate/core';
import { describeStoreContract } from '../test-support/store-contract.ts';
import { anomaly, usageEvent } from '../test-support/fixtures.ts';
import { createChdbStore } from './chdb-store.ts';
import type { Store } from './port.ts';

// One data directory for the whole file: libchdb binds one per process, and vitest runs each
// integration file in its own process. Tests isolate by database name instead.
let dataDir: string;
const log = createLogger({ level: 'silent' });
let databases = 0;
const freshDatabase = (): string => `t${process.pid}_${(databases += 1)}`;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'burnrate-chdb-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describeStoreContract('chdb', () => createChdbStore({ dataDir, database: freshDatabase(), log }));

async function rawExec(sql: string): Promise<void> {
  const session = new Session(dataDir);
  try {
    await session.queryAsync(sql);
  } finally {
    session.close();
  }
}

async function rawQuery<T>(sql: string): Promise<T[]> {
  const session = new Session(dataDir);
  try {
    const text = (await session.queryAsync(sql, { format: 'JSONEachRow' })).text();
    return text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as T);
  } finally {
    session.close();
  }
}

describe('createChdbStore', () => {
  it('runs migrations once, records them, and a second run changes nothing', async () => {
    const database = freshDatabase();
    const store = await createChdbStore({ dataDir, database, log });
    await store.migrate();
    await store.migrate();
    const applied = await rawQuery<{ version: number; name: string }>(
      `SELECT version, name FROM ${database}.schema_migrations FINAL ORDER BY version`,
    );
    expect(applied.map((m) => m.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    const rows = await rawQuery<{ n: number }>(`SELECT count() AS n FROM ${database}.schema_migrations`);
    // One record per migration even without FINAL: the second run inserted nothing.
    expect(Number(rows[0]?.n)).toBe(applied.length);
    const tables = await rawQuery<{ name: string }>(`SELECT name FROM system.tables WHERE database = '${database}' ORDER BY name`);
    expect(tables.map((t) => t.name)).toEqual([
      'anomalies_v1',
      'anomaly_state_v1',
      'deliveries_v1',
      'detector_snapshot_manifests_v1',
      'detector_snapshot_parts_v1',
      'detector_snapshots_v1',
      'dlq_replays_v1',
      'dlq_v1',
      'notification_outbox_v1',
      'schema_migrations',
      'silences_v1',
      'spend_changes_mv_v1',
      'spend_changes_v1',
      'spend_hourly_mv_v2',
      'spend_hourly_v1',
      'spend_report_days_mv_v1',
      'spend_report_days_v1',
      'spend_rollup_days_v1',
      'spend_rollup_developer_day_v1',
      'spend_rollup_hours_v1',
      'spend_rollup_team_v1',
      'spend_rollup_v1',
      'usage_events_v1',
    ]);
    await store.close();
  });

  it('keeps databases apart in one data directory', async () => {
    const a = await createChdbStore({ dataDir, database: freshDatabase(), log });
    const b = await createChdbStore({ dataDir, database: freshDatabase(), log });
    await a.migrate();
    await b.migrate();
    await a.insertUsageEvents([usageEvent({ event_id: 'only-in-a' })]);
    expect(await a.countUsageEvents()).toBe(1);
    expect(await b.countUsageEvents()).toBe(0);
    await a.close();
    await b.close();
  });

  it('finds what it stored after close and reopen', async () => {
    const database = freshDatabase();
    const first = await createChdbStore({ dataDir, database, log });
    await first.migrate();
    await first.insertUsageEvents([usageEvent({ event_id: 'persisted' })]);
    await first.insertAnomalies([anomaly({ id: 'persisted' })]);
    await first.close();
    const second = await createChdbStore({ dataDir, database, log });
    await second.migrate();
    expect(await second.countUsageEvents()).toBe(1);
    expect((await second.getAnomaly('persisted'))?.id).toBe('persisted');
    await second.close();
  });

  it('dedupes a retried batch at insert time, before any merge', async () => {
    const database = freshDatabase();
    const store = await createChdbStore({ dataDir, database, log });
    await store.migrate();
    const batch = Array.from({ length: 100 }, (_, i) => usageEvent({ event_id: `r-${i}` }));
    await store.insertUsageEvents(batch);
    await store.insertUsageEvents(batch);
    // Without FINAL: the token dropped the second block, so raw and rollup rows are not doubled.
    const raw = await rawQuery<{ n: number }>(`SELECT count() AS n FROM ${database}.usage_events_v1`);
    const rollup = await rawQuery<{ n: number }>(`SELECT count() AS n FROM ${database}.spend_hourly_v1`);
    expect(Number(raw[0]?.n)).toBe(100);
    expect(Number(rollup[0]?.n)).toBe(100);
    await store.close();
  });

  it('reports a broken migration as a non-retriable STORE_QUERY_FAILED naming the statement', async () => {
    const dir = join(dataDir, 'bad-migrations');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, '0001_broken.sql'), 'CREATE TABLE IF NOT EXISTS broken_v1 (x NoSuchType) ENGINE = Memory;');
    const store = await createChdbStore({ dataDir, database: freshDatabase(), log, migrationsDir: dir });
    await expect(store.migrate()).rejects.toMatchObject({
      name: 'BurnrateError',
      code: 'STORE_QUERY_FAILED',
      retriable: false,
      message: expect.stringContaining('CREATE TABLE IF NOT EXISTS broken_v1'),
    });
    await store.close();
  });

  it('refuses calls after close, and close waits for an insert in flight', async () => {
    const store = await createChdbStore({ dataDir, database: freshDatabase(), log });
    await store.migrate();
    const pending = store.insertUsageEvents([usageEvent({ event_id: 'in-flight' })]);
    await store.close();
    await expect(pending).resolves.toBeUndefined();
    await expect(store.countUsageEvents()).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
  });

  it('serves concurrent inserts and reads on one session', async () => {
    const store = await createChdbStore({ dataDir, database: freshDatabase(), log });
    await store.migrate();
    await Promise.all(
      Array.from({ length: 20 }, (_, b) =>
        Promise.all([
          store.insertUsageEvents(Array.from({ length: 50 }, (_, i) => usageEvent({ event_id: `c${b}-${i}` }))),
          store.countUsageEvents(),
          store.listAnomalies(),
        ]),
      ),
    );
    expect(await store.countUsageEvents()).toBe(1000);
    await store.close();
  });

  describe('detector snapshots in parts', () => {
    const readParts = async (store: Store, key: string): Promise<{ offset: string; parts: string[] } | undefined> => {
      const found = await store.loadSnapshot(key);
      if (found === undefined) return undefined;
      const parts: string[] = [];
      for await (const part of found.parts()) parts.push(part);
      return { offset: found.offset, parts };
    };
    const partsOf = (seed: string, count: number): string[] => Array.from({ length: count }, (_, i) => `["${seed}",${i}]`);

    it('reads a snapshot saved before parts (0007) as one part, until a save in parts supersedes it', async () => {
      const database = freshDatabase();
      const store = await createChdbStore({ dataDir, database, log });
      await store.migrate();
      const key = 'detector:usage.events.v1:0';
      await rawExec(
        `INSERT INTO ${database}.detector_snapshots_v1 (snapshot_key, source_offset, state, saved_at)
         VALUES ('${key}', '41', '{"format":2,"engine":{"format":1}}', '2026-03-02 10:00:00.000')`,
      );
      expect(await readParts(store, key)).toEqual({ offset: '41', parts: ['{"format":2,"engine":{"format":1}}'] });
      await store.saveSnapshot({ key, offset: '42', parts: partsOf('new', 3), saved_at: '2026-03-02T09:00:00.000Z' });
      // The first save in parts wins even with an earlier clock: the old table is only read for keys never saved in parts.
      expect(await readParts(store, key)).toEqual({ offset: '42', parts: partsOf('new', 3) });
      await store.close();
    });

    it('keeps the previous snapshot when a save dies before its manifest, and refuses a part another writer replaced', async () => {
      const database = freshDatabase();
      const store = await createChdbStore({ dataDir, database, log });
      await store.migrate();
      const key = 'detector:usage.events.v1:1';
      await store.saveSnapshot({ key, offset: '100', parts: partsOf('kept', 3), saved_at: '2026-03-02T10:00:00.000Z' });
      const [manifest] = await rawQuery<{ slot: number; generation: number }>(
        `SELECT slot, generation FROM ${database}.detector_snapshot_manifests_v1 WHERE snapshot_key = '${key}'`,
      );
      expect(manifest?.slot).toBe(0);
      // What a save killed after its parts leaves: parts of a newer generation in the other slot, no manifest.
      await rawExec(
        `INSERT INTO ${database}.detector_snapshot_parts_v1 (snapshot_key, slot, part, generation, body)
         VALUES ('${key}', 1, 0, 9999999999999999, 'lost'), ('${key}', 1, 1, 9999999999999999, 'lost')`,
      );
      expect(await readParts(store, key)).toEqual({ offset: '100', parts: partsOf('kept', 3) });
      // A writer that replaced part 2 of the slot in use with a newer generation: detected, never mixed in.
      await rawExec(
        `INSERT INTO ${database}.detector_snapshot_parts_v1 (snapshot_key, slot, part, generation, body)
         VALUES ('${key}', 0, 2, 9999999999999999, '["other"]')`,
      );
      await rawExec(`OPTIMIZE TABLE ${database}.detector_snapshot_parts_v1 FINAL`);
      await expect(readParts(store, key)).rejects.toMatchObject({
        code: 'SNAPSHOT_UNREADABLE',
        message: expect.stringContaining('part 2 of 3 is missing') as unknown,
      });
      await store.close();
    });

    it('leaves one generation per slot after merges, and blanks what a smaller snapshot does not overwrite', async () => {
      const database = freshDatabase();
      const store = await createChdbStore({ dataDir, database, log });
      await store.migrate();
      const key = 'detector:usage.rollups.v1:0';
      const counts = [6, 5, 2, 1];
      for (const [n, count] of counts.entries()) {
        await store.saveSnapshot({ key, offset: String(n), parts: partsOf(`gen${n}`, count), saved_at: `2026-03-02T10:00:0${n}.000Z` });
      }
      expect(await readParts(store, key)).toEqual({ offset: '3', parts: partsOf('gen3', 1) });
      await rawExec(`OPTIMIZE TABLE ${database}.detector_snapshot_parts_v1 FINAL`);
      const rows = await rawQuery<{ slot: number; with_data: number; rows: number }>(
        `SELECT slot, countIf(body != '') AS with_data, count() AS rows FROM ${database}.detector_snapshot_parts_v1
          WHERE snapshot_key = '${key}' GROUP BY slot ORDER BY slot`,
      );
      // Slot 0 holds the save of 2 parts (the 6 before it blanked beyond 2), slot 1 the last save's 1 part.
      expect(rows.map((r) => [r.slot, Number(r.with_data), Number(r.rows)])).toEqual([
        [0, 2, 6],
        [1, 1, 5],
      ]);
      await store.close();
    });
  });

  it('rejects a database name that is not an identifier', async () => {
    await expect(createChdbStore({ dataDir, database: 'x; DROP', log })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});
