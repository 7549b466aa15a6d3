import { createHttpServer, type FileConfigSource, jsonResponse, type Lifecycle, type Logger } from '@burnrate/core';
import { readPort } from './env.ts';
import { createMetrics, type Metrics, metricsRoute } from './metrics.ts';

type Env = Readonly<Record<string, string | undefined>>;

/** A consumer group member's lag (a Subscription), or one summed over threads, answered asynchronously. */
export interface LagSource {
  lag(): number | Promise<number>;
}

export interface HealthOptions {
  service: string;
  log: Logger;
  /**
   * The process's burnrate.yaml: its path and hash, when it was read and why the last reload was
   * refused go on every answer, so an operator sees that each instance picked up a change.
   */
  config?: FileConfigSource | undefined;
}

/**
 * What a service adds to its answer: fields, and whether something is wrong that a restart would
 * not fix (snapshots a store refuses), which answers 200 with status `degraded`.
 */
export interface HealthDetails {
  degraded: boolean;
  fields: Record<string, unknown>;
}

export interface HealthEndpoint {
  /**
   * Registers what turns the answer to 200: call it after registering everything else, with the
   * consumer groups whose lag the answer reports. It starts last and stops first.
   */
  ready(consumers: Readonly<Record<string, LagSource>>, details?: () => HealthDetails | Promise<HealthDetails>): void;
  /** The bound port once started; null when BURNRATE_HEALTH_PORT is not set. */
  port(): number | null;
  /**
   * The process's metrics, served as `GET /metrics` beside /healthz (with BURNRATE_API_TOKEN set,
   * only to its bearer); each consumer group's lag is one of them. Register the service's own here.
   */
  readonly metrics: Metrics;
}

/**
 * `GET /healthz` (and `GET /metrics`, see metrics.ts) for a worker (detector, notifier, sink, poller) when BURNRATE_HEALTH_PORT is set (0 =
 * any free port; BURNRATE_HEALTH_HOST, default 0.0.0.0, as containers are probed from outside
 * their loopback). 200 once everything has started (every consumer has joined its group), 503
 * before that and while stopping, with each group's lag (messages on this member's partitions
 * not handled yet): an orchestrator restarts a process that never gets going, a dashboard sees
 * one that falls behind.
 *
 * Off by default: several instances of a service on one host (as the tests run them) would
 * otherwise fight over one port. docker-compose.yml sets it.
 *
 * Register it first, so it listens before the consumers start and stops after they drained.
 */
export function registerHealthEndpoint(lifecycle: Lifecycle, env: Env, options: HealthOptions): HealthEndpoint {
  const metrics = createMetrics();
  let consumers: Readonly<Record<string, LagSource>> = {};
  // The same lag /healthz reports per consumer group, so a dashboard and a probe agree.
  metrics.gauge({
    name: 'burnrate_consumer_lag_messages',
    help: "Messages on this member's partitions not handled yet, by consumer group (as /healthz reports them).",
    labelNames: ['group'],
    read: () => Promise.all(Object.entries(consumers).map(async ([group, s]) => ({ labels: { group }, value: await s.lag() }))),
  });
  if (env.BURNRATE_HEALTH_PORT === undefined || env.BURNRATE_HEALTH_PORT === '') return { ready: () => {}, port: () => null, metrics };
  const port = readPort(env, 'BURNRATE_HEALTH_PORT', 0);
  const host = env.BURNRATE_HEALTH_HOST || '0.0.0.0';
  let state: 'starting' | 'ok' | 'stopping' = 'starting';
  let details: (() => HealthDetails | Promise<HealthDetails>) | undefined;
  let bound: number | null = null;
  const http = createHttpServer({
    log: options.log,
    shutdownGraceMs: 1_000,
    observe: (request) => metrics.observeHttp(request),
    routes: [
      metricsRoute(metrics, env.BURNRATE_API_TOKEN || undefined),
      {
        method: 'GET',
        path: '/healthz',
        handler: async () => {
          const lags = await Promise.all(Object.entries(consumers).map(async ([group, s]) => ({ group, lag: await s.lag() })));
          const extra = state === 'ok' && details !== undefined ? await details() : undefined;
          return jsonResponse(state === 'ok' ? 200 : 503, {
            status: extra?.degraded === true ? 'degraded' : state,
            service: options.service,
            consumers: lags,
            uptime_s: Math.round(process.uptime()),
            // A worker's health port is for the orchestrator and operators inside the cluster, so
            // the config's path and last error are shown here (ingest's public port shows them only
            // to the API token's bearer).
            ...(options.config !== undefined ? { config: options.config.status() } : {}),
            ...extra?.fields,
          });
        },
      },
    ],
  });
  lifecycle.register({
    name: 'health',
    start: async () => {
      bound = (await http.listen(port, host)).port;
      options.log.info({ port: bound, host }, 'health endpoint listening on /healthz');
    },
    stop: () => http.close(),
  });
  return {
    ready(groups, more) {
      consumers = groups;
      details = more;
      lifecycle.register({
        name: 'health-ready',
        start: async () => {
          state = 'ok';
        },
        stop: async () => {
          state = 'stopping';
        },
      });
    },
    port: () => bound,
    metrics,
  };
}
