import { BurnrateError, type Logger } from '@burnrate/core';
import { drainPending, Session } from 'chdb';
import { describeStatement, storeErrorFromCode } from './clickhouse-errors.ts';
import type { JsonRowsBatch, QueryParams, SqlExecutor } from './executor.ts';
import { defaultMigrationsDir } from './migrations.ts';
import type { Store } from './port.ts';
import { createSqlStore } from './sql-store.ts';

export interface ChdbStoreOptions {
  /** The engine's data directory. libchdb binds one directory per process. */
  dataDir: string;
  /** Created if missing; lets tests share one directory. Defaults to `default`. */
  database?: string;
  log: Logger;
  /** Defaults to infra/clickhouse in this repository. */
  migrationsDir?: string;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

// chdb's error classes are not exported from its ESM entry; its stable `code` tells them apart.
const UNAVAILABLE_CHDB_CODES = new Set(['CHDB_CONNECTION', 'CHDB_CLOSED', 'CHDB_TIMEOUT', 'CHDB_ABORT', 'CHDB_INTERNAL']);

function translate(err: unknown, what: string): BurnrateError {
  if (err instanceof BurnrateError) return err;
  const e = err as { code?: unknown; clickhouseCode?: unknown; message?: unknown };
  if (typeof e.code === 'string' && UNAVAILABLE_CHDB_CODES.has(e.code)) {
    return new BurnrateError('STORE_UNAVAILABLE', `chdb ${what}: ${String(e.message)}`, { cause: err });
  }
  if (typeof e.clickhouseCode === 'number') return storeErrorFromCode(e.clickhouseCode, `chdb ${what}`, err);
  return new BurnrateError('STORE_QUERY_FAILED', `chdb ${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

function parseJsonEachRow<T>(text: string): T[] {
  const rows: T[] = [];
  for (const line of text.split('\n')) if (line !== '') rows.push(JSON.parse(line) as T);
  return rows;
}

/**
 * The embedded store: the ClickHouse engine inside this process, persisting to `dataDir`.
 * Only the async chdb calls are used, so queries run off the event loop. An insert resolves
 * after its part is written to the data directory, which is what survives kill -9.
 */
export async function createChdbStore(options: ChdbStoreOptions): Promise<Store> {
  const log = options.log.child({ component: 'store', adapter: 'chdb' });
  const database = options.database ?? 'default';
  if (!IDENTIFIER.test(database))
    throw new BurnrateError('CONFIG_INVALID', `chdb database name ${JSON.stringify(database)} is not a plain identifier`);

  let session: Session;
  try {
    session = new Session(options.dataDir);
  } catch (err) {
    throw translate(err, `open ${options.dataDir}`);
  }
  const exec = createChdbExecutor(session);
  try {
    // USE is per connection and this session is the store's own, so every later statement,
    // migrations included, lands in `database` without qualifying table names.
    await exec.exec(`CREATE DATABASE IF NOT EXISTS \`${database}\``);
    await exec.exec(`USE \`${database}\``);
  } catch (err) {
    await exec.close();
    throw err;
  }
  log.debug({ dataDir: options.dataDir, database }, 'chdb store opened');
  return createSqlStore(exec, { migrationsDir: options.migrationsDir ?? defaultMigrationsDir(), log });
}

function createChdbExecutor(session: Session): SqlExecutor {
  return {
    async exec(sql: string, params?: QueryParams): Promise<void> {
      try {
        if (params === undefined) await session.queryAsync(sql);
        else await session.queryBindAsync(sql, params);
      } catch (err) {
        throw translate(err, describeStatement(sql));
      }
    },
    async query<T>(sql: string, params?: QueryParams): Promise<T[]> {
      try {
        const result =
          params === undefined
            ? await session.queryAsync(sql, { format: 'JSONEachRow' })
            : await session.queryBindAsync(sql, params, { format: 'JSONEachRow' });
        return parseJsonEachRow<T>(result.text());
      } catch (err) {
        throw translate(err, describeStatement(sql));
      }
    },
    async insertJSONEachRow(table: string, batch: JsonRowsBatch): Promise<void> {
      try {
        await session.insert({
          table,
          values: Buffer.from(batch.ndjson),
          format: 'JSONEachRow',
          settings: { insert_deduplication_token: batch.dedupToken },
        });
      } catch (err) {
        throw translate(err, `insert into ${table}`);
      }
    },
    async close(): Promise<void> {
      session.close();
      // The next Session in this process (a restart in tests, another directory) needs the
      // native side idle first.
      await drainPending();
    },
  };
}
