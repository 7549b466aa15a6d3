-- One row per priced unit of usage (UsageEvent, usage.events.v1).
-- event_id is the idempotency key: ORDER BY (org, event_id) makes it the ReplacingMergeTree dedupe
-- key, so a batch redelivered after a crash collapses instead of doubling spend. org leads the key
-- because every query is scoped to one org; time ranges prune by the monthly partition.
-- The version column is ingested_at: a pull source re-reads its trailing window because buckets
-- are revised, and the latest revision of a bucket must win. Duplicates only collapse inside one
-- partition, which holds because a deterministic event_id always carries the same occurred_at.
-- Reads that count or sum use FINAL, so they are right before background merges run.
-- Raw rows expire after 400 days; spend_hourly_v1 keeps the hourly figures longer.
CREATE TABLE IF NOT EXISTS usage_events_v1
(
    event_id String,
    source LowCardinality(String),
    provider LowCardinality(String),
    tool LowCardinality(String),
    granularity LowCardinality(String),
    period_start Nullable(DateTime64(3, 'UTC')),
    period_end Nullable(DateTime64(3, 'UTC')),
    occurred_at DateTime64(3, 'UTC'),
    ingested_at DateTime64(3, 'UTC'),
    org LowCardinality(String),
    developer String,
    developer_email Nullable(String),
    team LowCardinality(String),
    session_id Nullable(String),
    prompt_id Nullable(String),
    api_key_id Nullable(String),
    project Nullable(String),
    model LowCardinality(String),
    model_family LowCardinality(String),
    tier LowCardinality(String),
    service_tier Nullable(String),
    is_batch Bool,
    speed Nullable(String),
    requests UInt64,
    input_tokens UInt64,
    output_tokens UInt64,
    cache_read_tokens UInt64,
    cache_write_tokens UInt64,
    cost_usd Float64,
    cost_source LowCardinality(String),
    computed_cost_usd Nullable(Float64),
    overlap_group Nullable(String),
    attributes Map(String, String)
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (org, event_id)
TTL toDateTime(occurred_at) + INTERVAL 400 DAY
-- Lets insert_deduplication_token drop a retried block on a non-replicated table.
SETTINGS non_replicated_deduplication_window = 1000;
