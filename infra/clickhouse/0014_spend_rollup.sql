-- Spend views over a year of a large org (GET /api/spend, libs/store/src/tables/spend-rollup.ts).
--
-- spend_hourly_v1 is exact (one narrow row per event, summed over FINAL) but a year of 5,000
-- developers is hundreds of millions of rows: too many to sum per request. A SummingMergeTree fed
-- by a view would be small but not exact (0002 says why: a retried or revised event adds again).
-- So the rollup is built, not fed: a refresher re-aggregates whole hours from spend_hourly_v1
-- FINAL into spend_rollup_v1 once their events have stopped changing, and reads take
--   sealed hours whose events have not changed since    from spend_rollup_v1 (small),
--   every other hour (the current one, revised, late)   from spend_hourly_v1 FINAL (exact),
-- so a figure is exact whether or not the refresher has run.

-- 1. spend_hourly_v1 learns what the spend views and reconciliation group by. Rows written before
--    this migration are rewritten from usage_events_v1 below; rows older than the raw events'
--    400 days keep the defaults (live, provider and source unknown).
ALTER TABLE spend_hourly_v1
    ADD COLUMN IF NOT EXISTS provider LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS source LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS live Bool DEFAULT true,
    ADD COLUMN IF NOT EXISTS session_id String DEFAULT '';

-- Created before the old view is dropped, so no insert in between is missed; a row both views
-- wrote collapses on (org, hour, event_id), and the rewrite below is inserted last, so it wins.
CREATE MATERIALIZED VIEW IF NOT EXISTS spend_hourly_mv_v2 TO spend_hourly_v1 AS
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
    cost_usd,
    provider,
    source,
    granularity = 'request' AS live,
    ifNull(session_id, '') AS session_id
FROM usage_events_v1;

DROP VIEW IF EXISTS spend_hourly_mv_v1;

INSERT INTO spend_hourly_v1
    (hour, org, event_id, team, developer, model, tool, ingested_at, requests, input_tokens, output_tokens,
     cache_read_tokens, cache_write_tokens, cost_usd, provider, source, live, session_id)
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
    cost_usd,
    provider,
    source,
    granularity = 'request' AS live,
    ifNull(session_id, '') AS session_id
FROM usage_events_v1 FINAL;

-- 2. The rollup: one row per hour and group, tagged with the build (`built_at`) that wrote it.
--    Reads take only the rows of an hour's sealed build, so rows of an older or an unfinished
--    build (a refresher killed before sealing, two refreshers at once) are never counted; they
--    stay as garbage until the partition is dropped. built_at is in the key so that no merge
--    replaces a sealed build's row with an unsealed one.
--    ORDER BY leads with (org, hour) because every read is one org over a time range; team next,
--    the most common filter. session_id is '' for report buckets and sessionless sources.
CREATE TABLE IF NOT EXISTS spend_rollup_v1
(
    org LowCardinality(String),
    hour DateTime('UTC'),
    team LowCardinality(String),
    provider LowCardinality(String),
    source LowCardinality(String),
    live Bool,
    model LowCardinality(String),
    tool LowCardinality(String),
    developer String,
    session_id String,
    built_at DateTime64(3, 'UTC'),
    events UInt64,
    requests UInt64,
    input_tokens UInt64,
    output_tokens UInt64,
    cache_read_tokens UInt64,
    cache_write_tokens UInt64,
    cost_usd Float64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (org, hour, team, provider, source, live, model, tool, developer, session_id, built_at)
TTL hour + INTERVAL 1100 DAY;

-- 2b. The same build per hour and team-level group (no developer, no session): what the views
--     that neither group nor filter by developer read. A year of a 5,000-developer org is about
--     as many rows in spend_rollup_v1 as it has events (developer × session × hour), a few
--     hundred thousand here. Written by the same build, before the same seal.
CREATE TABLE IF NOT EXISTS spend_rollup_team_v1
(
    org LowCardinality(String),
    hour DateTime('UTC'),
    team LowCardinality(String),
    provider LowCardinality(String),
    source LowCardinality(String),
    live Bool,
    model LowCardinality(String),
    tool LowCardinality(String),
    built_at DateTime64(3, 'UTC'),
    events UInt64,
    requests UInt64,
    input_tokens UInt64,
    output_tokens UInt64,
    cache_read_tokens UInt64,
    cache_write_tokens UInt64,
    cost_usd Float64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (org, hour, team, provider, source, live, model, tool, built_at)
TTL hour + INTERVAL 1100 DAY;

-- 2c. The same build per UTC day and developer-level group without session: what the views that
--     name developers but not sessions read for the whole days of their range at day or month
--     granularity. Sessions are what make spend_rollup_v1 nearly as large as the events; a day
--     of a developer is a few rows. A build that writes an hour writes its whole day here (every
--     hour of it, from the events), sealed in spend_rollup_days_v1 after the rows. first_hour and
--     last_hour keep the hours with spend that the day erases (GET /api/spend/top reports them).
CREATE TABLE IF NOT EXISTS spend_rollup_developer_day_v1
(
    org LowCardinality(String),
    day Date,
    team LowCardinality(String),
    provider LowCardinality(String),
    source LowCardinality(String),
    live Bool,
    model LowCardinality(String),
    tool LowCardinality(String),
    developer String,
    built_at DateTime64(3, 'UTC'),
    first_hour DateTime('UTC'),
    last_hour DateTime('UTC'),
    events UInt64,
    requests UInt64,
    input_tokens UInt64,
    output_tokens UInt64,
    cache_read_tokens UInt64,
    cache_write_tokens UInt64,
    cost_usd Float64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (org, day, team, provider, source, live, model, tool, developer, built_at)
TTL day + INTERVAL 1100 DAY;

-- 3. Seals: the build each hour's rollup rows belong to, written after all of them. The latest
--    seal counts; it covers the hour's events stored up to built_at.
CREATE TABLE IF NOT EXISTS spend_rollup_hours_v1
(
    org LowCardinality(String),
    hour DateTime('UTC'),
    built_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(built_at)
PARTITION BY toYYYYMM(hour)
ORDER BY (org, hour)
TTL hour + INTERVAL 1100 DAY;

-- 3b. Seals of the day rows (2c), written after them. A day counts from spend_rollup_developer_day_v1
--     only while no hour of it changed after its latest seal; otherwise its hours are read as in 3.
CREATE TABLE IF NOT EXISTS spend_rollup_days_v1
(
    org LowCardinality(String),
    day Date,
    built_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(built_at)
PARTITION BY toYYYYMM(day)
ORDER BY (org, day)
TTL day + INTERVAL 1100 DAY;

-- 4. When each hour's events last changed, by the store's clock at insert: an hour whose change is
--    later than its seal is read from spend_hourly_v1 until the refresher seals it again.
CREATE TABLE IF NOT EXISTS spend_changes_v1
(
    org LowCardinality(String),
    hour DateTime('UTC'),
    changed_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(changed_at)
PARTITION BY toYYYYMM(hour)
ORDER BY (org, hour)
TTL hour + INTERVAL 1100 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS spend_changes_mv_v1 TO spend_changes_v1 AS
SELECT org, toStartOfHour(occurred_at) AS hour, now64(3, 'UTC') AS changed_at
FROM usage_events_v1
GROUP BY org, hour;

INSERT INTO spend_changes_v1 (org, hour, changed_at)
SELECT org, hour, now64(3, 'UTC') AS changed_at
FROM spend_hourly_v1
GROUP BY org, hour;

-- 5. Which bucketed (report) sources have any row on a UTC day and provider: what the
--    reconciliation rule (tables/reconciliation.ts, chooseReports) picks the day's report from.
--    Source, provider and day never change for an event_id, so presence needs no FINAL.
CREATE TABLE IF NOT EXISTS spend_report_days_v1
(
    org LowCardinality(String),
    day Date,
    provider LowCardinality(String),
    source LowCardinality(String)
)
ENGINE = ReplacingMergeTree
ORDER BY (org, day, provider, source);

CREATE MATERIALIZED VIEW IF NOT EXISTS spend_report_days_mv_v1 TO spend_report_days_v1 AS
SELECT org, toDate(occurred_at) AS day, provider, source
FROM usage_events_v1
WHERE granularity != 'request'
GROUP BY org, day, provider, source;

INSERT INTO spend_report_days_v1 (org, day, provider, source)
SELECT org, toDate(occurred_at) AS day, provider, source
FROM usage_events_v1
WHERE granularity != 'request'
GROUP BY org, day, provider, source;
