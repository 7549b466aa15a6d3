import { BurnrateError, type Logger } from '@burnrate/core';
import { ClickHouseError, createClient, type ClickHouseClient, type ClickHouseClientConfigOptions } from '@clickhouse/client';
import { describeStatement, storeErrorFromCode } from './clickhouse-errors.ts';
import type { JsonRowsBatch, QueryParams, SqlExecutor } from './executor.ts';
import { defaultMigrationsDir } from './migrations.ts';
import type { Store } from './port.ts';
import { createSqlStore } from './sql-store.ts';

export interface ClickHouseStoreOptions {
  /** e.g. http://127.0.0.1:8123 */
  url: string;
  /** Created if missing. Defaults to `default`. */
  database?: string;
  username?: string;
  password?: string;
  log: Logger;
  /** Defaults to infra/clickhouse in this repository. */
  migrationsDir?: string;
  /** Per-request timeout; a slower request fails as STORE_UNAVAILABLE and may be retried. */
  requestTimeoutMs?: number;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

// Settings sent with every request, so results do not depend on the server's user profile.
const CLICKHOUSE_SETTINGS = {
  // FINAL must be applied before any filter on a non-key column.
  optimize_move_to_prewhere_if_final: 0,
} as const;

/**
 * The server's exception code, if the error is one. Matched by shape as well as class because a
 * second copy of the client's common package (chdb/connection brings one) has its own class.
 */
function serverExceptionCode(err: unknown): number | undefined {
  if (err instanceof ClickHouseError) return Number(err.code);
  const e = err as { name?: unknown; code?: unknown; type?: unknown } | null;
  if (err instanceof Error && typeof e?.code === 'string' && /^\d+$/.test(e.code) && typeof e.type === 'string') return Number(e.code);
  return undefined;
}

function translate(err: unknown, what: string): BurnrateError {
  if (err instanceof BurnrateError) return err;
  const code = serverExceptionCode(err);
  if (code !== undefined) return storeErrorFromCode(code, `ClickHouse ${what}`, err);
  // Anything without a server exception code is the transport: refused, reset, timed out.
  const message = err instanceof Error ? err.message : String(err);
  return new BurnrateError('STORE_UNAVAILABLE', `ClickHouse ${what}: ${message}`, { cause: err });
}

/** The distributed store: a ClickHouse server over HTTP. */
export async function createClickHouseStore(options: ClickHouseStoreOptions): Promise<Store> {
  const database = options.database ?? 'default';
  if (!IDENTIFIER.test(database))
    throw new BurnrateError('CONFIG_INVALID', `ClickHouse database name ${JSON.stringify(database)} is not a plain identifier`);
  const base: ClickHouseClientConfigOptions = {
    url: options.url,
    application: 'burnrate',
    clickhouse_settings: CLICKHOUSE_SETTINGS,
    ...(options.username === undefined ? {} : { username: options.username }),
    ...(options.password === undefined ? {} : { password: options.password }),
    ...(options.requestTimeoutMs === undefined ? {} : { request_timeout: options.requestTimeoutMs }),
  };
  if (database !== 'default') {
    // The database must exist before a client can name it on every request.
    const bootstrap = createClient(base);
    try {
      await bootstrap.command({ query: `CREATE DATABASE IF NOT EXISTS \`${database}\`` });
    } catch (err) {
      throw translate(err, `create database ${database}`);
    } finally {
      await bootstrap.close();
    }
  }
  const client = createClient({ ...base, database });
  return createClickHouseStoreFromClient(client, { log: options.log, migrationsDir: options.migrationsDir });
}

/**
 * The server store over a client the caller built. Tests use it to run the server adapter's code
 * against chdb through `chdb/connection` when no server is available.
 */
export function createClickHouseStoreFromClient(
  client: ClickHouseClient,
  options: { log: Logger; migrationsDir?: string | undefined },
): Store {
  const log = options.log.child({ component: 'store', adapter: 'clickhouse' });
  return createSqlStore(createClickHouseExecutor(client), { migrationsDir: options.migrationsDir ?? defaultMigrationsDir(), log });
}

function createClickHouseExecutor(client: ClickHouseClient): SqlExecutor {
  return {
    async exec(sql: string, params?: QueryParams): Promise<void> {
      try {
        await client.command({ query: sql, ...(params === undefined ? {} : { query_params: params }) });
      } catch (err) {
        throw translate(err, describeStatement(sql));
      }
    },
    async query<T>(sql: string, params?: QueryParams): Promise<T[]> {
      try {
        const result = await client.query({ query: sql, format: 'JSONEachRow', ...(params === undefined ? {} : { query_params: params }) });
        return await result.json<T>();
      } catch (err) {
        throw translate(err, describeStatement(sql));
      }
    },
    async insertJSONEachRow(table: string, batch: JsonRowsBatch): Promise<void> {
      try {
        await client.insert({
          table,
          values: batch.rows,
          format: 'JSONEachRow',
          clickhouse_settings: {
            insert_deduplication_token: batch.dedupToken,
            deduplicate_blocks_in_dependent_materialized_views: 1,
          },
        });
      } catch (err) {
        throw translate(err, `insert into ${table}`);
      }
    },
    async close(): Promise<void> {
      await client.close();
    },
  };
}
