import type { Lifecycle, Logger } from '@burnrate/core';

export interface RunningService {
  /** Stops everything in reverse start order; resolves when done. */
  stop(): Promise<void>;
}

/**
 * Starts what `lifecycle` holds, logs `<name> is running` (or `is listening`) with `fields`, and
 * installs SIGINT/SIGTERM handlers that stop everything in reverse start order and exit 0 (1 when
 * a stop failed). A second signal exits at once with 130. SIGHUP calls `reload` when given,
 * SIGUSR2 `handOver` then the same shutdown. If start fails, whatever started is
 * stopped again and the error is rethrown for main.ts to print.
 */
export async function runUntilSignal(options: {
  name: string;
  lifecycle: Lifecycle;
  log: Logger;
  /** Called after start; its fields go on the ready line (port, groups, store). */
  ready: () => Record<string, unknown>;
  /** `listening` for services that serve HTTP. */
  verb?: 'running' | 'listening';
  /** What SIGHUP does: read the config again (it logs the outcome itself). */
  reload?: () => Promise<unknown>;
  /**
   * Runs on SIGUSR2, a successor's request to hand over its ports, before the shutdown that
   * follows; without it SIGUSR2 keeps its default (the process ends at once).
   */
  handOver?: () => void;
  exit?: (code: number) => void;
}): Promise<RunningService> {
  const { lifecycle, log, name } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const started = performance.now();
  try {
    await lifecycle.startAll();
  } catch (err) {
    await lifecycle.stop();
    throw err;
  }
  log.info({ ...options.ready(), startMs: Math.round(performance.now() - started) }, `${name} is ${options.verb ?? 'running'}`);

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      exit(130);
      return;
    }
    stopping = true;
    log.info({ signal }, `${name} shutting down`);
    lifecycle.stop().then(
      () => {
        log.info(`${name} stopped cleanly`);
        exit(0);
      },
      (err: unknown) => {
        log.error({ err }, `${name} shutdown failed`);
        exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  const handOver = options.handOver;
  if (handOver !== undefined) {
    process.on('SIGUSR2', () => {
      if (stopping) return;
      handOver();
      shutdown('SIGUSR2');
    });
  }
  const reload = options.reload;
  if (reload !== undefined) {
    process.on('SIGHUP', () => {
      if (stopping) return;
      log.info({ signal: 'SIGHUP' }, 'reloading the config');
      void reload().catch((err: unknown) => log.error({ err }, 'config reload failed'));
    });
  }
  return { stop: () => lifecycle.stop() };
}

/** main.ts's last line: prints a start-up failure plainly and exits 1 instead of an unhandled rejection. */
export function exitOnStartFailure(name: string, log: Logger): (err: unknown) => void {
  return (err: unknown) => {
    log.fatal({ err }, `${name} failed to start`);
    process.stderr.write(`${name} failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  };
}

/**
 * kafkajs 2.2.4 makes Node 24 print a TimeoutNegativeWarning on every connection
 * (tulios/kafkajs#1751); it is harmless and would fill stderr, so it is dropped. Any other process
 * warning goes to the log.
 */
export function quietKafkajsWarnings(log: Logger): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (warning.name !== 'TimeoutNegativeWarning') log.warn({ err: warning }, 'process warning');
  });
}
