import type { Metrics } from '@burnrate/runtime';
import type { DlqCount } from '@burnrate/schemas';
import type { TableKind } from './sink.ts';

/** The sink's part of /metrics: rows stored per table, and the dead letters it wrote itself. */
export function registerSinkMetrics(
  metrics: Metrics,
  sink: { written: () => Record<TableKind, number>; deadLetters: () => DlqCount[] },
): void {
  metrics.counter({
    name: 'burnrate_sink_rows_total',
    help: 'Rows the store acknowledged from the sink, by table kind (usage_events, dlq, anomalies, anomaly_state).',
    labelNames: ['table'],
    read: () => Object.entries(sink.written()).map(([table, value]) => ({ labels: { table }, value })),
  });
  metrics.counter({
    name: 'burnrate_dlq_records_total',
    help: 'Records dead-lettered, by source, reason (invalid_record, conflict, invalid_message, store_refused) and the field the first problem names.',
    labelNames: ['source', 'reason', 'field'],
    read: () => sink.deadLetters().map((d) => ({ labels: { source: d.source, reason: d.reason, field: d.field }, value: d.count })),
  });
}
