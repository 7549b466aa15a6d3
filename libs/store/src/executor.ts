import { createHash } from 'node:crypto';
import { instantMs } from '@burnrate/schemas';

/** Values bound to `{name:Type}` placeholders; never spliced into SQL text. */
export type QueryParams = Record<string, string | number | boolean | readonly string[] | readonly number[]>;

/**
 * What the table modules need from a ClickHouse connection. chdb and the server client each
 * implement it, so every statement is written once and runs on both. Implementations translate
 * vendor errors into BurnrateError before they leave.
 */
export interface SqlExecutor {
  /** A statement with no result (DDL, INSERT ... SELECT). */
  exec(sql: string, params?: QueryParams): Promise<void>;
  /** A SELECT whose rows come back as JSONEachRow objects. */
  query<T>(sql: string, params?: QueryParams): Promise<T[]>;
  /** Inserts one block of rows in JSONEachRow format with its deduplication token. */
  insertJSONEachRow(table: string, batch: JsonRowsBatch): Promise<void>;
  close(): Promise<void>;
}

/**
 * One block of rows, serialised once: chdb takes the NDJSON bytes, the server client takes the
 * objects. The token lets the engine drop a block it has already written, so a batch retried
 * after a timeout does not land twice (ReplacingMergeTree collapses whatever still gets through).
 */
export interface JsonRowsBatch {
  rows: readonly object[];
  ndjson: string;
  dedupToken: string;
}

// DESIGN: inserts are batched up to ~50k rows; a larger call is split so one block stays bounded.
const MAX_ROWS_PER_INSERT = 50_000;

// Rows serialised between two turns of the event loop: a block of 50k rows is ~300 ms of work,
// which would otherwise hold every request of an embedded process that long.
const ROWS_PER_TURN = 1_000;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Serialises rows (each through `toRow`) and inserts them in bounded blocks, each with a token
 * derived from its content: the same rows retried give the same token, different rows never
 * share one. Serialising yields to the event loop every ROWS_PER_TURN rows.
 */
export async function insertRows<T extends object>(
  exec: SqlExecutor,
  table: string,
  items: readonly T[],
  toRow: (item: T) => object = (item) => item,
): Promise<void> {
  for (let start = 0; start < items.length; start += MAX_ROWS_PER_INSERT) {
    const end = Math.min(items.length, start + MAX_ROWS_PER_INSERT);
    const rows: object[] = [];
    let ndjson = '';
    const digest = createHash('sha256').update(table).update('\n');
    for (let i = start; i < end;) {
      if (i > start) await nextTurn();
      let piece = '';
      for (const stop = Math.min(end, i + ROWS_PER_TURN); i < stop; i++) {
        const row = toRow(items[i] as T);
        rows.push(row);
        piece += JSON.stringify(row) + '\n';
      }
      digest.update(piece);
      ndjson += piece;
    }
    await exec.insertJSONEachRow(table, { rows, ndjson, dedupToken: digest.digest('hex') });
  }
}

/** An ISO instant as ClickHouse's DateTime64(3, 'UTC') text; the column's zone makes it UTC. */
export function toDateTime64(iso: string): string {
  // The canonical form (what toISOString writes, and what every stored instant is by then) is
  // cut into shape; anything else is read as a date first.
  if (iso.length === 24 && iso.charCodeAt(19) === 46 /* . */ && iso.charCodeAt(23) === 90 /* Z */ && !Number.isNaN(instantMs(iso)))
    return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) throw new RangeError(`not an instant: ${JSON.stringify(iso)}`);
  return d.toISOString().replace('T', ' ').replace('Z', '');
}

/** DateTime text from ClickHouse (`2026-01-01 10:00:00.123`, or ISO if a profile says so) as `...Z`. */
export function fromDateTime64(text: string): string {
  const d = new Date(text.includes('T') ? text : `${text.replace(' ', 'T')}Z`);
  if (Number.isNaN(d.getTime())) throw new RangeError(`ClickHouse returned an unreadable instant: ${JSON.stringify(text)}`);
  return d.toISOString();
}

/** 64-bit integers arrive quoted from a server (output_format_json_quote_64bit_integers) and bare from chdb. */
export function toNumber(value: number | string): number {
  return typeof value === 'number' ? value : Number(value);
}

/** Builds `WHERE a AND b` from fixed SQL fragments; values stay in params. */
export function where(conditions: readonly string[]): string {
  return conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
}
