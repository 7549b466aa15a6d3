import type { TopicPartition } from '../port.ts';
import { partitionKey } from '../port.ts';

/**
 * Why a partition's fetching is paused. kafkajs keeps paused partitions in its SubscriptionState
 * across rebalances (src/consumer/subscriptionState.js): a partition paused when it was revoked
 * comes back paused and is never fetched again. So every pause has a reason, a partition is
 * resumed only once no reason is left, and losing a partition clears them all.
 */
export type PauseReason = 'assigning' | 'retry' | 'stopping';

/** What the book pauses and resumes: the fetching of one consumer (kafkajs `consumer.pause`/`resume`). */
export interface PartitionFetching {
  pause(tp: TopicPartition): void;
  resume(tp: TopicPartition): void;
}

/** The pauses of one consumer run, by partition, each with its reasons. */
export interface PauseBook {
  /** Adds `reason`; fetching is paused at the first one. */
  pause(tp: TopicPartition, reason: PauseReason): void;
  /** Lifts `reason`, or every reason when none is given (the partition is lost); fetching resumes once none is left. */
  resume(tp: TopicPartition, reason?: PauseReason): void;
  /** Forgets every pause without resuming: the consumer group they were made in is gone (a crash). */
  forget(): void;
}

export function createPauseBook(fetching: PartitionFetching): PauseBook {
  const pauses = new Map<string, Set<PauseReason>>();
  return {
    pause(tp, reason) {
      const key = partitionKey(tp);
      let reasons = pauses.get(key);
      if (reasons === undefined) pauses.set(key, (reasons = new Set()));
      const wasPaused = reasons.size > 0;
      reasons.add(reason);
      if (!wasPaused) fetching.pause(tp);
    },

    resume(tp, reason) {
      const key = partitionKey(tp);
      const reasons = pauses.get(key);
      if (reasons === undefined) return;
      if (reason === undefined) reasons.clear();
      else reasons.delete(reason);
      if (reasons.size > 0) return;
      pauses.delete(key);
      fetching.resume(tp);
    },

    forget() {
      pauses.clear();
    },
  };
}
