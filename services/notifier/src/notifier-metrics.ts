import type { Metrics } from '@burnrate/runtime';
import type { Notifier } from './notifier.ts';

/** The notifier's part of /metrics: messages by channel and outcome, and what is due in its outbox. */
export function registerNotifierMetrics(metrics: Metrics, notifier: Pick<Notifier, 'deliveries' | 'dueNow'>): void {
  metrics.counter({
    name: 'burnrate_deliveries_total',
    help: 'Messages to receivers, by channel and outcome: sent, skipped (no channel configured, silenced, inhibited), failed (refused for good), deferred (retried later), attached (listed on an incident message).',
    labelNames: ['channel', 'outcome'],
    read: () => notifier.deliveries().map((d) => ({ labels: { channel: d.channel, outcome: d.outcome }, value: d.count })),
  });
  metrics.gauge({
    name: 'burnrate_notifier_outbox_due_messages',
    help: "Messages due now and not yet sent (as /healthz's notifier_outbox lag): a group in its group_wait or a snoozed anomaly is not due.",
    labelNames: [],
    read: async () => [{ labels: {}, value: await notifier.dueNow() }],
  });
}
