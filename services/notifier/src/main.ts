import { receiverSchema } from '@burnrate/notify';
import {
  buildChannels,
  describeStore,
  openKafkaBus,
  openStore,
  readKafkaBrokers,
  readStoreSettings,
  registerHealthEndpoint,
  runService,
} from '@burnrate/runtime';
import { storeSilences } from './dispatcher.ts';
import { createNotifier } from './notifier.ts';
import { registerNotifierMetrics } from './notifier-metrics.ts';

const GROUP_ID = 'burnrate-notifier';

/**
 * The notifier on its own (distributed mode): consumes anomalies.v1 in the `burnrate-notifier`
 * group and delivers to every receiver the config lists (Slack, email, webhooks, PagerDuty,
 * Microsoft Teams). The delivery log (sent / pending / skipped per anomaly
 * version and receiver) lives in the store, so instances must share one ClickHouse server for
 * "never sent twice" to hold across instances and partition moves.
 *
 * env: KAFKA_BROKERS; CLICKHOUSE_URL (+ CLICKHOUSE_USER, CLICKHOUSE_PASSWORD, CLICKHOUSE_DATABASE),
 * or BURNRATE_DATA_DIR (embedded chdb, this process only: tests and single-instance trials);
 * BURNRATE_CONFIG; SLACK_BOT_TOKEN, SLACK_API_URL; SMTP_URL, SMTP_FROM; the variables receivers
 * name (their *_env fields); BURNRATE_HEALTH_PORT; BURNRATE_LOG_LEVEL; BURNRATE_CONFIG_WATCH.
 * SIGHUP or a change of the file reloads burnrate.yaml: routes and receivers apply to the next
 * anomaly (a receiver whose channel or secret was not there at start needs a restart).
 */
runService({
  name: 'notifier',
  config: { required: true, why: 'needs burnrate.yaml for teams and routes' },
  parse: { receiver: receiverSchema },
  async build({ env, log, lifecycle, config }) {
    const brokers = readKafkaBrokers(env, 'notifier');
    const storeSettings = readStoreSettings(env, 'notifier');
    const channels = buildChannels(env, config.current(), log);
    const health = registerHealthEndpoint(lifecycle, env, { service: 'notifier', log, config: config });

    const store = await openStore(storeSettings, log);
    lifecycle.register({ name: 'store', start: () => store.migrate(), stop: () => store.close() });

    const bus = openKafkaBus({ brokers, service: 'notifier', log });
    lifecycle.register({ name: 'bus', start: async () => {}, stop: () => bus.close() });

    // Registered before the notifier so it closes after the last send.
    lifecycle.register({ name: 'channels', start: async () => {}, stop: () => channels.close() });
    const notifier = createNotifier({ config, store, channels: channels.channels, log, groupId: GROUP_ID, silences: storeSilences(store) });
    const subscription = bus.subscribe(notifier.subscribeOptions);
    const stateSubscription = bus.subscribe(notifier.stateSubscribeOptions);
    lifecycle.register({
      name: 'notifier-consumer',
      start: async () => {
        await subscription.start();
        await stateSubscription.start();
      },
      stop: async () => {
        await stateSubscription.stop();
        await subscription.stop();
        log.info(notifier.stats(), 'notifier totals');
      },
    });
    // Registered after the consumer so it stops first: aborting retry waits lets the in-flight batch
    // end at once (uncommitted, redelivered after restart) instead of holding shutdown.
    lifecycle.register(notifier);
    registerNotifierMetrics(health.metrics, notifier);
    health.ready({ [GROUP_ID]: subscription });

    return () => ({ group: GROUP_ID, config: config.origin, store: describeStore(storeSettings), ...channels.status });
  },
});
