import type { OutgoingMessage, Producer } from '@burnrate/bus';
import type { Logger } from '@burnrate/core';

/** Where a partition's step queues what it produced: sent, in order, before the next snapshot. */
export interface Outbox {
  push(topic: string, message: OutgoingMessage): void;
}

/**
 * One partition's output on its way to the bus, in the order it was made. The last batch's output
 * is sent while the next fetch goes on; anything that sends again waits for that send first, so
 * messages leave in the order they were made and a failed send's go before anything newer.
 */
export interface PartitionOutput {
  /** Where the partition's steps queue their output. */
  readonly outbox: Outbox;
  /** Output is queued and not acknowledged by the bus yet: a snapshot waits until there is none. */
  hasPending(): boolean;
  /** The send in flight now: true once all of it is acknowledged, false when a send failed (what did not go out stays pending). */
  flushing(): Promise<boolean>;
  /** Waits for the output in flight, then sends what is still pending (a failed flush's), in order. */
  settle(): Promise<void>;
  /** Sends the batch's output without holding the batch: the next fetch overlaps the acknowledgement. */
  flushInBackground(): void;
}

export interface PartitionOutputDeps {
  producer: Producer;
  log: Logger;
  /** Names the stage in log messages. */
  name: string;
  partition: number;
  /** Messages the bus acknowledged on `topic`. */
  acknowledged(topic: string, count: number): void;
}

export function createPartitionOutput(deps: PartitionOutputDeps): PartitionOutput {
  const { log } = deps;
  /** Output not yet acknowledged by the bus, by topic in first-queued order; a snapshot waits until it is empty. */
  const pending = new Map<string, OutgoingMessage[]>();
  /**
   * The last batch's output on its way to the bus, while the next fetch goes on: true once all of
   * it is acknowledged, false when a send failed (what did not go out stays in `pending`). Anything
   * that touches `pending` waits for it first.
   */
  let flushing: Promise<boolean> = Promise.resolve(true);

  const publishPending = async (): Promise<void> => {
    for (const [to, messages] of [...pending]) {
      await deps.producer.send(to, messages);
      pending.delete(to);
      deps.acknowledged(to, messages.length);
    }
  };

  return {
    outbox: {
      push(to, message) {
        const list = pending.get(to);
        if (list === undefined) pending.set(to, [message]);
        else list.push(message);
      },
    },

    hasPending: () => pending.size > 0,

    flushing: () => flushing,

    async settle() {
      await flushing;
      await publishPending();
    },

    flushInBackground() {
      flushing = publishPending().then(
        () => true,
        (err: unknown) => {
          // Still pending: the next batch, the idle snapshot or the release sends it first.
          log.warn({ err, partition: deps.partition }, `${deps.name} output not acknowledged yet; it goes first with the next batch`);
          return false;
        },
      );
    },
  };
}
