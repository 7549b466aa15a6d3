import type { Anomaly, AnomalyState, DlqRecord, Silence, UsageEvent } from '@burnrate/schemas';
import type { DlqReplay } from './tables/dlq-replays.ts';

/**
 * The Store port. Two adapters implement it over the same migrations in infra/clickhouse:
 * chdb (embedded, one data directory) and a ClickHouse server (@clickhouse/client).
 * Every write is idempotent, so a batch retried after a crash or a redelivery never doubles a row:
 * usage events collapse on event_id, anomalies on (id, version), deliveries on their key.
 */

/** One delivery attempt; a later `at` for the same (anomaly_id, version, receiver) replaces it. */
export interface DeliveryRecord {
  anomaly_id: string;
  version: number;
  /** Stable name of who got it: `slack:#payments-ai-spend`, `email:leads@acme.com`, `pagerduty:payments`. */
  receiver: string;
  /** The channel that sent it (`slack`, `email`, `webhook`, `pagerduty`, `msteams`, …), or `log` for nowhere to send. */
  channel: string;
  /**
   * `pending` is written just before a send, so a process killed between the provider accepting
   * the message and the `sent` record can tell, after restart, that an attempt may have got through.
   */
  status: 'pending' | 'sent' | 'failed' | 'skipped';
  /** Why skipped or failed; the provider's message id when sent; the attempt id when pending. */
  detail: string;
  attempts: number;
  at: string;
}

export interface AnomalyListQuery {
  status?: 'open' | 'resolved';
  team?: string;
  kind?: string;
  /** Only anomalies a backfill found (true), or only those live detection found (false); both when absent. */
  historical?: boolean;
  /** Inclusive lower bound on the latest version's detected_at: the episodes active since then. */
  since?: string;
  /**
   * Keyset cursor: only anomalies after this one in the list's order (detected_at descending, then
   * id), so a reader that filters what it gets (by lifecycle state) can page on without gaps.
   */
  after?: { detected_at: string; id: string };
  limit?: number;
}

/**
 * A message the notifier owes a receiver (notification_outbox_v1). Written `queued` when an
 * anomaly version is routed; `done` once delivered (or recorded as skipped), `cancelled` when no
 * longer needed (acknowledged before an escalation was due). A later updated_at replaces a row.
 */
export interface OutboxEntry {
  anomaly_id: string;
  version: number;
  /** The receiver's stable name, as in the deliveries table. */
  receiver: string;
  /** `notify` (the version itself), `escalate` (to on-call / FinOps when nobody acknowledged in time), `reminder`. */
  purpose: 'notify' | 'escalate' | 'reminder';
  channel: string;
  /** Notification.to. */
  recipients: string[];
  /** Which receiver group of the route: team, oncall, finops. */
  via: string;
  /** Entries with the same key, due together, go out as one message. */
  group_key: string;
  /** The anomalies.v1 partition the anomaly came from (its owner dispatches the entry). */
  part: number;
  due_at: string;
  status: 'queued' | 'done' | 'cancelled';
  /** Failed sends so far (retries back off from it). */
  attempts: number;
  /** Why done or cancelled; the last error while retrying. */
  detail: string;
  updated_at: string;
}

export interface OutboxQuery {
  status?: OutboxEntry['status'];
  /** Only entries due at or before this instant. */
  due_by?: string;
  /** Only entries of these anomalies.v1 partitions. */
  parts?: readonly number[];
  anomaly_id?: string;
  /** Defaults to 10_000. */
  limit?: number;
}

export interface AnomalyStateListQuery {
  anomaly_id?: string;
  /** Only these anomalies' decisions: a page of a list reads its decisions in one query. */
  anomaly_ids?: readonly string[];
  /** Inclusive lower bound on `at`. */
  since?: string;
  /** Defaults to 100_000. */
  limit?: number;
}

export interface DeliveryListQuery {
  anomaly_id?: string;
  status?: DeliveryRecord['status'];
  /** Only records whose detail is this: with status `sent`, every anomaly version one message (a provider's message id) carried. */
  detail?: string;
}

export interface DlqListQuery {
  source?: string;
  /** Only these records. */
  ids?: readonly string[];
  /** Only records whose reason contains this text, case-insensitive (`occurred_at`, `unknown field`). */
  reason?: string;
  /** Inclusive lower bound on received_at. */
  since?: string;
  /** Keyset cursor: only records after this one in the list's order (newest first, ties by id). */
  after?: { received_at: string; dlq_id: string };
  /** Defaults to 100. */
  limit?: number;
}

export interface SilenceListQuery {
  /** Only the silences active at this instant (starts_at <= it < ends_at). */
  active_at?: string;
}

export interface UsageEventListQuery {
  /** Inclusive lower bound on occurred_at. */
  from?: string;
  /** Exclusive upper bound on occurred_at. */
  to?: string;
  org?: string;
  /** Defaults to 100_000; page with `after` rather than raising it. */
  limit?: number;
  /** Keyset cursor: only events strictly after this (occurred_at, event_id). */
  after?: { occurred_at: string; event_id: string };
}

export interface SpendQuery {
  /** Inclusive lower bound on the hour. */
  from?: string;
  /** Exclusive upper bound on the hour. */
  to?: string;
  org?: string;
  team?: string;
}

export interface ReconciliationQuery {
  /** Inclusive lower bound on occurred_at; days are UTC. */
  from?: string;
  /** Exclusive upper bound on occurred_at. */
  to?: string;
  org?: string;
  /** Rows of this team only (which report counts is still decided over the whole org). */
  team?: string;
}

/**
 * One UTC day of one org and team where a provider's report counts: `counted_usd` is what the
 * reports say for the providers they cover (the reconciliation's counted figure), `judged_usd`
 * what live detection counted for the same providers (their request-level events, and the report
 * buckets it judged where no live feed covered them). The budget forecast adds the difference.
 */
export interface SpendCorrectionRow {
  day: string;
  org: string;
  team: string;
  counted_usd: number;
  judged_usd: number;
  /** The reports that count, by name. */
  sources: string[];
}

/**
 * Live against reported spend of one UTC day, org, team and provider (tables/reconciliation.ts
 * says which counts): `counted_usd` is the report's figure where a report covers the day's
 * provider, else the live one, so summed over teams every dollar counts once.
 */
export interface ReconciliationRow {
  day: string;
  org: string;
  team: string;
  provider: string;
  /** Request-level events (OTLP, LiteLLM, POST /v1/events per call, imports). */
  live_usd: number;
  live_events: number;
  /** The counting report's buckets, as it attributes them. */
  report_usd: number;
  report_buckets: number;
  /** The report that counts for this day and provider; null when none covers it. */
  report_source: string | null;
  counted_usd: number;
  /** report − live; 0 when no report covers the day. */
  delta_usd: number;
}

/** One group-hour; an event counts in the hour its occurred_at falls in (a 1d bucket in its first hour). */
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

/** What spend can be grouped and filtered by (GET /api/spend?group_by=…). */
export const SPEND_DIMENSIONS = ['team', 'model', 'developer', 'tool', 'provider'] as const;
export type SpendDimension = (typeof SPEND_DIMENSIONS)[number];
export const SPEND_GRANULARITIES = ['hour', 'day', 'month'] as const;
/** UTC hours, days and months. */
export type SpendGranularity = (typeof SPEND_GRANULARITIES)[number];
/** Only spend whose dimension equals the value. */
export type SpendFilter = Partial<Record<SpendDimension, string>>;

export interface SpendReportQuery {
  org?: string;
  /** Inclusive lower bound on the hour. */
  from: string;
  /** Exclusive upper bound on the hour. */
  to: string;
  granularity: SpendGranularity;
  /** Dimensions each row is split by, in this order; none gives one row per period. */
  group_by: readonly SpendDimension[];
  filter?: SpendFilter;
  /** At most this many rows (default 100_000), periods first. */
  limit?: number;
}

/** Sums of counted spend: each (UTC day, org, provider, team) once, as reconciliation counts it. */
export interface SpendTotals {
  cost_usd: number;
  /** Request-level events and report buckets that make up the figure. */
  events: number;
  requests: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
}

/** One period and group; only the grouped dimensions are present. */
export type SpendReportRow = SpendTotals & { period: string } & SpendFilter;

export interface SpendTopQuery {
  org?: string;
  from: string;
  to: string;
  by: 'session' | 'developer';
  /** Defaults to 10. */
  limit?: number;
  filter?: SpendFilter;
}

/** A session or a developer among the largest spenders of the range. */
export interface SpendTopRow extends SpendTotals {
  /** The session id or the developer. */
  key: string;
  /** The developer (a session's: the first by name if it had several). */
  developer: string;
  teams: string[];
  models: string[];
  tools: string[];
  /** First and last hour with spend, UTC. */
  first_hour: string;
  last_hour: string;
}

/** A detector snapshot to save: its state as the ordered text parts the detector serialised it into. */
export interface DetectorSnapshot {
  /** Which state this is: `detector:<topic>:<partition>`. */
  key: string;
  /** The last offset the state reflects; replay resumes after it. */
  offset: string;
  /** The state's parts in order, each at most MAX_SNAPSHOT_PART_BYTES of UTF-8; at least one. */
  parts: readonly string[];
  saved_at: string;
}

export interface AcceptedEventId {
  event_id: string;
  /** UsageEvent.fingerprint; '' for events stored before it existed. */
  fingerprint: string;
  ingested_at: string;
}

/** A saved snapshot, its parts read one at a time (a large state is never held whole). */
export interface StoredDetectorSnapshot {
  key: string;
  offset: string;
  saved_at: string;
  /** How many parts `parts()` yields. */
  partCount: number;
  /**
   * The parts in order, one query each. Throws SNAPSHOT_UNREADABLE when one is missing or they
   * do not match the checksum saved with them (another writer overwrote them meanwhile).
   */
  parts(): AsyncIterable<string>;
}

/** The largest snapshot part a row takes: well under chdb's ~100 MB JSON row, and a bounded insert. */
export const MAX_SNAPSHOT_PART_BYTES = 8 * 1024 * 1024;

export interface Store {
  /** Applies infra/clickhouse migrations in order; safe to run on every start and from several processes. */
  migrate(): Promise<void>;

  insertUsageEvents(events: readonly UsageEvent[]): Promise<void>;
  /** Distinct events (duplicates of an event_id count once). */
  countUsageEvents(filter?: { org?: string; session_id?: string }): Promise<number>;
  /**
   * Events in (occurred_at, event_id) order, for replays (backtest) and tests; one version per
   * event_id (the latest ingested). Page through a long range by passing the last row as `after`.
   */
  listUsageEvents(filter: UsageEventListQuery): Promise<UsageEvent[]>;
  /**
   * Ids and fingerprints of the org's events ingested at or after `since`, in event_id order after
   * `after`, at most `limit`: what ingest rebuilds its dedupe ledger from after a restart.
   */
  listAcceptedEventIds(query: { org: string; since: string; after?: string; limit: number }): Promise<AcceptedEventId[]>;
  /** Hourly spend rollups (materialised from usage_events), deduplicated by event. */
  spendByHour(filter: SpendQuery): Promise<SpendRow[]>;
  /** Live and reported spend per UTC day, org, team and provider, oldest first (see ReconciliationRow). */
  reconciliation(query: ReconciliationQuery): Promise<ReconciliationRow[]>;
  /**
   * Per UTC day from `from` (its day) to `to`, org and team with a report counting that day: the
   * reports' figure against what live detection counted (see SpendCorrectionRow), oldest first.
   */
  spendCorrections(query: { from: string; to?: string; org?: string }): Promise<SpendCorrectionRow[]>;
  /**
   * Counted spend per period and group (a report replaces the live feed for its day, provider and
   * team: see ReconciliationRow), periods oldest first, then by the grouped dimensions.
   */
  spend(query: SpendReportQuery): Promise<SpendReportRow[]>;
  /**
   * The largest spenders of the range, most first. Developers by counted spend; sessions by their
   * request-level spend (a provider's report has no sessions, so it never replaces one).
   */
  spendTop(query: SpendTopQuery): Promise<SpendTopRow[]>;
  /**
   * Re-aggregates into the rollup the hours whose events last changed at least `settleMs` ago
   * (default 60 s) and are not sealed since, at most `maxHours` (default 2,000) per call, oldest
   * first. Figures are exact whether or not it ran; it makes them fast. Returns the hours sealed.
   */
  refreshSpendRollup(options?: { settleMs?: number; maxHours?: number }): Promise<number>;

  insertDlq(records: readonly DlqRecord[]): Promise<void>;
  /** Newest received first (ties by id); limit defaults to 100. */
  listDlq(filter?: DlqListQuery): Promise<DlqRecord[]>;
  /** Records that a DLQ record was replayed (it never changes the DLQ row itself). */
  insertDlqReplays(replays: readonly DlqReplay[]): Promise<void>;
  /** The first replay of each of `ids` that was replayed. */
  firstDlqReplays(ids: readonly string[]): Promise<Map<string, DlqReplay>>;

  insertAnomalies(anomalies: readonly Anomaly[]): Promise<void>;
  /**
   * The latest version of each anomaly, newest detected_at first (ties by id); the filters apply
   * to that latest version. limit defaults to 100.
   */
  listAnomalies(query?: AnomalyListQuery): Promise<Anomaly[]>;
  getAnomaly(id: string): Promise<Anomaly | undefined>;
  /** Every stored version of one anomaly, oldest first. */
  anomalyVersions(id: string): Promise<Anomaly[]>;
  /** When each anomaly's first stored version was detected (ids not stored are absent). */
  firstDetectedAt(ids: readonly string[]): Promise<Map<string, string>>;

  insertAnomalyStates(states: readonly AnomalyState[]): Promise<void>;
  /** The latest decision per anomaly id (greatest `at`; ties broken by action, by, channel, descending). */
  latestAnomalyStates(ids: readonly string[]): Promise<Map<string, AnomalyState>>;
  /** Every decision, oldest first (the latest order of latestAnomalyStates); one anomaly's, or all since an instant. */
  listAnomalyStates(filter: AnomalyStateListQuery): Promise<AnomalyState[]>;

  insertDeliveries(records: readonly DeliveryRecord[]): Promise<void>;
  /** The latest record per (anomaly_id, version, receiver), oldest first, filtered after picking the latest. */
  listDeliveries(filter: DeliveryListQuery): Promise<DeliveryRecord[]>;

  upsertOutbox(entries: readonly OutboxEntry[]): Promise<void>;
  /** The latest row per key, earliest due first. */
  listOutbox(query: OutboxQuery): Promise<OutboxEntry[]>;
  /** Writes silences; a later write of an id replaces it (expiring early = the same silence with ends_at = now). */
  insertSilences(silences: readonly Silence[]): Promise<void>;
  /** The latest write of each silence, newest created first (ties by id); only those active at `active_at` when given. */
  listSilences(filter?: SilenceListQuery): Promise<Silence[]>;

  /** The largest snapshot part saveSnapshot takes, in UTF-8 bytes (MAX_SNAPSHOT_PART_BYTES). */
  readonly maxSnapshotPartBytes: number;
  /**
   * Saves all of the parts or none: until it resolves, loadSnapshot returns the key's previous
   * snapshot, even if the process dies halfway. A part over maxSnapshotPartBytes is refused
   * (INPUT_TOO_LARGE) before anything is written.
   */
  saveSnapshot(snapshot: DetectorSnapshot): Promise<void>;
  /** The snapshot with the greatest saved_at for this key (the last saved on a tie). */
  loadSnapshot(key: string): Promise<StoredDetectorSnapshot | undefined>;

  /** Flushes and releases the connection or the embedded engine. */
  close(): Promise<void>;
}
