import { hasBearerToken, jsonResponse, type Route, type ServedRequest } from '@burnrate/core';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** One labelled value of a metric read at scrape time. */
export interface Sample<L extends string> {
  labels: Record<L, string>;
  value: number;
}

/** A metric whose values are read, at each scrape, from what the code already keeps for /healthz. */
export interface ReadMetric<L extends string> {
  /** `burnrate_…`, with its unit and `_total` for counters (Prometheus naming). */
  name: string;
  help: string;
  labelNames: readonly L[];
  read: () => readonly Sample<L>[] | Promise<readonly Sample<L>[]>;
}

/**
 * A process's Prometheus metrics. Counters are not counted twice: the services keep plain
 * totals (the ones /healthz and the shutdown log lines show), and each metric reads them when
 * scraped. Only the HTTP latency histogram is observed as requests are served.
 */
export interface Metrics {
  readonly registry: Registry;
  /** A counter read from running totals (they only grow while the process lives); registering a name again adds a reader to it. */
  counter<L extends string>(metric: ReadMetric<L>): void;
  /** A gauge read from current values (lags, keys held, ages). */
  gauge<L extends string>(metric: ReadMetric<L>): void;
  /** Pass as the HTTP server's `observe`: request latency by method, route pattern and status. */
  observeHttp(request: ServedRequest): void;
  /** The exposition, as `GET /metrics` answers it. */
  text(): Promise<string>;
}

/** Seconds: an ingest post is milliseconds; a slow store query or a body of 5 MiB takes seconds. */
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics(): Metrics {
  const registry = new Registry();
  // Process CPU, memory, file descriptors, event loop delay and GC, named burnrate_process_* / burnrate_nodejs_*.
  collectDefaultMetrics({ register: registry, prefix: 'burnrate_' });
  const http = new Histogram({
    name: 'burnrate_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: HTTP_BUCKETS,
    registers: [registry],
  });

  // Several parts of one process may add to one metric (ingest and the sink both dead-letter):
  // a metric's readers are summed, label set by label set.
  const readers = new Map<string, { kind: 'counter' | 'gauge'; reads: ReadMetric<string>['read'][] }>();
  const define = <L extends string>(kind: 'counter' | 'gauge', metric: ReadMetric<L>): void => {
    const known = readers.get(metric.name);
    if (known !== undefined) {
      if (known.kind !== kind) throw new Error(`metric ${metric.name} is registered as a ${known.kind} already`);
      known.reads.push(metric.read);
      return;
    }
    const reads: ReadMetric<string>['read'][] = [metric.read];
    readers.set(metric.name, { kind, reads });
    const read = async (): Promise<Sample<L>[]> => {
      const sums = new Map<string, Sample<L>>();
      for (const one of reads) {
        for (const s of await one()) {
          const key = metric.labelNames.map((l) => s.labels[l] ?? '').join('\n');
          const sum = sums.get(key);
          if (sum === undefined) sums.set(key, { labels: s.labels, value: s.value });
          else sum.value += s.value;
        }
      }
      return [...sums.values()];
    };
    const options = { name: metric.name, help: metric.help, labelNames: metric.labelNames, registers: [registry] };
    if (kind === 'counter') {
      new Counter<L>({
        ...options,
        async collect() {
          const samples = await read();
          // A counter cannot be set: it is reset and raised to the running total.
          this.reset();
          for (const s of samples) this.inc(s.labels, s.value);
        },
      });
    } else {
      new Gauge<L>({
        ...options,
        async collect() {
          const samples = await read();
          this.reset();
          for (const s of samples) this.set(s.labels, s.value);
        },
      });
    }
  };

  return {
    registry,
    counter: (metric) => define('counter', metric),
    gauge: (metric) => define('gauge', metric),
    observeHttp(request) {
      http.observe({ method: request.method, route: request.route, status: String(request.status) }, request.seconds);
    },
    text: () => registry.metrics(),
  };
}

/**
 * `GET /metrics` in the Prometheus text format. With an API token set it needs `Authorization:
 * Bearer <token>`, as the operator half of /healthz does: the metrics count refused requests by
 * reason and name the sources that post (Prometheus sends it from `authorization: { credentials }`).
 */
export function metricsRoute(metrics: Metrics, apiToken: string | undefined): Route {
  return {
    method: 'GET',
    path: '/metrics',
    handler: async (req) => {
      if (apiToken && !hasBearerToken(req, apiToken)) {
        return jsonResponse(
          401,
          {
            error: {
              code: 'UNAUTHORIZED',
              message: '/metrics needs Authorization: Bearer <BURNRATE_API_TOKEN> (in Prometheus: authorization: { credentials: … })',
              retriable: false,
            },
          },
          { 'www-authenticate': 'Bearer' },
        );
      }
      return { status: 200, headers: { 'content-type': metrics.registry.contentType }, body: await metrics.text() };
    },
  };
}

/** A `Record<label value, number>` as samples: `{ accepted: 3 }` → one sample with `label`="accepted". */
export function samplesOf<L extends string>(label: L, values: Readonly<Record<string, number>>): Sample<L>[] {
  return Object.entries(values).map(([key, value]) => ({ labels: { [label]: key } as Record<L, string>, value }));
}
