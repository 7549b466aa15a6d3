import type { Batch, ConsumedMessage, SubscribeOptions } from '@burnrate/bus';
import type { Logger } from '@burnrate/core';
import {
  type Anomaly,
  type AnomalyState,
  countDlq,
  type DlqCount,
  type DlqRecord,
  dlqOrigin,
  safeParseUsageEvent,
  TOPICS,
  type UsageEvent,
} from '@burnrate/schemas';
import {
  ANOMALIES_TABLE,
  ANOMALY_STATE_TABLE,
  DLQ_TABLE,
  insertIsolatingRefused,
  type RefusedRow,
  type Store,
  USAGE_EVENTS_TABLE,
} from '@burnrate/store';
import type { z } from 'zod';

export type SinkStore = Pick<Store, 'insertUsageEvents' | 'insertDlq' | 'insertAnomalies' | 'insertAnomalyStates'>;

export interface SinkDeps {
  store: SinkStore;
  log: Logger;
  groupId?: string;
}

interface RowTypes {
  usage_events: UsageEvent;
  dlq: DlqRecord;
  anomalies: Anomaly;
  anomaly_state: AnomalyState;
}
export type TableKind = keyof RowTypes;

/** Where a row came from: the message it was parsed from, to name it when the store refuses it. */
export interface RowOrigin {
  topic: string;
  partition: number;
  offset: string;
  /** Epoch milliseconds the message was appended. */
  timestamp: number;
}

/** Rows bound for each table and, index for index, the message each came from. */
export type SinkRows = { [K in TableKind]: { rows: RowTypes[K][]; origins: RowOrigin[] } };

export const emptySinkRows = (): SinkRows => ({
  usage_events: { rows: [], origins: [] },
  dlq: { rows: [], origins: [] },
  anomalies: { rows: [], origins: [] },
  anomaly_state: { rows: [], origins: [] },
});

export interface SinkCounters {
  /** Rows the store acknowledged, per table kind (dead letters count under dlq). */
  written: Record<TableKind, number>;
  /** Messages that did not parse, written to the DLQ table. */
  invalid: number;
  /** Rows the store refused, each written to the DLQ table with the store's error instead. */
  refused: number;
  /** DLQ rows the store refused as well: logged with their origin and skipped, never retried. */
  dropped: number;
}

export interface WriteOutcome {
  written: Record<TableKind, number>;
  refused: number;
  dropped: number;
}

export interface SinkWriter {
  /** Parses each message of the batch into `rows`: valid ones for their table, the others as DLQ rows. Returns how many were invalid. */
  collect(batch: Batch, rows: SinkRows): number;
  /**
   * Inserts every table's rows. A block the store refuses is split until the refused rows are
   * found; the rest is stored, the refused rows go to the DLQ table with the store's error, and
   * a DLQ row the store refuses too is logged and skipped. Rejects only with a retriable error,
   * after which the same rows are to be written again.
   */
  write(rows: SinkRows): Promise<WriteOutcome>;
  /**
   * The DLQ rows this writer made and stored since start (messages that did not parse, rows the
   * store refused), by source, reason and field; records ingest dead-lettered on usage.dlq.v1 are
   * ingest's to count.
   */
  deadLetters(): DlqCount[];
}

type Table<K extends TableKind> = { table: string; insert: (store: SinkStore, rows: readonly RowTypes[K][]) => Promise<void> };

const TABLES: { [K in TableKind]: Table<K> } = {
  usage_events: { table: USAGE_EVENTS_TABLE, insert: (store, rows) => store.insertUsageEvents(rows) },
  dlq: { table: DLQ_TABLE, insert: (store, rows) => store.insertDlq(rows) },
  anomalies: { table: ANOMALIES_TABLE, insert: (store, rows) => store.insertAnomalies(rows) },
  anomaly_state: { table: ANOMALY_STATE_TABLE, insert: (store, rows) => store.insertAnomalyStates(rows) },
};

type SafeParse = (value: unknown) => z.ZodSafeParseResult<unknown>;

const SINK_TOPICS: readonly { topic: { name: string; schema: z.ZodType }; kind: TableKind; safeParse: SafeParse }[] = [
  // Every event passes here: the hand-written twin of the schema, zod only to name what is wrong.
  { topic: TOPICS.usageEvents, kind: 'usage_events', safeParse: safeParseUsageEvent },
  { topic: TOPICS.usageDlq, kind: 'dlq', safeParse: (v) => TOPICS.usageDlq.schema.safeParse(v) },
  { topic: TOPICS.anomalies, kind: 'anomalies', safeParse: (v) => TOPICS.anomalies.schema.safeParse(v) },
  { topic: TOPICS.anomalyState, kind: 'anomaly_state', safeParse: (v) => TOPICS.anomalyState.schema.safeParse(v) },
];

/** Refused rows named in one log line; the DLQ table has every one. */
const LOGGED_ORIGINS = 5;

/** The parsing and writing both sinks share: the per-batch sink below and the buffered sink. */
export function createSinkWriter(store: SinkStore, log: Logger): SinkWriter {
  const deadLetters = new Map<string, DlqCount>();
  const collect = (batch: Batch, rows: SinkRows): number => {
    const entry = SINK_TOPICS.find((t) => t.topic.name === batch.topic);
    if (!entry) throw new Error(`sink subscribed to unexpected topic ${batch.topic}`);
    const target = rows[entry.kind] as { rows: unknown[]; origins: RowOrigin[] };
    const invalid: DlqRecord[] = [];
    for (const m of batch.messages) {
      const origin: RowOrigin = { topic: m.topic, partition: m.partition, offset: m.offset, timestamp: m.timestamp };
      const parsed = parseMessage(entry.safeParse, m);
      if (parsed.ok) {
        target.rows.push(parsed.value);
        target.origins.push(origin);
        continue;
      }
      const record: DlqRecord = {
        ...dlqOrigin(m.topic, m.partition, m.offset),
        received_at: new Date(m.timestamp).toISOString(),
        reason: `message at ${m.topic}/${m.partition}@${m.offset} does not match ${m.topic}`,
        issues: parsed.issues,
        raw: m.value,
      };
      invalid.push(record);
      rows.dlq.rows.push(record);
      rows.dlq.origins.push(origin);
    }
    if (invalid.length > 0) {
      log.warn(
        { topic: batch.topic, partition: batch.partition, count: invalid.length, first: invalid[0]?.issues },
        'invalid messages sent to the DLQ table',
      );
    }
    return invalid.length;
  };

  const insert = async <K extends TableKind>(kind: K, block: SinkRows[K]): Promise<RefusedRow<RowTypes[K]>[]> => {
    const { table, insert: into } = TABLES[kind];
    const { refused, inserts } = await insertIsolatingRefused(block.rows, (rows) => into(store, rows));
    if (refused.length > 0) {
      log.error(
        {
          table,
          rows: block.rows.length,
          refused: refused.length,
          inserts,
          origins: refused.slice(0, LOGGED_ORIGINS).map((r) => describeOrigin(block.origins[r.index])),
          err: refused[0]?.error,
        },
        'the store refused rows; they are dead-lettered and the rest is stored',
      );
    }
    return refused;
  };

  const write = async (rows: SinkRows): Promise<WriteOutcome> => {
    const written: Record<TableKind, number> = { usage_events: 0, dlq: 0, anomalies: 0, anomaly_state: 0 };
    // Dead letters join the DLQ block, which is written last so that it holds them all.
    const dlq = { rows: [...rows.dlq.rows], origins: [...rows.dlq.origins] };
    for (const kind of ['usage_events', 'anomalies', 'anomaly_state'] as const) {
      const block = rows[kind];
      const refused = await insert(kind, block);
      written[kind] = block.rows.length - refused.length;
      for (const r of refused) {
        const origin = block.origins[r.index] as RowOrigin;
        dlq.rows.push(refusedRowDlq(TABLES[kind].table, r.row, origin, r.error));
        dlq.origins.push(origin);
      }
    }
    const refusedRows = dlq.rows.length - rows.dlq.rows.length;
    const unstorable = await insertIsolatingRefused(dlq.rows, (block) => store.insertDlq(block));
    for (const r of unstorable.refused) {
      // The last resort: a DLQ row is made valid Unicode before it is written, so this is a
      // store that refuses even that. Retrying would block the partition for good.
      log.error(
        { origin: describeOrigin(dlq.origins[r.index]), dlqId: r.row.dlq_id, reason: r.row.reason, err: r.error },
        'the store refused the DLQ row too; the record is not stored anywhere',
      );
    }
    written.dlq = dlq.rows.length - unstorable.refused.length;
    const lost = new Set(unstorable.refused.map((r) => r.index));
    dlq.rows.forEach((record, i) => {
      if (lost.has(i)) return;
      if (i >= rows.dlq.rows.length) countDlq(deadLetters, record, 'store_refused');
      else if (dlq.origins[i]?.topic !== TOPICS.usageDlq.name) countDlq(deadLetters, record, 'invalid_message');
    });
    return { written, refused: refusedRows, dropped: unstorable.refused.length };
  };

  return { collect, write, deadLetters: () => [...deadLetters.values()].map((d) => ({ ...d })) };
}

/**
 * Copies every topic into the store. The bus commits a batch only after the handler resolved,
 * i.e. after the store acknowledged the insert; a crash in between redelivers the batch and the
 * tables' dedupe keys (event_id, anomaly id+version) absorb the repeat. Nothing in a batch can
 * block its partition: a message that does not parse, and a row the store refuses, become DLQ
 * rows naming the topic, offset and problem, and the batch is committed. Only a retriable store
 * error fails the batch, which the bus then delivers again.
 */
export function createSink(deps: SinkDeps): {
  subscribeOptions: SubscribeOptions;
  counters: SinkCounters;
  /** DLQ rows the sink made and stored, by source, reason and field (see SinkWriter.deadLetters). */
  deadLetters: () => DlqCount[];
} {
  const log = deps.log.child({ component: 'sink' });
  const counters: SinkCounters = {
    written: { usage_events: 0, dlq: 0, anomalies: 0, anomaly_state: 0 },
    invalid: 0,
    refused: 0,
    dropped: 0,
  };
  const writer = createSinkWriter(deps.store, log);

  const handleBatch = async (batch: Batch): Promise<void> => {
    const rows = emptySinkRows();
    const invalid = writer.collect(batch, rows);
    const outcome = await writer.write(rows);
    counters.invalid += invalid;
    addOutcome(counters, outcome);
  };

  return { counters, deadLetters: () => writer.deadLetters(), subscribeOptions: sinkSubscribeOptions(deps.groupId, handleBatch) };
}

/** The subscription both sinks make: every sink topic, in batches of up to 50k messages. */
export function sinkSubscribeOptions(groupId: string | undefined, handleBatch: SubscribeOptions['handleBatch']): SubscribeOptions {
  return { groupId: groupId ?? 'burnrate-sink', topics: SINK_TOPICS.map((t) => t.topic.name), maxBatchSize: 50_000, handleBatch };
}

export function addOutcome(into: SinkCounters, outcome: WriteOutcome): void {
  addWritten(into.written, outcome.written);
  into.refused += outcome.refused;
  into.dropped += outcome.dropped;
}

export function addWritten(into: Record<TableKind, number>, written: Record<TableKind, number>): void {
  for (const kind of Object.keys(written) as TableKind[]) into[kind] += written[kind];
}

/**
 * A refused row as a DLQ record: keyed by its message's position (so a redelivered batch writes
 * the same record), with the store's error, the field it names when it names one, and the row as
 * parsed. The row is serialised again rather than kept as the message text, which would double
 * what the buffered sink holds for a case this rare; JSON.stringify escapes what the store
 * choked on, so `raw` is storable.
 */
function refusedRowDlq(table: string, row: unknown, origin: RowOrigin, error: unknown): DlqRecord {
  const message = error instanceof Error ? error.message : String(error);
  return {
    ...dlqOrigin(origin.topic, origin.partition, origin.offset),
    received_at: new Date(origin.timestamp).toISOString(),
    reason: `${table} refused the record at ${describeOrigin(origin)}: ${message.split('\n')[0]}`,
    issues: [{ path: /value of key ([\w.]+)/.exec(message)?.[1] ?? '(record)', message }],
    raw: JSON.stringify(row),
  };
}

const describeOrigin = (o: RowOrigin | undefined): string => (o === undefined ? '(unknown)' : `${o.topic}/${o.partition}@${o.offset}`);

type Parsed = { ok: true; value: unknown } | { ok: false; issues: DlqRecord['issues'] };

function parseMessage(safeParse: SafeParse, m: ConsumedMessage): Parsed {
  let json: unknown = m.decoded;
  try {
    json ??= JSON.parse(m.value);
  } catch (err) {
    return { ok: false, issues: [{ path: '(message)', message: `not JSON: ${(err as Error).message}` }] };
  }
  const result = safeParse(json);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, issues: result.error.issues.map((i) => ({ path: i.path.join('.') || '(root)', message: i.message })) };
}
