// The entry of a detector thread under `npm run bench:e2e`: the service's own thread
// (serveDetectorThread, the same wiring as in production), with its ports wrapped to time them
// and the timings handed over when the instance asks for them.
import { workerData } from 'node:worker_threads';
import { type DetectorThreadSettings, serveDetectorThread } from '@burnrate/detector';
import { createPortTimings } from './port-timings.ts';

const timings = createPortTimings();
serveDetectorThread(workerData as DetectorThreadSettings, {
  ports: (ports) => timings.ports(ports),
  answer: (what) => (what === 'timings' ? timings.take() : undefined),
}).catch((err: unknown) => {
  throw err;
});
