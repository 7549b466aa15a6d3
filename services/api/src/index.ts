export { createStateRecorder, type StateRecorder } from './state-recorder.ts';
