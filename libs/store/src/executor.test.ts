import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fromDateTime64, insertRows, toDateTime64, type JsonRowsBatch, type SqlExecutor } from './executor.ts';

describe('instants', () => {
  it('converts between ISO and DateTime64 text in UTC', () => {
    expect(toDateTime64('2026-03-02T10:15:00.123Z')).toBe('2026-03-02 10:15:00.123');
    expect(toDateTime64('2026-03-02T12:15:00+02:00')).toBe('2026-03-02 10:15:00.000');
    expect(fromDateTime64('2026-03-02 10:15:00.123')).toBe('2026-03-02T10:15:00.123Z');
    expect(fromDateTime64('2026-03-02 10:00:00')).toBe('2026-03-02T10:00:00.000Z');
    expect(fromDateTime64('2026-03-02T10:15:00.123Z')).toBe('2026-03-02T10:15:00.123Z');
    expect(() => toDateTime64('yesterday')).toThrow(/not an instant/);
    // The canonical form is cut into shape only when it is a real date; anything else is Date's reading.
    expect(toDateTime64('2026-02-30T10:00:00.000Z')).toBe('2026-03-02 10:00:00.000');
    expect(toDateTime64('0001-01-01T00:00:00.000Z')).toBe('0001-01-01 00:00:00.000');
  });
});

describe('insertRows', () => {
  const recorder = (): { exec: SqlExecutor; batches: JsonRowsBatch[] } => {
    const batches: JsonRowsBatch[] = [];
    const exec: SqlExecutor = {
      exec: async () => {},
      query: async () => [],
      insertJSONEachRow: async (_table, batch) => {
        batches.push(batch);
      },
      close: async () => {},
    };
    return { exec, batches };
  };

  it('gives the same rows the same token and different rows a different one', async () => {
    const { exec, batches } = recorder();
    await insertRows(exec, 't', [{ a: 1 }, { a: 2 }]);
    await insertRows(exec, 't', [{ a: 1 }, { a: 2 }]);
    await insertRows(exec, 't', [{ a: 2 }, { a: 1 }]);
    await insertRows(exec, 'u', [{ a: 1 }, { a: 2 }]);
    expect(batches[0]?.ndjson).toBe('{"a":1}\n{"a":2}\n');
    expect(batches[1]?.dedupToken).toBe(batches[0]?.dedupToken);
    expect(new Set(batches.map((b) => b.dedupToken)).size).toBe(3);
  });

  it('splits a large call into bounded blocks', async () => {
    const { exec, batches } = recorder();
    await insertRows(
      exec,
      't',
      Array.from({ length: 120_001 }, (_, i) => ({ i })),
    );
    expect(batches.map((b) => b.rows.length)).toEqual([50_000, 50_000, 20_001]);
  });

  it('derives the token from the whole block, however it is serialised, and lets the event loop turn meanwhile', async () => {
    const { exec, batches } = recorder();
    const items = Array.from({ length: 4_500 }, (_, i) => ({ i }));
    let turned = false;
    setImmediate(() => {
      turned = true;
    });
    let turnedBeforeInsert: boolean | undefined;
    const watched: SqlExecutor = {
      ...exec,
      insertJSONEachRow: async (table, batch) => {
        turnedBeforeInsert = turned;
        await exec.insertJSONEachRow(table, batch);
      },
    };
    await insertRows(watched, 't', items, ({ i }) => ({ i: i * 2 }));
    const ndjson = items.map(({ i }) => `{"i":${i * 2}}\n`).join('');
    expect(batches[0]?.ndjson).toBe(ndjson);
    expect(batches[0]?.dedupToken).toBe(createHash('sha256').update(`t\n${ndjson}`).digest('hex'));
    expect(turnedBeforeInsert).toBe(true);
  });
});
