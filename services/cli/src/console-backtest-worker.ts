// The entry of a config-page backtest thread (console-backtest-thread.ts spawns one per run).
import { parentPort, workerData } from 'node:worker_threads';
import { BurnrateError, isBurnrateError } from '@burnrate/core';
import type { UsageEvent } from '@burnrate/schemas';
import { createConsoleBacktester } from './console-backtest.ts';
import type { BacktestThreadInput, FromBacktestThread, ToBacktestThread } from './console-backtest-thread.ts';

const port = parentPort;
if (port === null) throw new Error('console-backtest-worker.ts runs as a worker thread');
const input = workerData as BacktestThreadInput;
const send = (m: FromBacktestThread): void => port.postMessage(m);

// The store is the main thread's: each page is asked for and answered by message.
const waiting = new Map<number, { resolve(events: UsageEvent[]): void; reject(err: Error): void }>();
let nextId = 1;
port.on('message', (m: ToBacktestThread) => {
  const w = waiting.get(m.id);
  waiting.delete(m.id);
  if (m.type === 'page') w?.resolve(m.events);
  else w?.reject(new BurnrateError(m.code, m.message));
});

const backtester = createConsoleBacktester({
  config: { current: () => input.current },
  store: {
    listUsageEvents: (query) =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        waiting.set(id, { resolve, reject });
        send({ type: 'list', id, query });
      }),
  },
});

try {
  send({ type: 'done', result: await backtester.run({ proposal: input.proposal, from: input.from, to: input.to }) });
} catch (err) {
  const e = isBurnrateError(err) ? err : new BurnrateError('INTERNAL', err instanceof Error ? err.message : String(err), { cause: err });
  send({ type: 'failed', code: e.code, message: e.message });
}
port.close();
