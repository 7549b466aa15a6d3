import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import type { UsageEvent } from '@burnrate/schemas';
import { ANTHROPIC_USAGE_PATH, startAnthropicStandIn, tempDir, type TempDir, type UsageApiStandIn, waitUntil } from '@burnrate/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaAvailable, leaseKafka, type SuiteKafka } from '../../../infra/kafka/suite-kafka.ts';
import { TEST_CONFIG } from '../test-support/burnrate-process.ts';
import { runCli, type ServiceProcess, startService } from '../test-support/service-process.ts';

const ADMIN_KEY = 'sk-ant-admin01-distributed-test';
const HOUR = 3_600_000;

// services/poller as docker-compose runs it: its own process, publishing to Kafka, its cursors
// in BURNRATE_DATA_DIR, its health lines on BURNRATE_HEALTH_PORT. The broker is lent by the run's pool.
describe.skipIf(!kafkaAvailable.shared)('distributed mode: the poller service', () => {
  let broker: SuiteKafka | undefined;
  let dir: TempDir;
  let api: UsageApiStandIn;
  let poller: ServiceProcess | undefined;
  const lastHour = new Date(Math.floor(Date.now() / HOUR) * HOUR - HOUR).toISOString();

  beforeAll(async () => {
    broker = await leaseKafka();
    dir = await tempDir();
    const configPath = join(dir.path, 'burnrate.yaml');
    await writeFile(configPath, TEST_CONFIG);
    const applied = await runCli(['topics', 'apply'], { KAFKA_BROKERS: broker.brokers });
    expect(applied.code, applied.stderr).toBe(0);
    api = await startAnthropicStandIn(ADMIN_KEY);
    api.setRows(ANTHROPIC_USAGE_PATH, lastHour, [
      {
        account_id: null,
        api_key_id: 'apikey_distributed',
        workspace_id: 'wrkspc_payments',
        model: 'claude-haiku-4-5',
        service_tier: 'standard',
        uncached_input_tokens: 2000,
        cache_read_input_tokens: 0,
        cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
        output_tokens: 400,
        server_tool_use: null,
      },
    ]);
    poller = await startService('poller', {
      KAFKA_BROKERS: broker.brokers,
      BURNRATE_CONFIG: configPath,
      BURNRATE_DATA_DIR: join(dir.path, 'poller'),
      BURNRATE_HEALTH_PORT: '0',
      BURNRATE_HEALTH_HOST: '127.0.0.1',
      ANTHROPIC_ADMIN_API_KEY: ADMIN_KEY,
      ANTHROPIC_API_URL: api.origin,
      BURNRATE_POLL_BACKFILL: '3h',
      BURNRATE_POLL_SOURCES: 'anthropic_usage_report,anthropic_cost_report,claude_code_analytics',
    });
  });

  afterAll(async () => {
    await poller?.stop();
    await api?.close();
    await dir?.cleanup();
    await broker?.release();
  });

  it('publishes the usage report to usage.events.v1 and reports each source on /healthz', async () => {
    expect(poller?.ready).toMatchObject({ sources: ['anthropic_usage_report', 'anthropic_cost_report', 'claude_code_analytics'] });
    const healthPort = poller?.logged('health endpoint listening on /healthz')[0]?.port;
    const lines = await waitUntil(
      async () => {
        const health = (await (await fetch(`http://127.0.0.1:${String(healthPort)}/healthz`)).json()) as {
          pollers: { source: string; last_success_at: string | null; published: number }[];
        };
        return health.pollers.every((p) => p.last_success_at !== null) && health.pollers;
      },
      { timeoutMs: 20_000, message: 'every poller to succeed once' },
    );
    expect(lines.find((l) => l.source === 'anthropic_usage_report')?.published).toBe(1);

    const kafka = new Kafka({ clientId: 'poller-int', brokers: broker?.brokers.split(',') ?? [], logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: 'poller-int-reader' });
    const received: UsageEvent[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: 'usage.events.v1', fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          received.push(JSON.parse(message.value?.toString() ?? '{}') as UsageEvent);
        },
      });
      await waitUntil(() => received.length >= 1, { timeoutMs: 20_000, message: 'the event on usage.events.v1' });
    } finally {
      await consumer.disconnect();
    }
    expect(received).toMatchObject([
      {
        source: 'anthropic_usage_report',
        granularity: '1h',
        period_start: lastHour,
        api_key_id: 'apikey_distributed',
        project: 'wrkspc_payments',
        output_tokens: 400,
      },
    ]);
    expect(await poller?.stop()).toBe(0);
  });
});
