import { fromDateTime64, insertRows, toDateTime64, toNumber, where, type QueryParams, type SqlExecutor } from '../executor.ts';
import type { OutboxEntry, OutboxQuery } from '../port.ts';

/** notification_outbox_v1 (infra/clickhouse/0011_notification_outbox.sql). */
export const OUTBOX_TABLE = 'notification_outbox_v1';

interface OutboxRow {
  anomaly_id: string;
  version: number | string;
  receiver: string;
  purpose: string;
  channel: string;
  recipients: string[];
  via: string;
  group_key: string;
  part: number | string;
  due_at: string;
  status: string;
  attempts: number | string;
  detail: string;
  updated_at: string;
}

const COLUMNS =
  'anomaly_id, version, receiver, purpose, channel, recipients, via, group_key, part, due_at, status, attempts, detail, updated_at';

const toRow = (e: OutboxEntry): OutboxRow => ({
  ...e,
  recipients: [...e.recipients],
  due_at: toDateTime64(e.due_at),
  updated_at: toDateTime64(e.updated_at),
});

const fromRow = (r: OutboxRow): OutboxEntry => ({
  anomaly_id: r.anomaly_id,
  version: toNumber(r.version),
  receiver: r.receiver,
  purpose: r.purpose as OutboxEntry['purpose'],
  channel: r.channel,
  recipients: r.recipients,
  via: r.via,
  group_key: r.group_key,
  part: toNumber(r.part),
  due_at: fromDateTime64(r.due_at),
  status: r.status as OutboxEntry['status'],
  attempts: toNumber(r.attempts),
  detail: r.detail,
  updated_at: fromDateTime64(r.updated_at),
});

export async function upsertOutbox(exec: SqlExecutor, entries: readonly OutboxEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await insertRows(exec, OUTBOX_TABLE, entries.map(toRow));
}

// Status and due_at change between versions of a row, so they are filtered outside FINAL.
export async function listOutbox(exec: SqlExecutor, query: OutboxQuery): Promise<OutboxEntry[]> {
  const params: QueryParams = { limit: query.limit ?? 10_000 };
  const inner: string[] = [];
  const outer: string[] = [];
  if (query.anomaly_id !== undefined) {
    inner.push('anomaly_id = {anomaly_id:String}');
    params.anomaly_id = query.anomaly_id;
  }
  if (query.status !== undefined) {
    outer.push('status = {status:String}');
    params.status = query.status;
  }
  if (query.due_by !== undefined) {
    outer.push("due_at <= {due_by:DateTime64(3, 'UTC')}");
    params.due_by = toDateTime64(query.due_by);
  }
  if (query.parts !== undefined) {
    outer.push('part IN {parts:Array(Int32)}');
    params.parts = [...query.parts];
  }
  const rows = await exec.query<OutboxRow>(
    `SELECT ${COLUMNS} FROM (SELECT ${COLUMNS} FROM ${OUTBOX_TABLE} FINAL ${where(inner)})
      ${where(outer)}
      ORDER BY due_at, anomaly_id, version, receiver, purpose
      LIMIT {limit:UInt32}`,
    params,
  );
  return rows.map(fromRow);
}
