-- Human and system decisions about anomalies (anomaly-state.v1), an append-only log: the latest
-- decision per anomaly is the row with the greatest `at` (ties broken by action, actor, channel).
-- The whole decision identity is the key, so a redelivered decision collapses.
-- `actor` holds AnomalyState.by (BY is a keyword in ClickHouse SQL).
CREATE TABLE IF NOT EXISTS anomaly_state_v1
(
    anomaly_id String,
    at DateTime64(3, 'UTC'),
    action LowCardinality(String),
    actor String,
    channel LowCardinality(String),
    snoozed_until Nullable(DateTime64(3, 'UTC')),
    reason Nullable(String),
    note Nullable(String)
)
ENGINE = ReplacingMergeTree
ORDER BY (anomaly_id, at, action, actor, channel)
SETTINGS non_replicated_deduplication_window = 1000;
