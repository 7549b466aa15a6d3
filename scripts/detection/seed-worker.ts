// A worker thread of `npm run eval:detection`: one organisation per message, one result back.
import { parentPort } from 'node:worker_threads';
import { runSeed, type SeedTask } from './run-seed.ts';

const port = parentPort;
if (port === null) throw new Error('seed-worker.ts runs as a worker thread of eval.ts');
port.on('message', (task: SeedTask) => {
  runSeed(task).then(
    (result) => port.postMessage({ ok: true, result }),
    (err: unknown) => port.postMessage({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
});
