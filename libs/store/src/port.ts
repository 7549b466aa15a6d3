import type { Anomaly, AnomalyState, DlqRecord, UsageEvent } from '@burnrate/schemas';

/**
 * The Store port. Two adapters implement it over the same migrations in infra/clickhouse:
 * chdb (embedded, one data directory) and a ClickHouse server (@clickhouse/client).
 * Every write is idempotent, so a batch retried after a crash or a redelivery never doubles a row:
 * usage events collapse on event_id, anomalies on (id, version), deliveries on their key.
 */

export interface DeliveryRecord {
  anomaly_id: string;
  version: number;
  /** Stable name of who got it: `slack:#payments-ai-spend`, `email:leads@acme.com`. */
  receiver: string;
  channel: 'slack' | 'email' | 'webhook' | 'log';
  status: 'sent' | 'failed' | 'skipped';
  /** Why skipped or failed; the provider's message id when sent. */
  detail: string;
  attempts: number;
  at: string;
}

export interface AnomalyListQuery {
  status?: 'open' | 'resolved';
  team?: string;
  kind?: string;
  limit?: number;
}

export interface SpendRow {
  hour: string;
  org: string;
  team: string;
  developer: string;
  model: string;
  tool: string;
  cost_usd: number;
  events: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
}

export interface DetectorSnapshot {
  /** Which state this is: `detector:<topic>:<partition>`. */
  key: string;
  /** The last offset the state reflects; replay resumes after it. */
  offset: string;
  /** Plain serialisable detector state, as JSON text. */
  state: string;
  saved_at: string;
}

export interface Store {
  /** Applies infra/clickhouse migrations in order; safe to run on every start. */
  migrate(): Promise<void>;

  insertUsageEvents(events: readonly UsageEvent[]): Promise<void>;
  /** Distinct events (duplicates of an event_id count once). */
  countUsageEvents(filter?: { org?: string; session_id?: string }): Promise<number>;
  /** Events in event-time order, for replays (backtest) and tests. */
  listUsageEvents(filter: { from?: string; to?: string; org?: string; limit?: number }): Promise<UsageEvent[]>;
  /** Hourly spend rollups (materialised from usage_events), deduplicated by event. */
  spendByHour(filter: { from?: string; to?: string; team?: string }): Promise<SpendRow[]>;

  insertDlq(records: readonly DlqRecord[]): Promise<void>;
  listDlq(filter?: { source?: string; limit?: number }): Promise<DlqRecord[]>;

  insertAnomalies(anomalies: readonly Anomaly[]): Promise<void>;
  /** The latest version of each anomaly, newest first. */
  listAnomalies(query?: AnomalyListQuery): Promise<Anomaly[]>;
  getAnomaly(id: string): Promise<Anomaly | undefined>;
  /** Every stored version of one anomaly, oldest first. */
  anomalyVersions(id: string): Promise<Anomaly[]>;

  insertAnomalyStates(states: readonly AnomalyState[]): Promise<void>;
  /** The latest decision per anomaly id. */
  latestAnomalyStates(ids: readonly string[]): Promise<Map<string, AnomalyState>>;

  insertDeliveries(records: readonly DeliveryRecord[]): Promise<void>;
  /** Deliveries with status `sent` for these anomaly ids. */
  listDeliveries(filter: { anomaly_id?: string; status?: DeliveryRecord['status'] }): Promise<DeliveryRecord[]>;

  saveSnapshot(snapshot: DetectorSnapshot): Promise<void>;
  loadSnapshot(key: string): Promise<DetectorSnapshot | undefined>;

  /** Flushes and releases the connection or the embedded engine. */
  close(): Promise<void>;
}
