import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@burnrate/core';
import { createChdbStore } from '@burnrate/store';
import {
  type SlackStandIn,
  startSlackStandIn,
  startSmtpServer,
  tempDir,
  type TempDir,
  type TestSmtpServer,
  waitUntil,
} from '@burnrate/testing';
import { type BurnrateProcess, postJson, startBurnrate, TEST_CONFIG, waitForCaughtUp } from '../test-support/burnrate-process.ts';
import { postSlackPress, signedNow, slackPressBody } from '../test-support/slack-press.ts';

const SIGNING_SECRET = 'slack-signing-secret-of-the-press-crash-test';
const ESCALATE_AFTER_MS = 3_000;
const TEAM_CHANNEL = '#payments-ai-spend';
const ONCALL_CHANNEL = '#payments-oncall';

// TEST_CONFIG (group_wait 0s, one message per anomaly) with an on-call channel reached after 3 s
// without acknowledgement, and the Slack user U0ALICE known as alice@acme.com.
const CONFIG = TEST_CONFIG.replace(
  '    email: [payments-leads@acme.com]\n',
  `    email: [payments-leads@acme.com]\n    oncall: { slack: { channel: "${ONCALL_CHANNEL}" } }\n`,
)
  .replace('members: [alice@acme.com, bob@acme.com]', 'members: [{ email: alice@acme.com, aliases: [U0ALICE] }, bob@acme.com]')
  .replace('  group_wait: 0s\n', `  group_wait: 0s\n  escalate_after: ${ESCALATE_AFTER_MS / 1000}s\n`);

interface ShownAnomaly {
  id: string;
  subject: { session: string };
  acknowledged_by: string | null;
}

// A press on Acknowledge is recorded, but Slack refuses every chat.update, so the message still
// shows the old buttons when burnrate is killed -9. After the restart the decision is still there
// and the message is edited in place once; Slack's retry of the same press changes nothing.
describe('embedded mode: kill -9 between a Slack press and its chat.update', () => {
  let dir: TempDir;
  let smtp: TestSmtpServer;
  let slack: SlackStandIn;
  let env: Record<string, string>;
  let burnrate: BurnrateProcess | undefined;

  beforeAll(async () => {
    expect(CONFIG).toContain(ONCALL_CHANNEL);
    expect(CONFIG).toContain(`escalate_after: ${ESCALATE_AFTER_MS / 1000}s`);
    expect(CONFIG).toContain('U0ALICE');
    dir = await tempDir();
    smtp = await startSmtpServer();
    slack = await startSlackStandIn();
    const configPath = join(dir.path, 'burnrate.yaml');
    await writeFile(configPath, CONFIG);
    env = {
      BURNRATE_CONFIG: configPath,
      BURNRATE_DATA_DIR: join(dir.path, 'data'),
      SMTP_URL: smtp.url,
      SMTP_FROM: 'burnrate@acme.com',
      SLACK_BOT_TOKEN: slack.token,
      SLACK_API_URL: slack.url,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
    };
  });
  afterAll(async () => {
    await burnrate?.stop();
    await slack?.close();
    await smtp?.close();
    await dir?.cleanup();
  });

  it('keeps the acknowledgement, edits the message once it can, and applies a retried press once', async () => {
    burnrate = await startBurnrate(env);
    const event = {
      occurred_at: '2026-11-27T10:00:00.000Z',
      developer_email: 'alice@acme.com',
      model: 'claude-opus-4-5',
      session_id: 'pressed',
      cost_usd: 120,
    };
    expect((await postJson(`${burnrate.url}/v1/events`, [event])).status).toBe(200);
    const message = await slack.waitFor((m) => m.channelName === TEAM_CHANNEL, 20_000);
    const id = message.metadata?.event_payload.anomaly_id as string;
    expect(typeof id).toBe('string');
    const listed = (await (await fetch(`${burnrate.url}/api/anomalies`)).json()) as { anomalies: ShownAnomaly[] };
    expect(listed.anomalies.map((a) => [a.id, a.subject.session])).toEqual([[id, 'pressed']]);
    expect(JSON.stringify(message.blocks)).toContain('"burnrate_ack"');

    // Slack is up for posts but answers every chat.update with a 503 from now on.
    slack.failNext(1_000_000, { status: 503 }, 'chat.update');

    const actionTs = `${(Date.now() / 1000).toFixed(6)}`;
    const body = slackPressBody(message, { verb: 'ack', ref: id }, 'U0ALICE', actionTs);
    const press = (url: string, headers: Record<string, string> = {}) =>
      postSlackPress(url, body, { ...signedNow(SIGNING_SECRET, body), ...headers });
    expect((await press(burnrate.url)).status).toBe(200);
    const presses = 1;

    // The decision is durable (the API reads it from the store) and the notifier has tried, and
    // failed, to edit the message: once, and once more after the bus delivered the decision again.
    await waitUntil(
      async () => {
        const shown = (await (await fetch(`${burnrate!.url}/api/anomalies/${id}`)).json()) as ShownAnomaly;
        return shown.acknowledged_by === 'alice@acme.com';
      },
      { timeoutMs: 10_000, message: 'the acknowledgement on GET /api/anomalies/:id' },
    );
    await waitUntil(() => slack.callsTo('chat.update').filter((c) => c.status === 503).length >= 2, {
      timeoutMs: 10_000,
      message: 'two refused chat.update attempts',
    });
    await burnrate.kill9();
    burnrate = undefined;
    const updatesBeforeKill = slack.callsTo('chat.update');
    // Nothing got through before the kill: what the message shows next is the restart's doing.
    expect(updatesBeforeKill.every((c) => c.status === 503)).toBe(true);
    expect(message.updates).toBe(0);
    const callsBeforeRestart = slack.calls.length;

    slack.clearFailures();
    burnrate = await startBurnrate(env);
    const restarted = burnrate;
    const acknowledgedAt = `<!date^${Math.floor(Number(actionTs))}^`;
    const updatedAfterRestart = () =>
      slack.calls
        .slice(callsBeforeRestart)
        .filter((c) => c.method === 'chat.update' && c.status === 200 && c.args.ts === message.ts && c.args.channel === message.channel);
    await waitUntil(() => updatedAfterRestart().length >= 1, {
      timeoutMs: 15_000,
      message: 'chat.update of the message after the restart',
    });
    const edited = JSON.stringify(message.blocks);
    expect(edited).toContain('Acknowledged by alice@acme.com');
    // The press's own time, not the restart's.
    expect(edited).toContain(acknowledgedAt);
    expect(edited).toContain('"burnrate_unack"');
    expect(edited).not.toContain('"burnrate_ack"');
    const shownAfterEdit = { text: message.text, blocks: edited };

    // Slack did not hear the 200 in time and sends the same press again, freshly signed.
    expect((await press(restarted.url, { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' })).status).toBe(200);

    // Past escalate_after from the post, so the escalation has come due and been decided on.
    const postedAtMs = Number(message.ts) * 1000;
    await waitUntil(() => Date.now() > postedAtMs + ESCALATE_AFTER_MS + 1_000, { timeoutMs: 15_000, intervalMs: 100 });
    await waitForCaughtUp(restarted.url);
    const updatesAfterRestart = updatedAfterRestart().length;
    expect({ text: message.text, blocks: JSON.stringify(message.blocks) }).toEqual(shownAfterEdit);
    expect(slack.messages.filter((m) => m.channelName === ONCALL_CHANNEL)).toEqual([]);
    const posts = slack
      .callsTo('chat.postMessage')
      .filter((c) => (c.args.metadata as { event_payload?: { anomaly_id?: string } })?.event_payload?.anomaly_id === id);
    expect(posts.map((c) => c.args.channel)).toEqual([TEAM_CHANNEL]);
    expect(slack.messages.map((m) => m.ts)).toEqual([message.ts]);
    expect(smtp.messages.length).toBe(1);

    expect(await restarted.stop()).toBe(0);
    burnrate = undefined;

    const store = await createChdbStore({ dataDir: join(dir.path, 'data', 'chdb'), log: createLogger({ level: 'silent' }) });
    try {
      const decisions = await store.listAnomalyStates({ anomaly_id: id });
      expect(decisions).toEqual([
        {
          anomaly_id: id,
          action: 'acknowledged',
          by: 'alice@acme.com',
          channel: 'slack',
          at: new Date(Math.floor(Number(actionTs) * 1000)).toISOString(),
        },
      ]);
      const deliveries = await store.listDeliveries({ anomaly_id: id });
      const slackSent = deliveries.filter((d) => d.channel === 'slack' && d.status === 'sent');
      expect(slackSent.map((d) => [d.receiver, d.detail])).toEqual([[`slack:${TEAM_CHANNEL}`, `${message.channel}:${message.ts}`]]);
      expect(deliveries.filter((d) => d.receiver === `slack:${ONCALL_CHANNEL}` && d.status === 'sent')).toEqual([]);
      const escalations = (await store.listOutbox({ anomaly_id: id })).filter((e) => e.purpose === 'escalate');
      expect(escalations.map((e) => [e.receiver, e.status, e.detail])).toEqual([
        [`slack:${ONCALL_CHANNEL}`, 'cancelled', 'no escalation: acknowledged by alice@acme.com'],
      ]);

      console.log(
        `press + kill -9: ${presses} press and ${presses} Slack retry of it; ${updatesBeforeKill.length} chat.update refused before the kill, ` +
          `${updatesAfterRestart} chat.update after the restart; ${decisions.length} decision stored, ${posts.length} Slack post, ` +
          `${escalations.filter((e) => e.status !== 'cancelled').length} escalation sent`,
      );
    } finally {
      await store.close();
    }
  });
});
