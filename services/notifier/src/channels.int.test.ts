import { join } from 'node:path';
import { createLogger, parseConfig, fixedConfig } from '@burnrate/core';
import { receiverSchema } from '@burnrate/notify';
import { buildChannels, type ChannelSet } from '@burnrate/runtime';
import { createChdbStore, type Store } from '@burnrate/store';
import {
  anomaly,
  type MsTeamsStandIn,
  type PagerDutyStandIn,
  type SlackStandIn,
  startMsTeamsStandIn,
  startPagerDutyStandIn,
  startSlackStandIn,
  startSmtpServer,
  startWebhookReceiver,
  tempDir,
  type TempDir,
  type TestSmtpServer,
  type WebhookReceiver,
  waitUntil,
} from '@burnrate/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Anomaly } from '@burnrate/schemas';
import { createNotifier, type Notifier } from './notifier.ts';

/** Routes anomalies as the bus would hand them over, then sends what is due. */
async function route(n: Notifier, anomalies: readonly Anomaly[]): Promise<void> {
  await n.handleAnomalies(anomalies);
  await n.dispatch();
}

const log = createLogger({ level: 'silent' });
const ROUTING_KEY = 'R0123456789abcdef0123456789abcde';
const WEBHOOK_SECRET = 'whsec_5e0c7d1a';

const config = parseConfig(
  `
org: acme
public_url: https://burnrate.acme.internal
# One message per anomaly version, sent as soon as it is due (grouping is in dispatcher.test.ts).
routes: { group_by: [anomaly], group_wait: 0s, group_interval: 0s }
teams:
  - id: payments
    members: [alice@acme.com]
    slack: { channel: "#payments-ai-spend" }
    email: [payments-leads@acme.com]
    receivers:
      - { channel: webhook, name: ops-bus, url_env: OPS_WEBHOOK_URL, secret_env: OPS_WEBHOOK_SECRET }
      - { channel: pagerduty, name: payments, routing_key_env: PD_PAYMENTS }
      - { channel: msteams, name: payments, url_env: TEAMS_PAYMENTS_URL }
`,
  '<inline>',
  { receiver: receiverSchema },
);

const RECEIVERS = [
  'email:payments-leads@acme.com',
  'msteams:payments',
  'pagerduty:payments',
  'slack:#payments-ai-spend',
  'webhook:ops-bus',
];

// Every channel through buildChannels, each against its provider's stand-in (a real SMTP server
// for email), with the delivery log in real chdb: what `burnrate start` and the notifier run.
describe('notifier delivering to all five channels', () => {
  let slackApi: SlackStandIn;
  let smtp: TestSmtpServer;
  let hook: WebhookReceiver;
  let pd: PagerDutyStandIn;
  let teams: MsTeamsStandIn;
  let dir: TempDir;
  let store: Store;
  let channels: ChannelSet;

  beforeAll(async () => {
    [slackApi, smtp, hook, pd, teams, dir] = await Promise.all([
      startSlackStandIn({ channels: ['#payments-ai-spend'] }),
      startSmtpServer(),
      startWebhookReceiver({ secret: WEBHOOK_SECRET }),
      startPagerDutyStandIn({ routingKeys: [ROUTING_KEY] }),
      startMsTeamsStandIn(),
      tempDir('burnrate-notifier-channels-'),
    ]);
    store = await openStore();
    channels = buildChannels(
      {
        SLACK_BOT_TOKEN: slackApi.token,
        SLACK_API_URL: slackApi.url,
        SMTP_URL: smtp.url,
        SMTP_FROM: 'Burnrate <burnrate@acme.com>',
        PAGERDUTY_EVENTS_URL: pd.url,
        OPS_WEBHOOK_URL: hook.url,
        OPS_WEBHOOK_SECRET: WEBHOOK_SECRET,
        PD_PAYMENTS: ROUTING_KEY,
        TEAMS_PAYMENTS_URL: teams.url,
      },
      config,
      log,
    );
  });
  afterAll(async () => {
    await channels?.close();
    await store?.close();
    await Promise.all([slackApi?.close(), smtp?.close(), hook?.close(), pd?.close(), teams?.close()]);
    await dir?.cleanup();
  });

  async function openStore(): Promise<Store> {
    const chdb = await createChdbStore({ dataDir: join(dir.path, 'chdb'), log });
    await chdb.migrate();
    return chdb;
  }
  /** A restart: the store closed and opened again, a new notifier with nothing in memory. */
  async function restart(): Promise<void> {
    await store.close();
    store = await openStore();
  }
  const notifier = (): Notifier =>
    createNotifier({
      config: fixedConfig(config),
      store,
      channels: channels.channels,
      log,
      retry: { baseDelayMs: 10, maxDelayMs: 50, maxAttempts: 3 },
      dispatchEveryMs: 0,
      minGapMs: {},
    });

  /** What each channel's provider received for an anomaly, one entry per message. */
  const received = (id: string) => ({
    slack: slackApi.messages.filter((m) => m.metadata?.event_payload.anomaly_id === id).length,
    email: smtp.messages.filter((m) => m.headers['x-burnrate-anomaly']?.startsWith(`${id};`)).length,
    webhook: hook.deliveries.filter((d) => (d.body.anomaly as { id: string }).id === id).length,
    pagerduty: pd.events.filter((e) => e.dedup_key === id).length,
    msteams: teams.cards.filter((c) => c.texts.some((t) => t.endsWith(` · ${id}`))).length,
  });
  const once = { slack: 1, email: 1, webhook: 1, pagerduty: 1, msteams: 1 };
  const twice = { slack: 2, email: 2, webhook: 2, pagerduty: 2, msteams: 2 };

  it('sends each version once to every channel, resolves the PagerDuty alert, and sends nothing again after a restart', async () => {
    const v1 = anomaly({ id: 'all-1', version: 1, severity: 'warning' });
    const v2 = anomaly({ id: 'all-1', version: 2, severity: 'critical', impact_usd: 79.2 });
    const v3 = anomaly({ id: 'all-1', version: 3, severity: 'critical', status: 'resolved', impact_usd: 79.2 });

    const n = notifier();
    await route(n, [v1]);
    expect(received('all-1')).toEqual(once);
    await route(n, [v2]);
    expect(received('all-1')).toEqual(twice);
    await route(n, [v3]);
    expect(received('all-1')).toEqual({ slack: 3, email: 3, webhook: 3, pagerduty: 3, msteams: 3 });

    expect(pd.alerts).toEqual([expect.objectContaining({ dedupKey: 'all-1', status: 'resolved' })]);
    expect(pd.alerts[0]?.events.map((e) => [e.event_action, (e.payload as { severity?: string } | undefined)?.severity])).toEqual([
      ['trigger', 'warning'],
      ['trigger', 'critical'],
      ['resolve', undefined],
    ]);
    expect(hook.deliveries.map((d) => [d.body.reason, d.repeat])).toEqual([
      ['new', false],
      ['escalated', false],
      ['resolved', false],
    ]);
    expect(teams.cards.map((c) => c.texts[0])).toEqual([
      'Warning: Session cost',
      'Escalated to critical: Session cost',
      'Resolved: Session cost',
    ]);
    for (const r of [...hook.requests, ...pd.requests, ...teams.requests]) expect(r.problems).toEqual([]);

    const sent = await store.listDeliveries({ anomaly_id: 'all-1', status: 'sent' });
    expect(
      sent
        .filter((d) => d.version === 1)
        .map((d) => [d.receiver, d.channel])
        .sort(),
    ).toEqual(RECEIVERS.map((r) => [r, r.slice(0, r.indexOf(':'))]));

    await restart();
    await route(notifier(), [v1, v2, v3]);
    expect(received('all-1')).toEqual({ slack: 3, email: 3, webhook: 3, pagerduty: 3, msteams: 3 });
  });

  it('retries a 429 and a 5xx and delivers once, with the attempts in the delivery log', async () => {
    hook.failNext(1, { status: 503 });
    pd.failNext(1, { status: 429, retryAfterSec: 1 });
    teams.failNext(1, { status: 502 });
    slackApi.failNext(1, { status: 429, retryAfterSec: 1 });

    await route(notifier(), [anomaly({ id: 'retry-1' })]);

    expect(received('retry-1')).toEqual(once);
    const attempts = Object.fromEntries(
      (await store.listDeliveries({ anomaly_id: 'retry-1', status: 'sent' })).map((d) => [d.channel, d.attempts]),
    );
    expect(attempts).toEqual({ slack: 2, email: 1, webhook: 2, pagerduty: 2, msteams: 2 });
  });

  it('delays but never drops a delivery through an outage longer than its retries, and resends nothing else after a restart', async () => {
    const a = anomaly({ id: 'outage-1' });
    pd.failNext(3, { status: 500 });
    teams.refuseInBodyNext(3, 503);

    await store.insertAnomalies([a]);
    const first = notifier();
    await first.handleAnomalies([a]);
    expect(await first.dispatch()).toMatchObject({ retrying: 2 });
    expect(received('outage-1')).toEqual({ slack: 1, email: 1, webhook: 1, pagerduty: 0, msteams: 0 });
    const failed = await store.listDeliveries({ anomaly_id: 'outage-1', status: 'failed' });
    expect(failed.map((d) => [d.receiver, d.attempts, d.detail.startsWith('will retry: ')]).sort()).toEqual([
      ['msteams:payments', 3, true],
      ['pagerduty:payments', 3, true],
    ]);

    // They stay in the outbox: after a restart, once their backoff is over, only those two are sent.
    await restart();
    const next = notifier();
    await waitUntil(async () => (await next.dispatch(), received('outage-1').msteams + received('outage-1').pagerduty === 2), {
      timeoutMs: 10_000,
    });
    expect(received('outage-1')).toEqual(once);
  });

  it('resends after a kill between the provider’s answer and the sent record with the identity receivers deduplicate on', async () => {
    // Its own session: under another open anomaly of the same session it would join that one's incident.
    const a = anomaly({ id: 'kill-1', subject: { session: 'kill-1' } });
    // A first attempt got through, then the process died before recording it: only `pending` is on record.
    const at = new Date().toISOString();
    await store.insertDeliveries(
      ['webhook:ops-bus', 'pagerduty:payments'].map((receiver) => ({
        anomaly_id: a.id,
        version: a.version,
        receiver,
        channel: receiver.slice(0, receiver.indexOf(':')),
        status: 'pending' as const,
        detail: 'attempt before the kill',
        attempts: 0,
        at,
      })),
    );
    await channels.channels.webhook?.send({ anomaly: a, reason: 'new', to: ['ops-bus'], receiver: 'webhook:ops-bus' });
    await channels.channels.pagerduty?.send({ anomaly: a, reason: 'new', to: ['payments'], receiver: 'pagerduty:payments' });

    await restart();
    await route(notifier(), [a]);

    // Neither can be asked what it received: both are sent again, the webhook with the same
    // Idempotency-Key and PagerDuty onto the same alert by dedup_key.
    expect(hook.deliveries.filter((d) => (d.body.anomaly as { id: string }).id === 'kill-1').map((d) => d.repeat)).toEqual([false, true]);
    expect(pd.alerts.filter((x) => x.dedupKey === 'kill-1').map((x) => x.events.length)).toEqual([2]);
    expect(received('kill-1')).toEqual({ ...once, webhook: 2, pagerduty: 2 });
  });
});
