import type { Logger } from '@burnrate/core';
import { abortableSleep } from '../abortable-sleep.ts';
import { backoffDelay } from './batching.ts';

/**
 * Starts a new consumer after a crash or a fatal handler error, in place of kafkajs's own restart
 * (turned off in consumer-run.ts, which says why): after a backoff that grows with each failure
 * in a row until a batch goes through, and counted.
 */
export interface RestartWatchdog<Run> {
  /**
   * `run` crashed or failed fatally: starts new runs after a growing backoff until one joins or the
   * subscription stops. One loop at a time: a run that fails while the loop is launching it is
   * the loop's to retry. Resolves when the loop ends.
   */
  restartAfter(run: Run, err: unknown): Promise<void>;
  /** A batch went through: the next failure backs off from the start again. */
  healthy(): void;
  /** Resolves when the loop running now (if any) has ended. */
  settled(): Promise<void>;
}

export interface RestartWatchdogDeps<Run extends { ended: boolean }> {
  log: Logger;
  restartDelayMs: number;
  maxRestartDelayMs: number;
  /** Aborted when the subscription stops: a backoff ends at once. */
  signal: AbortSignal;
  /** The subscription is running: not starting up, stopping or stopped. */
  running(): boolean;
  /** The subscription's run now; only its failure starts a loop. */
  current(): Run | undefined;
  /** Starts a new run (it becomes current before it has joined). */
  launch(): Promise<Run>;
  /** Ends a run the subscription no longer wants (it stopped while the run was launched). */
  end(run: Run): Promise<void>;
  /** A new run is up. */
  restarted(): void;
}

export function createRestartWatchdog<Run extends { ended: boolean }>(deps: RestartWatchdogDeps<Run>): RestartWatchdog<Run> {
  const { log } = deps;
  let consecutiveFailures = 0;
  let loop: Promise<void> | undefined;
  let looping = false;

  return {
    restartAfter(run, err) {
      if (deps.current() !== run || !deps.running() || looping) return loop ?? Promise.resolve();
      looping = true;
      loop = (async () => {
        try {
          let cause = err;
          while (deps.running()) {
            consecutiveFailures += 1;
            const delay = backoffDelay(consecutiveFailures, deps.restartDelayMs, deps.maxRestartDelayMs);
            log.warn({ err: cause, attempt: consecutiveFailures, restartInMs: delay }, 'restarting the consumer');
            await abortableSleep(delay, deps.signal);
            if (!deps.running()) return;
            try {
              const next = await deps.launch();
              if (!deps.running()) return await deps.end(next);
              if (!next.ended) {
                deps.restarted();
                return;
              }
              cause = new Error('the restarted consumer crashed while joining');
            } catch (launchErr) {
              cause = launchErr;
            }
          }
        } finally {
          looping = false;
        }
      })();
      return loop;
    },

    healthy() {
      consecutiveFailures = 0;
    },

    settled: () => loop ?? Promise.resolve(),
  };
}
