export { createSink, type SinkDeps, type SinkCounters } from './sink.ts';
export { registerSinkMetrics } from './sink-metrics.ts';
