import type { KafkaSubscription } from '@burnrate/bus';
import { type Config, type Lifecycle, type Logger, systemClock } from '@burnrate/core';
import { createKafkaSnapshotStore, describeStore, openKafkaBus, openStore, type StoreSettings } from '@burnrate/runtime';
import { TOPICS } from '@burnrate/schemas';
import { declareTopics, DETECTOR_STATE_TOPIC } from '@burnrate/bus';
import { createDetector, DETECTOR_GROUP_ID, type DetectorService } from './detector.ts';
import type { PortTimings } from './port-timings.ts';
import { snapshotStoreFrom, type SnapshotStore } from './snapshots.ts';
import { createTeamDetector, rollupSources, TEAM_DETECTOR_GROUP_ID, type TeamDetectorService } from './team-detector.ts';

const MIB = 1024 * 1024;

export interface DetectorWiring {
  brokers: readonly string[];
  config: Config;
  /** Where partition snapshots go: the compacted topic detector-state.v1, or the store's detector_snapshots table. */
  snapshots: 'kafka' | StoreSettings;
  /** Times the ports (bench:e2e); off in production. */
  timings?: PortTimings | undefined;
}

export interface WiredDetector {
  detector: DetectorService;
  teamDetector: TeamDetectorService;
  /** By consumer group. */
  subscriptions: Readonly<Record<string, KafkaSubscription>>;
  /** Where the snapshots go, for the ready line. */
  snapshotsAt: string;
}

/** How many partitions usage.events.v1 is declared with (topics as code). */
export function usageEventPartitions(): number {
  return declareTopics({ replicationFactor: 1, minInsyncReplicas: 1 }).find((t) => t.name === TOPICS.usageEvents.name)?.partitions ?? 1;
}

/**
 * One detector on Kafka, registered on `lifecycle` in start order: the bus, the snapshot store,
 * stage B (usage.rollups.v1, group burnrate-team-detector), stage A (usage.events.v1, group
 * burnrate-detector). Stage B starts before stage A and stops after it, so it still consumes
 * while stage A publishes its last rollups on the way down (the embedded order). A detector
 * process runs one of these per thread (see threads.ts).
 */
export async function wireDetector(lifecycle: Lifecycle, wiring: DetectorWiring, log: Logger): Promise<WiredDetector> {
  const { brokers, config, timings } = wiring;
  const partitions = usageEventPartitions();
  // A batch mostly waits: for its anomalies and rollups to be acknowledged, for its snapshot and
  // commit. Partition after partition those waits add up, and every event fetched behind them
  // waits too (ingest->anomaly p50 ~100 ms in `npm run bench:e2e`); with every partition an
  // instance can hold in flight at once they overlap, and the bus producer sends what they queued
  // together. Order within a partition still holds.
  //
  // Fetches are large: a detector catching up is CPU-bound, and each fetch cycle costs the same
  // however much it brings (the request, the broker's read, kafkajs's copy of the response into
  // one buffer, a round of batches). 8 MiB per partition and 50 MiB per fetch (the Java
  // consumer's fetch.max.bytes) took bench:e2e from about 64k to 80-90k events/s per instance;
  // the handler still gets at most 1000 messages at a time. Live traffic fetches what has arrived.
  const bus = openKafkaBus({
    brokers,
    service: 'detector',
    log,
    consumer: { partitionsConsumedConcurrently: partitions, maxBytesPerPartition: 8 * MIB, maxBytes: 50 * MIB },
  });
  lifecycle.register({ name: 'bus', start: async () => {}, stop: () => bus.close() });

  let snapshots: SnapshotStore;
  let snapshotsAt: string;
  if (wiring.snapshots === 'kafka') {
    const changelog = createKafkaSnapshotStore({ brokers, topic: DETECTOR_STATE_TOPIC, clientId: 'burnrate-detector', log });
    lifecycle.register({ name: 'snapshots', start: async () => {}, stop: () => changelog.close() });
    snapshots = changelog;
    snapshotsAt = `kafka topic ${DETECTOR_STATE_TOPIC}`;
  } else {
    const settings = wiring.snapshots;
    const store = await openStore(settings, log);
    lifecycle.register({ name: 'store', start: () => store.migrate(), stop: () => store.close() });
    snapshots = snapshotStoreFrom(store, () => systemClock.now());
    snapshotsAt = `${describeStore(settings)} detector_snapshots`;
  }
  if (timings !== undefined) snapshots = timings.snapshots(snapshots);
  const producer = timings === undefined ? bus.producer() : timings.producer(bus.producer());

  const teamDetector = createTeamDetector({ config, producer, snapshots, log, engine: { expectedSources: rollupSources(partitions) } });
  const teamOptions =
    timings === undefined ? teamDetector.subscribeOptions : timings.subscription('stageBBatch', teamDetector.subscribeOptions);
  const teamSubscription = bus.subscribe(teamOptions);
  lifecycle.register({
    name: 'team-detector',
    start: () => teamSubscription.start(),
    stop: async () => {
      await teamSubscription.stop();
      await teamDetector.stop();
    },
  });

  const detector = createDetector({ config, producer, snapshots, log });
  const options = timings === undefined ? detector.subscribeOptions : timings.subscription('stageABatch', detector.subscribeOptions);
  const subscription = bus.subscribe(options);
  lifecycle.register({
    name: 'detector',
    start: () => subscription.start(),
    stop: async () => {
      await subscription.stop();
      await detector.stop();
      log.info({ stageA: detector.stats(), stageB: teamDetector.stats() }, 'detector thread totals');
    },
  });

  return {
    detector,
    teamDetector,
    subscriptions: { [DETECTOR_GROUP_ID]: subscription, [TEAM_DETECTOR_GROUP_ID]: teamSubscription },
    snapshotsAt,
  };
}
