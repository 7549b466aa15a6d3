import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import { declareTopics } from '@burnrate/bus';
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

/** Whether a local broker (Java 17+ and Maven) can start here: what a suite that stops and restarts its broker needs. */
export function canRunLocalKafka(env: Env = process.env): boolean {
  return env.CI === 'true' || localToolsPresent();
}

/** Topics whose names are fixed (declared as code), so suites sharing a broker would see each other's messages on them. */
export const FIXED_TOPICS: readonly string[] = declareTopics({ replicationFactor: 1, minInsyncReplicas: 1 }).map((t) => t.name);

/**
 * Gives a suite a broker as it would find a fresh one: every consumer group deleted (offsets and
 * all) and Burnrate's declared topics deleted, so nothing an earlier suite produced or committed
 * is seen. Topics with other names are left alone: suites name theirs uniquely and delete them.
 * A group still holding members (a SIGKILLed consumer, until its session times out) is waited
 * for, at most `timeoutMs`.
 */
export async function resetTestKafka(brokers: string, options: { topics?: readonly string[]; timeoutMs?: number } = {}): Promise<void> {
  const topics = options.topics ?? FIXED_TOPICS;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  const admin = new Kafka({ clientId: 'burnrate-test-reset', brokers: brokers.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    for (;;) {
      const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
      if (groups.length === 0) break;
      // Deleting a group that still has members fails for that group alone; the rest go.
      await admin.deleteGroups(groups).catch(() => undefined);
      if (Date.now() > deadline) {
        throw new Error(`consumer groups ${groups.join(', ')} on ${brokers} still had members after ${timeoutMs} ms`);
      }
      await sleep(250);
    }
    for (;;) {
      const left = (await admin.listTopics()).filter((t) => topics.includes(t));
      if (left.length === 0) break;
      await admin.deleteTopics({ topics: left, timeout: 10_000 }).catch(() => undefined);
      // Deletion finishes after the call returns; a topic of the same name cannot be created before.
      if (Date.now() > deadline) throw new Error(`topics ${left.join(', ')} on ${brokers} were not deleted within ${timeoutMs} ms`);
      await sleep(100);
    }
  } finally {
    await admin.disconnect();
  }
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
