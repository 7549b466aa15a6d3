import { describe, expect, it } from 'vitest';
import { BurnrateError } from '@burnrate/core';
import { insertIsolatingRefused } from './refused-rows.ts';

/** An insert that refuses a whole call when it holds a bad row, as ClickHouse refuses a block. */
function table(bad: ReadonlySet<number>, outage: { failNext: number } = { failNext: 0 }) {
  const stored = new Set<number>();
  const calls: number[][] = [];
  const insert = async (rows: readonly number[]): Promise<void> => {
    calls.push([...rows]);
    if (outage.failNext > 0) {
      outage.failNext -= 1;
      throw new BurnrateError('STORE_UNAVAILABLE', 'connection refused');
    }
    const refused = rows.find((r) => bad.has(r));
    if (refused !== undefined) throw new BurnrateError('STORE_QUERY_FAILED', `cannot parse row ${refused}`);
    for (const r of rows) stored.add(r);
  };
  return { insert, stored, calls };
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe('insertIsolatingRefused', () => {
  it('inserts a clean block in one call', async () => {
    const { insert, stored, calls } = table(new Set());
    const result = await insertIsolatingRefused(range(1000), insert);
    expect(result).toEqual({ refused: [], inserts: 1 });
    expect(stored.size).toBe(1000);
    expect(calls).toHaveLength(1);
  });

  it('finds one bad row among 1000 in O(log n) inserts and stores the other 999', async () => {
    const { insert, stored } = table(new Set([637]));
    const result = await insertIsolatingRefused(range(1000), insert);
    expect(result.refused.map((r) => [r.row, r.index])).toEqual([[637, 637]]);
    expect(result.refused[0]?.error).toMatchObject({ code: 'STORE_QUERY_FAILED', message: 'cannot parse row 637' });
    expect(stored.size).toBe(999);
    expect(stored.has(637)).toBe(false);
    // The whole block, then two halves per level down to the row: 1 + 2 * ceil(log2 1000).
    expect(result.inserts).toBeLessThanOrEqual(1 + 2 * Math.ceil(Math.log2(1000)));
  });

  it('finds several bad rows, in input order, within 1 + 2·k·log2(n) inserts', async () => {
    const bad = [3, 4, 500, 998, 999];
    const { insert, stored } = table(new Set(bad));
    const result = await insertIsolatingRefused(range(1000), insert);
    expect(result.refused.map((r) => r.row)).toEqual(bad);
    expect(stored.size).toBe(995);
    expect(result.inserts).toBeLessThanOrEqual(1 + 2 * bad.length * Math.ceil(Math.log2(1000)));
  });

  it('refuses every row when every row is bad, trying each one alone', async () => {
    const { insert, stored } = table(new Set(range(64)));
    const result = await insertIsolatingRefused(range(64), insert);
    expect(result.refused.map((r) => r.row)).toEqual(range(64));
    expect(stored.size).toBe(0);
    expect(result.inserts).toBe(2 * 64 - 1);
  });

  it('rejects on a retriable error, even halfway down, and the same call later stores every good row once', async () => {
    const outage = { failNext: 0 };
    const { insert, stored, calls } = table(new Set([10]), outage);
    // The whole block is refused for the bad row, then the store goes down on the first half.
    const first = insertIsolatingRefused(range(16), async (rows) => {
      if (calls.length === 1) outage.failNext = 1;
      await insert(rows);
    });
    await expect(first).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', retriable: true });
    const again = await insertIsolatingRefused(range(16), insert);
    expect(again.refused.map((r) => r.row)).toEqual([10]);
    expect([...stored].sort((a, b) => a - b)).toEqual(range(16).filter((r) => r !== 10));
  });

  it('treats an error without a retry decision (a bug in a row mapper) as a refusal of that row', async () => {
    const result = await insertIsolatingRefused([1, 2, 3], async (rows) => {
      if (rows.includes(2)) throw new RangeError('not an instant: "May 32"');
    });
    expect(result.refused).toEqual([{ row: 2, index: 1, error: new RangeError('not an instant: "May 32"') }]);
  });

  it('makes no call for no rows', async () => {
    const { insert, calls } = table(new Set());
    expect(await insertIsolatingRefused([], insert)).toEqual({ refused: [], inserts: 0 });
    expect(calls).toEqual([]);
  });
});
