-- Detector state snapshots with the source offset they reflect (embedded mode). The latest
-- saved_at per key wins. source_offset holds DetectorSnapshot.offset (OFFSET is a keyword).
CREATE TABLE IF NOT EXISTS detector_snapshots_v1
(
    snapshot_key String,
    source_offset String,
    state String,
    saved_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(saved_at)
ORDER BY snapshot_key
SETTINGS non_replicated_deduplication_window = 1000;
