import { BurnrateError, systemClock } from '@burnrate/core';
import { createEventLedger, createIngestCore, createIngestGate, createIngestTally, registerIngestMetrics } from '@burnrate/ingest';
import { openKafkaBus, readKafkaBrokers, readKafkaSendTimeoutMs, registerHealthEndpoint, runService } from '@burnrate/runtime';
import { createPollers } from './pollers.ts';
import { readPollerSettings } from './settings.ts';

/**
 * The pollers on their own (distributed mode): each provider report whose admin key is set is
 * read on an interval and its buckets published to usage.events.v1 on Kafka, priced and
 * attributed as ingest does. Run one instance: two would each publish the same corrections.
 *
 * Its dedupe ledger starts empty (it reads no store): events a crash left pending are published
 * again at start, and if the crash came after Kafka had them, the detector's per-developer dedupe
 * and the store's event_id collapse the repeat, as for a resend that reaches another ingest instance.
 *
 * env: KAFKA_BROKERS, KAFKA_SEND_TIMEOUT_MS, BURNRATE_CONFIG (members, ownership and prices),
 * BURNRATE_DATA_DIR (the cursors: keep it on a volume), ANTHROPIC_ADMIN_API_KEY, ANTHROPIC_API_URL,
 * OPENAI_ADMIN_KEY, OPENAI_API_URL, CURSOR_ADMIN_API_KEY, CURSOR_API_URL, GITHUB_COPILOT_TOKEN,
 * GITHUB_ORG, GITHUB_API_URL, GITHUB_COPILOT_PER_USER, BURNRATE_POLL_SOURCES, BURNRATE_POLL_INTERVAL,
 * BURNRATE_POLL_OVERLAP_BUCKETS, BURNRATE_POLL_BACKFILL, BURNRATE_HEALTH_PORT (one /healthz line per
 * source), BURNRATE_LOG_LEVEL.
 */
runService({
  name: 'poller',
  config: { required: true, why: 'needs burnrate.yaml for attribution and pricing' },
  async build({ env, log, lifecycle, config: source }) {
    const settings = readPollerSettings(env);
    const dir = env.BURNRATE_DATA_DIR;
    if (!dir) throw new BurnrateError('CONFIG_INVALID', "the poller needs BURNRATE_DATA_DIR: it keeps each source's cursor there");
    const health = registerHealthEndpoint(lifecycle, env, { service: 'poller', log, config: source });

    const bus = openKafkaBus({
      brokers: readKafkaBrokers(env, 'poller'),
      service: 'poller',
      log,
      sendTimeoutMs: readKafkaSendTimeoutMs(env),
    });
    lifecycle.register({ name: 'bus', start: async () => {}, stop: () => bus.close() });

    const now = (): number => Date.now();
    const gate = createIngestGate({ config: source, now, log: log.child({ component: 'ingest' }) });
    const ledger = createEventLedger({ windowMs: source.current().ingest.dedupe_window, now });
    const tally = createIngestTally();
    registerIngestMetrics(health.metrics, { tally, gate, ledger });
    const ingest = createIngestCore({ config: source, producer: bus.producer(), clock: systemClock, log, gate, ledger, tally });
    const pollers = createPollers({ settings, dir, ingest, clock: systemClock, log });
    if (pollers.pollers.length === 0)
      log.warn(
        'no provider admin key is set (ANTHROPIC_ADMIN_API_KEY, OPENAI_ADMIN_KEY, CURSOR_ADMIN_API_KEY, GITHUB_COPILOT_TOKEN): nothing to poll',
      );
    // Stopped before the bus closes: a poll in flight ends and saves its cursor first.
    lifecycle.register({ name: 'pollers', start: () => pollers.start(), stop: () => pollers.stop() });

    health.ready({}, () => ({ degraded: false, fields: { pollers: pollers.health() } }));
    return () => ({ sources: pollers.pollers.map((p) => p.source), dataDir: dir, config: source.origin });
  },
});
