import { join } from 'node:path';
import { createApiRoutes, createStateRecorder, humanRoutes } from '@burnrate/api';
import { createInProcessBus } from '@burnrate/bus';
import {
  backfillService,
  combineSnapshotHealth,
  createBackfillRunner,
  createDetector,
  createTeamDetector,
  detectorHealth,
  snapshotStoreFrom,
} from '@burnrate/detector';
import { type Clock, createHttpServer, hasBearerToken, isLoopbackHost, jsonResponse, type Route, systemClock } from '@burnrate/core';
import {
  createEventLedger,
  createIngestCore,
  createIngestGate,
  createIngestRoutes,
  createOtlpExports,
  createOtlpGrpcServer,
  warmLedger,
} from '@burnrate/ingest';
import { createNotifier, storeSilences } from '@burnrate/notifier';
import { createPollers, readPollerSettings } from '@burnrate/poller';
import { buildChannels, type ConfiguredRoot } from '@burnrate/runtime';
import { TOPIC_NAMES } from '@burnrate/schemas';
import { createSink } from '@burnrate/sink';
import { createChdbStore } from '@burnrate/store';
import { prepareDataDir } from './data-dir.ts';

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  /** The OTLP/gRPC receivers' port; null runs none. */
  grpcPort: number | null;
  host: string;
  /** When set, /api/* needs `Authorization: Bearer <token>`, and /healthz tells the bearer the rest. */
  apiToken?: string;
  bodyLimitBytes?: number;
  clock?: Clock;
}

/**
 * Burnrate in one process: ingest, detector, notifier and the store sink over the in-process
 * bus and chdb, behind one HTTP port.
 *
 * The durability chain: ingest answers 2xx only after the bus log has the event on disk; the
 * sink, detector and notifier each commit their position only after their effect is durable
 * (rows in chdb, a detector snapshot, a delivery record). A kill -9 anywhere therefore replays
 * from the last commit, and the idempotent tables and the delivery log absorb the repeats.
 */
export async function buildEmbedded(root: ConfiguredRoot, options: EmbeddedOptions): Promise<() => Record<string, unknown>> {
  const { log, lifecycle, config: source } = root;
  const config = source.current();
  const clock = options.clock ?? systemClock;
  // First: a receiver whose secret is not set stops start-up before anything is opened.
  const channels = buildChannels(root.env, config, log);
  const pollerSettings = readPollerSettings(root.env);

  await prepareDataDir(options.dataDir);
  const store = await createChdbStore({ dataDir: join(options.dataDir, 'chdb'), log });
  lifecycle.register({ name: 'store', start: () => store.migrate(), stop: () => store.close() });

  const bus = createInProcessBus({ dir: join(options.dataDir, 'bus'), log });
  lifecycle.register({ name: 'bus', start: () => bus.ensureTopics(TOPIC_NAMES), stop: () => bus.close() });
  const producer = bus.producer();

  const sink = createSink({ store, log });
  const sinkSubscription = bus.subscribe(sink.subscribeOptions);
  lifecycle.register({
    name: 'sink',
    start: () => sinkSubscription.start(),
    stop: async () => {
      await sinkSubscription.stop();
      log.info(sink.counters, 'sink totals');
    },
  });

  const snapshots = snapshotStoreFrom(store, () => clock.now());
  // Stage B (team scope, over usage.rollups.v1) starts before stage A and stops after it: it is
  // still consuming while stage A publishes its last rollups on the way down.
  const teamDetector = createTeamDetector({ config: source, producer, snapshots, log, clock });
  const teamDetectorSubscription = bus.subscribe(teamDetector.subscribeOptions);
  lifecycle.register({
    name: 'team-detector',
    start: () => teamDetectorSubscription.start(),
    stop: async () => {
      await teamDetectorSubscription.stop();
      await teamDetector.stop();
    },
  });

  const detector = createDetector({ config: source, producer, snapshots, log, clock });
  const detectorSubscription = bus.subscribe(detector.subscribeOptions);
  lifecycle.register({
    name: 'detector',
    start: () => detectorSubscription.start(),
    stop: async () => {
      await detectorSubscription.stop();
      await detector.stop();
    },
  });

  // Late usage (an import, a poller catching up) that stage A hands over on usage.backfill.v1,
  // judged over the store and kept as historical anomalies.
  const backfill = createBackfillRunner({ config: source, store, producer, log, clock });
  lifecycle.register(backfillService(backfill, bus.subscribe(backfill.subscribeOptions), log));

  // Registered before the notifier so it closes after the last send.
  lifecycle.register({ name: 'channels', start: async () => {}, stop: () => channels.close() });
  const notifier = createNotifier({
    config: source,
    store,
    channels: channels.channels,
    log,
    clock,
    groupId: 'burnrate-notifier',
    silences: storeSilences(store),
  });
  const notifierSubscription = bus.subscribe(notifier.subscribeOptions);
  const stateSubscription = bus.subscribe(notifier.stateSubscribeOptions);
  lifecycle.register(notifier);
  lifecycle.register({
    name: 'notifier-consumer',
    start: async () => {
      await notifierSubscription.start();
      await stateSubscription.start();
    },
    stop: async () => {
      await stateSubscription.stop();
      await notifierSubscription.stop();
      log.info(notifier.stats(), 'notifier totals');
    },
  });

  const now = (): number => clock.now().getTime();
  const gate = createIngestGate({ config: source, now, log: log.child({ component: 'ingest' }) });
  const ledger = createEventLedger({ windowMs: config.ingest.dedupe_window, now });
  lifecycle.register({
    name: 'ledger',
    // Before the port opens: every event acknowledged before a restart must be known, so a
    // client's resend is a duplicate. They are all in the store once the sink has caught up
    // with the log (acknowledged means in the log), so wait for that, then read them back.
    start: async () => {
      const caughtUp = await waitFor(() => sinkSubscription.lag() === 0, LEDGER_CATCH_UP_MS);
      if (!caughtUp) {
        log.warn(
          { sinkLag: sinkSubscription.lag(), waitedMs: LEDGER_CATCH_UP_MS },
          'the store is behind the event log; resends of events it does not have yet will not be recognised as duplicates',
        );
      }
      const read = await warmLedger(ledger, store, { org: config.org, windowMs: config.ingest.dedupe_window, now: now() });
      log.info({ eventIds: read, windowMs: config.ingest.dedupe_window }, 'dedupe ledger loaded');
    },
    stop: async () => {},
  });

  // Slack button presses, email action links and the anomaly page: decisions go through the recorder.
  const recorder = createStateRecorder({ producer, store, log });
  const human = humanRoutes({ config: source, store, recorder, clock, log, env: root.env, apiToken: options.apiToken });

  const ingest = { config: source, producer, clock, log, gate, ledger };
  // Only the providers whose admin key is set; they publish as the routes do, through the same ledger.
  const pollers = createPollers({
    settings: pollerSettings,
    dir: join(options.dataDir, 'pollers'),
    ingest: createIngestCore(ingest),
    clock,
    log,
  });
  const routes: Route[] = [
    ...createIngestRoutes(ingest),
    {
      method: 'GET',
      path: '/healthz',
      handler: async (req) => {
        // What fails right now. Still 200: the process serves, and restarting it would fix neither
        // a full disk (ingest answers 503 until the log can be written again) nor a store that
        // refuses snapshots (consumption goes on, but nothing is committed: a restart would replay it all).
        const problems = bus.problems().map((p) => `bus: ${p}`);
        const snapshots = detectorHealth(combineSnapshotHealth([detector.snapshotHealth(), teamDetector.snapshotHealth()]));
        const backfillStatus = backfill.status();
        const health: Record<string, unknown> = {
          status: problems.length > 0 || snapshots.degraded || backfillStatus.failing ? 'degraded' : 'ok',
          problems,
          mode: 'embedded',
          // Messages each stage has yet to process; 0 everywhere means the store and the alerts are current.
          lag: {
            sink: sinkSubscription.lag(),
            detector: detectorSubscription.lag(),
            team_detector: teamDetectorSubscription.lag(),
            notifier: notifierSubscription.lag(),
            notifier_state: stateSubscription.lag(),
            // Messages due now and not yet sent (a group still waiting, or a snooze, is not due).
            notifier_outbox: await notifier.dueNow(),
          },
          detector: snapshots.detector,
          // Late usage: windows waiting, judged, and the historical anomalies they held.
          backfill: backfillStatus,
          pollers: pollers.health(),
          // Information, never degraded: Claude Code sessions whose log records were lost before they reached Burnrate.
          lost_events: detector.lostEvents(),
        };
        // Where the config lives, whose it is and who has been refused are for operators only.
        if (hasBearerToken(req, options.apiToken)) {
          const current = source.current();
          Object.assign(health, {
            config: source.origin,
            org: current.org,
            uptime_s: Math.round(process.uptime()),
            ingest: { auth: current.ingest.auth, ...gate.stats(), ledger: ledger.stats() },
          });
        }
        return jsonResponse(200, health);
      },
    },
    ...createApiRoutes({ store, producer, log, apiToken: options.apiToken, clock }),
    ...human.routes,
  ];
  const http = createHttpServer({ routes, log, bodyLimitBytes: options.bodyLimitBytes });
  let port = options.port;
  lifecycle.register({
    name: 'http',
    start: async () => {
      port = (await http.listen(options.port, options.host)).port;
    },
    stop: () => http.close(),
  });
  // After the ledger is loaded; stopped before the bus closes, so a poll in flight saves its cursor.
  lifecycle.register({ name: 'pollers', start: () => pollers.start(), stop: () => pollers.stop() });
  let grpcPort = options.grpcPort;
  if (options.grpcPort !== null) {
    const grpc = createOtlpGrpcServer({ exports: createOtlpExports(ingest), gate, log, maxMessageBytes: options.bodyLimitBytes });
    const wanted = options.grpcPort;
    lifecycle.register({
      name: 'otlp-grpc',
      start: async () => {
        grpcPort = (await grpc.listen(wanted, options.host)).port;
      },
      stop: () => grpc.close(),
    });
  }

  if (config.ingest.auth === 'none' && !isLoopbackHost(options.host)) {
    log.warn(
      { host: options.host, port: options.port },
      'ingest.auth is none and Burnrate listens beyond loopback: anyone who reaches this port can post usage and raise alerts',
    );
  }
  if (!options.apiToken && !isLoopbackHost(options.host)) {
    log.warn(
      { host: options.host, port: options.port },
      'BURNRATE_API_TOKEN is not set and Burnrate listens beyond loopback: anyone who reaches this port can read anomalies and acknowledge, snooze or resolve them',
    );
  }
  return () => ({
    port,
    otlpGrpcPort: grpcPort ?? 'off',
    host: options.host,
    dataDir: options.dataDir,
    config: source.origin,
    pollers: pollers.pollers.map((p) => p.source),
    ...channels.status,
    ...human.status,
  });
}

/** How long start-up waits for the sink to store what the log holds before loading the dedupe ledger. */
const LEDGER_CATCH_UP_MS = 30_000;

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}
