// One detector instance for `npm run bench:e2e`, run as its own process (forked with an IPC
// channel). It is wired as services/detector/src/main.ts wires it (Kafka bus and its consumer
// settings, snapshots on detector-state.v1, stage B started before stage A) and adds only what the
// bench must see and the service does not expose: the moment it has handled every preloaded event,
// timed in this process so no IPC hop is in the figure (offsets are committed with snapshots, so
// the group's committed lag trails the work by up to a snapshot interval), and how long each step
// behind its ports took.
import type { Producer, SubscribeOptions } from '@burnrate/bus';
import { createLogger, loadConfig } from '@burnrate/core';
import { createDetector, createTeamDetector, rollupSources, type SnapshotStore } from '@burnrate/detector';
import { createKafkaSnapshotStore, openKafkaBus, quietKafkajsWarnings } from '@burnrate/runtime';
import { TOPICS } from '@burnrate/schemas';
import { declareTopics, DETECTOR_STATE_TOPIC } from '../kafka/topics.ts';

/**
 * What the bench asks: `catch-up` reports once `events` usage events are handled; `trace` reports
 * where the detector's wall time went since the last `trace` (and starts over); `stop` shuts down
 * and reports totals.
 */
export type InstanceRequest = { type: 'catch-up'; events: number } | { type: 'trace' } | { type: 'stop' };

/** Durations (ms) of one kind of step. */
export interface Timing {
  count: number;
  totalMs: number;
  p50: number;
  p99: number;
  max: number;
}

/** Measured at the ports the detector is given (producer, snapshot store, subscription handlers), so the service code is untouched. */
export interface Trace {
  /** Wall time the trace covers. */
  spanMs: number;
  /** Stage A's handleBatch (decode, detect, publish, snapshot, commit), one per partition batch. */
  stageABatch: Timing;
  stageBBatch: Timing;
  /** Awaited sends to the bus producer, per topic. */
  send: Record<string, Timing>;
  snapshotSave: Timing;
  /** Offset commits (ctx.commit), both stages. */
  commit: Timing;
  /** Messages per stage-A batch. */
  stageABatchSize: Timing;
}

export type InstanceReport =
  | { type: 'started'; joinMs: number }
  | {
      type: 'caught-up';
      /** From the end of the group join to the first usage event handled (snapshot load, first fetch). */
      firstEventMs: number;
      /** From the first usage event handled to the last one, lag 0. */
      consumeMs: number;
      /** CPU time (user + system, all threads) this process used meanwhile: what a shared, noisy machine disturbs least. */
      cpuMs: number;
      processed: number;
      anomalies: number;
      rollups: number;
      snapshots: number;
      batches: number;
    }
  | { type: 'trace'; trace: Trace }
  | { type: 'stopped'; stageA: Record<string, number>; stageB: Record<string, number>; batches: number }
  | { type: 'failed'; message: string };

// Polling the counters costs microseconds; 2 ms keeps the timing error far below a run of seconds.
const POLL_MS = 2;

const send = (r: InstanceReport): Promise<void> =>
  new Promise((resolve) => {
    if (process.send === undefined || !process.connected) return resolve();
    process.send(r, undefined, {}, () => resolve());
  });

async function main(brokersArg: string | undefined, configPath: string | undefined): Promise<void> {
  if (brokersArg === undefined || configPath === undefined) throw new Error('usage: detector-instance.ts <brokers> <burnrate.yaml>');
  if (process.send === undefined) throw new Error('detector-instance.ts must be forked with an IPC channel by infra/bench/e2e.ts');
  const brokers = brokersArg.split(',');
  const log = createLogger({ level: 'warn' }).child({ service: 'detector' });
  quietKafkajsWarnings(log);
  const config = await loadConfig(configPath);

  const usagePartitions = declareTopics({ replicationFactor: 1, minInsyncReplicas: 1 }).find((t) => t.name === TOPICS.usageEvents.name);
  const bus = openKafkaBus({
    brokers,
    service: 'detector',
    log,
    consumer: { partitionsConsumedConcurrently: usagePartitions?.partitions ?? 1 },
  });
  const changelog = createKafkaSnapshotStore({ brokers, topic: DETECTOR_STATE_TOPIC, clientId: 'burnrate-detector', log });
  const tracer = createTracer();
  const producer = tracer.producer(bus.producer());
  const snapshots = tracer.snapshots(changelog);
  const teamDetector = createTeamDetector({
    config,
    producer,
    snapshots,
    log,
    engine: { expectedSources: rollupSources(usagePartitions?.partitions ?? 0) },
  });
  const teamSubscription = bus.subscribe(tracer.subscription('stageBBatch', teamDetector.subscribeOptions));
  const detector = createDetector({ config, producer, snapshots, log });
  const subscription = bus.subscribe(tracer.subscription('stageABatch', detector.subscribeOptions));

  const started = performance.now();
  await teamSubscription.start();
  await subscription.start();
  const joined = performance.now();
  await send({ type: 'started', joinMs: joined - started });

  const watchCatchUp = async (events: number): Promise<void> => {
    // The catch-up's trace starts here, not at the group join.
    tracer.take();
    let first: number | undefined;
    let cpuAtFirst = process.cpuUsage();
    for (;;) {
      const { processed } = detector.stats();
      const now = performance.now();
      if (first === undefined && processed > 0) {
        first = now;
        cpuAtFirst = process.cpuUsage();
      }
      if (processed >= events && subscription.lag() === 0) {
        const s = detector.stats();
        const cpu = process.cpuUsage(cpuAtFirst);
        await send({
          type: 'caught-up',
          firstEventMs: (first ?? now) - joined,
          consumeMs: now - (first ?? now),
          cpuMs: (cpu.user + cpu.system) / 1000,
          processed: s.processed,
          anomalies: s.published,
          rollups: s.rollups,
          snapshots: s.snapshots,
          batches: subscription.stats().batches,
        });
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  };

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    // The order of main.ts: stage A first, stage B after it, then the clients.
    await subscription.stop();
    await detector.stop();
    await teamSubscription.stop();
    await teamDetector.stop();
    await bus.close();
    await changelog.close();
    await send({
      type: 'stopped',
      stageA: { ...detector.stats() },
      stageB: { ...teamDetector.stats() },
      batches: subscription.stats().batches,
    });
    process.exit(0);
  };

  process.on('message', (m: InstanceRequest) => {
    const work =
      m.type === 'catch-up' ? watchCatchUp(m.events) : m.type === 'trace' ? send({ type: 'trace', trace: tracer.take() }) : stop();
    work.catch(fail);
  });
  // The bench died without asking: leave the group instead of lingering.
  process.on('disconnect', () => {
    stop().catch(fail);
  });
}

function createTracer(): {
  producer(p: Producer): Producer;
  snapshots(s: SnapshotStore): SnapshotStore;
  subscription(name: 'stageABatch' | 'stageBBatch', options: SubscribeOptions): SubscribeOptions;
  take(): Trace;
} {
  let since = performance.now();
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
  const timing = (name: string): Timing => {
    const sorted = [...(samples.get(name) ?? [])].sort((a, b) => a - b);
    const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
    return { count: sorted.length, totalMs: sorted.reduce((n, x) => n + x, 0), p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? 0 };
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
    take: () => {
      const trace: Trace = {
        spanMs: performance.now() - since,
        stageABatch: timing('stageABatch'),
        stageBBatch: timing('stageBBatch'),
        send: Object.fromEntries([...samples.keys()].filter((k) => k.startsWith('send:')).map((k) => [k.slice('send:'.length), timing(k)])),
        snapshotSave: timing('snapshotSave'),
        commit: timing('commit'),
        stageABatchSize: timing('stageABatchSize'),
      };
      since = performance.now();
      samples = new Map();
      return trace;
    },
  };
}

function fail(err: unknown): void {
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`detector instance failed: ${message}\n`);
  void send({ type: 'failed', message }).finally(() => process.exit(1));
}

main(process.argv[2], process.argv[3]).catch(fail);
