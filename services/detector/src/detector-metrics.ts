import type { Metrics } from '@burnrate/runtime';
import type { AnomalyCount, TrackedState } from './detector-tally.ts';
import type { SnapshotHealth } from './snapshot-health.ts';

/** What the detector's metrics read at each scrape: per stage, what it holds and raised; the snapshots of both. */
export interface DetectorMetricsView {
  /** `detector` (stage A, usage.events.v1) and `team_detector` (stage B, usage.rollups.v1), as /healthz names their lag. */
  stages: { stage: 'detector' | 'team_detector'; tracked: TrackedState; anomalies: readonly AnomalyCount[] }[];
  snapshots: SnapshotHealth;
}

/**
 * The detector's part of /metrics, read from what it keeps for /healthz and its stats: anomalies
 * raised, keys tracked, how far event time is behind the wall clock, and how old the last snapshot is.
 */
export function registerDetectorMetrics(
  metrics: Metrics,
  read: () => DetectorMetricsView | Promise<DetectorMetricsView>,
  now: () => number = Date.now,
): void {
  // One scrape reads every metric; the view (a round trip to each detector thread) is taken once for them all.
  let pending: Promise<DetectorMetricsView> | undefined;
  const view = (): Promise<DetectorMetricsView> => {
    pending ??= Promise.resolve(read()).finally(() => setImmediate(() => (pending = undefined)));
    return pending;
  };
  const seconds = (iso: string): number => Math.max(0, (now() - Date.parse(iso)) / 1000);

  metrics.counter({
    name: 'burnrate_anomalies_total',
    help: 'Anomaly versions the detectors raised, by kind, severity and status (open, resolved); re-raised after a crash included.',
    labelNames: ['kind', 'severity', 'status'],
    read: async () =>
      (await view()).stages.flatMap((s) =>
        s.anomalies.map((a) => ({ labels: { kind: a.kind, severity: a.severity, status: a.status }, value: a.count })),
      ),
  });
  metrics.gauge({
    name: 'burnrate_detector_tracked_keys',
    help: 'Keys the detectors hold state for (sessions, developers, teams…), by stage and detector kind, over the partitions held here.',
    labelNames: ['stage', 'kind'],
    read: async () =>
      (await view()).stages.flatMap((s) =>
        Object.entries(s.tracked.keys).map(([kind, value]) => ({ labels: { stage: s.stage, kind }, value })),
      ),
  });
  metrics.gauge({
    name: 'burnrate_detector_watermark_lag_seconds',
    help: "Wall clock minus the stage's event-time watermark, of its furthest-behind partition held here (absent before the first event).",
    labelNames: ['stage'],
    read: async () =>
      (await view()).stages.flatMap((s) =>
        s.tracked.watermark === null ? [] : [{ labels: { stage: s.stage }, value: seconds(s.tracked.watermark) }],
      ),
  });
  metrics.gauge({
    name: 'burnrate_detector_snapshot_age_seconds',
    help: 'Time since the last detector snapshot was saved, of any partition (absent before the first).',
    labelNames: [],
    read: async () => {
      const saved = (await view()).snapshots.lastSavedAt;
      return saved === null ? [] : [{ labels: {}, value: seconds(saved) }];
    },
  });
  metrics.counter({
    name: 'burnrate_detector_snapshot_failures_total',
    help: "Detector snapshots that failed since start; while a partition's fail its offsets are not committed.",
    labelNames: [],
    read: async () => [{ labels: {}, value: (await view()).snapshots.failures }],
  });
  metrics.gauge({
    name: 'burnrate_detector_failing_partitions',
    help: 'Partitions whose latest snapshot attempt failed (/healthz says degraded while any does).',
    labelNames: [],
    read: async () => [{ labels: {}, value: (await view()).snapshots.failing.length }],
  });
}
