export { createSink, type SinkDeps, type SinkCounters } from './sink.ts';
export { createBufferedSink, type BufferedSink, type BufferedSinkDeps } from './buffered-sink.ts';
export { registerSinkMetrics } from './sink-metrics.ts';
