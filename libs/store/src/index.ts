export type {
  AcceptedEventId,
  AnomalyListQuery,
  AnomalyStateListQuery,
  DeliveryListQuery,
  DeliveryRecord,
  DlqListQuery,
  OutboxEntry,
  OutboxQuery,
  ReconciliationQuery,
  ReconciliationRow,
  SpendCorrectionRow,
  DetectorSnapshot,
  SilenceListQuery,
  SpendDimension,
  SpendFilter,
  SpendGranularity,
  SpendQuery,
  SpendReportQuery,
  SpendReportRow,
  SpendRow,
  SpendTopQuery,
  SpendTopRow,
  SpendTotals,
  Store,
  StoredDetectorSnapshot,
  UsageEventListQuery,
} from './port.ts';
export { MAX_SNAPSHOT_PART_BYTES, SPEND_DIMENSIONS, SPEND_GRANULARITIES } from './port.ts';
export { createChdbStore, type ChdbStoreOptions } from './chdb-store.ts';
export { createClickHouseStore, type ClickHouseStoreOptions } from './clickhouse-store.ts';
export { createMemoryStore } from './memory-store.ts';
export { defaultMigrationsDir } from './migrations.ts';
export { streamUsageEvents } from './usage-event-stream.ts';
export { insertIsolatingRefused, type IsolatedInsert, type RefusedRow } from './refused-rows.ts';
export { storableDlqRecord, DLQ_TABLE } from './tables/dlq.ts';
export { USAGE_EVENTS_TABLE } from './tables/usage-events.ts';
export { REPORT_PRECEDENCE, roundToMicroUsd } from './tables/reconciliation.ts';
export { SPEND_ROLLUP_TABLE } from './tables/spend-rollup.ts';
export { ANOMALIES_TABLE } from './tables/anomalies.ts';
export { ANOMALY_STATE_TABLE } from './tables/anomaly-state.ts';
export { DELIVERIES_TABLE } from './tables/deliveries.ts';
export { OUTBOX_TABLE } from './tables/outbox.ts';
export { SILENCES_TABLE } from './tables/silences.ts';
export { DLQ_REPLAYS_TABLE, DlqReplay } from './tables/dlq-replays.ts';
export { createSpendRollupRefresher } from './spend-refresher.ts';
export { sumTotals, zeroTotals } from './spend-totals.ts';
