export { createSink, type SinkDeps, type SinkCounters } from './sink.ts';
