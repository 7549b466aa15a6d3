-- Hourly spend by org/team/developer/model/tool, materialised from usage_events_v1.
--
-- Why not a SummingMergeTree rollup: a materialised view sees every inserted block, so a batch
-- retried after a crash (or an event redelivered by Kafka) would be summed twice, and a revised
-- bucket would add its new cost on top of the old one. Neither can be undone once summed.
-- Instead the view writes one narrow row per event into a ReplacingMergeTree keyed by
-- (org, hour, event_id), so duplicates collapse exactly like the raw table, and spendByHour
-- aggregates `FROM spend_hourly_v1 FINAL ... GROUP BY hour, ...` at query time. This costs one
-- narrow row per event instead of one per group-hour, and in exchange the figures are exact
-- before and after merges. The rows outlive the raw events (about three years vs 400 days).
CREATE TABLE IF NOT EXISTS spend_hourly_v1
(
    hour DateTime('UTC'),
    org LowCardinality(String),
    event_id String,
    team LowCardinality(String),
    developer String,
    model LowCardinality(String),
    tool LowCardinality(String),
    ingested_at DateTime64(3, 'UTC'),
    requests UInt64,
    input_tokens UInt64,
    output_tokens UInt64,
    cache_read_tokens UInt64,
    cache_write_tokens UInt64,
    cost_usd Float64
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(hour)
ORDER BY (org, hour, event_id)
TTL hour + INTERVAL 1100 DAY
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS spend_hourly_mv_v1 TO spend_hourly_v1 AS
SELECT
    toStartOfHour(occurred_at) AS hour,
    org,
    event_id,
    team,
    developer,
    model,
    tool,
    ingested_at,
    requests,
    input_tokens,
    output_tokens,
    cache_read_tokens,
    cache_write_tokens,
    cost_usd
FROM usage_events_v1;
