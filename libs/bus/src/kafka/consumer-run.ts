import type { Logger } from '@burnrate/core';
import type { Consumer, ConsumerCrashEvent, ConsumerGroupJoinEvent, EachBatchPayload, Kafka } from 'kafkajs';
import { PartitionAssigners } from 'kafkajs';
import { translateKafkaError } from './kafka-errors.ts';
import { loadAwareAssigner } from './load-aware-assigner.ts';
import { createPauseBook, type PauseBook } from './pause-book.ts';
import type { CommitOffsets } from './partition-progress.ts';

export interface KafkaConsumerTuning {
  /** The broker drops a member it has not heard from for this long (default 30 s; brokers accept 6 s–5 min). */
  sessionTimeoutMs?: number;
  /** How often the member proves it is alive, between chunks and while idle (default 3 s). */
  heartbeatIntervalMs?: number;
  /** How long the group waits for every member to rejoin during a rebalance (default 60 s). */
  rebalanceTimeoutMs?: number;
  /** Longest a fetch waits for new data; also bounds how long stop() waits for the fetch loop (default 1 s). */
  maxWaitTimeMs?: number;
  /** Bytes fetched per partition per request: the largest buffer one partition holds in memory (default 1 MiB). */
  maxBytesPerPartition?: number;
  /** Bytes per fetch across partitions (default 10 MiB). */
  maxBytes?: number;
  /** Partitions whose batches run concurrently (default 1; order within a partition always holds). */
  partitionsConsumedConcurrently?: number;
}

export const DEFAULT_HEARTBEAT_INTERVAL_MS = 3000;

/** One kafkajs consumer, from connect to disconnect or crash; the watchdog replaces it with a new one. */
export interface ConsumerRun {
  id: number;
  consumer: Consumer;
  /** Aborted when this run ends (stop, fatal error, crash): the handler's `ctx.signal`. */
  controller: AbortController;
  /**
   * The eachBatch payload's commit. Unlike `consumer.commitOffsets`, which silently does nothing
   * once the runner stopped (kafkajs src/consumer/runner.js `commitOffsets`, cf. tulios/kafkajs#874),
   * it still commits while stop() drains, so the last batch's offsets are not lost.
   */
  commit: CommitOffsets | undefined;
  pauses: PauseBook;
  inFlight: Set<Promise<void>>;
  /** No more batches for this run; set synchronously when it starts ending. */
  ended: boolean;
  /** The one endRun() of this run, so stop(), a fatal error and a failed start share it. */
  ending: Promise<void> | undefined;
}

export interface ConsumerRunConfig {
  kafka: Kafka;
  log: Logger;
  groupId: string;
  topics: readonly string[];
  fromBeginning: boolean;
  tuning: KafkaConsumerTuning;
}

/** What a run hands its kafkajs events and fetched batches to. */
export interface ConsumerRunHandlers {
  onGroupJoin(run: ConsumerRun, event: ConsumerGroupJoinEvent): void;
  onCrash(run: ConsumerRun, event: ConsumerCrashEvent): void;
  handleFetched(run: ConsumerRun, payload: EachBatchPayload): Promise<void>;
}

let runIds = 0;

/** A new kafkajs consumer, not connected yet, with its events wired to `handlers`. */
export function createConsumerRun(config: ConsumerRunConfig, handlers: ConsumerRunHandlers): ConsumerRun {
  const { tuning, log } = config;
  const consumer = config.kafka.consumer({
    groupId: config.groupId,
    sessionTimeout: tuning.sessionTimeoutMs ?? 30_000,
    heartbeatInterval: tuning.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS,
    rebalanceTimeout: tuning.rebalanceTimeoutMs ?? 60_000,
    maxWaitTimeInMs: tuning.maxWaitTimeMs ?? 1000,
    maxBytesPerPartition: tuning.maxBytesPerPartition ?? 1024 * 1024,
    maxBytes: tuning.maxBytes ?? 10 * 1024 * 1024,
    allowAutoTopicCreation: false,
    // Skewed keys make some partitions far heavier than others: spread them by load, with
    // kafkajs's round robin for a group whose other members know only that.
    partitionAssigners: [loadAwareAssigner(log), PartitionAssigners.roundRobin],
    // kafkajs restarts a consumer that crashed on a retriable error after that error's last
    // retry delay, which does not grow: a missing topic made it crash and rejoin ten times a
    // second. The watchdog (restart-watchdog.ts) restarts it instead, with a growing backoff and a
    // count (restart loops: tulios/kafkajs#1271, #1299; restart decision: #885).
    retry: { restartOnFailure: async () => false },
  });
  const run: ConsumerRun = {
    id: ++runIds,
    consumer,
    controller: new AbortController(),
    commit: undefined,
    pauses: createPauseBook({
      pause: (tp) => callConsumer(log, () => consumer.pause([{ topic: tp.topic, partitions: [tp.partition] }])),
      resume: (tp) => callConsumer(log, () => consumer.resume([{ topic: tp.topic, partitions: [tp.partition] }])),
    }),
    inFlight: new Set(),
    ended: false,
    ending: undefined,
  };
  consumer.on(consumer.events.GROUP_JOIN, (event) => handlers.onGroupJoin(run, event));
  consumer.on(consumer.events.CRASH, (event) => handlers.onCrash(run, event));
  return run;
}

/**
 * Connects, subscribes and starts fetching. On failure the consumer is disconnected and the error
 * translated; the run is then ended.
 */
export async function startConsumerRun(run: ConsumerRun, config: ConsumerRunConfig, handlers: ConsumerRunHandlers): Promise<void> {
  const { consumer } = run;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [...config.topics], fromBeginning: config.fromBeginning });
    await consumer.run({
      // Offsets are this adapter's to commit: kafkajs's autoCommit would also commit on seek
      // (tulios/kafkajs#1012) and commit resolved offsets from its own timers and on errors.
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: config.tuning.partitionsConsumedConcurrently ?? 1,
      eachBatch: async (payload) => {
        const work = handlers.handleFetched(run, payload);
        run.inFlight.add(work);
        try {
          await work;
        } finally {
          run.inFlight.delete(work);
        }
      },
    });
  } catch (err) {
    run.ended = true;
    run.ending = consumer.disconnect().catch(() => undefined);
    await run.ending;
    throw translateKafkaError(err, { operation: 'subscribe', topic: config.topics.join(','), groupId: config.groupId });
  }
}

/**
 * Calls kafkajs's pause, resume or seek. They throw only while kafkajs has no consumer group
 * (between a crash and its restart); the restart starts from a clean state anyway.
 */
export function callConsumer(log: Logger, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    log.debug({ err }, 'kafkajs consumer not running; pause/resume/seek skipped');
  }
}
