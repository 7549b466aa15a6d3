-- Records that could not become a UsageEvent (usage.dlq.v1), kept verbatim so they can be fixed
-- and replayed. dlq_id is deterministic, so a redelivered DLQ message collapses.
-- issues is the JSON text of DlqIssue[]; record_index is the position in the request body.
CREATE TABLE IF NOT EXISTS dlq_v1
(
    dlq_id String,
    source LowCardinality(String),
    received_at DateTime64(3, 'UTC'),
    record_index Nullable(UInt32),
    reason String,
    issues String,
    raw String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (source, dlq_id)
SETTINGS non_replicated_deduplication_window = 1000;
