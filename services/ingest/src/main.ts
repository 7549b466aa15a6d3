import { resolve } from 'node:path';
import {
  createHttpServer,
  createLogger,
  hasBearerToken,
  isLoopbackHost,
  jsonResponse,
  Lifecycle,
  loadConfig,
  type Route,
  systemClock,
} from '@burnrate/core';
import { createPriceCatalog } from '@burnrate/pricing';
import {
  exitOnStartFailure,
  quietKafkajsWarnings,
  openKafkaBus,
  readKafkaBrokers,
  readKafkaSendTimeoutMs,
  readPort,
  runUntilSignal,
} from '@burnrate/runtime';
import { createIngestGate } from './auth.ts';
import { createIngestRoutes } from './http.ts';
import { createEventLedger } from './ledger.ts';

/**
 * The ingest service on its own (distributed mode): HTTP receivers that publish to
 * usage.events.v1 / usage.dlq.v1 on Kafka and answer 2xx only once Kafka has the records.
 * Stateless, so any number of instances can run behind a load balancer.
 *
 * env: KAFKA_BROKERS, KAFKA_SEND_TIMEOUT_MS (default 5000: a request waits at most this long for
 * Kafka, then gets 503 with Retry-After), BURNRATE_CONFIG, BURNRATE_PORT (default 8787),
 * BURNRATE_HOST (default 127.0.0.1: set 0.0.0.0 behind a load balancer), BURNRATE_BODY_LIMIT_BYTES,
 * BURNRATE_API_TOKEN (shows operators the config path, org and refusal counts on /healthz),
 * BURNRATE_LOG_LEVEL.
 *
 * Each instance remembers the event ids it accepted (config `ingest.dedupe_window`), so a resend
 * to the same instance is a duplicate and a reused id with other content is refused; a resend
 * that reaches another instance is caught by the detector's per-developer dedupe and collapsed
 * by the store.
 */
async function main(env: NodeJS.ProcessEnv): Promise<void> {
  const log = createLogger({ level: env.BURNRATE_LOG_LEVEL ?? 'info' }).child({ service: 'ingest' });
  quietKafkajsWarnings(log);
  if (!env.BURNRATE_CONFIG)
    throw new Error('BURNRATE_CONFIG is not set: the ingest service needs burnrate.yaml for attribution and pricing');
  const configPath = resolve(env.BURNRATE_CONFIG);
  const port = readPort(env, 'BURNRATE_PORT', 8787);
  const host = env.BURNRATE_HOST ?? '127.0.0.1';
  const apiToken = env.BURNRATE_API_TOKEN;
  const bodyLimitBytes = env.BURNRATE_BODY_LIMIT_BYTES ? Number(env.BURNRATE_BODY_LIMIT_BYTES) : undefined;
  const config = await loadConfig(configPath);
  const lifecycle = new Lifecycle(log);

  const bus = openKafkaBus({
    brokers: readKafkaBrokers(env, 'ingest service'),
    service: 'ingest',
    log,
    sendTimeoutMs: readKafkaSendTimeoutMs(env),
  });
  lifecycle.register({ name: 'bus', start: async () => {}, stop: () => bus.close() });

  const now = (): number => Date.now();
  const gate = createIngestGate({ config: () => config, now, log: log.child({ component: 'ingest' }) });
  const ledger = createEventLedger({ windowMs: config.ingest.dedupe_window, now });
  const routes: Route[] = [
    ...createIngestRoutes({
      config,
      catalog: createPriceCatalog(config.pricing.prices),
      producer: bus.producer(),
      clock: systemClock,
      log,
      gate,
      ledger,
    }),
    {
      method: 'GET',
      path: '/healthz',
      handler: async (req) => {
        const health: Record<string, unknown> = { status: 'ok', service: 'ingest', mode: 'distributed' };
        if (hasBearerToken(req, apiToken)) {
          Object.assign(health, {
            org: config.org,
            config: configPath,
            uptime_s: Math.round(process.uptime()),
            ingest: { auth: config.ingest.auth, ...gate.stats(), ledger: ledger.stats() },
          });
        }
        return jsonResponse(200, health);
      },
    },
  ];
  const http = createHttpServer({ routes, log, ...(bodyLimitBytes !== undefined ? { bodyLimitBytes } : {}) });
  let boundPort = port;
  // Stopped first: no request is accepted once the producer starts closing.
  lifecycle.register({
    name: 'http',
    start: async () => {
      boundPort = (await http.listen(port, host)).port;
    },
    stop: () => http.close(),
  });

  if (config.ingest.auth === 'none' && !isLoopbackHost(host)) {
    log.warn(
      { host, port },
      'ingest.auth is none and ingest listens beyond loopback: anyone who reaches this port can post usage and raise alerts',
    );
  }
  await runUntilSignal({ name: 'ingest', verb: 'listening', lifecycle, log, ready: () => ({ port: boundPort, host, config: configPath }) });
}

const bootLog = createLogger({ level: process.env.BURNRATE_LOG_LEVEL ?? 'info' }).child({ service: 'ingest' });
main(process.env).catch(exitOnStartFailure('ingest', bootLog));
