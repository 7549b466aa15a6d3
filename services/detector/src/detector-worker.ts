// The entry of a detector thread (threads.ts spawns it): everything is in detector-thread.ts.
import { workerData } from 'node:worker_threads';
import { serveDetectorThread } from './detector-thread.ts';
import type { DetectorThreadSettings } from './threads.ts';

serveDetectorThread(workerData as DetectorThreadSettings).catch((err: unknown) => {
  // Outside the start and stop that report themselves: let the main thread see the crash.
  throw err;
});
