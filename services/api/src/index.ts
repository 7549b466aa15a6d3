export { type AnomalyDetail, type AnomalyViewStore, describeAnomaly, stateOf } from './anomaly-view.ts';
export { createStateRecorder, type StateRecorder } from './state-recorder.ts';
