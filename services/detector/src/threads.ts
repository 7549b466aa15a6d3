import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { BurnrateError, type Config, type Logger } from '@burnrate/core';
import { declaredPartitions } from '@burnrate/bus';
import { parseWholeNumber, type StoreSettings } from '@burnrate/runtime';
import { TOPICS } from '@burnrate/schemas';
import type { DetectorStats } from './detector.ts';
import type { TrackedState } from './detector-tally.ts';
import type { LostEventsHealth } from './lost-events-tally.ts';
import type { SnapshotHealth } from './snapshot-health.ts';
import type { TeamDetectorStats } from './team-detector.ts';

/** What a detector thread is started with (its workerData). */
export interface DetectorThreadSettings {
  /** 1-based; on every log line of the thread. */
  thread: number;
  brokers: string[];
  /**
   * The config the process read and checked; a thread never reads burnrate.yaml itself, so every
   * thread runs exactly the config the process validated, and a change logged once.
   */
  config: Config;
  /** Where it came from, for the thread's logs. */
  configOrigin: string;
  snapshots: 'kafka' | StoreSettings;
  logLevel: string;
}

/** One thread's consumers and counters. */
export interface ThreadStatus {
  thread: number;
  /** Messages on this thread's partitions not handled yet, by consumer group. */
  lag: Record<string, number>;
  /** Partitions this thread holds, by consumer group. */
  assigned: Record<string, number[]>;
  stageA: DetectorStats;
  stageB: TeamDetectorStats;
  /** Stage-A batches handled. */
  batches: number;
  /** Both stages' snapshots. */
  snapshots: SnapshotHealth;
  /** Stage A's lost_events reports since the thread started. */
  lostEvents: LostEventsHealth;
  /** Keys tracked and the oldest watermark of each stage, over this thread's partitions. */
  tracked: { stageA: TrackedState; stageB: TrackedState };
}

export type ToThread =
  | { type: 'status'; id: number }
  /** A question only some thread entries answer (a benchmark's); production threads answer undefined. */
  | { type: 'ask'; id: number; what: string }
  /** The config the process reloaded (SIGHUP, or the file changed): used from the next event on. */
  | { type: 'config'; config: Config }
  | { type: 'stop' };
export type FromThread =
  | { type: 'started'; snapshotsAt: string }
  | { type: 'failed'; message: string; stack?: string | undefined }
  | { type: 'status'; id: number; status: ThreadStatus }
  | { type: 'answer'; id: number; value: unknown }
  | { type: 'stopped'; totals: ThreadTotals };

/** A thread's counters when it stopped. */
export interface ThreadTotals {
  stageA: DetectorStats;
  stageB: TeamDetectorStats;
}

export interface DetectorThreadsOptions {
  count: number;
  /** The worker's entry module: detector-worker.ts unless a benchmark brings its own. */
  entry?: URL;
  settings: Omit<DetectorThreadSettings, 'thread'>;
  log: Logger;
  /** A thread died after the start (a bug, or its consumer gave up): the process should exit so it is restarted. */
  onFailure(err: Error): void;
  /** How long stop() waits for a thread to drain before terminating it. Default 60 s. */
  stopTimeoutMs?: number;
}

export interface DetectorThreads {
  /** Starts every thread and waits until each has joined its groups; if one fails, stops the others and throws its error. */
  start(): Promise<void>;
  /**
   * Each thread stops stage A, then stage B, publishes what is pending, snapshots and commits;
   * then it exits. Resolves to the counters of the threads that stopped cleanly, summed.
   */
  stop(): Promise<ThreadTotals | undefined>;
  /** Of the threads still running. */
  status(): Promise<ThreadStatus[]>;
  /** Every running thread's answer to `what` (see ToThread `ask`). */
  ask(what: string): Promise<unknown[]>;
  /** Every running thread, and each thread started later, uses `config` from its next event on. */
  reload(config: Config): void;
  /** The group's lag over all threads. */
  lag(group: string): Promise<number>;
  /** Where the snapshots go, once started. */
  snapshotsAt(): string;
}

interface Running {
  thread: number;
  worker: Worker;
  exited: Promise<number>;
  alive: boolean;
  stopping: boolean;
}

/**
 * A detector instance as stream threads, the way Kafka Streams runs `num.stream.threads`: each
 * worker thread is a whole detector (its own kafkajs clients, a member of both consumer groups,
 * its partitions' state), so an instance uses as many cores as it has threads and the groups
 * spread partitions over threads as over instances. Nothing is shared between threads but this
 * supervisor, which starts and stops them and answers for them (health, lag, counters).
 *
 * A detector is CPU-bound (decoding fetches, parsing and validating JSON, stepping the
 * detectors): one thread handles about 40k events/s here, so the 75k/s per instance of
 * DESIGN.md needs at least two.
 */
export function createDetectorThreads(options: DetectorThreadsOptions): DetectorThreads {
  const { log } = options;
  const running: Running[] = [];
  const waiting = new Map<number, { resolve(value: FromThread): void; reject(err: Error): void }>();
  let nextId = 1;
  let stopped = false;
  let snapshotsAt = '';
  // A reload while threads are starting reaches those already running by message, the rest by workerData.
  let current = options.settings.config;

  const request = <T extends 'status' | 'answer'>(
    r: Running,
    message: { type: 'status' } | { type: 'ask'; what: string },
  ): Promise<Extract<FromThread, { type: T }>> => {
    const id = nextId++;
    if (!r.alive) return Promise.reject(new BurnrateError('SHUTTING_DOWN', `detector thread ${r.thread} has exited`));
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve: resolve as (value: FromThread) => void, reject });
      r.worker.postMessage({ ...message, id } satisfies ToThread);
    });
  };

  const spawn = (thread: number): Promise<Running> => {
    const settings: DetectorThreadSettings = { ...options.settings, config: current, thread };
    const worker = new Worker(options.entry ?? new URL('./detector-worker.ts', import.meta.url), {
      workerData: settings,
      name: `detector-${thread}`,
    });
    const r: Running = { thread, worker, exited: new Promise((resolve) => worker.once('exit', resolve)), alive: true, stopping: false };
    return new Promise<Running>((resolve, reject) => {
      let started = false;
      worker.on('message', (m: FromThread) => {
        if (m.type === 'started') {
          started = true;
          snapshotsAt = m.snapshotsAt;
          resolve(r);
        } else if (m.type === 'failed') {
          const err = new BurnrateError('INTERNAL', `detector thread ${thread}: ${m.message}`);
          if (m.stack !== undefined) err.stack = m.stack;
          if (!started) reject(err);
          else if (!r.stopping) options.onFailure(err);
        } else if (m.type === 'status' || m.type === 'answer') {
          waiting.get(m.id)?.resolve(m);
          waiting.delete(m.id);
        }
      });
      worker.on('error', (thrown: unknown) => {
        const err = thrown instanceof Error ? thrown : new BurnrateError('INTERNAL', `detector thread ${thread} threw ${String(thrown)}`);
        log.error({ err, thread }, 'detector thread crashed');
        if (!started) reject(err);
        else options.onFailure(err);
      });
      void r.exited.then((code) => {
        r.alive = false;
        for (const [id, w] of waiting) {
          w.reject(new BurnrateError('SHUTTING_DOWN', `detector thread ${thread} exited (code ${code})`));
          waiting.delete(id);
        }
        if (!started) reject(new BurnrateError('INTERNAL', `detector thread ${thread} exited (code ${code}) before it started`));
        else if (!r.stopping) options.onFailure(new BurnrateError('INTERNAL', `detector thread ${thread} exited (code ${code})`));
      });
    });
  };

  const stopOne = async (r: Running): Promise<ThreadTotals | undefined> => {
    if (r.stopping) return r.exited.then(() => undefined);
    r.stopping = true;
    let totals: ThreadTotals | undefined;
    const drained = new Promise<void>((resolve) => {
      r.worker.on('message', (m: FromThread) => {
        if (m.type !== 'stopped') return;
        totals = m.totals;
        resolve();
      });
      void r.exited.then(() => resolve());
    });
    r.worker.postMessage({ type: 'stop' } satisfies ToThread);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      drained.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), options.stopTimeoutMs ?? 60_000))),
    ]);
    clearTimeout(timer);
    if (timedOut)
      log.error(
        { thread: r.thread },
        'detector thread did not stop in time; terminating it (its partitions replay from their last snapshot)',
      );
    // After "stopped" the thread has nothing left but its message port.
    await r.worker.terminate();
    return totals;
  };

  return {
    async start() {
      const results = await Promise.allSettled(Array.from({ length: options.count }, (_, i) => spawn(i + 1)));
      for (const result of results) if (result.status === 'fulfilled') running.push(result.value);
      const failure = results.find((result) => result.status === 'rejected');
      if (failure !== undefined) {
        await Promise.all(running.map(stopOne));
        throw failure.reason;
      }
      log.info({ threads: running.length }, 'detector threads started');
    },
    async stop() {
      if (stopped) return undefined;
      stopped = true;
      const all = (await Promise.all(running.map(stopOne))).filter((t) => t !== undefined);
      if (all.length === 0) return undefined;
      return { stageA: sumCounters(all.map((t) => t.stageA)), stageB: sumCounters(all.map((t) => t.stageB)) };
    },
    async status() {
      // A thread that exited (stopping) has no lag left to report.
      const answers = await Promise.allSettled(running.map((r) => request<'status'>(r, { type: 'status' })));
      return answers.flatMap((a) => (a.status === 'fulfilled' ? [a.value.status] : []));
    },
    ask: async (what) => (await Promise.all(running.map((r) => request<'answer'>(r, { type: 'ask', what })))).map((m) => m.value),
    reload(config) {
      current = config;
      for (const r of running) if (r.alive && !r.stopping) r.worker.postMessage({ type: 'config', config } satisfies ToThread);
    },
    async lag(group) {
      const all = await this.status();
      return all.reduce((n, s) => n + (s.lag[group] ?? 0), 0);
    },
    snapshotsAt: () => snapshotsAt,
  };
}

/** BURNRATE_DETECTOR_THREADS, or the CPUs this process may use; never more than usage.events.v1 has partitions (a thread without one idles). */
export function readDetectorThreads(env: Readonly<Record<string, string | undefined>>, cpus = availableParallelism()): number {
  const partitions = declaredPartitions(TOPICS.usageEvents.name);
  const fallback = Math.max(1, Math.min(cpus, partitions));
  const raw = env.BURNRATE_DETECTOR_THREADS;
  if (raw === undefined || raw.trim() === '') return fallback;
  return (
    parseWholeNumber(raw, 'BURNRATE_DETECTOR_THREADS', { min: 1, max: partitions, why: 'the partitions of usage.events.v1' }) ?? fallback
  );
}

/** Counters of several threads added up, field by field. */
function sumCounters<T extends object>(all: readonly T[]): T {
  const sum: Record<string, unknown> = {};
  for (const counters of all) {
    for (const [k, v] of Object.entries(counters)) {
      if (typeof v === 'number') sum[k] = ((sum[k] as number | undefined) ?? 0) + v;
      // Per-label counts (anomalies by kind): each thread's entries, for whoever reads them to add by label.
      else if (Array.isArray(v)) sum[k] = [...((sum[k] as unknown[] | undefined) ?? []), ...(v as unknown[])];
    }
  }
  return sum as T;
}
