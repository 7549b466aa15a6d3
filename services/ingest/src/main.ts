import {
  anomalyPageRoute,
  createApiRoutes,
  createConsoleSessions,
  createStateRecorder,
  createWebConsole,
  teamBudgets,
} from '@burnrate/api';
import { configWarnings, createHttpServer, hasBearerToken, isLoopbackHost, jsonResponse, type Route, systemClock } from '@burnrate/core';
import {
  describeStore,
  openKafkaBus,
  openStoreOnFirstUse,
  readBodyLimitBytes,
  readHost,
  readKafkaBrokers,
  readKafkaSendTimeoutMs,
  readOtlpGrpcPort,
  readPort,
  readStoreSettings,
  createMetrics,
  metricsRoute,
  runService,
} from '@burnrate/runtime';
import { createIngestGate } from './auth.ts';
import { createIngestRoutes } from './http.ts';
import { createDlqReplayer } from './dlq-replay.ts';
import { createIngestCore } from './ingest-core.ts';
import { registerIngestMetrics } from './ingest-metrics.ts';
import { createIngestTally } from './ingest-tally.ts';
import { createEventLedger } from './ledger.ts';
import { createOtlpExports } from './otlp-export.ts';
import { createOtlpGrpcServer } from './otlp-grpc.ts';

/**
 * The ingest service on its own (distributed mode): HTTP receivers that publish to
 * usage.events.v1 / usage.dlq.v1 on Kafka and answer 2xx only once Kafka has the records.
 * Stateless, so any number of instances can run behind a load balancer.
 *
 * env: KAFKA_BROKERS, KAFKA_SEND_TIMEOUT_MS (default 5000: a request waits at most this long for
 * Kafka, then gets 503 with Retry-After), BURNRATE_CONFIG, BURNRATE_PORT (default 8787),
 * BURNRATE_OTLP_GRPC_PORT (default 4317; `off` runs no OTLP/gRPC receiver),
 * BURNRATE_HOST (default 127.0.0.1: set 0.0.0.0 behind a load balancer), BURNRATE_BODY_LIMIT_BYTES,
 * BURNRATE_API_TOKEN (needed by the API's routes and GET /metrics, and shows operators the config path, org and
 * refusal counts on /healthz), BURNRATE_LOG_LEVEL, BURNRATE_CONFIG_WATCH. SIGHUP or a change of
 * the file reloads burnrate.yaml (keys, members, ownership, prices, limits).
 *
 * With CLICKHOUSE_URL (+ CLICKHOUSE_USER, CLICKHOUSE_PASSWORD, CLICKHOUSE_DATABASE) it is also the
 * API process: the anomaly, silence and report routes of @burnrate/api read the shared store, and
 * decisions go to anomaly-state.v1 on Kafka, keyed by anomaly id, so they reach the notifier that
 * owns the anomaly's partition. It runs no migrations (`burnrate migrate`, the sink and the notifier
 * do) and does not wait for ClickHouse at start: ingest keeps taking events while the store is
 * down, and only the API's routes answer 503. BURNRATE_DATA_DIR is not read: a chdb store of this
 * process alone would hold no anomalies.
 *
 * Each instance remembers the event ids it accepted (config `ingest.dedupe_window`), so a resend
 * to the same instance is a duplicate and a reused id with other content is refused; a resend
 * that reaches another instance is caught by the detector's per-developer dedupe and collapsed
 * by the store.
 */
runService({
  name: 'ingest',
  verb: 'listening',
  config: { required: true, why: 'needs burnrate.yaml for attribution and pricing' },
  async build({ env, log, lifecycle, config: source }) {
    const port = readPort(env, 'BURNRATE_PORT', 8787);
    const grpcPort = readOtlpGrpcPort(env);
    const host = readHost(env);
    const apiToken = env.BURNRATE_API_TOKEN;
    const bodyLimitBytes = readBodyLimitBytes(env);

    const bus = openKafkaBus({
      brokers: readKafkaBrokers(env, 'ingest service'),
      service: 'ingest',
      log,
      sendTimeoutMs: readKafkaSendTimeoutMs(env),
    });
    lifecycle.register({ name: 'bus', start: async () => {}, stop: () => bus.close() });

    const storeSettings = env.CLICKHOUSE_URL ? readStoreSettings(env, 'ingest API') : undefined;
    const store = storeSettings && openStoreOnFirstUse(storeSettings, log);
    // Registered before http, so it closes after the last request.
    if (store) lifecycle.register({ name: 'store', start: async () => {}, stop: () => store.close() });

    const now = (): number => Date.now();
    const gate = createIngestGate({ config: source, now, log: log.child({ component: 'ingest' }) });
    const ledger = createEventLedger({ windowMs: source.current().ingest.dedupe_window, now });
    const tally = createIngestTally();
    const ingest = { config: source, producer: bus.producer(), clock: systemClock, log, gate, ledger, tally };
    const metrics = createMetrics();
    registerIngestMetrics(metrics, { tally, gate, ledger });
    const routes: Route[] = [
      ...createIngestRoutes(ingest),
      metricsRoute(metrics, apiToken),
      {
        method: 'GET',
        path: '/healthz',
        handler: async (req) => {
          const health: Record<string, unknown> = { status: 'ok', service: 'ingest', mode: 'distributed' };
          if (hasBearerToken(req, apiToken)) {
            const current = source.current();
            Object.assign(health, {
              org: current.org,
              config: source.status(),
              uptime_s: Math.round(process.uptime()),
              ingest: { auth: current.ingest.auth, ...gate.stats(), ledger: ledger.stats() },
            });
          }
          return jsonResponse(200, health);
        },
      },
      ...(store
        ? createApiRoutes({
            store,
            producer: bus.producer(),
            log,
            apiToken,
            clock: systemClock,
            dlqReplayer: createDlqReplayer(createIngestCore(ingest)),
            budgets: () => teamBudgets(source.current()),
          })
        : []),
      // The web console where the API is. No backtest form here (the detectors run elsewhere: use
      // burnrate backtest), and the anomaly page without email-link buttons (those are the notifier's).
      ...(store ? consoleRoutes(store) : []),
    ];
    function consoleRoutes(store: ReturnType<typeof openStoreOnFirstUse>): Route[] {
      const webConsole = createWebConsole({
        store,
        recorder: createStateRecorder({ producer: bus.producer(), store, log }),
        config: source,
        sessions: createConsoleSessions({ apiToken, publicUrl: () => source.current().public_url }),
        clock: systemClock,
        log,
        budgets: () => teamBudgets(source.current()),
        warnings: () => configWarnings(source.current()),
      });
      return [
        anomalyPageRoute({ store, clock: systemClock, log, linkSecret: undefined, apiToken, console: webConsole.anomalyPage }),
        ...webConsole.routes,
      ];
    }
    const http = createHttpServer({
      routes,
      log,
      observe: (r) => metrics.observeHttp(r),
      ...(bodyLimitBytes !== undefined ? { bodyLimitBytes } : {}),
    });
    let boundPort = port;
    // Stopped first: no request is accepted once the producer starts closing.
    lifecycle.register({
      name: 'http',
      start: async () => {
        boundPort = (await http.listen(port, host)).port;
      },
      stop: () => http.close(),
    });
    let boundGrpcPort = grpcPort;
    if (grpcPort !== null) {
      const grpc = createOtlpGrpcServer({
        exports: createOtlpExports(ingest),
        gate,
        log,
        ...(bodyLimitBytes !== undefined ? { maxMessageBytes: bodyLimitBytes } : {}),
      });
      lifecycle.register({
        name: 'otlp-grpc',
        start: async () => {
          boundGrpcPort = (await grpc.listen(grpcPort, host)).port;
        },
        stop: () => grpc.close(),
      });
    }
    if (source.current().ingest.auth === 'none' && !isLoopbackHost(host)) {
      log.warn(
        { host, port },
        'ingest.auth is none and ingest listens beyond loopback: anyone who reaches this port can post usage and raise alerts',
      );
    }
    if (store && !apiToken && !isLoopbackHost(host)) {
      log.warn(
        { host, port },
        'BURNRATE_API_TOKEN is not set and the API listens beyond loopback: anyone who reaches this port can read anomalies and acknowledge, snooze or resolve them',
      );
    }
    return () => ({
      port: boundPort,
      otlpGrpcPort: boundGrpcPort ?? 'off',
      host,
      config: source.origin,
      api: storeSettings ? describeStore(storeSettings) : 'off (set CLICKHOUSE_URL to serve /api from this process)',
    });
  },
});
