import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '@burnrate/core';
import type { SqlExecutor } from './executor.ts';
import { createSchemaMigrationsTable, listAppliedMigrations, recordMigration } from './tables/schema-migrations.ts';

/** infra/clickhouse in this repository: the one folder of migrations both adapters and tests use. */
export function defaultMigrationsDir(): string {
  return fileURLToPath(new URL('../../../infra/clickhouse/', import.meta.url));
}

export interface Migration {
  version: number;
  name: string;
  checksum: string;
  statements: string[];
}

const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export async function loadMigrations(dir: string): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = FILE_NAME.exec(file);
    if (!match) throw new Error(`migration file ${file} in ${dir} should be named like 0001_usage_events.sql`);
    const text = await readFile(join(dir, file), 'utf8');
    const version = Number(match[1]);
    if (migrations.some((m) => m.version === version)) throw new Error(`two migrations in ${dir} share version ${match[1]}`);
    migrations.push({
      version,
      name: match[2] ?? file,
      checksum: createHash('sha256').update(text).digest('hex'),
      statements: splitStatements(text),
    });
  }
  return migrations;
}

/**
 * Splits a SQL script on `;` outside string literals, quoted identifiers and comments, and drops
 * what is only comments or whitespace. Neither engine accepts several statements in one call.
 */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let current = '';
  let hasCode = false;
  let i = 0;
  const flush = (): void => {
    if (hasCode) statements.push(current.trim());
    current = '';
    hasCode = false;
  };
  while (i < sql.length) {
    const ch = sql[i] as string;
    const next = sql[i + 1];
    if (ch === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end;
      continue;
    }
    if (ch === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      if (end === -1) throw new Error('unterminated /* comment in migration');
      i = end + 2;
      current += ' ';
      continue;
    }
    if (ch === "'" || ch === '"' || ch === '`') {
      let j = i + 1;
      while (j < sql.length) {
        const c = sql[j];
        if (c === '\\') j += 2;
        else if (c === ch && sql[j + 1] === ch) j += 2;
        else if (c === ch) break;
        else j += 1;
      }
      if (j >= sql.length) throw new Error(`unterminated ${ch} quote in migration`);
      current += sql.slice(i, j + 1);
      hasCode = true;
      i = j + 1;
      continue;
    }
    if (ch === ';') {
      flush();
      i += 1;
      continue;
    }
    current += ch;
    if (!/\s/.test(ch)) hasCode = true;
    i += 1;
  }
  flush();
  return statements;
}

/**
 * Applies migrations not yet recorded in schema_migrations, in version order. Every statement is
 * `IF NOT EXISTS`, so a run cut short (or two processes racing at start) is finished by the next.
 */
export async function runMigrations(exec: SqlExecutor, dir: string, log: Logger, now: () => Date = () => new Date()): Promise<number[]> {
  const migrations = await loadMigrations(dir);
  await createSchemaMigrationsTable(exec);
  const applied = new Map((await listAppliedMigrations(exec)).map((m) => [m.version, m]));
  const ran: number[] = [];
  for (const migration of migrations) {
    const done = applied.get(migration.version);
    if (done) {
      if (done.checksum !== migration.checksum) {
        log.warn(
          { version: migration.version, name: migration.name },
          'applied migration file has changed since; add a new migration instead',
        );
      }
      continue;
    }
    for (const statement of migration.statements) await exec.exec(statement);
    await recordMigration(exec, {
      version: migration.version,
      name: migration.name,
      checksum: migration.checksum,
      applied_at: now().toISOString(),
    });
    log.info({ version: migration.version, name: migration.name }, 'migration applied');
    ran.push(migration.version);
  }
  return ran;
}
