export type {
  Detector,
  AnyDetector,
  ConfigOf,
  DetectorEnv,
  ScorePoint,
  ScoreSink,
  ScoreUnit,
  SettingsSubject,
  StepContext,
  StepResult,
} from './detector.ts';
export { withScoreSink } from './detector.ts';
export {
  createDetectionEngine,
  LIVE_SILENCE_MS,
  DETECTORS,
  TEAM_DETECTORS,
  type ConfigsOf,
  type DedupeRing,
  type DetectionEngine,
  type DetectorConfigs,
  type DetectorRegistry,
  type EngineOptions,
  type EngineSnapshot,
  type EngineStats,
  type ProcessResult,
  type RestoreOptions,
  type TeamConfigsOf,
  type TeamDetectorConfigs,
  type TeamDetectorRegistry,
} from './engine.ts';
export {
  createTeamEngine,
  type RollupResult,
  type SourceTotals,
  type TeamEngine,
  type TeamEngineOptions,
  type TeamEngineSnapshot,
  type TeamEngineStats,
  type TeamHour,
} from './team-engine.ts';
export {
  addToRollup,
  createRollupState,
  DEFAULT_MAX_CLOCK_SKEW_MS,
  developerSpikesOf,
  eventTime,
  restoreRollupState,
  rollupSize,
  takeRollups,
  type DeveloperSpikeOf,
  type RollupEntry,
  type RollupState,
} from './team-rollup.ts';
export {
  sessionCost,
  type SessionCostDetectorConfig,
  type SessionCostSettings,
  type SessionCostState,
  type SessionCostThresholds,
  type SessionState,
} from './session-cost.ts';
export {
  runawaySession,
  RUNAWAY_QUIET_MS,
  type RunawaySession,
  type RunawaySessionConfig,
  type RunawaySessionSettings,
  type RunawaySessionState,
} from './runaway-session.ts';
export {
  contextBloat,
  type BloatSession,
  type ContextBloatConfig,
  type ContextBloatSettings,
  type ContextBloatState,
} from './context-bloat.ts';
export { lostEvents, type LostEventsConfig, type LostEventsSettings, type LostEventsState, type LostSession } from './lost-events.ts';
export {
  LEARNING_MS,
  newSpender,
  type Candidate,
  type NewSpenderConfig,
  type NewSpenderSettings,
  type NewSpenderState,
  type OrgIdentities,
} from './new-spender.ts';
export {
  addMark,
  episodeFields,
  markEvidence,
  openEpisode,
  plannedSeverity,
  resolveEpisode,
  sortedEvidence,
  updateEpisode,
  type Episode,
  type EpisodeChange,
  type EpisodeMark,
  type GrowthRule,
} from './episode.ts';
export {
  compileCalendar,
  DEFAULT_CALENDAR,
  describeAcknowledgement,
  hoursUnattended,
  hoursUntilAcknowledgement,
  isOffHours,
  isWorkingTime,
  localDate,
  localMidnight,
  localTime,
  lookByPhrase,
  nextWorkingStart,
  type AcknowledgementHorizon,
  type CalendarSpec,
  type LocalTime,
  type WorkCalendar,
} from './calendar.ts';
export { anomalyId, hash53 } from './hash.ts';
export { formatDuration, formatUsd, formatUsdRate, roundMoney, shortId } from './format.ts';
export {
  developerSpikeUsd,
  spendSpike,
  teamSpendSpike,
  type SpendSpikeConfig,
  type SpendSpikeSettings,
  type SpendSpikeState,
  type SpikeEpisode,
  type SpikeKey,
} from './spend-spike.ts';
export {
  modelMixDrift,
  teamModelMixDrift,
  type MixEpisode,
  type MixKey,
  type ModelMixDriftConfig,
  type ModelMixDriftSettings,
  type ModelMixDriftState,
} from './model-mix-drift.ts';
export {
  cacheEfficiencyDrop,
  teamCacheEfficiencyDrop,
  type CacheEfficiencyDropConfig,
  type CacheEfficiencyDropSettings,
  type CacheEfficiencyDropState,
  type CacheEpisode,
  type CacheKey,
  type DeveloperCacheState,
  type FamilyCacheKey,
} from './cache-efficiency-drop.ts';
export {
  budgetForecast,
  type BudgetForecastConfig,
  type BudgetForecastSettings,
  type BudgetForecastState,
  type BudgetTeam,
} from './budget-forecast.ts';
export { BASELINE_EXTRA_RETENTION_MS, latenessOf, overEvents, type BucketDetector } from './buckets/bucket-detector.ts';
export {
  bucketOfEvent,
  closedBucketCount,
  closesAt,
  createHourRollup,
  HOUR_MS,
  hourOf,
  isClosedHour,
  lastClosedHour,
  bucketIndex,
  mergeBucket,
  premiumEvents,
  rollupEvent,
  takeClosedBuckets,
  withBucket,
  withoutOldest,
  type HourBucket,
  type HourRollup,
} from './buckets/hourly.ts';
export { formatHourOnDay, formatLocalHour, isHoliday, isOffDay, isWorkingDay, localHourOf, type LocalHour } from './buckets/local-hour.ts';
export { ABS_DEV_TO_SIGMA, createEwma, EWMA_FIELDS, updateEwma, updateEwmaAt, type Ewma } from './baselines/ewma.ts';
export { createWelford, mergeWelford, updateWelford, welfordSampleVariance, welfordVariance, type Welford } from './baselines/welford.ts';
export {
  createRobustRing,
  MAD_TO_SIGMA,
  ringFill,
  ringPush,
  ringStats,
  robustScore,
  type RobustRing,
  type RobustStats,
} from './baselines/robust-ring.ts';
export {
  createEwmaProfile,
  createRingProfile,
  ewmaExpectation,
  hourOfWeek,
  ringExpectation,
  seasonalSlot,
  updateEwmaProfile,
  updateRingProfile,
  type Expectation,
} from './baselines/seasonal.ts';
export { twoProportionPValue } from './baselines/proportions.ts';
export { poissonBinomialTail } from './baselines/proportions.ts';
export { closesAfter, stepHour, weightedTokens } from './buckets/hourly.ts';
export { stepResults } from './buckets/bucket-detector.ts';
export { changePhase, plannedAdvice, type ChangePhase, type PhaseAt, type PlannedLookup } from './buckets/planned.ts';
