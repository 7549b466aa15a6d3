import { fromDateTime64, insertRows, toDateTime64, type SqlExecutor } from '../executor.ts';
import type { DetectorSnapshot } from '../port.ts';

/** detector_snapshots_v1 (infra/clickhouse/0007_detector_snapshots.sql): latest saved_at per key wins. */
export const DETECTOR_SNAPSHOTS_TABLE = 'detector_snapshots_v1';

export interface DetectorSnapshotRow {
  snapshot_key: string;
  source_offset: string;
  state: string;
  saved_at: string;
}

export function snapshotToRow(s: DetectorSnapshot): DetectorSnapshotRow {
  return { snapshot_key: s.key, source_offset: s.offset, state: s.state, saved_at: toDateTime64(s.saved_at) };
}

export function snapshotFromRow(r: DetectorSnapshotRow): DetectorSnapshot {
  return { key: r.snapshot_key, offset: r.source_offset, state: r.state, saved_at: fromDateTime64(r.saved_at) };
}

export async function saveSnapshot(exec: SqlExecutor, snapshot: DetectorSnapshot): Promise<void> {
  await insertRows(exec, DETECTOR_SNAPSHOTS_TABLE, [snapshotToRow(snapshot)]);
}

export async function loadSnapshot(exec: SqlExecutor, key: string): Promise<DetectorSnapshot | undefined> {
  const rows = await exec.query<DetectorSnapshotRow>(
    `SELECT snapshot_key, source_offset, state, saved_at FROM ${DETECTOR_SNAPSHOTS_TABLE} FINAL
      WHERE snapshot_key = {key:String} LIMIT 1`,
    { key },
  );
  return rows[0] === undefined ? undefined : snapshotFromRow(rows[0]);
}
