import { resolve } from 'node:path';
import { createLogger, Lifecycle, loadConfig, systemClock } from '@burnrate/core';
import { TOPICS } from '@burnrate/schemas';
import {
  createKafkaSnapshotStore,
  describeStore,
  exitOnStartFailure,
  quietKafkajsWarnings,
  openKafkaBus,
  openStore,
  readKafkaBrokers,
  readStoreSettings,
  registerHealthEndpoint,
  runUntilSignal,
} from '@burnrate/runtime';
import { declareTopics, DETECTOR_STATE_TOPIC } from '../../../infra/kafka/topics.ts';
import { createDetector, DETECTOR_GROUP_ID } from './detector.ts';
import { snapshotStoreFrom, type SnapshotStore } from './snapshots.ts';
import { createTeamDetector, rollupSources, TEAM_DETECTOR_GROUP_ID } from './team-detector.ts';

/**
 * The detector on its own (distributed mode): stage A over usage.events.v1 (group
 * burnrate-detector) and stage B over usage.rollups.v1 (group burnrate-team-detector), publishing
 * anomalies.v1 and usage.rollups.v1. Instances share partitions through the groups; each
 * partition's state is snapshotted with its offset and restored by whichever instance gets it.
 *
 * Snapshots go to the compacted topic detector-state.v1 by default (no database needed), or with
 * BURNRATE_DETECTOR_SNAPSHOTS=store to the store's detector_snapshots table (CLICKHOUSE_URL, or
 * BURNRATE_DATA_DIR for embedded chdb of this process only).
 *
 * env: KAFKA_BROKERS, BURNRATE_CONFIG, BURNRATE_DETECTOR_SNAPSHOTS (kafka | store), BURNRATE_LOG_LEVEL.
 */
async function main(env: NodeJS.ProcessEnv): Promise<void> {
  const log = createLogger({ level: env.BURNRATE_LOG_LEVEL ?? 'info' }).child({ service: 'detector' });
  quietKafkajsWarnings(log);
  if (!env.BURNRATE_CONFIG) throw new Error('BURNRATE_CONFIG is not set: the detector needs burnrate.yaml for teams and thresholds');
  const configPath = resolve(env.BURNRATE_CONFIG);
  const brokers = readKafkaBrokers(env, 'detector');
  const snapshotMode = env.BURNRATE_DETECTOR_SNAPSHOTS ?? 'kafka';
  if (snapshotMode !== 'kafka' && snapshotMode !== 'store') {
    throw new Error(`BURNRATE_DETECTOR_SNAPSHOTS must be kafka or store, not ${JSON.stringify(snapshotMode)}`);
  }
  const config = await loadConfig(configPath);
  const lifecycle = new Lifecycle(log);
  const health = registerHealthEndpoint(lifecycle, env, { service: 'detector', log });

  // A batch mostly waits: for its anomalies and rollups to be acknowledged, for its snapshot and
  // commit. Partition after partition those waits add up, and every event fetched behind them
  // waits too (ingest->anomaly p50 ~100 ms in `npm run bench:e2e`); with every partition an
  // instance can hold in flight at once they overlap, and the bus producer sends what they queued
  // together. Order within a partition still holds.
  const usagePartitions = declareTopics({ replicationFactor: 1, minInsyncReplicas: 1 }).find((t) => t.name === TOPICS.usageEvents.name);
  const bus = openKafkaBus({
    brokers,
    service: 'detector',
    log,
    consumer: { partitionsConsumedConcurrently: usagePartitions?.partitions ?? 1 },
  });
  lifecycle.register({ name: 'bus', start: async () => {}, stop: () => bus.close() });

  let snapshots: SnapshotStore;
  let snapshotsAt: string;
  if (snapshotMode === 'kafka') {
    const changelog = createKafkaSnapshotStore({ brokers, topic: DETECTOR_STATE_TOPIC, clientId: 'burnrate-detector', log });
    lifecycle.register({ name: 'snapshots', start: async () => {}, stop: () => changelog.close() });
    snapshots = changelog;
    snapshotsAt = `kafka topic ${DETECTOR_STATE_TOPIC}`;
  } else {
    const settings = readStoreSettings(env, 'detector (BURNRATE_DETECTOR_SNAPSHOTS=store)');
    const store = await openStore(settings, log);
    lifecycle.register({ name: 'store', start: () => store.migrate(), stop: () => store.close() });
    snapshots = snapshotStoreFrom(store, () => systemClock.now());
    snapshotsAt = `${describeStore(settings)} detector_snapshots`;
  }

  // Stage B starts before stage A and stops after it: it still consumes while stage A publishes
  // its last rollups on the way down (the embedded order).
  const teamDetector = createTeamDetector({
    config,
    producer: bus.producer(),
    snapshots,
    log,
    engine: { expectedSources: rollupSources(usagePartitions?.partitions ?? 0) },
  });
  const teamSubscription = bus.subscribe(teamDetector.subscribeOptions);
  lifecycle.register({
    name: 'team-detector',
    start: () => teamSubscription.start(),
    stop: async () => {
      await teamSubscription.stop();
      await teamDetector.stop();
    },
  });

  const detector = createDetector({ config, producer: bus.producer(), snapshots, log });
  const subscription = bus.subscribe(detector.subscribeOptions);
  lifecycle.register({
    name: 'detector',
    start: () => subscription.start(),
    stop: async () => {
      await subscription.stop();
      await detector.stop();
      log.info({ stageA: detector.stats(), stageB: teamDetector.stats() }, 'detector totals');
    },
  });

  health.ready({ [DETECTOR_GROUP_ID]: subscription, [TEAM_DETECTOR_GROUP_ID]: teamSubscription });

  await runUntilSignal({
    name: 'detector',
    lifecycle,
    log,
    ready: () => ({ groups: [DETECTOR_GROUP_ID, TEAM_DETECTOR_GROUP_ID], config: configPath, snapshots: snapshotsAt }),
  });
}

const bootLog = createLogger({ level: process.env.BURNRATE_LOG_LEVEL ?? 'info' }).child({ service: 'detector' });
main(process.env).catch(exitOnStartFailure('detector', bootLog));
