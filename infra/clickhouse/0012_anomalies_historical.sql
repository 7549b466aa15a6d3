-- Anomalies a backfill found (Anomaly.historical): the backtest path judged usage that arrived after
-- live detection had moved past its time. Listed like any anomaly; the notifier never routes them,
-- and leaves them out of the open anomalies that inhibit or gather others into an incident. false
-- for every row stored before the column existed: those were all found live.
ALTER TABLE anomalies_v1 ADD COLUMN IF NOT EXISTS historical Bool DEFAULT false AFTER detected_at;
