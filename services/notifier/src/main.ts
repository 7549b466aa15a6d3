import { resolve } from 'node:path';
import { createLogger, Lifecycle, loadConfig, redactUrl, type Config, type Logger } from '@burnrate/core';
import { type Channel, consoleAcknowledgeUrl, createEmailChannel, createSlackChannel } from '@burnrate/notify';
import {
  describeStore,
  exitOnStartFailure,
  quietKafkajsWarnings,
  openKafkaBus,
  openStore,
  readKafkaBrokers,
  readSlack,
  readSmtp,
  readStoreSettings,
  registerHealthEndpoint,
  runUntilSignal,
} from '@burnrate/runtime';
import { TOPICS } from '@burnrate/schemas';
import { createNotifier } from './notifier.ts';

const GROUP_ID = 'burnrate-notifier';

/**
 * The notifier on its own (distributed mode): consumes anomalies.v1 in the `burnrate-notifier`
 * group and delivers to Slack and email. The delivery log (sent / pending / skipped per anomaly
 * version and receiver) lives in the store, so instances must share one ClickHouse server for
 * "never sent twice" to hold across instances and partition moves.
 *
 * env: KAFKA_BROKERS; CLICKHOUSE_URL (+ CLICKHOUSE_USER, CLICKHOUSE_PASSWORD, CLICKHOUSE_DATABASE),
 * or BURNRATE_DATA_DIR (embedded chdb, this process only: tests and single-instance trials);
 * BURNRATE_CONFIG; SLACK_BOT_TOKEN, SLACK_API_URL; SMTP_URL, SMTP_FROM; BURNRATE_HEALTH_PORT; BURNRATE_LOG_LEVEL.
 */
async function main(env: NodeJS.ProcessEnv): Promise<void> {
  const log = createLogger({ level: env.BURNRATE_LOG_LEVEL ?? 'info' }).child({ service: 'notifier' });
  quietKafkajsWarnings(log);
  if (!env.BURNRATE_CONFIG) throw new Error('BURNRATE_CONFIG is not set: the notifier needs burnrate.yaml for teams and routes');
  const configPath = resolve(env.BURNRATE_CONFIG);
  const brokers = readKafkaBrokers(env, 'notifier');
  const storeSettings = readStoreSettings(env, 'notifier');
  const config = await loadConfig(configPath);
  const slack = readSlack(env);
  const smtp = readSmtp(env, config.org);
  const lifecycle = new Lifecycle(log);
  const health = registerHealthEndpoint(lifecycle, env, { service: 'notifier', log });

  const store = await openStore(storeSettings, log);
  lifecycle.register({ name: 'store', start: () => store.migrate(), stop: () => store.close() });

  const bus = openKafkaBus({ brokers, service: 'notifier', log });
  lifecycle.register({ name: 'bus', start: async () => {}, stop: () => bus.close() });

  const channels = buildChannels(config, slack, smtp, log);
  const notifier = createNotifier({ config, store, channels, log });
  const subscription = bus.subscribe({
    groupId: GROUP_ID,
    topics: [TOPICS.anomalies.name],
    handleBatch: (batch, ctx) => notifier.handleBatch(batch, ctx),
  });
  lifecycle.register({
    name: 'notifier-consumer',
    start: () => subscription.start(),
    stop: async () => {
      await subscription.stop();
      log.info(notifier.stats(), 'notifier totals');
    },
  });
  // Registered after the consumer so it stops first: aborting retry waits lets the in-flight batch
  // end at once (uncommitted, redelivered after restart) instead of holding shutdown.
  lifecycle.register(notifier);
  health.ready({ [GROUP_ID]: subscription });

  await runUntilSignal({
    name: 'notifier',
    lifecycle,
    log,
    ready: () => ({
      group: GROUP_ID,
      config: configPath,
      store: describeStore(storeSettings),
      slack: slack ? 'on' : 'off (SLACK_BOT_TOKEN not set)',
      email: smtp ? `on (${redactUrl(smtp.url)})` : 'off (SMTP_URL not set)',
    }),
  });
}

function buildChannels(
  config: Config,
  slack: { token: string; apiUrl?: string } | undefined,
  smtp: { url: string; from: string } | undefined,
  log: Logger,
): { slack?: Channel; email?: Channel } {
  const channels: { slack?: Channel; email?: Channel } = {};
  if (slack) channels.slack = createSlackChannel({ token: slack.token, slackApiUrl: slack.apiUrl, log });
  if (smtp) {
    channels.email = createEmailChannel({
      url: smtp.url,
      from: smtp.from,
      log,
      acknowledgeUrl: config.public_url ? consoleAcknowledgeUrl(config.public_url) : undefined,
    });
  }
  return channels;
}

const bootLog = createLogger({ level: process.env.BURNRATE_LOG_LEVEL ?? 'info' }).child({ service: 'notifier' });
main(process.env).catch(exitOnStartFailure('notifier', bootLog));
