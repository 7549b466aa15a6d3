import { type Channel, type ChannelName, type Notification, receiverOf } from './channel.ts';

export interface MemoryChannelOptions {
  /** Whether the channel can be asked what it already delivered, as Slack can (default) and SMTP cannot. */
  reconcile?: boolean;
  /** Whether sent messages can be changed in place, as Slack's can (default) and emails cannot. */
  update?: boolean;
}

export interface MemoryChannel extends Channel {
  /** Every notification accepted, in order. */
  sent: Notification[];
  /** Every call to send, including those that threw. */
  attempts: number;
  /** Every call to reconcile, including those that threw. */
  reconciles: number;
  /** Every message changed in place, in order: its id and what it shows now. */
  updates: { id: string; notification: Notification }[];
  /** The next calls throw these errors, one per call, before sends succeed again. */
  failNext(...errors: Error[]): void;
  /** The next calls to reconcile throw these errors, one per call. */
  failReconcileNext(...errors: Error[]): void;
}

/**
 * The in-memory twin of the Channel port, for unit tests of code that sends notifications.
 * `reconcile` finds an earlier accepted notification of the same anomaly version and receiver,
 * whenever it was sent: the twin keeps no clock.
 */
export function createMemoryChannel(name: ChannelName, options: MemoryChannelOptions = {}): MemoryChannel {
  const failures: Error[] = [];
  const reconcileFailures: Error[] = [];
  const sent: Notification[] = [];
  const idOf = (index: number) => `${name}-${index + 1}`;
  const channel: MemoryChannel = {
    name,
    sent,
    attempts: 0,
    reconciles: 0,
    updates: [],
    failNext: (...errors) => {
      failures.push(...errors);
    },
    failReconcileNext: (...errors) => {
      reconcileFailures.push(...errors);
    },
    async send(n) {
      channel.attempts += 1;
      const failure = failures.shift();
      if (failure) throw failure;
      sent.push(n);
      return { id: idOf(sent.length - 1) };
    },
    async close() {},
  };
  if (options.update ?? true) {
    channel.update = async (id, n) => {
      const failure = failures.shift();
      if (failure) throw failure;
      channel.updates.push({ id, notification: n });
    };
  }
  if (options.reconcile ?? true) {
    channel.reconcile = async (n) => {
      channel.reconciles += 1;
      const failure = reconcileFailures.shift();
      if (failure) throw failure;
      const receiver = receiverOf(name, n);
      const index = sent.findIndex(
        (s) => s.anomaly.id === n.anomaly.id && s.anomaly.version === n.anomaly.version && receiverOf(name, s) === receiver,
      );
      return index === -1 ? undefined : { id: idOf(index) };
    };
  }
  return channel;
}
