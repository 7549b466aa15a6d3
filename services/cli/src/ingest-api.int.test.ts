import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '@burnrate/testing';
import { type ServiceProcess, startService } from '../test-support/service-process.ts';

const CONFIG = fileURLToPath(new URL('../burnrate.example.yaml', import.meta.url));
const API_TOKEN = 'ingest-api-token';

// The standalone ingest service as docker-compose runs it, without Kafka or ClickHouse behind it:
// what is checked here is that it serves the API when given a store, and that a store it cannot
// reach fails only the API's calls, never its start. (Decisions reaching Kafka and the notifier
// are the distributed suite's.)
describe('the ingest service as the API process', () => {
  let ingest: ServiceProcess | undefined;
  afterEach(async () => {
    await ingest?.stop();
    ingest = undefined;
  });

  const start = async (env: Record<string, string>) => {
    ingest = await startService('ingest', {
      KAFKA_BROKERS: `127.0.0.1:${await freePort()}`,
      BURNRATE_CONFIG: CONFIG,
      BURNRATE_PORT: '0',
      BURNRATE_HOST: '127.0.0.1',
      BURNRATE_API_TOKEN: API_TOKEN,
      ...env,
    });
    return `http://127.0.0.1:${String(ingest.ready.port)}`;
  };
  const call = async (url: string, method = 'GET', token = API_TOKEN) => {
    const res = await fetch(url, { method, headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as { error?: { code: string; retriable: boolean } } };
  };

  it('with CLICKHOUSE_URL, serves /api from the store and answers 503 while ClickHouse cannot be reached', async () => {
    const chPort = await freePort();
    const url = await start({ CLICKHOUSE_URL: `http://127.0.0.1:${chPort}`, CLICKHOUSE_DATABASE: 'burnrate' });
    expect(ingest!.ready.api).toBe(`clickhouse http://127.0.0.1:${chPort}/burnrate`);
    for (const [method, path] of [
      ['GET', '/api/anomalies'],
      ['GET', '/api/anomalies/a1'],
      ['POST', '/api/anomalies/a1/ack'],
      ['GET', '/api/silences'],
      ['GET', '/api/report/precision'],
      ['GET', '/api/report/reconciliation'],
    ] as const) {
      expect(await call(`${url}${path}`, method), `${method} ${path}`).toEqual({
        status: 503,
        body: { error: expect.objectContaining({ code: 'STORE_UNAVAILABLE', retriable: true }) as unknown },
      });
      expect((await call(`${url}${path}`, method, 'wrong-token')).status, `${method} ${path} with another token`).toBe(401);
    }
    // Ingest itself is up.
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it('without CLICKHOUSE_URL, serves no /api and says so when it starts', async () => {
    const url = await start({});
    expect(ingest!.ready.api).toBe('off (set CLICKHOUSE_URL to serve /api from this process)');
    expect((await call(`${url}/api/anomalies`)).status).toBe(404);
  });
});
