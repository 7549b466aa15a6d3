import { BurnrateError, type Logger } from '@burnrate/core';
import { Kafka, type Admin, type SASLOptions } from 'kafkajs';
import type { Bus, Producer } from '../port.ts';
import { closedError, translateKafkaError } from './kafka-errors.ts';
import { kafkaLogCreator, kafkaLogLevel } from './kafka-logger.ts';
import { createKafkaProducer } from './kafka-producer.ts';
import {
  createKafkaSubscription,
  type KafkaConsumerTuning,
  type KafkaSubscribeOptions,
  type KafkaSubscription,
  type KafkaSubscriptionStats,
} from './kafka-subscription.ts';

export interface KafkaTopicSpec {
  /** Default 6: the most consumers of one group that can share the topic. */
  partitions?: number;
  /** Default 1 (the local single-node broker); production clusters use 3. */
  replicationFactor?: number;
  /** Topic settings such as `retention.ms` or `cleanup.policy`. */
  config?: Record<string, string>;
}

export interface KafkaBusOptions {
  /** `host:port` list, or the comma-separated KAFKA_BROKERS value. */
  brokers: string | readonly string[];
  clientId: string;
  log: Logger;
  /** Per-topic settings for ensureTopics; topics not listed get `defaultTopic`. */
  topics?: Readonly<Record<string, KafkaTopicSpec>>;
  defaultTopic?: KafkaTopicSpec;
  consumer?: KafkaConsumerTuning;
  /** Delay before a batch whose handler threw a retriable error is fetched again; doubles up to `maxRetryDelayMs`. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Delay before the watchdog starts a new consumer after a fatal error or crash; doubles up to `maxRestartDelayMs`. */
  restartDelayMs?: number;
  maxRestartDelayMs?: number;
  /** Called when a handler throws a non-retriable error (the consumer then restarts); subscriptions may override it. */
  onFatal?(err: unknown, info: { groupId: string }): void;
  /**
   * How long a send may wait for Kafka's acknowledgement before it fails as retriable
   * BUS_UNAVAILABLE (default 5 s). Without it a send rides out kafkajs's retries, 15 s or more
   * while the broker is down; ingest answers 503 instead and the sender resends.
   */
  sendTimeoutMs?: number;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** kafkajs's own retries for sends, admin calls and the consumer loop (default 5 retries from 300 ms). */
  retry?: { retries?: number; initialRetryTimeMs?: number; maxRetryTimeMs?: number };
  ssl?: boolean;
  sasl?: SASLOptions;
}

export interface KafkaBusStats {
  subscriptions: KafkaSubscriptionStats[];
}

export interface KafkaBus extends Bus {
  subscribe(options: KafkaSubscribeOptions): KafkaSubscription;
  stats(): KafkaBusStats;
}

const DEFAULT_SEND_TIMEOUT_MS = 5000;
const DEFAULT_TOPIC: Required<Omit<KafkaTopicSpec, 'config'>> = { partitions: 6, replicationFactor: 1 };

/**
 * The Bus port over Apache Kafka with kafkajs. Sends resolve only once every in-sync replica has
 * the messages (idempotent producer, acks=all; see kafka-producer.ts); keys are partitioned with Kafka's Java murmur2,
 * the same function as the in-process bus; consumer groups commit only what the handler finished.
 * Clients are created here and connected on first use; close() stops consumers, then the
 * producer, then the admin client.
 */
export function createKafkaBus(options: KafkaBusOptions): KafkaBus {
  const log = options.log.child({ component: 'bus', adapter: 'kafka' });
  const brokers = typeof options.brokers === 'string' ? options.brokers.split(',') : [...options.brokers];
  const brokerList = brokers.map((b) => b.trim()).filter((b) => b.length > 0);
  if (brokerList.length === 0) throw new BurnrateError('CONFIG_INVALID', 'the Kafka bus needs at least one broker (host:port)');
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: brokerList,
    logCreator: kafkaLogCreator(options.log),
    logLevel: kafkaLogLevel(options.log),
    ...(options.connectionTimeoutMs !== undefined ? { connectionTimeout: options.connectionTimeoutMs } : {}),
    ...(options.requestTimeoutMs !== undefined ? { requestTimeout: options.requestTimeoutMs } : {}),
    ...(options.ssl !== undefined ? { ssl: options.ssl } : {}),
    ...(options.sasl !== undefined ? { sasl: options.sasl } : {}),
    ...(options.retry !== undefined
      ? {
          retry: {
            ...(options.retry.retries !== undefined ? { retries: options.retry.retries } : {}),
            ...(options.retry.initialRetryTimeMs !== undefined ? { initialRetryTime: options.retry.initialRetryTimeMs } : {}),
            ...(options.retry.maxRetryTimeMs !== undefined ? { maxRetryTime: options.retry.maxRetryTimeMs } : {}),
          },
        }
      : {}),
  });

  const subscriptions = new Set<KafkaSubscription>();
  let closing: Promise<void> | undefined;
  let adminReady: Promise<Admin> | undefined;

  const connected = <T extends { connect(): Promise<void> }>(client: T, what: string): Promise<T> =>
    client.connect().then(
      () => client,
      (err: unknown) => {
        throw translateKafkaError(err, { operation: `connect ${what}` });
      },
    );

  const admin = (): Promise<Admin> => {
    if (closing !== undefined) return Promise.reject(closedError());
    adminReady ??= connected(kafka.admin(), 'admin').catch((err: unknown) => {
      adminReady = undefined;
      throw err;
    });
    return adminReady;
  };

  const producer = createKafkaProducer({
    kafka,
    log: options.log,
    sendTimeoutMs: options.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS,
    retries: options.retry?.retries,
  });

  const busProducer: Producer = {
    send: (topic, messages) => (closing !== undefined ? Promise.reject(closedError()) : producer.send(topic, messages)),
  };

  return {
    producer: () => busProducer,

    subscribe(subscribeOptions: KafkaSubscribeOptions): KafkaSubscription {
      const subscription = createKafkaSubscription(
        {
          kafka,
          log: options.log,
          admin,
          tuning: options.consumer ?? {},
          retryDelayMs: options.retryDelayMs ?? 200,
          maxRetryDelayMs: options.maxRetryDelayMs ?? 30_000,
          restartDelayMs: options.restartDelayMs ?? 1000,
          maxRestartDelayMs: options.maxRestartDelayMs ?? 60_000,
          onFatal: (err, info) => options.onFatal?.(err, info),
        },
        subscribeOptions,
      );
      const tracked: KafkaSubscription = {
        async start() {
          if (closing !== undefined) throw closedError();
          subscriptions.add(tracked);
          await subscription.start();
        },
        stop: () => subscription.stop(),
        lag: () => subscription.lag(),
        stats: () => subscription.stats(),
      };
      return tracked;
    },

    async ensureTopics(topics: readonly string[]): Promise<void> {
      if (topics.length === 0) return;
      const client = await admin();
      try {
        const existing = new Set(await client.listTopics());
        const missing = [...new Set(topics)].filter((t) => !existing.has(t));
        if (missing.length === 0) return;
        await client.createTopics({
          waitForLeaders: true,
          topics: missing.map((topic) => {
            const spec = { ...DEFAULT_TOPIC, ...options.defaultTopic, ...options.topics?.[topic] };
            return {
              topic,
              numPartitions: spec.partitions,
              replicationFactor: spec.replicationFactor,
              configEntries: Object.entries(spec.config ?? {}).map(([name, value]) => ({ name, value })),
            };
          }),
        });
        log.info({ topics: missing }, 'created Kafka topics');
      } catch (err) {
        throw translateKafkaError(err, { operation: 'ensureTopics', topic: topics.join(',') });
      }
    },

    close(): Promise<void> {
      closing ??= (async () => {
        await Promise.all([...subscriptions].map((s) => s.stop()));
        await producer.close();
        if (adminReady !== undefined) {
          await adminReady.then(
            (a) => a.disconnect(),
            () => undefined,
          );
        }
      })();
      return closing;
    },

    stats(): KafkaBusStats {
      return { subscriptions: [...subscriptions].map((s) => s.stats()) };
    },
  };
}
