export type {
  AnomalyListQuery,
  DeliveryRecord,
  DetectorSnapshot,
  SpendQuery,
  SpendRow,
  Store,
  StoredDetectorSnapshot,
  UsageEventListQuery,
} from './port.ts';
export { MAX_SNAPSHOT_PART_BYTES } from './port.ts';
export { createChdbStore, type ChdbStoreOptions } from './chdb-store.ts';
export { createClickHouseStore, type ClickHouseStoreOptions } from './clickhouse-store.ts';
export { createMemoryStore } from './memory-store.ts';
export { defaultMigrationsDir } from './migrations.ts';
