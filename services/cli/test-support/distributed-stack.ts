import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import { startSlackStandIn, startSmtpServer, tempDir, type SlackStandIn, type TempDir, type TestSmtpServer } from '@burnrate/testing';
import type { LocalKafka } from '../../../infra/kafka/local-kafka-lib.ts';
import { kafkaAvailable, leaseKafka } from '../../../infra/kafka/suite-kafka.ts';
import { java, startTestKafka } from '../../../infra/kafka/test-kafka.ts';
import { TEST_CONFIG } from './burnrate-process.ts';
import { runCli, type ServiceName, type ServiceProcess, startService } from './service-process.ts';

export { java };

/**
 * Whether the distributed suites can run: a broker given in KAFKA_BROKERS, a Docker engine for a
 * testcontainers broker, or Java and Maven for a local one. Under CI=true they always run, so a
 * broker that cannot start fails them.
 */
export const canRunDistributed = kafkaAvailable.shared;

/** Java 17+ and Maven for a local broker: what a suite that stops and restarts the broker needs. */
export const canRunLocalKafka = kafkaAvailable.local;

export interface DistributedStack {
  brokers: string;
  /** The suite's own local broker (with `brokerDir`), or undefined for a broker lent by the pool. */
  broker: LocalKafka | undefined;
  dir: TempDir;
  smtp: TestSmtpServer;
  slack: SlackStandIn;
  configPath: string;
  /** The sink's chdb directory (events, anomalies, DLQ), to open once the sink stopped. */
  sinkChdbDir: string;
  /** The notifier's chdb directory (delivery log). */
  notifierChdbDir: string;
  services: Map<string, ServiceProcess>;
  /** Environment each service gets for its role (data dirs, SMTP and Slack for the notifier). */
  envFor(name: ServiceName): Record<string, string>;
  /** Starts a service and waits for its ready line (30 s unless `readyTimeoutMs`). */
  start(name: ServiceName, key?: string, readyTimeoutMs?: number): Promise<ServiceProcess>;
  close(): Promise<void>;
}

/**
 * A broker with the topics applied, SMTP and Slack stand-ins, and a config file; services started
 * on demand. The broker is lent by the run's pool, reset (no topic, no consumer group), unless a
 * broker directory asks for a local broker of the suite's own, which it can stop and start again
 * on the same data.
 */
export async function startDistributedStack(options: { brokerDir?: string } = {}): Promise<DistributedStack> {
  const own = options.brokerDir === undefined ? undefined : await startTestKafka({ local: true, dir: options.brokerDir });
  const kafka = own === undefined ? await leaseKafka() : { brokers: own.brokers, via: own.via, release: () => own.stop() };
  const broker = own?.local;
  const brokers = kafka.brokers;
  const applied = await runCli(['topics', 'apply'], { KAFKA_BROKERS: brokers });
  if (applied.code !== 0) {
    await kafka.release();
    throw new Error(`burnrate topics apply failed (${String(applied.code)}):\n${applied.stderr}`);
  }
  const dir = await tempDir();
  const [smtp, slack] = await Promise.all([startSmtpServer(), startSlackStandIn()]);
  const configPath = join(dir.path, 'burnrate.yaml');
  await writeFile(configPath, TEST_CONFIG);

  const services = new Map<string, ServiceProcess>();
  const common = { KAFKA_BROKERS: brokers, BURNRATE_CONFIG: configPath };
  // Workers answer /healthz on a free loopback port each (logged as 'health endpoint listening').
  const health = { BURNRATE_HEALTH_PORT: '0', BURNRATE_HEALTH_HOST: '127.0.0.1' };
  const envFor = (name: ServiceName): Record<string, string> => {
    switch (name) {
      case 'sink':
        return { ...common, ...health, BURNRATE_DATA_DIR: join(dir.path, 'sink'), BURNRATE_SINK_MAX_DELAY_MS: '200' };
      case 'notifier':
        return {
          ...common,
          ...health,
          BURNRATE_DATA_DIR: join(dir.path, 'notifier'),
          SMTP_URL: smtp.url,
          SMTP_FROM: 'burnrate@acme.com',
          SLACK_BOT_TOKEN: slack.token,
          SLACK_API_URL: slack.url,
        };
      case 'ingest':
        return { ...common, BURNRATE_PORT: '0', BURNRATE_HOST: '127.0.0.1' };
      case 'detector':
        return { ...common, ...health };
    }
  };
  return {
    brokers,
    broker,
    dir,
    smtp,
    slack,
    configPath,
    sinkChdbDir: join(dir.path, 'sink', 'chdb'),
    notifierChdbDir: join(dir.path, 'notifier', 'chdb'),
    services,
    envFor,
    start: async (name, key = name, readyTimeoutMs) => {
      const s = await startService(name, envFor(name), readyTimeoutMs);
      services.set(key, s);
      return s;
    },
    close: async () => {
      // Reverse of the data flow, so nothing is left half-handled.
      const order = ['ingest', 'detector', 'notifier', 'sink'];
      const keys = [...services.keys()].sort((a, b) => order.findIndex((o) => a.startsWith(o)) - order.findIndex((o) => b.startsWith(o)));
      for (const key of keys) await services.get(key)?.stop();
      await slack.close();
      await smtp.close();
      await dir.cleanup();
      await kafka.release();
    },
  };
}

/** SIGKILL: no shutdown code runs, nothing is flushed or committed. */
export async function kill9(service: ServiceProcess): Promise<void> {
  if (service.child.exitCode !== null || service.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => service.child.once('exit', () => resolve()));
  service.child.kill('SIGKILL');
  await exited;
}

/**
 * Waits until every consumer group has committed up to the end of every partition of the
 * topics it consumes: then each stage has handled (and made durable) everything in the log.
 */
export async function waitForNoLag(brokers: string, groups: Record<string, string[]>, timeoutMs = 30_000): Promise<void> {
  const admin = new Kafka({ clientId: 'lag-probe', brokers: brokers.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    let lag: Record<string, number> = {};
    while (Date.now() < deadline) {
      lag = {};
      for (const [groupId, topics] of Object.entries(groups)) {
        for (const topic of topics) {
          const ends = await admin.fetchTopicOffsets(topic);
          const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
          for (const end of ends) {
            const at = Number(committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? '-1');
            const behind = Number(end.high) - Math.max(at, Number(end.low));
            if (behind !== 0) lag[`${groupId}/${topic}:${end.partition}`] = behind;
          }
        }
      }
      if (Object.keys(lag).length === 0) return;
      await sleep(250);
    }
    throw new Error(`consumer groups still behind after ${timeoutMs} ms: ${JSON.stringify(lag)}`);
  } finally {
    await admin.disconnect();
  }
}
