-- Detector snapshots of any size (embedded mode, BURNRATE_DETECTOR_SNAPSHOTS=store). A snapshot is
-- its parts (rows of at most 8 MiB: one row of a large state was past chdb's ~100 MB JSON row)
-- and then one manifest row naming the generation, slot, part count and checksum. Readers
-- follow the latest manifest, so the parts of a save that died before its manifest are never read.
--
-- Parts alternate between two slots per key: a save writes into the slot the current manifest
-- does not name, so the snapshot a restart may need is never overwritten while the next one is
-- written. Within a slot a newer generation replaces the older on merge (ReplacingMergeTree on
-- generation): old generations clean themselves up. A key without a manifest is read from
-- detector_snapshots_v1 (0007), so snapshots saved before this migration still load; the first
-- save after it writes here and supersedes them.
CREATE TABLE IF NOT EXISTS detector_snapshot_parts_v1
(
    snapshot_key String,
    slot UInt8,
    part UInt32,
    generation UInt64,
    -- JSON text with long runs of repeated keys: zstd keeps a large state several times smaller on disk.
    body String CODEC(ZSTD(1))
)
ENGINE = ReplacingMergeTree(generation)
ORDER BY (snapshot_key, slot, part);

-- The latest generation per key is the snapshot; other_slot_parts is how many part rows the
-- other slot holds, so the next save there blanks what it does not overwrite.
CREATE TABLE IF NOT EXISTS detector_snapshot_manifests_v1
(
    snapshot_key String,
    generation UInt64,
    slot UInt8,
    parts UInt32,
    bytes UInt64,
    sha256 String,
    other_slot_parts UInt32,
    source_offset String,
    saved_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(generation)
ORDER BY snapshot_key;
