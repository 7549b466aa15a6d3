import { z } from 'zod';
import { fromDateTime64, insertRows, toDateTime64, type SqlExecutor } from '../executor.ts';

/** dlq_replays_v1 (infra/clickhouse/0013_dlq_replays.sql): every replay of a DLQ record that ingest took. */
export const DLQ_REPLAYS_TABLE = 'dlq_replays_v1';

/** One replay of a DLQ record: the event it became, and whether ingest had it already. */
export const DlqReplay = z.object({
  dlq_id: z.string().min(1),
  replayed_at: z.string(),
  event_id: z.string().min(1),
  outcome: z.enum(['accepted', 'duplicate']),
  replayed_by: z.string(),
});
export type DlqReplay = z.infer<typeof DlqReplay>;

export async function insertDlqReplays(exec: SqlExecutor, replays: readonly DlqReplay[]): Promise<void> {
  if (replays.length === 0) return;
  await insertRows(
    exec,
    DLQ_REPLAYS_TABLE,
    replays.map((r) => ({ ...r, replayed_at: toDateTime64(r.replayed_at) })),
  );
}

/** The first replay of each of `ids` that has one: when the record was fixed, into which event, by whom. */
export async function firstDlqReplays(exec: SqlExecutor, ids: readonly string[]): Promise<Map<string, DlqReplay>> {
  const found = new Map<string, DlqReplay>();
  if (ids.length === 0) return found;
  const rows = await exec.query<Record<string, unknown>>(
    `SELECT dlq_id, min(r.replayed_at) AS first_at, argMin(r.event_id, r.replayed_at) AS event_id,
            argMin(r.outcome, r.replayed_at) AS outcome, argMin(r.replayed_by, r.replayed_at) AS replayed_by
       FROM ${DLQ_REPLAYS_TABLE} AS r WHERE r.dlq_id IN {ids:Array(String)} GROUP BY dlq_id`,
    { ids },
  );
  for (const row of rows) {
    const { first_at: firstAt, ...rest } = row;
    const replay = DlqReplay.parse({ ...rest, replayed_at: fromDateTime64(String(firstAt)) });
    found.set(replay.dlq_id, replay);
  }
  return found;
}
