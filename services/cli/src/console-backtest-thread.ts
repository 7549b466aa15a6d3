import { Worker } from 'node:worker_threads';
import {
  BurnrateError,
  type Config,
  type ConfigSource,
  type ErrorCode,
  formatDuration,
  isBurnrateError,
  type Logger,
} from '@burnrate/core';
import type { ConsoleBacktester, ConsoleBacktestResult } from '@burnrate/api';
import type { Store, UsageEventListQuery } from '@burnrate/store';
import type { UsageEvent } from '@burnrate/schemas';

/** What the main thread tells a backtest thread: the run (workerData), then each page it asked for. */
export interface BacktestThreadInput {
  proposal: string;
  from: string;
  to: string;
  /** The running config as the main thread has it now (a reload meanwhile does not change the run). */
  current: Config;
}
export type ToBacktestThread =
  { type: 'page'; id: number; events: UsageEvent[] } | { type: 'page-failed'; id: number; code: ErrorCode; message: string };
export type FromBacktestThread =
  | { type: 'list'; id: number; query: UsageEventListQuery }
  | { type: 'done'; result: ConsoleBacktestResult }
  | { type: 'failed'; code: ErrorCode; message: string };

/** Long enough for 93 days of a large org on two cores; past it, `burnrate backtest` has no limit. */
export const BACKTEST_TIMEOUT_MS = 5 * 60_000;

export interface BacktestThreadDeps {
  config: Pick<ConfigSource, 'current'>;
  /** Read on the main thread, which owns the store; the thread asks for each page by message. */
  store: Pick<Store, 'listUsageEvents'>;
  log: Logger;
  clock?: { now(): Date };
  timeoutMs?: number;
  /** The thread's entry; tests point it elsewhere. */
  entry?: URL;
}

export interface BacktestThread extends ConsoleBacktester {
  /** Ends a run in progress (at shutdown): its request is answered as stopped. */
  stop(): Promise<void>;
}

/**
 * The config page's backtest (console-backtest.ts) in a worker thread, one at a time: the replay
 * is seconds to minutes of CPU, and on the main thread of `burnrate start` it would hold up
 * ingest, the sink and the detectors for all of it. The main thread only reads the store's pages
 * (async, off the event loop in chdb) and hands them over. A second request while one runs is
 * answered `busy` at once; a run past `timeoutMs` is terminated and answered `timeout`.
 */
export function createBacktestThread(deps: BacktestThreadDeps): BacktestThread {
  const log = deps.log.child({ component: 'console-backtest' });
  const timeoutMs = deps.timeoutMs ?? BACKTEST_TIMEOUT_MS;
  const now = (): Date => deps.clock?.now() ?? new Date();
  let running: { worker: Worker; since: Date } | undefined;

  return {
    async run(input) {
      if (running !== undefined) {
        const ago = formatDuration(Math.max(1000, now().getTime() - running.since.getTime()));
        return {
          ok: false,
          refused: 'busy',
          message: `A backtest is already running (started ${ago} ago); one runs at a time so ingest and the detectors keep their CPU. This one was not started: run it again when that one has finished.`,
        };
      }
      const workerData: BacktestThreadInput = { ...input, current: deps.config.current() };
      const worker = new Worker(deps.entry ?? new URL('./console-backtest-worker.ts', import.meta.url), {
        workerData,
        name: 'console-backtest',
      });
      const since = now();
      running = { worker, since };
      log.info({ from: input.from, to: input.to }, 'backtest started in a worker thread');
      try {
        const result = await answer(worker, timeoutMs);
        log.info({ ms: now().getTime() - since.getTime(), ok: result.ok }, 'backtest finished');
        return result;
      } finally {
        running = undefined;
        await worker.terminate();
      }
    },
    async stop() {
      await running?.worker.terminate();
    },
  };

  function answer(worker: Worker, ms: number): Promise<ConsoleBacktestResult> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        log.warn({ timeoutMs: ms }, 'backtest stopped: past its time limit');
        resolve({
          ok: false,
          refused: 'timeout',
          message: `The backtest ran longer than ${formatDuration(ms)} and was stopped. Try a shorter range, or burnrate backtest (no time limit) against a copy of the data directory.`,
        });
      }, ms);
      const settle = (): void => clearTimeout(timer);
      worker.on('message', (m: FromBacktestThread) => {
        if (m.type === 'list') {
          deps.store.listUsageEvents(m.query).then(
            (events) => worker.postMessage({ type: 'page', id: m.id, events } satisfies ToBacktestThread),
            (err: unknown) => {
              const e = isBurnrateError(err) ? err : new BurnrateError('STORE_QUERY_FAILED', String(err), { cause: err });
              worker.postMessage({ type: 'page-failed', id: m.id, code: e.code, message: e.message } satisfies ToBacktestThread);
            },
          );
        } else if (m.type === 'done') {
          settle();
          resolve(m.result);
        } else {
          settle();
          reject(new BurnrateError(m.code, m.message));
        }
      });
      worker.on('error', (thrown: unknown) => {
        settle();
        reject(thrown instanceof Error ? thrown : new BurnrateError('INTERNAL', `the backtest thread threw ${String(thrown)}`));
      });
      worker.on('exit', (code) => {
        settle();
        // After `done` or `failed` this changes nothing; otherwise the thread was stopped (shutdown) or died.
        reject(new BurnrateError('SHUTTING_DOWN', `the backtest thread exited (code ${code}) before it finished`));
      });
    });
  }
}
