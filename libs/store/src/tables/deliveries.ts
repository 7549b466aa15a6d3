import { fromDateTime64, insertRows, toDateTime64, toNumber, where, type QueryParams, type SqlExecutor } from '../executor.ts';
import type { DeliveryListQuery, DeliveryRecord } from '../port.ts';

/** deliveries_v1 (infra/clickhouse/0006_deliveries.sql): latest attempt per (anomaly_id, version, receiver). */
export const DELIVERIES_TABLE = 'deliveries_v1';

export interface DeliveryRow {
  anomaly_id: string;
  version: number | string;
  receiver: string;
  channel: string;
  status: string;
  detail: string;
  attempts: number | string;
  at: string;
}

const COLUMNS = 'anomaly_id, version, receiver, channel, status, detail, attempts, at';

export function deliveryToRow(d: DeliveryRecord): DeliveryRow {
  return {
    anomaly_id: d.anomaly_id,
    version: d.version,
    receiver: d.receiver,
    channel: d.channel,
    status: d.status,
    detail: d.detail,
    attempts: d.attempts,
    at: toDateTime64(d.at),
  };
}

export function deliveryFromRow(r: DeliveryRow): DeliveryRecord {
  return {
    anomaly_id: r.anomaly_id,
    version: toNumber(r.version),
    receiver: r.receiver,
    channel: r.channel,
    status: r.status as DeliveryRecord['status'],
    detail: r.detail,
    attempts: toNumber(r.attempts),
    at: fromDateTime64(r.at),
  };
}

export async function insertDeliveries(exec: SqlExecutor, records: readonly DeliveryRecord[]): Promise<void> {
  if (records.length === 0) return;
  await insertRows(exec, DELIVERIES_TABLE, records.map(deliveryToRow));
}

// status is not in the key, so it is filtered outside the FINAL subquery: a `failed` row
// replaced by a later `sent` must not match status = 'failed'.
export async function listDeliveries(exec: SqlExecutor, filter: DeliveryListQuery): Promise<DeliveryRecord[]> {
  const params: QueryParams = {};
  const inner: string[] = [];
  const outer: string[] = [];
  if (filter.anomaly_id !== undefined) {
    inner.push('anomaly_id = {anomaly_id:String}');
    params.anomaly_id = filter.anomaly_id;
  }
  if (filter.status !== undefined) {
    outer.push('status = {status:String}');
    params.status = filter.status;
  }
  if (filter.detail !== undefined) {
    outer.push('detail = {detail:String}');
    params.detail = filter.detail;
  }
  const rows = await exec.query<DeliveryRow>(
    `SELECT ${COLUMNS} FROM (SELECT ${COLUMNS} FROM ${DELIVERIES_TABLE} FINAL ${where(inner)})
      ${where(outer)}
      ORDER BY at, anomaly_id, version, receiver`,
    params,
  );
  return rows.map(deliveryFromRow);
}
