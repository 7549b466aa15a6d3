import { BurnrateError, type Logger } from '@burnrate/core';
import {
  type CompressionTypes,
  Partitioners,
  type Kafka,
  type Message,
  type Producer as KafkaJSProducer,
  type TopicMessages,
} from 'kafkajs';
import type { OutgoingMessage, Producer } from '../port.ts';
import { closedError, translateKafkaError } from './kafka-errors.ts';

export interface KafkaProducerDeps {
  kafka: Kafka;
  log: Logger;
  /** A send that Kafka has not acknowledged after this long is rejected as retriable BUS_UNAVAILABLE. */
  sendTimeoutMs: number;
  /** Sends queued while one is in flight go out together in one request, up to this many bytes of values. */
  maxCoalescedBytes?: number;
  /** kafkajs retries of the kafka client; an idempotent producer needs at least one. */
  retries?: number | undefined;
  /** Compression of every batch (none by default). */
  compression?: CompressionTypes;
}

export interface KafkaProducer extends Producer {
  /** Waits for the send in flight (and for producers retired after a failure), then disconnects. */
  close(): Promise<void>;
}

/** What a 503 asks the sender to wait before resending (the Retry-After header). */
const RETRY_AFTER_MS = 1000;
/** Well under the brokers' default message.max.bytes (1 MiB), so coalescing never makes a batch too large. */
const DEFAULT_MAX_COALESCED_BYTES = 512 * 1024;

interface Pending {
  topic: string;
  messages: Message[];
  bytes: number;
  /** Sent in a request of its own: it was in a group that a non-retriable error failed. */
  alone: boolean;
  resolve(): void;
  reject(err: unknown): void;
}

/** One kafkajs producer, i.e. one producer id and its sequence numbers. */
interface Session {
  client: KafkaJSProducer;
  ready: Promise<KafkaJSProducer>;
}

/**
 * The Bus producer over one idempotent kafkajs producer (acks=all), with one send in flight and a
 * fresh producer id after any send that failed.
 *
 * kafkajs numbers each partition's batches, and when a produce request fails it takes the numbers
 * back (src/producer/sendMessages.js, `updateSequence(..., -messages.length)`) whether or not the
 * broker wrote the batch. A request that the broker wrote but whose answer was lost (the broker
 * stopping, a timeout) thus leaves its sequence numbers free, and the next batch to that partition
 * reuses them. If that batch has other messages of the same count, the broker takes it for a retry
 * of the written one and acknowledges it without writing it (Kafka keeps the last five batches per
 * producer id, across a restart, for exactly that check): a sender was told its events were
 * durable and they never reached the log. Two rules close this: only one send is in flight, so a
 * number taken back can only be reused by kafkajs's retries of the same messages; and once a send
 * failed, its producer is dropped, so nothing else is ever sent with its producer id.
 *
 * Sends queued meanwhile go out together in the next request, as the in-process bus
 * group-commits, so one-at-a-time costs no throughput: kafkajs already serialises an idempotent
 * producer's requests per broker.
 */
export function createKafkaProducer(deps: KafkaProducerDeps): KafkaProducer {
  const log = deps.log.child({ component: 'bus', adapter: 'kafka', role: 'producer' });
  const maxCoalescedBytes = deps.maxCoalescedBytes ?? DEFAULT_MAX_COALESCED_BYTES;
  const queue: Pending[] = [];
  let session: Session | undefined;
  let pumping: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  /** Producers dropped after a failure, disconnected once their last request settled. */
  const retiring = new Set<Promise<void>>();

  const open = (): Session => {
    let client: KafkaJSProducer;
    try {
      client = deps.kafka.producer({
        // Idempotence makes kafkajs's own retries of one request safe: the broker drops a batch
        // it already wrote, so a retried send neither duplicates nor, one request in flight, reorders.
        idempotent: true,
        maxInFlightRequests: 1,
        // Java-compatible murmur2 (kafkajs 2's default); partitioner.ts is the same function, so
        // a key lands on the same partition number in embedded and distributed mode.
        createPartitioner: Partitioners.DefaultPartitioner,
        // A misspelt topic must fail, not be created by a metadata request.
        allowAutoTopicCreation: false,
        // kafkajs refuses an idempotent producer that may not retry at all.
        ...(deps.retries !== undefined && deps.retries < 1 ? { retry: { retries: 1 } } : {}),
      });
    } catch (err) {
      throw translateKafkaError(err, { operation: 'create producer' });
    }
    const opened: Session = {
      client,
      ready: client.connect().then(
        () => client,
        (err: unknown) => {
          // Nothing was sent with it; the next send opens another.
          if (session === opened) session = undefined;
          throw translateKafkaError(err, { operation: 'connect producer' });
        },
      ),
    };
    opened.ready.catch(() => undefined);
    return opened;
  };

  const retire = (dropped: Session, inFlight: Promise<unknown>): void => {
    if (session === dropped) session = undefined;
    const done = inFlight
      .catch(() => undefined)
      .then(() => dropped.client.disconnect())
      .catch((err: unknown) => log.debug({ err }, 'retired kafkajs producer did not disconnect cleanly'))
      .finally(() => retiring.delete(done));
    retiring.add(done);
  };

  /** Takes the next sends that fit in one request: at least one, then while under maxCoalescedBytes. */
  const takeGroup = (): Pending[] => {
    const group = [queue.shift()!];
    if (group[0]!.alone) return group;
    let bytes = group[0]!.bytes;
    while (queue.length > 0 && !queue[0]!.alone && bytes + queue[0]!.bytes <= maxCoalescedBytes) {
      const next = queue.shift()!;
      bytes += next.bytes;
      group.push(next);
    }
    return group;
  };

  const sendGroup = async (group: readonly Pending[]): Promise<void> => {
    let current: Session;
    try {
      current = session ??= open();
    } catch (err) {
      for (const p of group) p.reject(err);
      return;
    }
    let requested = false;
    let abandoned = false;
    const request = (async () => {
      const client = await current.ready;
      // Its senders were already answered: sending now would put two requests in flight.
      if (abandoned) return;
      requested = true;
      const byTopic = new Map<string, Message[]>();
      for (const p of group) {
        const list = byTopic.get(p.topic);
        if (list === undefined) byTopic.set(p.topic, [...p.messages]);
        else list.push(...p.messages);
      }
      const topicMessages: TopicMessages[] = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
      // acks=all: resolved only when every in-sync replica has the batch (required by idempotence).
      await client.sendBatch({ acks: -1, topicMessages, ...(deps.compression !== undefined ? { compression: deps.compression } : {}) });
    })();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), deps.sendTimeoutMs)));
    try {
      const outcome = await Promise.race([request.then(() => 'sent' as const), timedOut]);
      if (outcome === 'sent') {
        for (const p of group) p.resolve();
        return;
      }
      // Still connecting: nothing went out with this producer id, so the next send may wait for
      // the same connection. Once a request was made, its outcome is unknown and the id is spent.
      abandoned = true;
      if (requested) retire(current, request);
      log.warn({ timeoutMs: deps.sendTimeoutMs, sends: group.length, requested }, 'Kafka did not acknowledge a send in time');
      for (const p of group) {
        p.reject(
          new BurnrateError(
            'BUS_UNAVAILABLE',
            `send to topic ${p.topic}: Kafka did not acknowledge within ${deps.sendTimeoutMs} ms (${requested ? 'the broker did not answer' : 'no broker connection'}); resend later`,
            { retriable: true, retryAfterMs: RETRY_AFTER_MS, details: { operation: 'send', topic: p.topic } },
          ),
        );
      }
    } catch (err) {
      if (requested) retire(current, request);
      if (group.length > 1 && !translateKafkaError(err, { operation: 'send' }).retriable) {
        // A refusal (too large, unknown topic) may be about one send only: each gets its own verdict.
        queue.unshift(...group.map((p) => ({ ...p, alone: true })));
        return;
      }
      for (const p of group) {
        const translated = translateKafkaError(err, { operation: 'send', topic: p.topic });
        p.reject(
          translated.retriable && translated.retryAfterMs === undefined
            ? new BurnrateError(translated.code, translated.message, {
                cause: err,
                retriable: true,
                retryAfterMs: RETRY_AFTER_MS,
                ...(translated.details !== undefined ? { details: translated.details } : {}),
              })
            : translated,
        );
      }
    } finally {
      clearTimeout(timer);
    }
  };

  const pump = (): Promise<void> => {
    pumping ??= (async () => {
      try {
        while (queue.length > 0) await sendGroup(takeGroup());
      } finally {
        pumping = undefined;
      }
    })();
    return pumping;
  };

  return {
    send(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
      if (closing !== undefined) return Promise.reject(closedError());
      if (messages.length === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        let bytes = 0;
        const converted = messages.map((m) => {
          bytes += Buffer.byteLength(m.key) + Buffer.byteLength(m.value);
          return { key: m.key, value: m.value, ...(m.headers !== undefined ? { headers: { ...m.headers } } : {}) };
        });
        queue.push({ topic, messages: converted, bytes, alone: false, resolve, reject });
        void pump();
      });
    },
    close(): Promise<void> {
      closing ??= (async () => {
        await pumping;
        const last = session;
        session = undefined;
        if (last !== undefined) {
          await last.ready.then(
            (client) => client.disconnect(),
            () => undefined,
          );
        }
        await Promise.all([...retiring]);
      })();
      return closing;
    },
  };
}
