import { DlqIssue, type DlqRecord } from '@burnrate/schemas';
import { fromDateTime64, insertRows, toDateTime64, where, type QueryParams, type SqlExecutor } from '../executor.ts';
import type { DlqListQuery } from '../port.ts';

/** dlq_v1 (infra/clickhouse/0003_dlq.sql): rejected input, verbatim, one row per dlq_id. */
export const DLQ_TABLE = 'dlq_v1';

export interface DlqRow {
  dlq_id: string;
  source: string;
  received_at: string;
  record_index: number | null;
  reason: string;
  /** JSON text of DlqIssue[]. */
  issues: string;
  raw: string;
}

const COLUMNS = 'dlq_id, source, received_at, record_index, reason, issues, raw';
const DEFAULT_LIMIT = 100;

/**
 * The record with every text valid Unicode. ClickHouse refuses a lone high UTF-16 surrogate
 * (Code 25, CANNOT_PARSE_ESCAPE_SEQUENCE) and stores a lone low one as invalid UTF-8; the DLQ is
 * where such input ends up, so it must take whatever it is given, or dead-lettering a bad record
 * would itself block the partition it came from. Each lone surrogate becomes U+FFFD, and an
 * issue with path `(dlq)` says which fields were repaired. A well-formed record is returned as is.
 */
export function storableDlqRecord(r: DlqRecord): DlqRecord {
  const repaired: string[] = [];
  const text = (field: string, value: string): string => {
    if (value.isWellFormed()) return value;
    repaired.push(field);
    return value.toWellFormed();
  };
  const record: DlqRecord = {
    ...r,
    dlq_id: text('dlq_id', r.dlq_id),
    source: text('source', r.source),
    reason: text('reason', r.reason),
    issues: r.issues.map((issue, i) => ({
      path: text(`issues[${i}].path`, issue.path),
      message: text(`issues[${i}].message`, issue.message),
    })),
    raw: text('raw', r.raw),
  };
  if (repaired.length === 0) return r;
  record.issues.push({
    path: '(dlq)',
    message: `repaired to be storable: lone UTF-16 surrogates in ${repaired.join(', ')} replaced with U+FFFD`,
  });
  return record;
}

export function dlqToRow(record: DlqRecord): DlqRow {
  const r = storableDlqRecord(record);
  return {
    dlq_id: r.dlq_id,
    source: r.source,
    received_at: toDateTime64(r.received_at),
    record_index: r.index ?? null,
    reason: r.reason,
    issues: JSON.stringify(r.issues),
    raw: r.raw,
  };
}

export function dlqFromRow(r: DlqRow): DlqRecord {
  const record: DlqRecord = {
    dlq_id: r.dlq_id,
    source: r.source,
    received_at: fromDateTime64(r.received_at),
    reason: r.reason,
    issues: DlqIssue.array().parse(JSON.parse(r.issues)),
    raw: r.raw,
  };
  if (r.record_index !== null) record.index = r.record_index;
  return record;
}

export async function insertDlq(exec: SqlExecutor, records: readonly DlqRecord[]): Promise<void> {
  if (records.length === 0) return;
  await insertRows(exec, DLQ_TABLE, records.map(dlqToRow));
}

export async function listDlq(exec: SqlExecutor, filter: DlqListQuery = {}): Promise<DlqRecord[]> {
  const conditions: string[] = [];
  const params: QueryParams = { limit: filter.limit ?? DEFAULT_LIMIT };
  if (filter.source !== undefined) {
    conditions.push('source = {source:String}');
    params.source = filter.source;
  }
  if (filter.ids !== undefined) {
    conditions.push('dlq_id IN {ids:Array(String)}');
    params.ids = filter.ids;
  }
  if (filter.reason !== undefined) {
    conditions.push('positionCaseInsensitiveUTF8(reason, {reason:String}) > 0');
    params.reason = filter.reason;
  }
  if (filter.since !== undefined) {
    conditions.push("received_at >= {since:DateTime64(3, 'UTC')}");
    params.since = toDateTime64(filter.since);
  }
  if (filter.after !== undefined) {
    // Newest first, ties by id: the next page is older, or as old with a greater id.
    conditions.push(
      "(received_at < {after_at:DateTime64(3, 'UTC')} OR (received_at = {after_at:DateTime64(3, 'UTC')} AND dlq_id > {after_id:String}))",
    );
    params.after_at = toDateTime64(filter.after.received_at);
    params.after_id = filter.after.dlq_id;
  }
  const rows = await exec.query<DlqRow>(
    `SELECT ${COLUMNS} FROM ${DLQ_TABLE} FINAL ${where(conditions)} ORDER BY received_at DESC, dlq_id LIMIT {limit:UInt32}`,
    params,
  );
  return rows.map(dlqFromRow);
}
