/**
 * The Bus port: the subset of Kafka's model Burnrate relies on, so the in-process adapter and
 * the Kafka adapter are interchangeable. Records are keyed; a key always maps to the same
 * partition (order per key); consumers in one group share partitions; a group's position only
 * moves when the handler says a batch is done (commit after processing, never before).
 */

export interface OutgoingMessage {
  /** Partitioning key: `org:developer` for usage events, the anomaly id for anomalies. */
  key: string;
  /** Serialised payload (JSON text for every v1 topic). */
  value: string;
  headers?: Record<string, string>;
  /**
   * `value` as JSON.parse gives it (but for keys whose value is undefined), when the producer
   * has it at hand: the in-process bus hands it to consumers in the same process, which then
   * parse nothing. Never written anywhere; Kafka ignores it.
   */
  decoded?: unknown;
}

export interface Producer {
  /**
   * Resolves only once the messages are durable (the in-process log has written them, or Kafka
   * acknowledged them with acks=all). Callers acknowledge their own senders only after this.
   */
  send(topic: string, messages: readonly OutgoingMessage[]): Promise<void>;
}

export interface ConsumedMessage {
  topic: string;
  partition: number;
  /** Decimal string, as Kafka offsets are 64-bit. */
  offset: string;
  key: string;
  value: string;
  headers: Record<string, string>;
  /** Epoch milliseconds when the message was appended. */
  timestamp: number;
  /**
   * The producer's `decoded` (in-process bus, same process, until a restart): use it in place of
   * JSON.parse(value), and never change it, since every consumer group is given the same one.
   */
  decoded?: unknown;
}

export interface Batch {
  topic: string;
  partition: number;
  messages: readonly ConsumedMessage[];
  /** Offset of the next message the partition will receive; lag = highWatermark - last offset - 1. */
  highWatermark: string;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface BatchContext {
  /**
   * With `autoCommit: false`, marks everything up to and including `offset` as processed for the
   * group. Use it when processing is only durable later (a state snapshot), so a restart resumes
   * from what was really saved.
   */
  commit(offset: string): Promise<void>;
  /** Tells the handler to stop early: shutdown or rebalance started. */
  readonly signal: AbortSignal;
}

export interface SubscribeOptions {
  groupId: string;
  topics: readonly string[];
  /** Where a group with no committed position starts; default `earliest` (lose nothing). */
  fromBeginning?: boolean;
  /** Commit after each batch the handler resolves (default true). */
  autoCommit?: boolean;
  /** Upper bound on messages in one batch handed to the handler. */
  maxBatchSize?: number;
  handleBatch(batch: Batch, ctx: BatchContext): Promise<void>;
  /**
   * Called when partitions are assigned, before any batch from them. May return, per
   * `topic:partition`, the offset to start from instead of the committed one (a restored snapshot).
   */
  onAssigned?(partitions: readonly TopicPartition[]): Promise<Record<string, string> | void>;
  /** Called before partitions are taken away (rebalance or stop), after in-flight batches finish. */
  onRevoked?(partitions: readonly TopicPartition[]): Promise<void>;
}

export interface Subscription {
  /** Starts consuming; resolves once the group has joined. */
  start(): Promise<void>;
  /** Stops fetching, lets the in-flight batch finish, commits, and leaves the group. */
  stop(): Promise<void>;
  /** Messages on this member's partitions that its handler has not finished yet (for health and tests). */
  lag(): number;
}

export interface Bus {
  producer(): Producer;
  subscribe(options: SubscribeOptions): Subscription;
  /** Creates topics if missing (partitions, retention, compaction come from infra for Kafka). */
  ensureTopics(topics: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

export const partitionKey = (tp: TopicPartition): string => `${tp.topic}:${tp.partition}`;
