import type { Channel, ChannelName, Notification } from './channel.ts';

export interface MemoryChannel extends Channel {
  /** Every notification accepted, in order. */
  sent: Notification[];
  /** Every call to send, including those that threw. */
  attempts: number;
  /** The next calls throw these errors, one per call, before sends succeed again. */
  failNext(...errors: Error[]): void;
}

/** The in-memory twin of the Channel port, for unit tests of code that sends notifications. */
export function createMemoryChannel(name: ChannelName): MemoryChannel {
  const failures: Error[] = [];
  const sent: Notification[] = [];
  const channel: MemoryChannel = {
    name,
    sent,
    attempts: 0,
    failNext: (...errors) => {
      failures.push(...errors);
    },
    async send(n) {
      channel.attempts += 1;
      const failure = failures.shift();
      if (failure) throw failure;
      sent.push(n);
      return { id: `${name}-${sent.length}` };
    },
    async close() {},
  };
  return channel;
}
