import type { Subscription } from '@burnrate/bus';
import { createLogger, Lifecycle } from '@burnrate/core';
import { describe, expect, it } from 'vitest';
import { registerHealthEndpoint } from './health.ts';

const log = createLogger({ level: 'silent' });
const subscription = (lag: number): Subscription => ({ start: async () => {}, stop: async () => {}, lag: () => lag });

describe('registerHealthEndpoint', () => {
  it('is off unless BURNRATE_HEALTH_PORT is set', async () => {
    const lifecycle = new Lifecycle(log);
    const health = registerHealthEndpoint(lifecycle, {}, { service: 'sink', log });
    health.ready({ 'burnrate-sink': subscription(0) });
    await lifecycle.startAll();
    expect(health.port()).toBeNull();
    await lifecycle.stop();
  });

  it('answers 503 until everything started, 200 with each group lag, 503 again while stopping', async () => {
    const lifecycle = new Lifecycle(log);
    const health = registerHealthEndpoint(
      lifecycle,
      { BURNRATE_HEALTH_PORT: '0', BURNRATE_HEALTH_HOST: '127.0.0.1' },
      { service: 'detector', log },
    );
    const probe = async () => {
      const res = await fetch(`http://127.0.0.1:${String(health.port())}/healthz`);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const seen: { status: number; body: Record<string, unknown> }[] = [];
    let release: () => void = () => {};
    const stopping = new Promise<void>((resolve) => (release = resolve));
    // A consumer that probes the endpoint while it starts and while it stops.
    lifecycle.register({
      name: 'consumer',
      start: async () => void seen.push(await probe()),
      stop: async () => {
        seen.push(await probe());
        release();
      },
    });
    health.ready({ 'burnrate-detector': subscription(3), 'burnrate-team-detector': subscription(0) });
    await lifecycle.startAll();
    seen.push(await probe());
    await lifecycle.stop();
    await stopping;

    expect(seen.map((s) => [s.status, s.body.status])).toEqual([
      [503, 'starting'],
      [200, 'ok'],
      [503, 'stopping'],
    ]);
    expect(seen[1]?.body).toMatchObject({
      service: 'detector',
      consumers: [
        { group: 'burnrate-detector', lag: 3 },
        { group: 'burnrate-team-detector', lag: 0 },
      ],
    });
  });

  it('answers 200 degraded, with what the service adds, while something is wrong that a restart would not fix', async () => {
    const lifecycle = new Lifecycle(log);
    const health = registerHealthEndpoint(
      lifecycle,
      { BURNRATE_HEALTH_PORT: '0', BURNRATE_HEALTH_HOST: '127.0.0.1' },
      { service: 'detector', log },
    );
    let failing: string[] = ['usage.events.v1:3'];
    health.ready({ 'burnrate-detector': subscription(0) }, () => ({ degraded: failing.length > 0, fields: { detector: { failing } } }));
    await lifecycle.startAll();
    const probe = async () => {
      const res = await fetch(`http://127.0.0.1:${String(health.port())}/healthz`);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    expect(await probe()).toMatchObject({ status: 200, body: { status: 'degraded', detector: { failing: ['usage.events.v1:3'] } } });
    failing = [];
    expect(await probe()).toMatchObject({ status: 200, body: { status: 'ok', detector: { failing: [] } } });
    await lifecycle.stop();
  });

  it('serves /metrics beside /healthz: each group lag, what the service registers, only to the API token bearer', async () => {
    const lifecycle = new Lifecycle(log);
    const health = registerHealthEndpoint(
      lifecycle,
      { BURNRATE_HEALTH_PORT: '0', BURNRATE_HEALTH_HOST: '127.0.0.1', BURNRATE_API_TOKEN: 'metrics-token' },
      { service: 'sink', log },
    );
    let rows = 5;
    health.metrics.counter({
      name: 'burnrate_test_rows_total',
      help: 'Rows, for the test.',
      labelNames: ['table'],
      read: () => [{ labels: { table: 'usage_events' }, value: rows }],
    });
    health.ready({ 'burnrate-sink': subscription(7) });
    await lifecycle.startAll();
    const url = `http://127.0.0.1:${String(health.port())}/metrics`;
    const refused = await fetch(url);
    expect(refused.status).toBe(401);
    expect(await refused.text()).toMatch(/needs Authorization: Bearer <BURNRATE_API_TOKEN>/);
    const scrape = async (): Promise<string> => (await fetch(url, { headers: { authorization: 'Bearer metrics-token' } })).text();
    const first = await scrape();
    expect(first).toContain('burnrate_consumer_lag_messages{group="burnrate-sink"} 7');
    expect(first).toContain('burnrate_test_rows_total{table="usage_events"} 5');
    rows = 9;
    const second = await scrape();
    expect(second).toContain('burnrate_test_rows_total{table="usage_events"} 9');
    // The scrapes themselves, by route pattern and status.
    expect(second).toMatch(/burnrate_http_request_duration_seconds_count\{method="GET",route="\/metrics",status="401"\} 1/);
    await lifecycle.stop();
  });

  it('names a bad port', () => {
    expect(() => registerHealthEndpoint(new Lifecycle(log), { BURNRATE_HEALTH_PORT: 'http' }, { service: 'sink', log })).toThrow(
      /BURNRATE_HEALTH_PORT must be a port number/,
    );
  });
});
