export type { Detector, AnyDetector, ConfigOf, StepResult } from './detector.ts';
export {
  createDetectionEngine,
  DETECTORS,
  type ConfigsOf,
  type DedupeRing,
  type DetectionEngine,
  type DetectorConfigs,
  type DetectorRegistry,
  type EngineOptions,
  type EngineSnapshot,
  type EngineStats,
  type ProcessResult,
} from './engine.ts';
export {
  sessionCost,
  type SessionCostDetectorConfig,
  type SessionCostState,
  type SessionCostThresholds,
  type SessionState,
} from './session-cost.ts';
export {
  DEFAULT_BUSINESS_HOURS,
  hoursUntilAcknowledgement,
  isBusinessHours,
  localTime,
  type AcknowledgementHorizon,
  type BusinessHours,
  type LocalTime,
} from './business-hours.ts';
export { anomalyId, hash53 } from './hash.ts';
export { formatDuration, formatUsd, roundMoney, shortId } from './format.ts';
