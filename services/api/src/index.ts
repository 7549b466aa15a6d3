export { type AnomalyDetail, type AnomalyViewStore, describeAnomaly, stateOf } from './anomaly-view.ts';
export { type AnomalyEntry, anomalyEntry } from './anomaly-list.ts';
export { DECISION_VERBS, type DecisionVerb, MAX_SNOOZE_MS } from './decision-input.ts';
export { type PrecisionReport, type PrecisionRow, precisionReport } from './precision.ts';
export { type ApiDeps, createApiRoutes } from './routes.ts';
export { type SilenceEntry, type SilenceState, silenceState } from './silence-routes.ts';
export { createStateRecorder, type StateRecorder } from './state-recorder.ts';
