import { DlqIssue, type DlqRecord } from '@burnrate/schemas';
import { fromDateTime64, insertRows, toDateTime64, where, type QueryParams, type SqlExecutor } from '../executor.ts';

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

export function dlqToRow(r: DlqRecord): DlqRow {
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

export async function listDlq(exec: SqlExecutor, filter: { source?: string; limit?: number } = {}): Promise<DlqRecord[]> {
  const conditions: string[] = [];
  const params: QueryParams = { limit: filter.limit ?? DEFAULT_LIMIT };
  if (filter.source !== undefined) {
    conditions.push('source = {source:String}');
    params.source = filter.source;
  }
  const rows = await exec.query<DlqRow>(
    `SELECT ${COLUMNS} FROM ${DLQ_TABLE} FINAL ${where(conditions)} ORDER BY received_at DESC, dlq_id LIMIT {limit:UInt32}`,
    params,
  );
  return rows.map(dlqFromRow);
}
