import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type SlackStandIn,
  startSlackStandIn,
  startSmtpServer,
  tempDir,
  type TempDir,
  type TestSmtpServer,
  waitUntil,
} from '@burnrate/testing';
import { type BurnrateProcess, postJson, startBurnrate, TEST_CONFIG } from '../test-support/burnrate-process.ts';
import { type PressedMessage, postSlackPress, signedNow, slackPressBody } from '../test-support/slack-press.ts';

const SIGNING_SECRET = 'slack-signing-secret-of-the-oncall-test';

// TEST_CONFIG with an on-call channel for payments and escalation after 3 s instead of 30 min.
const CONFIG = TEST_CONFIG.replace(
  '    email: [payments-leads@acme.com]\n',
  '    email: [payments-leads@acme.com]\n    oncall: { slack: { channel: "#payments-oncall" } }\n',
)
  .replace('members: [alice@acme.com, bob@acme.com]', 'members: [{ email: alice@acme.com, aliases: [U0ALICE] }, bob@acme.com]')
  .replace('  group_wait: 0s\n', '  group_wait: 0s\n  escalate_after: 3s\n');

// The on-call loop of the README, through the HTTP port of `burnrate start`: two criticals are
// posted to the team's channel, one is acknowledged with a signed Slack button press; its
// message shows who acknowledged it and it never reaches on-call, while the other escalates.
describe('on call: acknowledge from Slack, and what escalates', () => {
  let dir: TempDir;
  let smtp: TestSmtpServer;
  let slack: SlackStandIn;
  let burnrate: BurnrateProcess;

  beforeAll(async () => {
    expect(CONFIG).toContain('#payments-oncall');
    expect(CONFIG).toContain('escalate_after: 3s');
    expect(CONFIG).toContain('U0ALICE');
    dir = await tempDir();
    smtp = await startSmtpServer();
    slack = await startSlackStandIn();
    const configPath = join(dir.path, 'burnrate.yaml');
    await writeFile(configPath, CONFIG);
    burnrate = await startBurnrate({
      BURNRATE_CONFIG: configPath,
      BURNRATE_DATA_DIR: join(dir.path, 'data'),
      SMTP_URL: smtp.url,
      SMTP_FROM: 'burnrate@acme.com',
      SLACK_BOT_TOKEN: slack.token,
      SLACK_API_URL: slack.url,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
    });
  });
  afterAll(async () => {
    await burnrate?.stop();
    await slack?.close();
    await smtp?.close();
    await dir?.cleanup();
  });

  it('updates the acknowledged message in place and escalates only the other one', async () => {
    const critical = (session: string) => ({
      occurred_at: '2026-11-27T10:00:00.000Z',
      developer_email: 'alice@acme.com',
      model: 'claude-opus-4-5',
      session_id: session,
      cost_usd: 120,
    });
    expect((await postJson(`${burnrate.url}/v1/events`, [critical('acked'), critical('ignored')])).status).toBe(200);
    await waitUntil(() => slack.messages.filter((m) => m.channelName === '#payments-ai-spend').length === 2, {
      timeoutMs: 20_000,
      message: 'both criticals in the team channel',
    });
    const listed = (await (await fetch(`${burnrate.url}/api/anomalies`)).json()) as {
      anomalies: { id: string; subject: { session: string } }[];
    };
    const acked = listed.anomalies.find((a) => a.subject.session === 'acked')?.id as string;
    const ignored = listed.anomalies.find((a) => a.subject.session === 'ignored')?.id as string;
    const message = slack.messages.find((m) => m.metadata?.event_payload.anomaly_id === acked);
    expect(message).toBeDefined();

    const body = slackPressBody(message as PressedMessage, { verb: 'ack', ref: acked }, 'U0ALICE');
    const pressed = performance.now();
    const res = await postSlackPress(burnrate.url, body, signedNow(SIGNING_SECRET, body));
    expect(res.status).toBe(200);
    expect(performance.now() - pressed).toBeLessThan(3_000);

    // The message itself now says who acknowledged it.
    await waitUntil(
      () =>
        slack
          .callsTo('chat.update')
          .some((c) => c.args.ts === message?.ts && JSON.stringify(c.args.blocks).includes('Acknowledged by alice@acme.com')),
      { timeoutMs: 10_000, message: 'chat.update of the acknowledged message' },
    );

    // After escalate_after, on-call hears of the one nobody acknowledged, and only of it.
    await waitUntil(() => slack.messages.some((m) => m.channelName === '#payments-oncall'), {
      timeoutMs: 15_000,
      message: 'the escalation',
    });
    await new Promise((r) => setTimeout(r, 2_000));
    const oncall = slack.messages.filter((m) => m.channelName === '#payments-oncall');
    expect(oncall.map((m) => m.metadata?.event_payload.anomaly_id)).toEqual([ignored]);

    const detail = (await (await fetch(`${burnrate.url}/api/anomalies?limit=10`)).json()) as {
      anomalies: { id: string; acknowledged_by?: string }[];
    };
    console.log(
      `on call: acknowledged in ${Math.round(performance.now() - pressed)} ms round trip; ` +
        `${slack.callsTo('chat.update').length} chat.update, ${oncall.length} escalation to #payments-oncall (of 2 criticals, 1 acknowledged)`,
    );
    expect(detail.anomalies.length).toBe(2);
  });

  it('sends nothing a silence matches, and says so on the anomaly', async () => {
    const silenced = await postJson(`${burnrate.url}/api/silences`, {
      matchers: ['team=payments', 'kind=session_cost', 'developer=bob@acme.com'],
      for: '1h',
      comment: 'load test of the payments agents',
      created_by: 'alice@acme.com',
    });
    expect(silenced.status).toBe(201);
    const before = slack.messages.length;
    const event = {
      occurred_at: '2026-11-27T10:00:00.000Z',
      developer_email: 'bob@acme.com',
      model: 'claude-opus-4-5',
      session_id: 'load-test',
      cost_usd: 130,
    };
    expect((await postJson(`${burnrate.url}/v1/events`, [event])).status).toBe(200);
    const id = await waitUntil(async () => {
      const listed = (await (await fetch(`${burnrate.url}/api/anomalies`)).json()) as {
        anomalies: { id: string; subject: { session: string } }[];
      };
      return listed.anomalies.find((a) => a.subject.session === 'load-test')?.id;
    });
    const deliveries = await waitUntil(async () => {
      const shown = (await (await fetch(`${burnrate.url}/api/anomalies/${id}`)).json()) as {
        deliveries?: { status: string; detail: string }[];
      };
      return shown.deliveries?.length === 2 ? shown.deliveries : undefined;
    });
    // Neither the team's Slack channel nor its email is sent anything; each says why.
    expect(deliveries?.map((d) => d.status)).toEqual(['skipped', 'skipped']);
    for (const d of deliveries ?? []) expect(d.detail).toMatch(/^silenced by .*: load test of the payments agents$/);
    expect(slack.messages.length).toBe(before);
  });
});
