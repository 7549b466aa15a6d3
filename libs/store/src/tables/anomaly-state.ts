import type { AnomalyState } from '@burnrate/schemas';
import { fromDateTime64, insertRows, toDateTime64, where, type QueryParams, type SqlExecutor } from '../executor.ts';
import type { AnomalyStateListQuery } from '../port.ts';

/** anomaly_state_v1 (infra/clickhouse/0005_anomaly_state.sql): the log of decisions. */
export const ANOMALY_STATE_TABLE = 'anomaly_state_v1';

export interface AnomalyStateRow {
  anomaly_id: string;
  at: string;
  action: string;
  /** AnomalyState.by. */
  actor: string;
  channel: string;
  snoozed_until: string | null;
  reason: string | null;
  note: string | null;
}

const COLUMNS = 'anomaly_id, at, action, actor, channel, snoozed_until, reason, note';

export function anomalyStateToRow(s: AnomalyState): AnomalyStateRow {
  return {
    anomaly_id: s.anomaly_id,
    at: toDateTime64(s.at),
    action: s.action,
    actor: s.by,
    channel: s.channel,
    snoozed_until: s.snoozed_until === undefined ? null : toDateTime64(s.snoozed_until),
    reason: s.reason ?? null,
    note: s.note ?? null,
  };
}

export function anomalyStateFromRow(r: AnomalyStateRow): AnomalyState {
  const s: AnomalyState = {
    anomaly_id: r.anomaly_id,
    action: r.action as AnomalyState['action'],
    by: r.actor,
    channel: r.channel as AnomalyState['channel'],
    at: fromDateTime64(r.at),
  };
  if (r.snoozed_until !== null) s.snoozed_until = fromDateTime64(r.snoozed_until);
  if (r.reason !== null) s.reason = r.reason as NonNullable<AnomalyState['reason']>;
  if (r.note !== null) s.note = r.note;
  return s;
}

export async function insertAnomalyStates(exec: SqlExecutor, states: readonly AnomalyState[]): Promise<void> {
  if (states.length === 0) return;
  await insertRows(exec, ANOMALY_STATE_TABLE, states.map(anomalyStateToRow));
}

export async function latestAnomalyStates(exec: SqlExecutor, ids: readonly string[]): Promise<Map<string, AnomalyState>> {
  const latest = new Map<string, AnomalyState>();
  if (ids.length === 0) return latest;
  const rows = await exec.query<AnomalyStateRow>(
    `SELECT ${COLUMNS} FROM ${ANOMALY_STATE_TABLE} FINAL
      WHERE anomaly_id IN {ids:Array(String)}
      ORDER BY anomaly_id, at DESC, action DESC, actor DESC, channel DESC
      LIMIT 1 BY anomaly_id`,
    { ids: [...ids] },
  );
  for (const row of rows) latest.set(row.anomaly_id, anomalyStateFromRow(row));
  return latest;
}

export async function listAnomalyStates(exec: SqlExecutor, filter: AnomalyStateListQuery): Promise<AnomalyState[]> {
  const params: QueryParams = { limit: filter.limit ?? 100_000 };
  const conditions: string[] = [];
  if (filter.anomaly_id !== undefined) {
    conditions.push('anomaly_id = {anomaly_id:String}');
    params.anomaly_id = filter.anomaly_id;
  }
  if (filter.anomaly_ids !== undefined) {
    if (filter.anomaly_ids.length === 0) return [];
    conditions.push('anomaly_id IN {anomaly_ids:Array(String)}');
    params.anomaly_ids = [...filter.anomaly_ids];
  }
  if (filter.since !== undefined) {
    conditions.push("at >= {since:DateTime64(3, 'UTC')}");
    params.since = toDateTime64(filter.since);
  }
  const rows = await exec.query<AnomalyStateRow>(
    `SELECT ${COLUMNS} FROM ${ANOMALY_STATE_TABLE} FINAL ${where(conditions)}
      ORDER BY at, action, actor, channel, anomaly_id
      LIMIT {limit:UInt32}`,
    params,
  );
  return rows.map(anomalyStateFromRow);
}
