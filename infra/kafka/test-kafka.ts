import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { type LocalKafka, startLocalKafka } from './local-kafka-lib.ts';

/**
 * The Kafka broker integration tests run against, from the first of:
 * 1. `KAFKA_BROKERS`: a broker someone started on purpose (it wins over anything found);
 * 2. a Docker engine: a throwaway KRaft broker in a container, through testcontainers;
 * 3. the local broker of infra/kafka (Apache Kafka's release jars resolved with Maven, run with
 *    Java 17+), which needs no Docker.
 * Under CI=true the suites always run, so a broker that cannot start fails them instead of
 * skipping them.
 */

type Env = Readonly<Record<string, string | undefined>>;

/** Apache Kafka 4.0 in Confluent's image: KRaft, the protocol kafkajs 2.2.4 speaks (checked against 4.4 too). */
export const KAFKA_TEST_IMAGE = 'confluentinc/cp-kafka:8.0.0';
/** The plaintext listener the testcontainers Kafka module maps to a free host port. */
const KAFKA_CONTAINER_PORT = 9093;

export const java = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java';

export interface TestKafka {
  /** `host:port[,…]`, the value for KAFKA_BROKERS. */
  brokers: string;
  via: 'KAFKA_BROKERS' | 'testcontainers' | 'local';
  /** The local broker when `via` is `local` (a test that stops and restarts the broker needs it). */
  local: LocalKafka | undefined;
  stop(): Promise<void>;
}

/** Whether a Docker (or compatible) engine answers, as testcontainers finds one. */
export async function dockerEngineRuns(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

const localToolsPresent = (): boolean => spawnSync(java, ['-version']).status === 0 && spawnSync('mvn', ['-v']).status === 0;

/** Whether the Kafka suites can run here; decided once, before the suites are collected. */
export async function canRunKafkaTests(env: Env = process.env): Promise<boolean> {
  return env.CI === 'true' || env.KAFKA_BROKERS !== undefined || localToolsPresent() || (await dockerEngineRuns());
}

export async function startTestKafka(
  options: {
    env?: Env;
    /** A local broker, whatever else there is: the test stops and restarts it. */
    local?: boolean;
    /** Working directory of a local broker (kept by the caller for a restart on the same data). */
    dir?: string;
  } = {},
): Promise<TestKafka> {
  const env = options.env ?? process.env;
  if (options.local !== true) {
    if (env.KAFKA_BROKERS !== undefined) {
      return { brokers: env.KAFKA_BROKERS, via: 'KAFKA_BROKERS', local: undefined, stop: async () => {} };
    }
    if (await dockerEngineRuns()) {
      const { KafkaContainer } = await import('@testcontainers/kafka');
      const container = await new KafkaContainer(KAFKA_TEST_IMAGE).start();
      return {
        brokers: `${container.getHost()}:${String(container.getMappedPort(KAFKA_CONTAINER_PORT))}`,
        via: 'testcontainers',
        local: undefined,
        stop: async () => {
          await container.stop();
        },
      };
    }
  }
  const local = await startLocalKafka({ java, ...(options.dir === undefined ? {} : { dir: options.dir }) });
  return { brokers: local.brokers, via: 'local', local, stop: () => local.stop() };
}
