import { EvidencePoint, Subject, type Anomaly } from '@burnrate/schemas';
import { fromDateTime64, insertRows, toDateTime64, toNumber, type QueryParams, type SqlExecutor } from '../executor.ts';
import type { AnomalyListQuery } from '../port.ts';

/** anomalies_v1 (infra/clickhouse/0004_anomalies.sql): every version of every episode. */
export const ANOMALIES_TABLE = 'anomalies_v1';

export interface AnomalyRow {
  id: string;
  version: number | string;
  kind: string;
  severity: string;
  status: string;
  org: string;
  team: string;
  /** JSON text of Subject. */
  subject: string;
  window_start: string;
  window_end: string;
  observed_value: number;
  observed_unit: string;
  expected_value: number;
  expected_unit: string;
  impact_usd: number;
  projected_usd: number;
  /** JSON text of EvidencePoint[]. */
  evidence: string;
  summary: string;
  advice: string;
  detected_at: string;
  /** Found by a backfill (infra/clickhouse/0012_anomalies_historical.sql). */
  historical: boolean;
}

const COLUMNS =
  'id, version, kind, severity, status, org, team, subject, window_start, window_end, observed_value, observed_unit, ' +
  'expected_value, expected_unit, impact_usd, projected_usd, evidence, summary, advice, detected_at, historical';
const DEFAULT_LIMIT = 100;

export function anomalyToRow(a: Anomaly): AnomalyRow {
  return {
    id: a.id,
    version: a.version,
    kind: a.kind,
    severity: a.severity,
    status: a.status,
    org: a.subject.org,
    team: a.subject.team,
    subject: JSON.stringify(a.subject),
    window_start: toDateTime64(a.window.start),
    window_end: toDateTime64(a.window.end),
    observed_value: a.observed.value,
    observed_unit: a.observed.unit,
    expected_value: a.expected.value,
    expected_unit: a.expected.unit,
    impact_usd: a.impact_usd,
    projected_usd: a.projected_usd,
    evidence: JSON.stringify(a.evidence),
    summary: a.summary,
    advice: a.advice,
    detected_at: toDateTime64(a.detected_at),
    historical: a.historical === true,
  };
}

export function anomalyFromRow(r: AnomalyRow): Anomaly {
  return {
    id: r.id,
    version: toNumber(r.version),
    kind: r.kind as Anomaly['kind'],
    severity: r.severity as Anomaly['severity'],
    status: r.status as Anomaly['status'],
    subject: Subject.parse(JSON.parse(r.subject)),
    window: { start: fromDateTime64(r.window_start), end: fromDateTime64(r.window_end) },
    observed: { value: r.observed_value, unit: r.observed_unit },
    expected: { value: r.expected_value, unit: r.expected_unit },
    impact_usd: r.impact_usd,
    projected_usd: r.projected_usd,
    evidence: EvidencePoint.array().parse(JSON.parse(r.evidence)),
    summary: r.summary,
    advice: r.advice,
    detected_at: fromDateTime64(r.detected_at),
    // Absent, not false, on live anomalies: the contract has one way to say live.
    ...(r.historical ? { historical: true as const } : {}),
  };
}

export async function insertAnomalies(exec: SqlExecutor, anomalies: readonly Anomaly[]): Promise<void> {
  if (anomalies.length === 0) return;
  await insertRows(exec, ANOMALIES_TABLE, anomalies.map(anomalyToRow));
}

// The inner query picks the highest version per id; filters apply outside it, so an episode
// that resolved in its latest version is not listed as open because an older version was.
export async function listAnomalies(exec: SqlExecutor, query: AnomalyListQuery = {}): Promise<Anomaly[]> {
  const conditions: string[] = [];
  const params: QueryParams = { limit: query.limit ?? DEFAULT_LIMIT };
  if (query.status !== undefined) {
    conditions.push('status = {status:String}');
    params.status = query.status;
  }
  if (query.team !== undefined) {
    conditions.push('team = {team:String}');
    params.team = query.team;
  }
  if (query.kind !== undefined) {
    conditions.push('kind = {kind:String}');
    params.kind = query.kind;
  }
  if (query.historical !== undefined) {
    conditions.push('historical = {historical:Bool}');
    params.historical = query.historical;
  }
  if (query.since !== undefined) {
    conditions.push("detected_at >= {since:DateTime64(3, 'UTC')}");
    params.since = toDateTime64(query.since);
  }
  if (query.after !== undefined) {
    conditions.push(
      "(detected_at < {after_at:DateTime64(3, 'UTC')} OR (detected_at = {after_at:DateTime64(3, 'UTC')} AND id > {after_id:String}))",
    );
    params.after_at = toDateTime64(query.after.detected_at);
    params.after_id = query.after.id;
  }
  const rows = await exec.query<AnomalyRow>(
    `SELECT ${COLUMNS}
       FROM (SELECT ${COLUMNS} FROM ${ANOMALIES_TABLE} FINAL ORDER BY id, version DESC LIMIT 1 BY id)
       ${conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`}
      ORDER BY detected_at DESC, id
      LIMIT {limit:UInt32}`,
    params,
  );
  return rows.map(anomalyFromRow);
}

export async function getAnomaly(exec: SqlExecutor, id: string): Promise<Anomaly | undefined> {
  const rows = await exec.query<AnomalyRow>(
    `SELECT ${COLUMNS} FROM ${ANOMALIES_TABLE} FINAL WHERE id = {id:String} ORDER BY version DESC LIMIT 1`,
    { id },
  );
  return rows[0] === undefined ? undefined : anomalyFromRow(rows[0]);
}

export async function anomalyVersions(exec: SqlExecutor, id: string): Promise<Anomaly[]> {
  const rows = await exec.query<AnomalyRow>(`SELECT ${COLUMNS} FROM ${ANOMALIES_TABLE} FINAL WHERE id = {id:String} ORDER BY version`, {
    id,
  });
  return rows.map(anomalyFromRow);
}

export async function firstDetectedAt(exec: SqlExecutor, ids: readonly string[]): Promise<Map<string, string>> {
  const first = new Map<string, string>();
  if (ids.length === 0) return first;
  const rows = await exec.query<{ id: string; first: string }>(
    `SELECT id, argMin(detected_at, version) AS first FROM ${ANOMALIES_TABLE} WHERE id IN {ids:Array(String)} GROUP BY id`,
    { ids: [...ids] },
  );
  for (const row of rows) first.set(row.id, fromDateTime64(row.first));
  return first;
}
