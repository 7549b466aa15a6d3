// One detector thread (see threads.ts): a whole detector on Kafka, started and stopped by the
// process's main thread through messages.
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger, Lifecycle, loadConfig } from '@burnrate/core';
import { quietKafkajsWarnings } from '@burnrate/runtime';
import { DETECTOR_GROUP_ID } from './detector.ts';
import { wireDetector, type WiredDetector } from './instance.ts';
import { createPortTimings } from './port-timings.ts';
import { combineSnapshotHealth } from './snapshot-health.ts';
import type { DetectorThreadSettings, FromThread, ThreadStatus, ToThread } from './threads.ts';

async function run(settings: DetectorThreadSettings): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('detector-thread.ts runs as a worker thread of the detector (threads.ts)');
  const post = (m: FromThread): void => port.postMessage(m);
  const log = createLogger({ level: settings.logLevel }).child({ service: 'detector', thread: settings.thread });
  quietKafkajsWarnings(log);

  const lifecycle = new Lifecycle(log);
  const timings = settings.timings ? createPortTimings() : undefined;
  let wired: WiredDetector;
  try {
    const config = await loadConfig(settings.configPath);
    wired = await wireDetector(lifecycle, { brokers: settings.brokers, config, snapshots: settings.snapshots, timings }, log);
    await lifecycle.startAll();
  } catch (err) {
    await lifecycle.stop().catch(() => undefined);
    post(failure(err));
    port.close();
    return;
  }
  post({ type: 'started', snapshotsAt: wired.snapshotsAt });

  const status = (): ThreadStatus => {
    const lag: Record<string, number> = {};
    const assigned: Record<string, number[]> = {};
    for (const [group, s] of Object.entries(wired.subscriptions)) {
      lag[group] = s.lag();
      assigned[group] = s.stats().assigned.map((tp) => Number(tp.slice(tp.lastIndexOf(':') + 1)));
    }
    return {
      thread: settings.thread,
      lag,
      assigned,
      stageA: wired.detector.stats(),
      stageB: wired.teamDetector.stats(),
      batches: wired.subscriptions[DETECTOR_GROUP_ID]?.stats().batches ?? 0,
      snapshots: combineSnapshotHealth([wired.detector.snapshotHealth(), wired.teamDetector.snapshotHealth()]),
    };
  };

  port.on('message', (m: ToThread) => {
    if (m.type === 'status') post({ type: 'status', id: m.id, status: status() });
    else if (m.type === 'timings') post({ type: 'timings', id: m.id, samples: timings?.take() ?? {} });
    else if (m.type === 'stop') {
      const stopped = (): void => {
        post({ type: 'stopped', totals: { stageA: wired.detector.stats(), stageB: wired.teamDetector.stats() } });
        port.close();
      };
      lifecycle.stop().then(stopped, (err: unknown) => {
        post(failure(err));
        stopped();
      });
    }
  });
}

function failure(err: unknown): FromThread {
  return err instanceof Error ? { type: 'failed', message: err.message, stack: err.stack } : { type: 'failed', message: String(err) };
}

run(workerData as DetectorThreadSettings).catch((err: unknown) => {
  // Outside the start and stop above: let the main thread see the crash.
  throw err;
});
