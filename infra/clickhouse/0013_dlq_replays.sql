-- Replays of dead-lettered records (POST /api/dlq/replay, `burnrate dlq replay`): one row per
-- attempt that ingest took (accepted as new, or a duplicate of an event it already had). The DLQ
-- row itself is never rewritten; the view shows each record's first replay, so a second replay
-- (a duplicate) does not hide when the record was fixed and by whom.
CREATE TABLE IF NOT EXISTS dlq_replays_v1
(
    dlq_id String,
    replayed_at DateTime64(3, 'UTC'),
    event_id String,
    outcome LowCardinality(String),
    replayed_by String
)
ENGINE = MergeTree
ORDER BY (dlq_id, replayed_at)
SETTINGS non_replicated_deduplication_window = 1000;
