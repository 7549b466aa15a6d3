-- One row per (anomaly version, receiver): the notifier's record of what it sent, so a restart
-- never sends the same anomaly version to the same receiver twice. A later attempt (failed, then
-- sent) replaces the earlier one: the version column is `at`.
CREATE TABLE IF NOT EXISTS deliveries_v1
(
    anomaly_id String,
    version UInt32,
    receiver String,
    channel LowCardinality(String),
    status LowCardinality(String),
    detail String,
    attempts UInt32,
    at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(at)
ORDER BY (anomaly_id, version, receiver)
SETTINGS non_replicated_deduplication_window = 1000;
