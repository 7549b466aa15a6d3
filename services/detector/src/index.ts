export {
  createDetector,
  detectorConfigs,
  DETECTOR_GROUP_ID,
  type DetectorDeps,
  type DetectorService,
  type DetectorStats,
} from './detector.ts';
export {
  createTeamDetector,
  rollupSources,
  TEAM_DETECTOR_GROUP_ID,
  type TeamDetectorDeps,
  type TeamDetectorService,
  type TeamDetectorStats,
} from './team-detector.ts';
export { combineLostEvents, createLostEventsTally, type LostEventsHealth, type LostEventsTally } from './lost-events-tally.ts';
export { combineSnapshotHealth, detectorHealth, type DetectorHealthReport, type SnapshotHealth } from './snapshot-health.ts';
export {
  createMemorySnapshotStore,
  snapshotKey,
  snapshotStoreFrom,
  type SavedSnapshot,
  type SnapshotStore,
  type SnapshotTable,
} from './snapshots.ts';
export {
  BACKFILL_GROUP_ID,
  type BackfillRunner,
  type BackfillRunnerDeps,
  type BackfillStatus,
  type BackfillStore,
  backfillService,
  createBackfillRunner,
} from './backfill/backfill-runner.ts';
export {
  replay,
  reportsAfterTheirPeriod,
  type ReplayOptions,
  type ReplayResult,
  type ReplayStats,
  type ScorePoint,
  type ScoreSink,
  type ScoreUnit,
} from './replay.ts';
export {
  createDetectorThreads,
  readDetectorThreads,
  type DetectorThreads,
  type DetectorThreadSettings,
  type DetectorThreadsOptions,
  type ThreadStatus,
} from './threads.ts';
export { type DetectorPorts, serveDetectorThread, type ServeOptions } from './detector-thread.ts';
export {
  correctionsFrom,
  createReportCorrections,
  DEFAULT_REPORT_CORRECTIONS_EVERY_MS,
  readReconcileInterval,
  type ReportCorrections,
  type ReportCorrectionsStatus,
} from './report-corrections.ts';
export { type DetectorMetricsView, registerDetectorMetrics } from './detector-metrics.ts';
export { addTracked, type AnomalyCount, type TrackedState } from './detector-tally.ts';
