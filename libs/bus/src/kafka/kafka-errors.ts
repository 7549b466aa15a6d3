import { BurnrateError, type ErrorCode } from '@burnrate/core';

export interface KafkaErrorContext {
  /** What the bus was doing, for the message: "send", "commit", "ensureTopics", … */
  operation: string;
  topic?: string;
  groupId?: string;
}

interface Rejection {
  code: ErrorCode;
  explanation: string;
}

/**
 * Broker answers that no retry can fix. kafkajs marks some of them retriable (an unknown topic may
 * be still propagating), but with `auto.create.topics.enable=false` an unknown topic after
 * ensureTopics is a misspelling or a missing deploy step; retrying hides it for minutes.
 */
const REJECTIONS: Readonly<Record<string, Rejection>> = {
  MESSAGE_TOO_LARGE: {
    code: 'INPUT_TOO_LARGE',
    explanation: "Kafka rejected a message as too large; raise the topic's max.message.bytes or send smaller messages",
  },
  RECORD_LIST_TOO_LARGE: {
    code: 'INPUT_TOO_LARGE',
    explanation: 'Kafka rejected a batch as too large; send fewer messages per call or raise max.message.bytes',
  },
  UNKNOWN_TOPIC_OR_PARTITION: {
    code: 'NOT_FOUND',
    explanation: 'the topic does not exist and the broker does not create topics automatically; create it first (bus.ensureTopics)',
  },
  INVALID_TOPIC_EXCEPTION: { code: 'INPUT_INVALID', explanation: 'the topic name is not valid in Kafka' },
  INVALID_RECORD: { code: 'INPUT_INVALID', explanation: 'Kafka rejected a record as invalid' },
  TOPIC_AUTHORIZATION_FAILED: { code: 'UNAUTHORIZED', explanation: 'this client may not use the topic' },
  GROUP_AUTHORIZATION_FAILED: { code: 'UNAUTHORIZED', explanation: 'this client may not use the consumer group' },
  CLUSTER_AUTHORIZATION_FAILED: { code: 'UNAUTHORIZED', explanation: 'this client lacks cluster permissions' },
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: { code: 'UNAUTHORIZED', explanation: 'this client lacks idempotent-write permission' },
  SASL_AUTHENTICATION_FAILED: { code: 'UNAUTHORIZED', explanation: 'Kafka refused the SASL credentials' },
  INVALID_REPLICATION_FACTOR: { code: 'CONFIG_INVALID', explanation: 'the replication factor is larger than the number of brokers' },
  INVALID_PARTITIONS: { code: 'CONFIG_INVALID', explanation: 'the partition count is not valid' },
  INVALID_CONFIG: { code: 'CONFIG_INVALID', explanation: 'Kafka rejected a topic setting' },
  POLICY_VIOLATION: { code: 'CONFIG_INVALID', explanation: "the broker's create-topic policy rejected the request" },
  UNSUPPORTED_VERSION: {
    code: 'INTERNAL',
    explanation: 'the broker no longer speaks a protocol version kafkajs 2.2.4 needs (see infra/kafka/README.md)',
  },
};

/** kafkajs error classes whose failures are about reaching Kafka, never about the request. */
const UNREACHABLE = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSLockTimeout',
  'KafkaJSTimeout',
  'KafkaJSStaleTopicMetadataAssignment',
]);

interface KafkaJSLike {
  name?: unknown;
  type?: unknown;
  message?: unknown;
  retriable?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/**
 * Turns whatever kafkajs threw into a BurnrateError, so callers decide from `retriable` alone.
 * kafkajs wraps the broker's answer (`KafkaJSNumberOfRetriesExceeded` → `KafkaJSProtocolError`),
 * so the decision is taken on the innermost cause; the message names the topic or group.
 */
export function translateKafkaError(err: unknown, context: KafkaErrorContext): BurnrateError {
  if (err instanceof BurnrateError) return err;
  const chain = causeChain(err);
  const root = chain.at(-1) ?? {};
  const type = typeof root.type === 'string' ? root.type : undefined;
  const rootName = typeof root.name === 'string' ? root.name : 'Error';
  const reason = `${typeof root.message === 'string' ? root.message : String(err)}${type ? ` (${type})` : ''}`;
  const where = describe(context);
  const details = { operation: context.operation, topic: context.topic, groupId: context.groupId, kafkaError: type ?? rootName };

  const rejection =
    type !== undefined
      ? REJECTIONS[type]
      : rootName === 'KafkaJSSASLAuthenticationError'
        ? REJECTIONS.SASL_AUTHENTICATION_FAILED
        : rootName === 'KafkaJSServerDoesNotSupportApiKey'
          ? REJECTIONS.UNSUPPORTED_VERSION
          : undefined;
  if (rejection !== undefined) {
    return new BurnrateError(rejection.code, `${where}: ${rejection.explanation}: ${reason}`, { cause: err, retriable: false, details });
  }
  const unreachable = chain.some((e) => typeof e.name === 'string' && UNREACHABLE.has(e.name));
  // kafkajs marks every transient broker state (leader moving, coordinator loading, rebalance,
  // not enough replicas) retriable; anything it marks non-retriable and we do not know is a bug
  // or a misconfiguration, which retrying would only hide.
  const retriable = unreachable || root.retriable === true;
  return new BurnrateError('BUS_UNAVAILABLE', `${where}: Kafka is unavailable or refused: ${reason}`, { cause: err, retriable, details });
}

/** "send to topic usage.events.v1", "commit for group detector on topic usage.events.v1". */
function describe(context: KafkaErrorContext): string {
  let text = context.operation;
  if (context.groupId !== undefined) text += ` for group ${context.groupId}`;
  if (context.topic !== undefined) text += `${context.groupId !== undefined ? ' on' : ' to'} topic ${context.topic}`;
  return text;
}

function causeChain(err: unknown): KafkaJSLike[] {
  const chain: KafkaJSLike[] = [];
  let current: unknown = err;
  while (typeof current === 'object' && current !== null && chain.length < 10 && !chain.includes(current)) {
    const e = current as KafkaJSLike;
    chain.push(e);
    // createTopics and a few admin calls aggregate one error per topic; the first that is not
    // "already exists" says what went wrong.
    if (Array.isArray(e.errors) && e.errors.length > 0) {
      const errors = e.errors as KafkaJSLike[];
      current = errors.find((x) => x?.type !== 'TOPIC_ALREADY_EXISTS') ?? errors[0];
      continue;
    }
    current = e.cause;
  }
  return chain;
}

/** Rebalance answers: the member must rejoin before anything it does for the group counts again. */
export function isRebalanceError(err: unknown): boolean {
  return causeChain(err).some(
    (e) =>
      e.type === 'REBALANCE_IN_PROGRESS' ||
      e.type === 'ILLEGAL_GENERATION' ||
      e.type === 'UNKNOWN_MEMBER_ID' ||
      e.type === 'NOT_COORDINATOR_FOR_GROUP',
  );
}

/** What a send or subscribe gets once the bus (or its producer) is closing. */
export function closedError(): BurnrateError {
  return new BurnrateError('BUS_CLOSED', 'the Kafka bus is closed');
}
