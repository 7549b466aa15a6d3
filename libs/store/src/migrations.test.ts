import { describe, expect, it } from 'vitest';
import { defaultMigrationsDir, loadMigrations, splitStatements } from './migrations.ts';

describe('splitStatements', () => {
  it('splits on semicolons outside strings, identifiers and comments', () => {
    const sql = `
      -- a comment; with a semicolon
      CREATE TABLE a (x String DEFAULT 'a;b', \`c;d\` UInt8) ENGINE = Memory;
      /* block; comment */
      SELECT 'it''s; fine', "q;x", 'back\\'slash;' ;
      -- trailing comment only
    `;
    expect(splitStatements(sql)).toEqual([
      "CREATE TABLE a (x String DEFAULT 'a;b', `c;d` UInt8) ENGINE = Memory",
      `SELECT 'it''s; fine', "q;x", 'back\\'slash;'`,
    ]);
  });

  it('keeps a comment inside a statement from ending it', () => {
    expect(splitStatements('CREATE TABLE t (x UInt8)\n-- why; because\nENGINE = Memory')).toEqual([
      'CREATE TABLE t (x UInt8)\n\nENGINE = Memory',
    ]);
  });

  it('rejects an unterminated string rather than guessing', () => {
    expect(() => splitStatements("SELECT 'oops")).toThrow(/unterminated ' quote/);
  });
});

describe('loadMigrations', () => {
  it('reads infra/clickhouse in version order, one CREATE, ADD COLUMN, view drop or backfill per statement, all idempotent', async () => {
    const migrations = await loadMigrations(defaultMigrationsDir());
    expect(migrations.map((m) => m.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    expect(migrations[0]?.name).toBe('usage_events');
    const statements = migrations.flatMap((m) => m.statements);
    expect(statements).toHaveLength(30);
    for (const s of statements) {
      // A backfill is idempotent too: it writes rows a ReplacingMergeTree collapses if it runs again.
      expect(s).toMatch(
        /^(CREATE (TABLE|MATERIALIZED VIEW) IF NOT EXISTS \w+_v\d+\b|ALTER TABLE \w+_v1\s+ADD COLUMN IF NOT EXISTS \w+ |DROP VIEW IF EXISTS \w+_v1$|INSERT INTO \w+_v1\b)/,
      );
    }
  });
});
