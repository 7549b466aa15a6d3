export type { AnomalyListQuery, DeliveryRecord, DetectorSnapshot, SpendQuery, SpendRow, Store, UsageEventListQuery } from './port.ts';
export { createChdbStore, type ChdbStoreOptions } from './chdb-store.ts';
export { createClickHouseStore, type ClickHouseStoreOptions } from './clickhouse-store.ts';
export { createMemoryStore } from './memory-store.ts';
export { defaultMigrationsDir } from './migrations.ts';
export { insertIsolatingRefused, type IsolatedInsert, type RefusedRow } from './refused-rows.ts';
