import { join } from 'node:path';
import { createApiRoutes, createConsoleSessions, createStateRecorder, createWebConsole, humanRoutes, teamBudgets } from '@burnrate/api';
import { createInProcessBus, type Subscription } from '@burnrate/bus';
import {
  backfillService,
  combineSnapshotHealth,
  createBackfillRunner,
  createDetector,
  createReportCorrections,
  createTeamDetector,
  detectorHealth,
  readReconcileInterval,
  registerDetectorMetrics,
  snapshotStoreFrom,
} from '@burnrate/detector';
import {
  BurnrateError,
  type Clock,
  configWarnings,
  createHttpServer,
  hasBearerToken,
  isLoopbackHost,
  jsonResponse,
  type Logger,
  type Route,
  systemClock,
} from '@burnrate/core';
import {
  createDlqReplayer,
  createEventLedger,
  createIngestCore,
  createIngestGate,
  createIngestRoutes,
  createIngestTally,
  createOtlpExports,
  createOtlpGrpcServer,
  type IngestTally,
  registerIngestMetrics,
  warmLedger,
} from '@burnrate/ingest';
import { createNotifier, registerNotifierMetrics, storeSilences } from '@burnrate/notifier';
import { createPollers, readPollerSettings } from '@burnrate/poller';
import { buildChannels, type ConfiguredRoot, createMetrics, metricsRoute } from '@burnrate/runtime';
import { TOPIC_NAMES } from '@burnrate/schemas';
import { createBufferedSink, registerSinkMetrics } from '@burnrate/sink';
import { createChdbStore, createSpendRollupRefresher } from '@burnrate/store';
import { createBacktestThread } from './console-backtest-thread.ts';
import { prepareDataDir } from './data-dir.ts';
import { createHandoverSpool, drainSpools, handoverIngest, type HandoverIngest } from './handover.ts';
import { acquireInstanceLock, type InstanceLock, type LockOwner, waitForRelease } from './instance-lock.ts';

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
  /** How long a successor waits for the running process to hand over the data directory; default 2 minutes. */
  handOverTimeoutMs?: number;
  /** When the sink writes what it has taken from the log: at `maxRows` rows (50 000) or after `maxDelayMs` (1000). */
  sink?: { maxRows?: number; maxDelayMs?: number };
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
  const now = (): number => clock.now().getTime();
  const gate = createIngestGate({ config: source, now, log: log.child({ component: 'ingest' }) });
  const ledger = createEventLedger({ windowMs: config.ingest.dedupe_window, now });
  // Every receiver, poller, replay and the handover drain count into one tally (GET /metrics).
  const tally = createIngestTally();
  // The data directory is this process's alone; a running one is asked to hand it over, and its
  // ports are taken first so no export is refused meanwhile (handover.ts).
  const { lock, handover, sharing } = await takeDataDir(root, options, { config: source, clock, log, gate, now, tally });
  lifecycle.register({ name: 'data-dir-lock', start: async () => {}, stop: () => lock.release() });

  const store = await createChdbStore({ dataDir: join(options.dataDir, 'chdb'), log });
  lifecycle.register({ name: 'store', start: () => store.migrate(), stop: () => store.close() });

  // After the store opens, stopped before it closes.
  const refresher = createSpendRollupRefresher({ store, log });
  lifecycle.register({ name: 'spend-rollup', start: () => refresher.start(), stop: () => refresher.stop() });

  const bus = createInProcessBus({ dir: join(options.dataDir, 'bus'), log });
  lifecycle.register({ name: 'bus', start: () => bus.ensureTopics(TOPIC_NAMES), stop: () => bus.close() });
  const producer = bus.producer();

  // Rows from many requests go to ClickHouse as one insert (every BURNRATE_SINK_MAX_DELAY_MS, or
  // sooner at BURNRATE_SINK_MAX_ROWS), as in a distributed deployment: an insert per request made
  // a part per request, which ClickHouse then spends its own threads merging.
  const sink = createBufferedSink({ store, log, ...options.sink });
  const bufferedSubscription = bus.subscribe(sink.subscribeOptions);
  // Caught up means stored: the rows taken from the log but not yet written count as lag.
  const sinkSubscription: Subscription = {
    start: () => bufferedSubscription.start(),
    stop: () => bufferedSubscription.stop(),
    lag: () => bufferedSubscription.lag() + sink.stats().buffered,
  };
  lifecycle.register({
    name: 'sink',
    start: () => sinkSubscription.start(),
    stop: async () => {
      // Written and committed before the subscription stops.
      await sink.drain();
      await sinkSubscription.stop();
      log.info(sink.stats(), 'sink totals');
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

  // What the providers' reports count per team and day, for the budget forecast (stage B).
  const corrections = createReportCorrections({ store, producer, log, clock, everyMs: readReconcileInterval(root.env) });
  lifecycle.register({ name: 'report-corrections', start: async () => corrections.start(), stop: () => corrections.stop() });

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
      // What a successor accepted while this process took over (or one that died before it could publish it).
      const live = createIngestCore({ config: source, clock, log, gate, producer, ledger, tally });
      const drain = () => drainSpools(options.dataDir, { ingest: live, producer, log });
      const drained = handover === undefined ? await drain() : await handover.ingest.goLive({ producer, ledger }, drain);
      if (drained.files > 0) log.info(drained, 'handover spool published');
    },
    stop: async () => {},
  });

  // Slack button presses, email action links and the anomaly page: decisions go through the recorder.
  const recorder = createStateRecorder({ producer, store, log });
  // The config page's backtests run in a worker thread, one at a time (stopped before the HTTP server, below).
  const backtester = createBacktestThread({ config: source, store, log, clock });
  const webConsole = createWebConsole({
    store,
    recorder,
    config: source,
    sessions: createConsoleSessions({ apiToken: options.apiToken, publicUrl: () => source.current().public_url }),
    clock,
    log,
    budgets: () => teamBudgets(source.current()),
    backtester,
    warnings: () => configWarnings(source.current(), clock.now().getTime()),
  });
  const human = humanRoutes({
    config: source,
    store,
    recorder,
    clock,
    log,
    env: root.env,
    apiToken: options.apiToken,
    console: webConsole.anomalyPage,
  });

  const ingest = { config: source, clock, log, gate, tally, ...(handover?.ingest ?? { producer, ledger }) };
  // Only the providers whose admin key is set; they publish as the routes do, through the same ledger.
  const pollers = createPollers({
    settings: pollerSettings,
    dir: join(options.dataDir, 'pollers'),
    ingest: createIngestCore(ingest),
    clock,
    log,
  });
  const metrics = createMetrics();
  registerIngestMetrics(metrics, { tally, gate, ledger: ingest.ledger });
  registerSinkMetrics(metrics, { written: () => sink.stats().flushed, deadLetters: () => sink.deadLetters() });
  registerDetectorMetrics(
    metrics,
    () => ({
      stages: [
        { stage: 'detector', tracked: detector.tracked(), anomalies: detector.stats().anomalies },
        { stage: 'team_detector', tracked: teamDetector.tracked(), anomalies: teamDetector.stats().anomalies },
      ],
      snapshots: combineSnapshotHealth([detector.snapshotHealth(), teamDetector.snapshotHealth()]),
    }),
    now,
  );
  registerNotifierMetrics(metrics, notifier);
  // The lag /healthz reports per stage, by consumer group as the distributed services name it.
  const consumers = [
    [sink.subscribeOptions.groupId, sinkSubscription],
    [detector.subscribeOptions.groupId, detectorSubscription],
    [teamDetector.subscribeOptions.groupId, teamDetectorSubscription],
    [notifier.subscribeOptions.groupId, notifierSubscription],
    [notifier.stateSubscribeOptions.groupId, stateSubscription],
  ] as const;
  metrics.gauge({
    name: 'burnrate_consumer_lag_messages',
    help: 'Messages each consumer group has yet to process (the lag /healthz reports per stage).',
    labelNames: ['group'],
    read: () => consumers.map(([group, s]) => ({ labels: { group }, value: s.lag() })),
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
        const storeFailing = sink.failing();
        if (storeFailing !== undefined)
          problems.push(
            `sink: ${sink.subscribeOptions.groupId} cannot write ${storeFailing.rows} rows to the store: ${storeFailing.message} ` +
              `(since ${new Date(storeFailing.since).toISOString()}, ${storeFailing.attempts} attempt${storeFailing.attempts === 1 ? '' : 's'})`,
          );
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
          // What the providers' reports moved the budget forecasts' month to date by (never degraded).
          report_corrections: corrections.status(),
          // Information, never degraded: Claude Code sessions whose log records were lost before they reached Burnrate.
          lost_events: detector.lostEvents(),
        };
        // Where the config lives, whose it is and who has been refused are for operators only.
        if (hasBearerToken(req, options.apiToken)) {
          const current = source.current();
          Object.assign(health, {
            // The file in use (path, hash, when it was read) and why the last reload was refused.
            config: source.status(),
            org: current.org,
            uptime_s: Math.round(process.uptime()),
            ingest: { auth: current.ingest.auth, ...gate.stats(), ledger: ledger.stats() },
          });
        }
        return jsonResponse(200, health);
      },
    },
    metricsRoute(metrics, options.apiToken),
    // A DLQ replay is published as the receivers publish: same ledger, same tally.
    ...createApiRoutes({
      store,
      producer,
      log,
      apiToken: options.apiToken,
      clock,
      dlqReplayer: createDlqReplayer(createIngestCore(ingest)),
      budgets: () => teamBudgets(source.current()),
    }),
    ...human.routes,
    ...webConsole.routes,
  ];
  const http = createHttpServer({ routes, log, bodyLimitBytes: options.bodyLimitBytes, observe: (r) => metrics.observeHttp(r) });
  let handingOver = false;
  root.onHandOver(() => {
    handingOver = true;
  });
  let port = options.port;
  lifecycle.register({
    name: 'http',
    start: async () => {
      port = (await http.listen(options.port, options.host, sharing)).port;
    },
    stop: () => (handingOver ? http.handOver() : http.close()),
  });
  // Registered after the HTTP server, so stopped before it: a backtest in flight is ended and its
  // request answered, rather than holding the server's close for minutes.
  lifecycle.register({ name: 'console-backtest', start: async () => {}, stop: () => backtester.stop() });
  // After the ledger is loaded; stopped before the bus closes, so a poll in flight saves its cursor.
  lifecycle.register({ name: 'pollers', start: () => pollers.start(), stop: () => pollers.stop() });
  let grpcPort = options.grpcPort;
  if (options.grpcPort !== null) {
    const grpc = createOtlpGrpcServer({ exports: createOtlpExports(ingest), gate, log, maxMessageBytes: options.bodyLimitBytes });
    const wanted = options.grpcPort;
    lifecycle.register({
      name: 'otlp-grpc',
      start: async () => {
        grpcPort = (await grpc.listen(wanted, options.host, sharing)).port;
      },
      stop: () => grpc.close(),
    });
  }
  if (handover !== undefined) {
    // Both receivers now listen beside the ones that took over the ports; those close gracefully.
    lifecycle.register({ name: 'handover-receivers', start: () => handover.closeReceivers(), stop: async () => {} });
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

/** What a successor holds while it takes over: the receivers on the predecessor's ports, spooling. */
interface Handover {
  from: LockOwner;
  ingest: HandoverIngest;
  /** Closes the interim receivers, as a process handing over does: kept-alive clients are served, then sent on. */
  closeReceivers(): Promise<void>;
}

interface IngestParts {
  config: ConfiguredRoot['config'];
  clock: Clock;
  log: Logger;
  gate: ReturnType<typeof createIngestGate>;
  now: () => number;
  tally: IngestTally;
}

/**
 * Takes the data directory's lock. When a running `burnrate start` holds it, takes over from it:
 * the OTLP/HTTP and OTLP/gRPC receivers listen beside its own on the same ports (SO_REUSEPORT) and
 * accept into a spool, the running process is asked to hand over (SIGUSR2: it stops accepting
 * connections, serves its kept-alive clients to the end and shuts down cleanly), and once it has
 * let go of the directory the lock is this process's. The receivers then bind `take-over`
 * beside the interim ones; otherwise `shared`, so the next start can do the same.
 */
async function takeDataDir(
  root: ConfiguredRoot,
  options: EmbeddedOptions,
  parts: IngestParts,
): Promise<{ lock: InstanceLock; handover: Handover | undefined; sharing: 'shared' | 'take-over' }> {
  const ports = { port: options.port, grpcPort: options.grpcPort };
  const first = await acquireInstanceLock(options.dataDir, ports);
  if ('held' in first) return { lock: first.held, handover: undefined, sharing: 'shared' };

  const from = first.busy;
  const { log } = parts;
  const spool = await createHandoverSpool(options.dataDir);
  const ingest = handoverIngest(spool, createEventLedger({ windowMs: parts.config.current().ingest.dedupe_window, now: parts.now }));
  const receiving = { config: parts.config, clock: parts.clock, log, gate: parts.gate, tally: parts.tally, ...ingest };
  const starting: Route = {
    method: 'GET',
    path: '/healthz',
    handler: () =>
      Promise.resolve(
        jsonResponse(503, { status: 'starting', mode: 'embedded', handover_from: from.pid, problems: [] }, { 'retry-after': '2' }),
      ),
  };
  const http = createHttpServer({ routes: [...createIngestRoutes(receiving), starting], log, bodyLimitBytes: options.bodyLimitBytes });
  const grpc =
    options.grpcPort === null
      ? undefined
      : createOtlpGrpcServer({ exports: createOtlpExports(receiving), gate: parts.gate, log, maxMessageBytes: options.bodyLimitBytes });
  const closeReceivers = async (): Promise<void> => {
    await Promise.all([http.handOver(), grpc?.close()]);
  };
  try {
    await http.listen(options.port, options.host, 'take-over');
    if (grpc !== undefined && options.grpcPort !== null) await grpc.listen(options.grpcPort, options.host, 'take-over');
  } catch (err) {
    await closeReceivers();
    await spool.close();
    throw new BurnrateError(
      'CONFIG_INVALID',
      `data directory ${options.dataDir} is in use by burnrate start (pid ${from.pid}), and its ports cannot be taken over (${(err as Error).message}); stop it first, or start this one on another data directory`,
      { cause: err },
    );
  }
  log.info(
    { from: from.pid, port: options.port, grpcPort: options.grpcPort, spool: spool.path },
    'taking over from the running burnrate start',
  );
  try {
    process.kill(from.pid, 'SIGUSR2');
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'ESRCH') throw err;
  }
  const timeoutMs = options.handOverTimeoutMs ?? HAND_OVER_TIMEOUT_MS;
  if (!(await waitForRelease(options.dataDir, from, timeoutMs))) {
    await closeReceivers();
    throw new BurnrateError(
      'CONFIG_INVALID',
      `burnrate start (pid ${from.pid}) did not hand over ${options.dataDir} within ${timeoutMs / 1000} s; what this process accepted meanwhile is kept in ${spool.path} for the next start`,
    );
  }
  const next = await acquireInstanceLock(options.dataDir, ports);
  if (!('held' in next)) {
    await closeReceivers();
    throw new BurnrateError(
      'CONFIG_INVALID',
      `data directory ${options.dataDir} was taken by another burnrate start (pid ${next.busy.pid}) first`,
    );
  }
  log.info({ from: from.pid }, 'the previous burnrate start let go of the data directory');
  return { lock: next.held, handover: { from, ingest, closeReceivers }, sharing: 'take-over' };
}

const HAND_OVER_TIMEOUT_MS = 120_000;

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
