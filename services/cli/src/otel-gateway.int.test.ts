import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@burnrate/core';
import { createChdbStore } from '@burnrate/store';
import { freePort, waitUntil } from '@burnrate/testing';
import { resolveOtelcol, type RunningOtelcol, startOtelcol } from '../../../infra/otelcol/otelcol-lib.ts';
import {
  type BurnrateProcess,
  startBurnrate,
  startSurroundings,
  type Surroundings,
  TEST_INGEST_KEY,
} from '../test-support/burnrate-process.ts';

const GATEWAY_CONFIG = fileURLToPath(new URL('../../../infra/otelcol/gateway.yaml', import.meta.url));
const API_TOKEN = 'gateway-test-api-token';

const text = (key: string, value: string) => ({ key, value: { stringValue: value } });
const int = (key: string, value: number) => ({ key, value: { intValue: String(value) } });

/** Claude Code api_request log records, one per request id, as its OTLP exporter sends them. */
function claudeCodeLogs(requestIds: readonly string[]): unknown {
  const now = Date.now();
  return {
    resourceLogs: [
      {
        resource: { attributes: [text('service.name', 'claude-code'), text('user.email', 'alice@acme.com')] },
        scopeLogs: [
          {
            scope: { name: 'com.anthropic.claude_code.events' },
            logRecords: requestIds.map((id, i) => ({
              timeUnixNano: `${BigInt(now + i) * 1_000_000n}`,
              body: { stringValue: 'claude_code.api_request' },
              attributes: [
                text('event.name', 'api_request'),
                text('event.timestamp', new Date(now + i).toISOString()),
                text('session.id', 'gateway-session'),
                text('request_id', id),
                text('model', 'claude-sonnet-4-5'),
                int('input_tokens', 1200),
                int('output_tokens', 300),
                { key: 'cost_usd', value: { doubleValue: 0.0081 } },
              ],
            })),
          },
        ],
      },
    ],
  };
}

// The collector config the README recommends for fleets (infra/otelcol/gateway.yaml), as is, in
// front of `burnrate start`: what Claude Code exports while Burnrate is down, and while the
// collector itself is killed and restarted, still arrives exactly once.
describe('an OpenTelemetry Collector with a persistent queue in front of burnrate', () => {
  let around: Surroundings;
  let burnrate: BurnrateProcess | undefined;
  let collector: RunningOtelcol | undefined;
  let burnrateEnv: Record<string, string>;
  let collectorEnv: Record<string, string>;
  let collectorHttp: string;

  beforeAll(async () => {
    // First run on a machine: the collector is compiled (minutes); later runs find it built.
    await resolveOtelcol();
    around = await startSurroundings();
    const port = await freePort();
    burnrateEnv = { ...around.env, BURNRATE_PORT: String(port), BURNRATE_OTLP_GRPC_PORT: 'off', BURNRATE_API_TOKEN: API_TOKEN };
    collectorHttp = `127.0.0.1:${await freePort()}`;
    collectorEnv = {
      BURNRATE_ENDPOINT: `http://127.0.0.1:${port}`,
      BURNRATE_INGEST_KEY: TEST_INGEST_KEY,
      OTELCOL_QUEUE_DIR: join(around.dir.path, 'otelcol-queue'),
      OTELCOL_GRPC_ENDPOINT: `127.0.0.1:${await freePort()}`,
      OTELCOL_HTTP_ENDPOINT: collectorHttp,
    };
  }, 30 * 60_000);

  afterAll(async () => {
    await collector?.stop();
    await burnrate?.stop();
    await around?.close();
  });

  const exportLogs = async (ids: string[]): Promise<number> =>
    (
      await fetch(`http://${collectorHttp}/v1/logs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(claudeCodeLogs(ids)),
      })
    ).status;
  const accepted = async (): Promise<number> => {
    const health = (await (
      await fetch(`${collectorEnv.BURNRATE_ENDPOINT}/healthz`, { headers: { authorization: `Bearer ${API_TOKEN}` } })
    ).json()) as {
      ingest: { ledger: { entries: number } };
    };
    return health.ingest.ledger.entries;
  };

  it('delivers what was exported during a Burnrate restart and across a collector crash, once each', async () => {
    burnrate = await startBurnrate(burnrateEnv);
    collector = await startOtelcol(GATEWAY_CONFIG, { env: collectorEnv });
    const ids = (from: number, n: number) => Array.from({ length: n }, (_, i) => `req_gateway_${String(from + i).padStart(3, '0')}`);

    expect(await exportLogs(ids(0, 10))).toBe(200);
    await waitUntil(async () => (await accepted()) === 10, { timeoutMs: 20_000, message: 'the first 10 through the collector' });

    // Burnrate goes down: the collector answers its sender and keeps the records on disk.
    await burnrate.stop();
    burnrate = undefined;
    expect(await exportLogs(ids(10, 10))).toBe(200);
    expect(await exportLogs(ids(20, 5))).toBe(200);
    // The collector dies too, with no chance to flush: the queue on disk is all there is.
    await collector.kill9();
    collector = await startOtelcol(GATEWAY_CONFIG, { env: collectorEnv });

    burnrate = await startBurnrate(burnrateEnv);
    await waitUntil(async () => (await accepted()) === 25, {
      timeoutMs: 60_000,
      intervalMs: 250,
      message: 'the 15 records queued while Burnrate was down delivered after it came back',
    });
    await collector.stop();
    collector = undefined;
    await burnrate.stop();
    burnrate = undefined;

    const store = await createChdbStore({ dataDir: around.chdbDir, log: createLogger({ level: 'silent' }) });
    try {
      const events = await store.listUsageEvents({ limit: 1000 });
      expect(events.map((e) => e.attributes?.request_id).sort()).toEqual(ids(0, 25));
      expect(new Set(events.map((e) => e.event_id)).size).toBe(25);
      expect(events.every((e) => e.developer === 'alice@acme.com' && e.team === 'payments')).toBe(true);
    } finally {
      await store.close();
    }
  }, 180_000);
});
