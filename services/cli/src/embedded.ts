import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInProcessBus } from '@burnrate/bus';
import { combineSnapshotHealth, createDetector, createTeamDetector, detectorHealth, snapshotStoreFrom } from '@burnrate/detector';
import { type Clock, type Config, createHttpServer, jsonResponse, Lifecycle, type Logger, type Route, systemClock } from '@burnrate/core';
import { createIngestRoutes } from '@burnrate/ingest';
import { type Channel, consoleAcknowledgeUrl, createEmailChannel, createSlackChannel } from '@burnrate/notify';
import { createNotifier } from '@burnrate/notifier';
import { createPriceCatalog } from '@burnrate/pricing';
import { TOPIC_NAMES, TOPICS } from '@burnrate/schemas';
import { createSink } from '@burnrate/sink';
import { createChdbStore, type Store } from '@burnrate/store';
import { anomaliesRoute } from './api.ts';

export interface EmbeddedOptions {
  config: Config;
  /** Where the config came from, for /healthz and the start-up log. */
  configSource: string;
  dataDir: string;
  port: number;
  host: string;
  log: Logger;
  slack?: { token: string; apiUrl?: string };
  smtp?: { url: string; from: string };
  /** When set, /api/* needs `Authorization: Bearer <token>`. */
  apiToken?: string;
  bodyLimitBytes?: number;
  clock?: Clock;
}

export interface EmbeddedApp {
  port: number;
  store: Store;
  stop(): Promise<void>;
}

/**
 * Burnrate in one process: ingest, detector, notifier and the store sink over the in-process
 * bus and chdb, behind one HTTP port.
 *
 * The durability chain: ingest answers 2xx only after the bus log has the event on disk; the
 * sink, detector and notifier each commit their position only after their effect is durable
 * (rows in chdb, a detector snapshot, a delivery record). A kill -9 anywhere therefore replays
 * from the last commit, and the idempotent tables and the delivery log absorb the repeats.
 */
export async function startEmbedded(options: EmbeddedOptions): Promise<EmbeddedApp> {
  const { config, log } = options;
  const clock = options.clock ?? systemClock;
  const lifecycle = new Lifecycle(log);
  const started = performance.now();

  await mkdir(options.dataDir, { recursive: true });
  const store = await createChdbStore({ dataDir: join(options.dataDir, 'chdb'), log });
  lifecycle.register({ name: 'store', start: () => store.migrate(), stop: () => store.close() });

  const bus = createInProcessBus({ dir: join(options.dataDir, 'bus'), log });
  lifecycle.register({ name: 'bus', start: () => bus.ensureTopics(TOPIC_NAMES), stop: () => bus.close() });
  const producer = bus.producer();

  const sink = createSink({ store, log });
  const sinkSubscription = bus.subscribe(sink.subscribeOptions);
  lifecycle.register({ name: 'sink', start: () => sinkSubscription.start(), stop: () => sinkSubscription.stop() });

  const snapshots = snapshotStoreFrom(store, () => clock.now());
  // Stage B (team scope, over usage.rollups.v1) starts before stage A and stops after it: it is
  // still consuming while stage A publishes its last rollups on the way down.
  const teamDetector = createTeamDetector({ config, producer, snapshots, log, clock });
  const teamDetectorSubscription = bus.subscribe(teamDetector.subscribeOptions);
  lifecycle.register({
    name: 'team-detector',
    start: () => teamDetectorSubscription.start(),
    stop: async () => {
      await teamDetectorSubscription.stop();
      await teamDetector.stop();
    },
  });

  const detector = createDetector({ config, producer, snapshots, log, clock });
  const detectorSubscription = bus.subscribe(detector.subscribeOptions);
  lifecycle.register({
    name: 'detector',
    start: () => detectorSubscription.start(),
    stop: async () => {
      await detectorSubscription.stop();
      await detector.stop();
    },
  });

  const channels = buildChannels(options);
  const notifier = createNotifier({ config, store, channels, log, clock });
  const notifierSubscription = bus.subscribe({
    groupId: 'burnrate-notifier',
    topics: [TOPICS.anomalies.name],
    handleBatch: (batch, ctx) => notifier.handleBatch(batch, ctx),
  });
  lifecycle.register(notifier);
  lifecycle.register({ name: 'notifier-consumer', start: () => notifierSubscription.start(), stop: () => notifierSubscription.stop() });

  const catalog = createPriceCatalog(config.pricing.prices);
  const routes: Route[] = [
    ...createIngestRoutes({ config, catalog, producer, clock, log }),
    {
      method: 'GET',
      path: '/healthz',
      handler: async () => {
        // Snapshots failing: consumption goes on but nothing is committed, so a restart would replay it all.
        const snapshots = detectorHealth(combineSnapshotHealth([detector.snapshotHealth(), teamDetector.snapshotHealth()]));
        return jsonResponse(200, {
          status: snapshots.degraded ? 'degraded' : 'ok',
          mode: 'embedded',
          config: options.configSource,
          org: config.org,
          uptime_s: Math.round(process.uptime()),
          // Messages each stage has yet to process; 0 everywhere means the store and the alerts are current.
          lag: {
            sink: sinkSubscription.lag(),
            detector: detectorSubscription.lag(),
            team_detector: teamDetectorSubscription.lag(),
            notifier: notifierSubscription.lag(),
          },
          detector: snapshots.detector,
        });
      },
    },
    anomaliesRoute({ store, apiToken: options.apiToken }),
  ];
  const http = createHttpServer({ routes, log, bodyLimitBytes: options.bodyLimitBytes });
  let port = options.port;
  lifecycle.register({
    name: 'http',
    start: async () => {
      port = (await http.listen(options.port, options.host)).port;
    },
    stop: () => http.close(),
  });

  try {
    await lifecycle.startAll();
  } catch (err) {
    await lifecycle.stop();
    throw err;
  }
  log.info(
    {
      port,
      host: options.host,
      dataDir: options.dataDir,
      config: options.configSource,
      slack: channels.slack ? 'on' : 'off (SLACK_BOT_TOKEN not set)',
      email: channels.email ? 'on' : 'off (SMTP_URL not set)',
      startMs: Math.round(performance.now() - started),
    },
    'burnrate is listening',
  );
  return { port, store, stop: () => lifecycle.stop() };
}

function buildChannels(options: EmbeddedOptions): { slack?: Channel; email?: Channel } {
  const channels: { slack?: Channel; email?: Channel } = {};
  if (options.slack) {
    channels.slack = createSlackChannel({ token: options.slack.token, slackApiUrl: options.slack.apiUrl, log: options.log });
  }
  if (options.smtp) {
    const publicUrl = options.config.public_url;
    channels.email = createEmailChannel({
      url: options.smtp.url,
      from: options.smtp.from,
      log: options.log,
      acknowledgeUrl: publicUrl ? consoleAcknowledgeUrl(publicUrl) : undefined,
    });
  }
  return channels;
}
