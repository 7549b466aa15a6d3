-- Every version of every anomaly episode (anomalies.v1). (id, version) is the dedupe key, so a
-- replayed version collapses while the history of an episode is kept; readers take the highest
-- version per id (LIMIT 1 BY over FINAL). subject and evidence are JSON text so they round-trip
-- exactly through the zod schema; org and team are copied out of subject for filtering.
CREATE TABLE IF NOT EXISTS anomalies_v1
(
    id String,
    version UInt32,
    kind LowCardinality(String),
    severity LowCardinality(String),
    status LowCardinality(String),
    org LowCardinality(String),
    team LowCardinality(String),
    subject String,
    window_start DateTime64(3, 'UTC'),
    window_end DateTime64(3, 'UTC'),
    observed_value Float64,
    observed_unit LowCardinality(String),
    expected_value Float64,
    expected_unit LowCardinality(String),
    impact_usd Float64,
    projected_usd Float64,
    evidence String,
    summary String,
    advice String,
    detected_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (id, version)
SETTINGS non_replicated_deduplication_window = 1000;
