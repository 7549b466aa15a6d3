-- The digest of each event's source record (UsageEvent.fingerprint). Ingest reads back the ids and
-- fingerprints of recently accepted events when it starts, so a client's resend after a restart is
-- recognised as a duplicate and a reused event_id with other content is refused. '' for events
-- stored before the column existed.
ALTER TABLE usage_events_v1 ADD COLUMN IF NOT EXISTS fingerprint String DEFAULT '' AFTER overlap_group;
