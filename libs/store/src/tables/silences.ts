import { type Silence, SilenceMatcher } from '@burnrate/schemas';
import { fromDateTime64, insertRows, toDateTime64, where, type QueryParams, type SqlExecutor } from '../executor.ts';
import type { SilenceListQuery } from '../port.ts';

/** silences_v1 (infra/clickhouse/0010_silences.sql): the latest write per silence id. */
export const SILENCES_TABLE = 'silences_v1';

export interface SilenceRow {
  id: string;
  /** JSON text of SilenceMatcher[]. */
  matchers: string;
  starts_at: string;
  ends_at: string;
  created_by: string;
  comment: string;
  created_at: string;
}

const COLUMNS = 'id, matchers, starts_at, ends_at, created_by, comment, created_at';

export function silenceToRow(s: Silence): SilenceRow {
  return {
    id: s.id,
    matchers: JSON.stringify(s.matchers),
    starts_at: toDateTime64(s.starts_at),
    ends_at: toDateTime64(s.ends_at),
    created_by: s.created_by,
    comment: s.comment,
    created_at: toDateTime64(s.created_at),
  };
}

export function silenceFromRow(r: SilenceRow): Silence {
  return {
    id: r.id,
    matchers: SilenceMatcher.array().parse(JSON.parse(r.matchers)),
    starts_at: fromDateTime64(r.starts_at),
    ends_at: fromDateTime64(r.ends_at),
    created_by: r.created_by,
    comment: r.comment,
    created_at: fromDateTime64(r.created_at),
  };
}

export async function insertSilences(exec: SqlExecutor, silences: readonly Silence[]): Promise<void> {
  if (silences.length === 0) return;
  await insertRows(exec, SILENCES_TABLE, silences.map(silenceToRow));
}

// The time bounds are not in the key, so they filter outside the FINAL subquery: an expired
// write must replace the active one before `active_at` looks at ends_at.
export async function listSilences(exec: SqlExecutor, filter: SilenceListQuery = {}): Promise<Silence[]> {
  const params: QueryParams = {};
  const outer: string[] = [];
  if (filter.active_at !== undefined) {
    outer.push("starts_at <= {active_at:DateTime64(3, 'UTC')} AND ends_at > {active_at:DateTime64(3, 'UTC')}");
    params.active_at = toDateTime64(filter.active_at);
  }
  const rows = await exec.query<SilenceRow>(
    `SELECT ${COLUMNS} FROM (SELECT ${COLUMNS} FROM ${SILENCES_TABLE} FINAL) ${where(outer)} ORDER BY created_at DESC, id`,
    params,
  );
  return rows.map(silenceFromRow);
}
