import {
  describeStore,
  openKafkaBus,
  openStore,
  parseWholeNumber,
  readKafkaBrokers,
  readStoreSettings,
  registerHealthEndpoint,
  runService,
} from '@burnrate/runtime';
import { createSpendRollupRefresher } from '@burnrate/store';
import { createBufferedSink } from './buffered-sink.ts';
import { registerSinkMetrics } from './sink-metrics.ts';

/**
 * The sink on its own (distributed mode): every topic into ClickHouse, in inserts of up to
 * BURNRATE_SINK_MAX_ROWS rows or BURNRATE_SINK_MAX_DELAY_MS, whichever first; offsets are committed
 * only after the insert. Instances share the topics' partitions through the `burnrate-sink` group.
 *
 * env: KAFKA_BROKERS; CLICKHOUSE_URL (+ CLICKHOUSE_USER, CLICKHOUSE_PASSWORD, CLICKHOUSE_DATABASE),
 * or BURNRATE_DATA_DIR for an embedded chdb store of this process only; BURNRATE_SINK_MAX_ROWS
 * (default 50000), BURNRATE_SINK_MAX_DELAY_MS (default 1000), BURNRATE_HEALTH_PORT, BURNRATE_LOG_LEVEL.
 */
runService({
  name: 'sink',
  async build({ env, log, lifecycle }) {
    const brokers = readKafkaBrokers(env, 'sink');
    const storeSettings = readStoreSettings(env, 'sink');
    const maxRows = parseWholeNumber(env.BURNRATE_SINK_MAX_ROWS, 'BURNRATE_SINK_MAX_ROWS', { min: 1 }) ?? 50_000;
    const maxDelayMs = parseWholeNumber(env.BURNRATE_SINK_MAX_DELAY_MS, 'BURNRATE_SINK_MAX_DELAY_MS', { min: 1 }) ?? 1000;
    const health = registerHealthEndpoint(lifecycle, env, { service: 'sink', log });

    const store = await openStore(storeSettings, log);
    lifecycle.register({ name: 'store', start: () => store.migrate(), stop: () => store.close() });
    // The sink writes the events, so it keeps their spend rollup sealed (see libs/store spend-refresher).
    const refresher = createSpendRollupRefresher({ store, log });
    lifecycle.register({ name: 'spend-rollup', start: () => refresher.start(), stop: () => refresher.stop() });

    const bus = openKafkaBus({ brokers, service: 'sink', log });
    lifecycle.register({ name: 'bus', start: async () => {}, stop: () => bus.close() });

    const sink = createBufferedSink({ store, log, maxRows, maxDelayMs });
    const subscription = bus.subscribe(sink.subscribeOptions);
    lifecycle.register({
      name: 'sink',
      start: () => subscription.start(),
      stop: async () => {
        // Written and committed while the partitions are still held; after stop() a commit is refused.
        await sink.drain();
        await subscription.stop();
        log.info(sink.stats(), 'sink totals');
      },
    });

    registerSinkMetrics(health.metrics, { written: () => sink.stats().flushed, deadLetters: () => sink.deadLetters() });
    health.ready({ [sink.subscribeOptions.groupId]: subscription }, () => {
      const failing = sink.failing();
      // Degraded while the store refuses inserts: the rows wait (uncommitted) and are retried.
      return failing === undefined
        ? { degraded: false, fields: { store: 'ok' } }
        : {
            degraded: true,
            fields: {
              store: {
                failing_since: new Date(failing.since).toISOString(),
                attempts: failing.attempts,
                rows: failing.rows,
                error: failing.message,
              },
            },
          };
    });

    return () => ({
      group: sink.subscribeOptions.groupId,
      topics: sink.subscribeOptions.topics,
      store: describeStore(storeSettings),
      maxRows,
      maxDelayMs,
    });
  },
});
