import { fromDateTime64, insertRows, toDateTime64, toNumber, type SqlExecutor } from '../executor.ts';

/**
 * schema_migrations: which infra/clickhouse migrations have run. It is the runner's own table,
 * so the runner creates it rather than a numbered migration.
 */
export const SCHEMA_MIGRATIONS_TABLE = 'schema_migrations';

export interface AppliedMigration {
  version: number;
  name: string;
  /** sha256 of the file as applied; a later edit of an applied file is reported, not re-run. */
  checksum: string;
  applied_at: string;
}

interface SchemaMigrationRow {
  version: number | string;
  name: string;
  checksum: string;
  applied_at: string;
}

export async function createSchemaMigrationsTable(exec: SqlExecutor): Promise<void> {
  await exec.exec(
    `CREATE TABLE IF NOT EXISTS ${SCHEMA_MIGRATIONS_TABLE}
     (version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC'))
     ENGINE = ReplacingMergeTree ORDER BY version`,
  );
}

export async function listAppliedMigrations(exec: SqlExecutor): Promise<AppliedMigration[]> {
  const rows = await exec.query<SchemaMigrationRow>(
    `SELECT version, name, checksum, applied_at FROM ${SCHEMA_MIGRATIONS_TABLE} FINAL ORDER BY version`,
  );
  return rows.map((r) => ({ version: toNumber(r.version), name: r.name, checksum: r.checksum, applied_at: fromDateTime64(r.applied_at) }));
}

export async function recordMigration(exec: SqlExecutor, m: AppliedMigration): Promise<void> {
  await insertRows(exec, SCHEMA_MIGRATIONS_TABLE, [
    { version: m.version, name: m.name, checksum: m.checksum, applied_at: toDateTime64(m.applied_at) },
  ]);
}
