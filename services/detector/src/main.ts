import type { Subscription } from '@burnrate/bus';
import {
  describeStore,
  openKafkaBus,
  openStoreOnFirstUse,
  readKafkaBrokers,
  readStoreSettings,
  registerHealthEndpoint,
  runService,
  type StoreSettings,
} from '@burnrate/runtime';
import { TOPICS } from '@burnrate/schemas';
import { BACKFILL_GROUP_ID, type BackfillRunner, backfillService, createBackfillRunner } from './backfill/backfill-runner.ts';
import { DETECTOR_GROUP_ID } from './detector.ts';
import { registerDetectorMetrics } from './detector-metrics.ts';
import { addTracked, type TrackedState } from './detector-tally.ts';
import { combineLostEvents } from './lost-events-tally.ts';
import { createReportCorrections, readReconcileInterval, type ReportCorrections } from './report-corrections.ts';
import { combineSnapshotHealth, detectorHealth } from './snapshot-health.ts';
import { TEAM_DETECTOR_GROUP_ID } from './team-detector.ts';
import { createDetectorThreads, readDetectorThreads } from './threads.ts';

/**
 * The detector on its own (distributed mode): stage A over usage.events.v1 (group
 * burnrate-detector) and stage B over usage.rollups.v1 (group burnrate-team-detector), publishing
 * anomalies.v1 and usage.rollups.v1. Instances share partitions through the groups; each
 * partition's state is snapshotted with its offset and restored by whichever instance gets it.
 * Within an instance, each of BURNRATE_DETECTOR_THREADS threads is such a member: the threads
 * (threads.ts) each run the whole detector wired in detector-thread.ts.
 *
 * Snapshots go to the compacted topic detector-state.v1 by default (no database needed), or with
 * BURNRATE_DETECTOR_SNAPSHOTS=store to the store's detector_snapshots table (CLICKHOUSE_URL, or
 * BURNRATE_DATA_DIR for embedded chdb of this process only, and then with one thread: chdb has one
 * data directory per process).
 *
 * Late usage that stage A hands over on usage.backfill.v1 is judged by the backfill runner
 * (backfill/backfill-runner.ts, group burnrate-backfill) on the main thread, which replays the
 * events the sink stored: it runs only with CLICKHOUSE_URL, the server the sink writes to (a chdb
 * directory of this process would hold no events). Without it, the windows wait on the topic for
 * an instance that has it, and the start-up log says so. With CLICKHOUSE_URL it also publishes
 * what the providers' reports count per team and day (report-corrections.ts, every
 * BURNRATE_RECONCILE_INTERVAL) for stage B's budget forecast; each instance does, and the
 * figures are the same, so a second publisher only repeats them.
 *
 * env: KAFKA_BROKERS, BURNRATE_CONFIG, CLICKHOUSE_URL (+ _USER, _PASSWORD, _DATABASE) for the
 * backfill runner, BURNRATE_DETECTOR_SNAPSHOTS (kafka | store),
 * BURNRATE_DETECTOR_THREADS (default: the CPUs available, at most the partitions of
 * usage.events.v1), BURNRATE_HEALTH_PORT, BURNRATE_LOG_LEVEL, BURNRATE_CONFIG_WATCH. SIGHUP or a
 * change of the file reloads burnrate.yaml here, and every thread takes the new config; the
 * detectors' state is kept.
 */
runService({
  name: 'detector',
  config: { required: true, why: 'needs burnrate.yaml for teams and thresholds' },
  async build({ env, log, lifecycle, config, onReload }) {
    const brokers = readKafkaBrokers(env, 'detector');
    const reconcileEvery = readReconcileInterval(env);
    const snapshotMode = env.BURNRATE_DETECTOR_SNAPSHOTS ?? 'kafka';
    if (snapshotMode !== 'kafka' && snapshotMode !== 'store') {
      throw new Error(`BURNRATE_DETECTOR_SNAPSHOTS must be kafka or store, not ${JSON.stringify(snapshotMode)}`);
    }
    const snapshots: 'kafka' | StoreSettings =
      snapshotMode === 'kafka' ? 'kafka' : readStoreSettings(env, 'detector (BURNRATE_DETECTOR_SNAPSHOTS=store)');
    let threads = readDetectorThreads(env);
    if (snapshots !== 'kafka' && snapshots.kind === 'chdb' && threads > 1) {
      log.warn(
        { threads, store: describeStore(snapshots) },
        'embedded chdb snapshots: one detector thread, as chdb has one data directory per process',
      );
      threads = 1;
    }

    const health = registerHealthEndpoint(lifecycle, env, { service: 'detector', log, config });

    let backfill: { runner: BackfillRunner; subscription: Subscription } | undefined;
    let corrections: ReportCorrections | undefined;
    if (env.CLICKHOUSE_URL) {
      // Opened on first use: a ClickHouse that is down fails a judgement (retried), never the detector's start.
      // Its tables are migrated by the sink and the notifier (and `burnrate migrate`).
      const store = openStoreOnFirstUse(readStoreSettings(env, 'detector'), log);
      lifecycle.register({ name: 'backfill-store', start: async () => {}, stop: () => store.close() });
      const bus = openKafkaBus({ brokers, service: 'detector-backfill', log });
      lifecycle.register({ name: 'backfill-bus', start: async () => {}, stop: () => bus.close() });
      const runner = createBackfillRunner({ config, store, producer: bus.producer(), log });
      const subscription = bus.subscribe(runner.subscribeOptions);
      lifecycle.register(backfillService(runner, subscription, log));
      backfill = { runner, subscription };
      // What the providers' reports count per team and day, for the budget forecast (stage B).
      corrections = createReportCorrections({ store, producer: bus.producer(), log, everyMs: reconcileEvery });
      const running = corrections;
      lifecycle.register({ name: 'report-corrections', start: async () => running.start(), stop: () => running.stop() });
    } else {
      log.warn(
        { topic: TOPICS.usageBackfill.name, group: BACKFILL_GROUP_ID },
        'CLICKHOUSE_URL is not set: late usage (an import, a poller catching up) is not judged by this instance; its windows wait on the topic for a detector that has the store',
      );
    }
    // The config was read (and checked) by runService here; the threads are handed it, and each reload.
    const pool = createDetectorThreads({
      count: threads,
      settings: {
        brokers,
        config: config.current(),
        configOrigin: config.origin,
        snapshots,
        logLevel: env.BURNRATE_LOG_LEVEL ?? 'info',
      },
      log,
      onFailure(err) {
        // Its partitions' state is in their snapshots: a restarted process picks up from there.
        log.fatal({ err }, 'a detector thread failed; exiting so the instance is restarted');
        process.exit(1);
      },
    });
    onReload((next) => pool.reload(next));
    lifecycle.register({
      name: 'threads',
      start: () => pool.start(),
      stop: async () => {
        const totals = await pool.stop();
        if (totals !== undefined) log.info({ threads, ...totals }, 'detector totals');
      },
    });
    health.ready(
      {
        [DETECTOR_GROUP_ID]: { lag: () => pool.lag(DETECTOR_GROUP_ID) },
        [TEAM_DETECTOR_GROUP_ID]: { lag: () => pool.lag(TEAM_DETECTOR_GROUP_ID) },
        ...(backfill !== undefined ? { [BACKFILL_GROUP_ID]: backfill.subscription } : {}),
      },
      async () => {
        const threads = await pool.status();
        // Snapshots failing: consumption goes on but nothing is committed, so a restart would replay it all.
        const { degraded, detector } = detectorHealth(combineSnapshotHealth(threads.map((t) => t.snapshots)));
        const status = backfill?.runner.status();
        return {
          degraded: degraded || status?.failing === true,
          fields: {
            detector,
            backfill: status ?? 'off: no CLICKHOUSE_URL, late usage is judged by a detector that has it',
            // Information, never degraded: Claude Code sessions whose log records were lost before they reached Burnrate.
            lost_events: combineLostEvents(threads.map((t) => t.lostEvents)),
            report_corrections: corrections?.status() ?? 'off: no CLICKHOUSE_URL, budget forecasts follow the live feed',
          },
        };
      },
    );

    registerDetectorMetrics(health.metrics, async () => {
      const threads = await pool.status();
      const tracked = (stage: 'stageA' | 'stageB'): TrackedState => {
        const all: TrackedState = { keys: {}, watermark: null };
        for (const t of threads) addTracked(all, t.tracked[stage]);
        return all;
      };
      return {
        stages: [
          { stage: 'detector', tracked: tracked('stageA'), anomalies: threads.flatMap((t) => t.stageA.anomalies) },
          { stage: 'team_detector', tracked: tracked('stageB'), anomalies: threads.flatMap((t) => t.stageB.anomalies) },
        ],
        snapshots: combineSnapshotHealth(threads.map((t) => t.snapshots)),
      };
    });

    const groups = [DETECTOR_GROUP_ID, TEAM_DETECTOR_GROUP_ID, ...(backfill !== undefined ? [BACKFILL_GROUP_ID] : [])];
    return () => ({ groups, threads, config: config.origin, snapshots: pool.snapshotsAt() });
  },
});
