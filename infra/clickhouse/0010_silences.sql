-- Silences: matchers with a start and an end, set by people through the API and the CLI; the
-- notifier sends nothing an active one matches. One row per id wins: expiring a silence early is
-- the same id written again with ends_at = now. written_at (the server's clock at insert) is the
-- version, so the later write wins whatever its ends_at; two writes in one millisecond keep the
-- last inserted. Matchers are JSON text, read back through the zod schema.
CREATE TABLE IF NOT EXISTS silences_v1
(
    id String,
    matchers String,
    starts_at DateTime64(3, 'UTC'),
    ends_at DateTime64(3, 'UTC'),
    created_by String,
    comment String,
    created_at DateTime64(3, 'UTC'),
    written_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(written_at)
ORDER BY id
SETTINGS non_replicated_deduplication_window = 1000;
