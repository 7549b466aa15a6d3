// A detector thread: one whole detector on Kafka (both stages, its own clients, a member of both
// consumer groups), wired here in one place, and served to the process's main thread (threads.ts)
// through messages. detector-worker.ts is the worker's entry; a benchmark may run its own entry
// that decorates the ports (producer, snapshot store, bus) before they are wired.
import { parentPort } from 'node:worker_threads';
import { declaredPartitions, DETECTOR_STATE_TOPIC, type KafkaBus, type Producer } from '@burnrate/bus';
import { createLogger, type HeldConfigSource, heldConfig, Lifecycle, type Logger, systemClock } from '@burnrate/core';
import {
  createKafkaSnapshotStore,
  describeStore,
  openKafkaBus,
  openStore,
  quietKafkajsWarnings,
  type StoreSettings,
} from '@burnrate/runtime';
import { TOPICS } from '@burnrate/schemas';
import { createDetector, DETECTOR_GROUP_ID } from './detector.ts';
import { combineSnapshotHealth } from './snapshot-health.ts';
import { snapshotStoreFrom, type SnapshotStore } from './snapshots.ts';
import { createTeamDetector, rollupSources, TEAM_DETECTOR_GROUP_ID } from './team-detector.ts';
import type { DetectorThreadSettings, FromThread, ThreadStatus, ToThread } from './threads.ts';

const MIB = 1024 * 1024;

/** What a detector is wired onto: the bus it consumes, the producer it publishes with, where it snapshots. */
export interface DetectorPorts {
  bus: Pick<KafkaBus, 'subscribe'>;
  producer: Producer;
  snapshots: SnapshotStore;
}

export interface ServeOptions {
  /** Decorates the ports before they are wired (a benchmark timing them); the identity in production. */
  ports?: (ports: DetectorPorts) => DetectorPorts;
  /** Answers a question the protocol does not know (`{ type: 'ask', what }`); production has none. */
  answer?: (what: string) => unknown;
}

/**
 * The thread's whole life: loads the config, opens the ports, wires both stages in start order
 * (the bus, the snapshot store, stage B over usage.rollups.v1, stage A over usage.events.v1:
 * stage B starts first and stops last, so it still consumes while stage A publishes its last
 * rollups on the way down), starts them, then answers the main thread until told to stop.
 */
export async function serveDetectorThread(settings: DetectorThreadSettings, options: ServeOptions = {}): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('a detector thread runs as a worker thread of the detector (threads.ts)');
  const post = (m: FromThread): void => port.postMessage(m);
  const log = createLogger({ level: settings.logLevel }).child({ service: 'detector', thread: settings.thread });
  quietKafkajsWarnings(log);

  const lifecycle = new Lifecycle(log);
  let config: HeldConfigSource;
  let wired: Wired;
  let snapshotsAt: string;
  try {
    config = heldConfig(settings.config, settings.configOrigin);
    const opened = await openPorts(lifecycle, settings, log);
    snapshotsAt = opened.snapshotsAt;
    wired = wire(lifecycle, options.ports?.(opened.ports) ?? opened.ports, config, log);
    await lifecycle.startAll();
  } catch (err) {
    await lifecycle.stop().catch(() => undefined);
    post(failure(err));
    port.close();
    return;
  }
  post({ type: 'started', snapshotsAt });

  const status = (): ThreadStatus => {
    const lag: Record<string, number> = {};
    const assigned: Record<string, number[]> = {};
    for (const [group, s] of Object.entries(wired.subscriptions)) {
      lag[group] = s.lag();
      assigned[group] = s.stats().assigned.map((tp) => Number(tp.slice(tp.lastIndexOf(':') + 1)));
    }
    return {
      thread: settings.thread,
      lag,
      assigned,
      stageA: wired.detector.stats(),
      stageB: wired.teamDetector.stats(),
      batches: wired.subscriptions[DETECTOR_GROUP_ID]?.stats().batches ?? 0,
      snapshots: combineSnapshotHealth([wired.detector.snapshotHealth(), wired.teamDetector.snapshotHealth()]),
      lostEvents: wired.detector.lostEvents(),
      tracked: { stageA: wired.detector.tracked(), stageB: wired.teamDetector.tracked() },
    };
  };

  port.on('message', (m: ToThread) => {
    if (m.type === 'status') post({ type: 'status', id: m.id, status: status() });
    else if (m.type === 'ask') post({ type: 'answer', id: m.id, value: options.answer?.(m.what) });
    else if (m.type === 'config') config.set(m.config);
    else if (m.type === 'stop') {
      const stopped = (): void => {
        post({ type: 'stopped', totals: { stageA: wired.detector.stats(), stageB: wired.teamDetector.stats() } });
        port.close();
      };
      lifecycle.stop().then(stopped, (err: unknown) => {
        post(failure(err));
        stopped();
      });
    }
  });
}

async function openPorts(
  lifecycle: Lifecycle,
  settings: DetectorThreadSettings,
  log: Logger,
): Promise<{ ports: DetectorPorts & { bus: KafkaBus }; snapshotsAt: string }> {
  const { brokers } = settings;
  const partitions = declaredPartitions(TOPICS.usageEvents.name);
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

  if (settings.snapshots === 'kafka') {
    const changelog = createKafkaSnapshotStore({ brokers, topic: DETECTOR_STATE_TOPIC, clientId: 'burnrate-detector', log });
    lifecycle.register({ name: 'snapshots', start: async () => {}, stop: () => changelog.close() });
    return { ports: { bus, producer: bus.producer(), snapshots: changelog }, snapshotsAt: `kafka topic ${DETECTOR_STATE_TOPIC}` };
  }
  const storeSettings: StoreSettings = settings.snapshots;
  const store = await openStore(storeSettings, log);
  lifecycle.register({ name: 'store', start: () => store.migrate(), stop: () => store.close() });
  return {
    ports: { bus, producer: bus.producer(), snapshots: snapshotStoreFrom(store, () => systemClock.now()) },
    snapshotsAt: `${describeStore(storeSettings)} detector_snapshots`,
  };
}

type Wired = ReturnType<typeof wire>;

function wire(lifecycle: Lifecycle, ports: DetectorPorts, config: HeldConfigSource, log: Logger) {
  const { bus, producer, snapshots } = ports;
  const partitions = declaredPartitions(TOPICS.usageEvents.name);
  const teamDetector = createTeamDetector({ config, producer, snapshots, log, engine: { expectedSources: rollupSources(partitions) } });
  const teamSubscription = bus.subscribe(teamDetector.subscribeOptions);
  lifecycle.register({
    name: 'team-detector',
    start: () => teamSubscription.start(),
    stop: async () => {
      await teamSubscription.stop();
      await teamDetector.stop();
    },
  });

  const detector = createDetector({ config, producer, snapshots, log });
  const subscription = bus.subscribe(detector.subscribeOptions);
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
  };
}

function failure(err: unknown): FromThread {
  return err instanceof Error ? { type: 'failed', message: err.message, stack: err.stack } : { type: 'failed', message: String(err) };
}
