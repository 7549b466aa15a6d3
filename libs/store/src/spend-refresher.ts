import type { Logger } from '@burnrate/core';
import type { Store } from './port.ts';

/**
 * Keeps the spend rollup sealed behind the events: every `intervalMs` (default 30 s) it seals what
 * has settled, again at once while a call reaches its cap (a first run over a year of history).
 * Figures are exact without it; it only keeps the spend views fast. Several processes may run one
 * against the same store: a seal only ever names a build whose rows are all written.
 */
export function createSpendRollupRefresher(options: { store: Pick<Store, 'refreshSpendRollup'>; log: Logger; intervalMs?: number }): {
  start(): Promise<void>;
  stop(): Promise<void>;
} {
  const log = options.log.child({ component: 'spend-rollup' });
  const intervalMs = options.intervalMs ?? 30_000;
  const maxHours = 2_000;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  const round = async (): Promise<void> => {
    try {
      let sealed: number;
      do {
        sealed = await options.store.refreshSpendRollup({ maxHours });
        if (sealed > 0) log.debug({ sealed }, 'spend rollup hours sealed');
      } while (sealed >= maxHours && !stopped);
    } catch (err) {
      // The next round retries; reads stay exact meanwhile, from the events.
      log.warn({ err }, 'spend rollup refresh failed');
    }
  };
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = round().finally(schedule);
    }, intervalMs);
    timer.unref();
  };
  return {
    async start() {
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await running;
    },
  };
}
