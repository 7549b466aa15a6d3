import { resolve } from 'node:path';
import { createHttpServer, createLogger, jsonResponse, Lifecycle, loadConfig, systemClock } from '@burnrate/core';
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
import { createIngestRoutes } from './http.ts';

/**
 * The ingest service on its own (distributed mode): HTTP receivers that publish to
 * usage.events.v1 / usage.dlq.v1 on Kafka and answer 2xx only once Kafka has the records.
 * Stateless, so any number of instances can run behind a load balancer.
 *
 * env: KAFKA_BROKERS, KAFKA_SEND_TIMEOUT_MS (default 5000: a request waits at most this long for
 * Kafka, then gets 503 with Retry-After), BURNRATE_CONFIG, BURNRATE_PORT (default 8787),
 * BURNRATE_HOST (default 0.0.0.0), BURNRATE_BODY_LIMIT_BYTES, BURNRATE_LOG_LEVEL.
 */
async function main(env: NodeJS.ProcessEnv): Promise<void> {
  const log = createLogger({ level: env.BURNRATE_LOG_LEVEL ?? 'info' }).child({ service: 'ingest' });
  quietKafkajsWarnings(log);
  if (!env.BURNRATE_CONFIG)
    throw new Error('BURNRATE_CONFIG is not set: the ingest service needs burnrate.yaml for attribution and pricing');
  const configPath = resolve(env.BURNRATE_CONFIG);
  const port = readPort(env, 'BURNRATE_PORT', 8787);
  const host = env.BURNRATE_HOST ?? '0.0.0.0';
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

  const routes = [
    ...createIngestRoutes({
      config,
      catalog: createPriceCatalog(config.pricing.prices),
      producer: bus.producer(),
      clock: systemClock,
      log,
    }),
    {
      method: 'GET',
      path: '/healthz',
      handler: async () =>
        jsonResponse(200, {
          status: 'ok',
          service: 'ingest',
          mode: 'distributed',
          org: config.org,
          uptime_s: Math.round(process.uptime()),
        }),
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

  await runUntilSignal({ name: 'ingest', verb: 'listening', lifecycle, log, ready: () => ({ port: boundPort, host, config: configPath }) });
}

const bootLog = createLogger({ level: process.env.BURNRATE_LOG_LEVEL ?? 'info' }).child({ service: 'ingest' });
main(process.env).catch(exitOnStartFailure('ingest', bootLog));
