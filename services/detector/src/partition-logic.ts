import type { ConsumedMessage } from '@burnrate/bus';
import type { Outbox } from './partition-output.ts';

/** What one stage does with its partitions' state; the partitioned consumer does the rest. */
export interface PartitionLogic<State> {
  /** State of a partition with no snapshot. */
  create(partition: number): State;
  /** State from a snapshot's value (what `snapshot` gave, as JSON would rebuild it); throws when it cannot be read. */
  restore(partition: number, value: unknown): State;
  /** The state as plain JSON-able data, read (not kept) before the state's next step. */
  snapshot(state: State): unknown;
  /** Steps one message the state does not reflect yet, queueing its output. */
  apply(state: State, message: ConsumedMessage, out: Outbox): void;
  /** After a batch's messages, before its output is sent. */
  endBatch?(state: State, out: Outbox, partition: number): void;
  /** Fields logged when a partition is loaded. */
  describe?(state: State): Record<string, unknown>;
}
