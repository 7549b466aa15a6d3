import type { Producer, SubscribeOptions } from '@burnrate/bus';
import { type DetectorPorts, DETECTOR_GROUP_ID, type SnapshotStore, TEAM_DETECTOR_GROUP_ID } from '@burnrate/detector';

/** Durations (ms) of one kind of step. */
export interface Timing {
  count: number;
  totalMs: number;
  p50: number;
  p99: number;
  max: number;
}

/** Raw durations (ms) by step name, as `PortTimings.take()` hands them over; merge several with `mergeSamples`. */
export type TimingSamples = Record<string, number[]>;

/**
 * Where a detector's wall time went, timed at the ports it is given (producer, snapshot store,
 * subscription handlers), so the service code is untouched: `stageABatch` / `stageBBatch` (until
 * the handler hands the batch back: waiting for the partition's previous batch to be stepped and
 * its output acknowledged; the batch itself is stepped after), `send:<topic>`, `snapshotSave`,
 * `commit`, and `stageABatchSize` (messages per stage-A batch, not a duration). `npm run bench:e2e`
 * reads them.
 */
export interface PortTimings {
  producer(p: Producer): Producer;
  snapshots(s: SnapshotStore): SnapshotStore;
  subscription(name: 'stageABatch' | 'stageBBatch', options: SubscribeOptions): SubscribeOptions;
  /** All of a detector's ports, timed: what the bench's thread entry hands to serveDetectorThread. */
  ports(ports: DetectorPorts): DetectorPorts;
  /** The samples since the last take, and starts over. */
  take(): TimingSamples;
}

export function createPortTimings(): PortTimings {
  let samples = new Map<string, number[]>();
  const record = (name: string, value: number): void => {
    const list = samples.get(name);
    if (list === undefined) samples.set(name, [value]);
    else list.push(value);
  };
  const timed = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await work();
    } finally {
      record(name, performance.now() - started);
    }
  };
  return {
    producer: (p) => ({ send: (topic, messages) => timed(`send:${topic}`, () => p.send(topic, messages)) }),
    snapshots: (s) => ({ load: (key) => s.load(key), save: (snapshot) => timed('snapshotSave', () => s.save(snapshot)) }),
    subscription: (name, options) => ({
      ...options,
      handleBatch: (batch, ctx) => {
        if (name === 'stageABatch') record('stageABatchSize', batch.messages.length);
        const commit = (offset: string): Promise<void> => timed('commit', () => ctx.commit(offset));
        return timed(name, () => options.handleBatch(batch, { commit, signal: ctx.signal }));
      },
    }),
    ports(ports) {
      return {
        producer: this.producer(ports.producer),
        snapshots: this.snapshots(ports.snapshots),
        bus: {
          subscribe: (options) =>
            ports.bus.subscribe(
              options.groupId === DETECTOR_GROUP_ID
                ? this.subscription('stageABatch', options)
                : options.groupId === TEAM_DETECTOR_GROUP_ID
                  ? this.subscription('stageBBatch', options)
                  : options,
            ),
        },
      };
    },
    take: () => {
      const taken = Object.fromEntries(samples);
      samples = new Map();
      return taken;
    },
  };
}

/** The samples of several threads as one set. */
export function mergeSamples(all: readonly TimingSamples[]): TimingSamples {
  const merged: TimingSamples = {};
  for (const samples of all) for (const [name, values] of Object.entries(samples)) (merged[name] ??= []).push(...values);
  return merged;
}

/** Count, total and quantiles (nearest rank) of one step's samples. */
export function timingOf(values: readonly number[] | undefined): Timing {
  const sorted = [...(values ?? [])].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
  return { count: sorted.length, totalMs: sorted.reduce((n, x) => n + x, 0), p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? 0 };
}
