import { join } from 'node:path';
import { createLogger, fixedConfig, parseConfig } from '@burnrate/core';
import { receiverSchema } from '@burnrate/notify';
import { buildChannels, type ChannelSet } from '@burnrate/runtime';
import { createChdbStore, type Store } from '@burnrate/store';
import {
  anomaly,
  type SlackStandIn,
  startSlackStandIn,
  startSmtpServer,
  tempDir,
  type TempDir,
  type TestSmtpServer,
  usageEvent,
} from '@burnrate/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNotifier, type NotifierDeps } from './notifier.ts';

const log = createLogger({ level: 'silent' });
const config = parseConfig(
  `
org: acme
routes: { group_by: [anomaly], group_wait: 0s, group_interval: 0s }
teams:
  - id: payments
    timezone: Europe/Berlin
    members: [alice@acme.com]
    slack: { channel: "#payments-ai-spend" }
    email: [payments-leads@acme.com]
    budget: { monthly_usd: 6000 }
`,
  '<inline>',
  { receiver: receiverSchema },
);

// Friday 19:01 in Berlin: the team is gone until Monday 09:00.
const NOW = new Date('2026-11-27T18:01:00.000Z');
// $4,210 in the 26.79 days since 1 November 00:00 Berlin, at that pace over its 30 days: $4,714.
const MONTH_LINE = 'Team payments: $4,210 of $6,000 this month (70%), on course for $4,714';

// The notifier as `burnrate start` runs it: the month-to-date line read from real chdb (the
// reconciliation of stored events), sent through a real SMTP server and the Slack stand-in.
describe('the month-to-date line in team messages', () => {
  let slackApi: SlackStandIn;
  let smtp: TestSmtpServer;
  let dir: TempDir;
  let store: Store;
  let channels: ChannelSet;

  beforeAll(async () => {
    [slackApi, smtp, dir] = await Promise.all([
      startSlackStandIn({ channels: ['#payments-ai-spend'] }),
      startSmtpServer(),
      tempDir('burnrate-notifier-month-'),
    ]);
    store = await createChdbStore({ dataDir: join(dir.path, 'chdb'), log });
    await store.migrate();
    await store.insertUsageEvents([
      // 23:30 on 31 October in Berlin: October's, not counted.
      usageEvent({ occurred_at: '2026-10-31T22:30:00.000Z', cost_usd: 999 }),
      // 00:30 on 1 November in Berlin, still 31 October in UTC: the team's month counts it.
      usageEvent({ occurred_at: '2026-10-31T23:30:00.000Z', cost_usd: 100 }),
      usageEvent({ occurred_at: '2026-11-10T10:00:00.000Z', cost_usd: 2000 }),
      usageEvent({ occurred_at: '2026-11-27T15:00:00.000Z', cost_usd: 2110 }),
      // Another team's spend is not payments'.
      usageEvent({ occurred_at: '2026-11-20T10:00:00.000Z', cost_usd: 500, team: 'search', developer: 'bob@acme.com' }),
    ]);
    channels = buildChannels(
      { SLACK_BOT_TOKEN: slackApi.token, SLACK_API_URL: slackApi.url, SMTP_URL: smtp.url, SMTP_FROM: 'Burnrate <burnrate@acme.com>' },
      config,
      log,
    );
  });
  afterAll(async () => {
    await channels?.close();
    await store?.close();
    await Promise.all([slackApi?.close(), smtp?.close()]);
    await dir?.cleanup();
  });

  const notifier = (overrides: Partial<NotifierDeps> = {}) =>
    createNotifier({
      config: fixedConfig(config),
      store,
      channels: channels.channels,
      log,
      clock: { now: () => NOW },
      retry: { baseDelayMs: 10, maxDelayMs: 50, maxAttempts: 3 },
      dispatchEveryMs: 0,
      minGapMs: {},
      ...overrides,
    });

  const slackText = (id: string): string =>
    JSON.stringify(slackApi.messages.filter((m) => m.metadata?.event_payload.anomaly_id === id).map((m) => m.blocks));
  const mailOf = (id: string) => smtp.messages.find((m) => m.headers['x-burnrate-anomaly']?.startsWith(`${id};`));

  it('says where the team stands against its month, and the projection in money words, on Slack and in email', async () => {
    const a = anomaly({ id: 'mtd-1', impact_usd: 84, projected_usd: 97, detected_at: '2026-11-27T18:00:00.000Z' });
    const n = notifier();
    await n.handleAnomalies([a]);
    await n.dispatch();

    const slack = slackText('mtd-1');
    expect(slack).toContain(MONTH_LINE);
    expect(slack).toContain('*Impact*\\n$84 over the warning cap so far');
    expect(slack).toContain('*If nothing changes*\\n$97 more by Mon 09:00 Europe/Berlin');

    const mail = mailOf('mtd-1');
    expect(mail?.text).toContain(
      `Impact: $84 over the warning cap so far\nIf nothing changes: $97 more by Mon 09:00 Europe/Berlin\n\n${MONTH_LINE}`,
    );
    expect(mail?.html).toContain(MONTH_LINE);
  });

  it('sends the message without the line when the store fails or is slow', async () => {
    const failing: Store = { ...store, reconciliation: () => Promise.reject(new Error('store down')) };
    const slow: Store = { ...store, reconciliation: () => new Promise(() => {}) };
    for (const [id, s] of [
      ['mtd-failing', failing],
      ['mtd-slow', slow],
    ] as const) {
      const n = notifier({ store: s, monthToDate: { timeoutMs: 50 } });
      await n.handleAnomalies([anomaly({ id, impact_usd: 84, detected_at: '2026-11-27T18:00:00.000Z' })]);
      await n.dispatch();
      expect(slackText(id)).toContain('$84 over the warning cap so far');
      expect(slackText(id)).not.toContain('this month');
      expect(mailOf(id)?.text).toContain('$84 over the warning cap so far');
      expect(mailOf(id)?.text).not.toContain('this month');
    }
  });
});
