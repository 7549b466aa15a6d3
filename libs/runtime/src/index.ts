export {
  type Env,
  readKafkaBrokers,
  parseWholeNumber,
  readKafkaSendTimeoutMs,
  readBodyLimitBytes,
  readHost,
  readOtlpGrpcPort,
  readPort,
  readStoreSettings,
  type StoreSettings,
} from './env.ts';
export { buildChannels, type ChannelSet } from './channels.ts';
export { describeStore, openStore, openStoreOnFirstUse } from './store.ts';
export { type HealthDetails, type HealthEndpoint, type LagSource, registerHealthEndpoint } from './health.ts';
export { type ConfigWatch, createConfigWatch } from './config-watch.ts';
export { openKafkaBus } from './bus.ts';
export { exitOnStartFailure, quietKafkajsWarnings, runUntilSignal, type RunningService } from './run.ts';
export { createKafkaSnapshotStore, type KafkaSnapshotStoreOptions, type SnapshotChangelog } from './kafka-snapshot-store.ts';
export { type ConfigRequirement, type ConfiguredRoot, runService, type ServiceDefinition, type ServiceRoot } from './service.ts';
export { createMetrics, type Metrics, metricsRoute, type ReadMetric, type Sample, samplesOf } from './metrics.ts';
