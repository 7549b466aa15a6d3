-- The notifier's outbox: every message it still owes a receiver, durable, so grouping waits,
-- escalation deadlines, snoozes and retries with backoff survive restarts. One row per
-- (anomaly version, receiver, purpose); a later updated_at replaces it (queued → done / cancelled).
-- `part` is the anomalies.v1 partition the anomaly came from: the notifier that owns that
-- partition dispatches the row, so several notifier instances never send it twice.
CREATE TABLE IF NOT EXISTS notification_outbox_v1
(
    anomaly_id String,
    version UInt32,
    receiver String,
    purpose LowCardinality(String),
    channel LowCardinality(String),
    recipients Array(String),
    via LowCardinality(String),
    group_key String,
    part Int32,
    due_at DateTime64(3, 'UTC'),
    status LowCardinality(String),
    attempts UInt32,
    detail String,
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (anomaly_id, version, receiver, purpose)
SETTINGS non_replicated_deduplication_window = 1000;
