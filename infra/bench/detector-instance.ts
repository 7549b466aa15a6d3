// One detector instance for `npm run bench:e2e`, run as its own process (forked with an IPC
// channel). It runs the service's own threads (services/detector/src/threads.ts: each thread the
// wiring of the detector service, snapshots on detector-state.v1, stage B started before stage A;
// detector-bench-worker.ts wraps each thread's ports to time them),
// as many as the service would (BURNRATE_DETECTOR_THREADS, else the CPUs), and adds only what the
// bench must see and the service does not expose: the moment it has handled every preloaded event,
// timed in this process so no process hop is in the figure (offsets are committed with snapshots,
// so the group's committed lag trails the work by up to a snapshot interval), and how long each
// step behind its ports took.
import { createLogger, loadConfig } from '@burnrate/core';
import { createDetectorThreads, DETECTOR_GROUP_ID, readDetectorThreads } from '@burnrate/detector';
import { quietKafkajsWarnings } from '@burnrate/runtime';
import { mergeSamples, type Timing, timingOf, type TimingSamples } from './port-timings.ts';

export type { Timing } from './port-timings.ts';

/**
 * What the bench asks: `catch-up` reports once `events` usage events are handled; `trace` reports
 * where the detector's wall time went since the last `trace` (and starts over); `stop` shuts down
 * and reports totals.
 */
export type InstanceRequest = { type: 'catch-up'; events: number } | { type: 'trace' } | { type: 'stop' };

/** Measured at the ports the detector is given (producer, snapshot store, subscription handlers), so the service code is untouched. */
export interface Trace {
  /** Wall time the trace covers. */
  spanMs: number;
  /** Stage A's handleBatch until it hands the batch back (waiting for the partition's previous batch and output), one per partition batch. */
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

/** What one thread of the instance did. */
export interface ThreadShare {
  thread: number;
  partitions: number[];
  processed: number;
}

export type InstanceReport =
  | { type: 'started'; joinMs: number; threads: number }
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
  | { type: 'stopped'; stageA: Record<string, number>; stageB: Record<string, number>; batches: number; threads: ThreadShare[] }
  | { type: 'failed'; message: string };

// Each poll asks every thread for its counters (a message round trip); 10 ms keeps that cost small and the timing error far below a run of seconds.
const POLL_MS = 10;

const send = (r: InstanceReport): Promise<void> =>
  new Promise((resolve) => {
    if (process.send === undefined || !process.connected) return resolve();
    process.send(r, undefined, {}, () => resolve());
  });

async function main(brokersArg: string | undefined, configPath: string | undefined): Promise<void> {
  if (brokersArg === undefined || configPath === undefined) throw new Error('usage: detector-instance.ts <brokers> <burnrate.yaml>');
  if (process.send === undefined) throw new Error('detector-instance.ts must be forked with an IPC channel by infra/bench/e2e.ts');
  const log = createLogger({ level: 'warn' }).child({ service: 'detector' });
  quietKafkajsWarnings(log);
  const threads = readDetectorThreads(process.env);
  const pool = createDetectorThreads({
    count: threads,
    settings: {
      brokers: brokersArg.split(','),
      config: await loadConfig(configPath),
      configOrigin: configPath,
      snapshots: 'kafka',
      logLevel: 'warn',
    },
    entry: new URL('./detector-bench-worker.ts', import.meta.url),
    log,
    onFailure: fail,
  });

  const started = performance.now();
  await pool.start();
  const joined = performance.now();
  await send({ type: 'started', joinMs: joined - started, threads });

  let since = performance.now();
  const trace = async (): Promise<Trace> => {
    const samples: TimingSamples = mergeSamples((await pool.ask('timings')) as TimingSamples[]);
    const spanMs = performance.now() - since;
    since = performance.now();
    return {
      spanMs,
      stageABatch: timingOf(samples.stageABatch),
      stageBBatch: timingOf(samples.stageBBatch),
      send: Object.fromEntries(
        Object.keys(samples)
          .filter((k) => k.startsWith('send:'))
          .map((k) => [k.slice('send:'.length), timingOf(samples[k])]),
      ),
      snapshotSave: timingOf(samples.snapshotSave),
      commit: timingOf(samples.commit),
      stageABatchSize: timingOf(samples.stageABatchSize),
    };
  };

  const watchCatchUp = async (events: number): Promise<void> => {
    // The catch-up's trace starts here, not at the group join.
    await trace();
    let first: number | undefined;
    let cpuAtFirst = process.cpuUsage();
    for (;;) {
      const status = await pool.status();
      const now = performance.now();
      const processed = status.reduce((n, s) => n + s.stageA.processed, 0);
      if (first === undefined && processed > 0) {
        first = now;
        cpuAtFirst = process.cpuUsage();
      }
      const lag = status.reduce((n, s) => n + (s.lag[DETECTOR_GROUP_ID] ?? 0), 0);
      if (processed >= events && lag === 0) {
        const cpu = process.cpuUsage(cpuAtFirst);
        const sum = (f: (s: (typeof status)[number]) => number): number => status.reduce((n, s) => n + f(s), 0);
        await send({
          type: 'caught-up',
          firstEventMs: (first ?? now) - joined,
          consumeMs: now - (first ?? now),
          cpuMs: (cpu.user + cpu.system) / 1000,
          processed,
          anomalies: sum((s) => s.stageA.published),
          rollups: sum((s) => s.stageA.rollups),
          snapshots: sum((s) => s.stageA.snapshots),
          batches: sum((s) => s.batches),
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
    // Who held what, asked before the threads go; the counters are their last, as they stopped.
    const status = await pool.status();
    const totals = await pool.stop();
    await send({
      type: 'stopped',
      stageA: numbersOf(totals?.stageA),
      stageB: numbersOf(totals?.stageB),
      batches: status.reduce((n, s) => n + s.batches, 0),
      threads: status.map((s) => ({ thread: s.thread, partitions: s.assigned[DETECTOR_GROUP_ID] ?? [], processed: s.stageA.processed })),
    });
    process.exit(0);
  };

  process.on('message', (m: InstanceRequest) => {
    const work =
      m.type === 'catch-up' ? watchCatchUp(m.events) : m.type === 'trace' ? trace().then((t) => send({ type: 'trace', trace: t })) : stop();
    work.catch(fail);
  });
  // The bench died without asking: leave the groups instead of lingering.
  process.on('disconnect', () => {
    stop().catch(fail);
  });
}

function fail(err: unknown): void {
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`detector instance failed: ${message}\n`);
  void send({ type: 'failed', message }).finally(() => process.exit(1));
}

main(process.argv[2], process.argv[3]).catch(fail);

/** The plain counters of a stage's totals (the bench reports numbers; per-label counts are left out). */
function numbersOf(totals: object | undefined): Record<string, number> {
  return Object.fromEntries(Object.entries(totals ?? {}).filter((e): e is [string, number] => typeof e[1] === 'number'));
}
