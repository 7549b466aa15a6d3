import { request } from 'node:http';
import { Kafka, logLevel } from 'kafkajs';
import { inject } from 'vitest';
import { declareTopics } from '@burnrate/bus';
import { canRunKafkaTests, canRunLocalKafka, resetTestKafka, startTestKafka, type TestKafka } from './test-kafka.ts';

declare module 'vitest' {
  interface ProvidedContext {
    /** URL of the run's Kafka pool (`kafka-pool-setup.ts`); absent when the suite runs without that setup. */
    burnrateKafkaPool?: string;
  }
}

/**
 * What a Kafka suite needs from the run, in its own (worker) process: whether it can run, and a
 * broker lent for the suite's duration from the run's pool (`kafka-pool.ts`), reset so the suite
 * sees none of what earlier suites left. Without the pool (a suite run with another config) the
 * suite starts a broker of its own, as every suite once did.
 */

const poolUrl = inject('burnrateKafkaPool');

export interface KafkaAvailability {
  /** A broker for suites that share one: KAFKA_BROKERS, a Docker engine, or Java and Maven. Always under CI=true. */
  shared: boolean;
  /** A local broker a suite can stop and restart: Java and Maven. Always under CI=true. */
  local: boolean;
}

/**
 * Decided once per run by the pool (collection needs it before any hook runs). Under CI=true
 * both are true, so a broker that cannot start fails the suites instead of skipping them.
 */
export const kafkaAvailable: KafkaAvailability =
  poolUrl === undefined
    ? { shared: await canRunKafkaTests(), local: canRunLocalKafka() }
    : await getJson<KafkaAvailability>(`${poolUrl}/can-run`);

export interface SuiteKafka {
  /** `host:port[,…]`, the value for KAFKA_BROKERS. */
  brokers: string;
  via: TestKafka['via'];
  /** Hands the broker back to the pool (or stops the suite's own). */
  release(): Promise<void>;
}

/**
 * Creates the topics `names` as `burnrate topics apply` declares them (partitions, config) on a
 * one-broker cluster (replication 1), waiting for their leaders: the partition count is what a
 * consumer group splits, so a suite testing that needs the declared one, not a broker default.
 */
export async function createDeclaredTopics(brokers: string, names: readonly string[]): Promise<void> {
  const admin = new Kafka({ clientId: 'suite-topics', brokers: brokers.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const declared = declareTopics({ replicationFactor: 1, minInsyncReplicas: 1 }).filter((t) => names.includes(t.name));
    await admin.createTopics({
      waitForLeaders: true,
      topics: declared.map((t) => ({
        topic: t.name,
        numPartitions: t.partitions,
        replicationFactor: t.replicationFactor,
        configEntries: Object.entries(t.config).map(([name, value]) => ({ name, value })),
      })),
    });
  } finally {
    await admin.disconnect();
  }
}

/**
 * A broker for this suite, from the run's pool: waits while every broker the pool may have is
 * lent (only a KAFKA_BROKERS broker is ever waited for; otherwise the pool starts another).
 */
export async function leaseKafka(): Promise<SuiteKafka> {
  if (poolUrl === undefined) {
    const own = await startTestKafka();
    await resetTestKafka(own.brokers);
    return { brokers: own.brokers, via: own.via, release: () => own.stop() };
  }
  const url = poolUrl;
  return new Promise<SuiteKafka>((resolve, reject) => {
    const req = request(`${url}/lease`, (res) => {
      res.setEncoding('utf8');
      let text = '';
      const onData = (chunk: string): void => {
        text += chunk;
        const end = text.indexOf('\n');
        if (end < 0) return;
        res.off('data', onData);
        const answer = JSON.parse(text.slice(0, end)) as { id: number; brokers: string; via: TestKafka['via'] } | { error: string };
        if ('error' in answer) {
          reject(new Error(answer.error));
          return;
        }
        // The open connection is the lease; it must not keep this process alive on its own.
        res.socket.unref();
        resolve({
          brokers: answer.brokers,
          via: answer.via,
          release: async () => {
            // Released before the next suite asks, so the pool lends this broker again instead of starting one.
            await getJson(`${url}/release/${String(answer.id)}`, 'POST');
            req.destroy();
          },
        });
      };
      res.on('data', onData);
      res.on('error', reject);
      res.once('end', () => reject(new Error(`the Kafka pool closed the lease without an answer: ${text}`)));
    });
    // Also after the lease was given: a connection reset then changes nothing here.
    req.on('error', reject);
    req.end();
  });
}

async function getJson<T>(url: string, method = 'GET'): Promise<T> {
  const res = await fetch(url, { method });
  const body = await res.text();
  if (!res.ok) throw new Error(`${method} ${url} answered ${String(res.status)}: ${body}`);
  return (body === '' ? undefined : JSON.parse(body)) as T;
}
