import { createKafkaBus, type KafkaBus, type KafkaConsumerTuning } from '@burnrate/bus';
import type { Logger } from '@burnrate/core';

/**
 * The Kafka bus of one standalone service. Topics are not created here: `burnrate topics apply`
 * owns them, so a service started against a cluster without them fails with "topic does not exist"
 * instead of creating it with broker defaults (no compaction, wrong partition count).
 */
export function openKafkaBus(options: {
  brokers: readonly string[];
  service: string;
  log: Logger;
  sendTimeoutMs?: number | undefined;
  /** Consumer settings for every subscription of this bus (kafkajs's defaults otherwise). */
  consumer?: KafkaConsumerTuning | undefined;
}): KafkaBus {
  const { log, service } = options;
  return createKafkaBus({
    brokers: options.brokers,
    clientId: `burnrate-${service}`,
    log,
    ...(options.sendTimeoutMs !== undefined ? { sendTimeoutMs: options.sendTimeoutMs } : {}),
    ...(options.consumer !== undefined ? { consumer: options.consumer } : {}),
    onFatal: (err, { groupId }) =>
      log.error({ err, groupId }, 'a batch failed with a non-retriable error; the consumer restarts from the last commit'),
  });
}
