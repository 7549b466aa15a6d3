import { isRetriable } from '@burnrate/core';

/** A row the store refused on its own, with the store's error for it. */
export interface RefusedRow<T> {
  row: T;
  /** Position in the rows passed in. */
  index: number;
  error: unknown;
}

export interface IsolatedInsert<T> {
  /** Rows the store refused, in input order; every other row is stored. */
  refused: RefusedRow<T>[];
  /** Insert calls made, the first included (1 when nothing was refused). */
  inserts: number;
}

/**
 * Inserts `rows`; when the store refuses the block for good (a non-retriable error: it refused
 * the data), halves it and tries each half, down to single rows, so the rows it refuses are
 * found and everything else is stored. k bad rows among n cost about 2·k·log2(n) inserts;
 * a clean block costs one.
 *
 * A retriable error (the store is down, full, busy) rejects the whole call at once: the caller
 * retries the same rows later, and whatever halves already landed are dropped by their
 * content-derived dedup token or collapse on the table's key. The halves are a pure function of
 * the rows, so a retry after a crash splits the same way.
 */
export async function insertIsolatingRefused<T>(
  rows: readonly T[],
  insert: (rows: readonly T[]) => Promise<void>,
): Promise<IsolatedInsert<T>> {
  const refused: RefusedRow<T>[] = [];
  let inserts = 0;
  const attempt = async (start: number, end: number): Promise<void> => {
    inserts += 1;
    try {
      await insert(start === 0 && end === rows.length ? rows : rows.slice(start, end));
      return;
    } catch (err) {
      if (isRetriable(err)) throw err;
      if (end - start === 1) {
        refused.push({ row: rows[start] as T, index: start, error: err });
        return;
      }
    }
    const middle = start + Math.ceil((end - start) / 2);
    await attempt(start, middle);
    await attempt(middle, end);
  };
  if (rows.length > 0) await attempt(0, rows.length);
  return { refused, inserts };
}
