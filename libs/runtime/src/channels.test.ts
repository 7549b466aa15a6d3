import { Writable } from 'node:stream';
import { createLogger, parseConfig } from '@burnrate/core';
import { receiverSchema } from '@burnrate/notify';
import { describe, expect, it } from 'vitest';
import { buildChannels } from './channels.ts';

const log = createLogger({ level: 'silent' });

const config = parseConfig(
  `
org: acme
teams:
  - id: payments
    slack: { channel: "#payments" }
    email: [leads@acme.com]
    receivers:
      - { channel: webhook, name: ops-bus, url_env: OPS_WEBHOOK_URL, secret_env: OPS_WEBHOOK_SECRET }
      - { channel: msteams, name: payments, url_env: TEAMS_PAYMENTS_URL }
    oncall:
      receivers: [{ channel: pagerduty, name: payments-oncall, routing_key_env: PD_PAYMENTS }]
finops:
  receivers: [{ channel: pagerduty, name: finops, routing_key_env: PD_FINOPS }]
`,
  '<inline>',
  { receiver: receiverSchema },
);

const secrets = {
  OPS_WEBHOOK_URL: 'https://hooks.acme.internal/burnrate',
  OPS_WEBHOOK_SECRET: 'whsec_1',
  TEAMS_PAYMENTS_URL: 'https://acme.webhook.office.com/webhookb2/x',
  PD_PAYMENTS: 'R0123456789abcdef0123456789abcde',
  PD_FINOPS: 'R1111111111abcdef0123456789abcde',
};

describe('buildChannels', () => {
  it('builds every channel the receivers use, and says which are on for the start-up log', async () => {
    const built = buildChannels(
      { ...secrets, SLACK_BOT_TOKEN: 'xoxb-1', SMTP_URL: 'smtp://burnrate:hunter2@smtp.acme.com:587' },
      config,
      log,
    );
    expect(Object.keys(built.channels).sort()).toEqual(['email', 'msteams', 'pagerduty', 'slack', 'webhook']);
    for (const [name, channel] of Object.entries(built.channels)) expect(channel?.name).toBe(name);
    expect(built.status).toEqual({
      slack: 'on',
      email: 'on (smtp://burnrate:redacted@smtp.acme.com:587; action links off: public_url not set)',
      webhook: 'on (1 receiver)',
      pagerduty: 'on (2 receivers)',
      msteams: 'on (1 receiver)',
    });
    await built.close();
  });

  it('leaves Slack and email off without their settings, as before, and warns about their receivers', async () => {
    const lines: string[] = [];
    const capture = createLogger({
      level: 'warn',
      destination: new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    });
    const built = buildChannels(secrets, config, capture);
    expect(built.channels.slack).toBeUndefined();
    expect(built.channels.email).toBeUndefined();
    expect(built.status).toMatchObject({ slack: 'off (SLACK_BOT_TOKEN not set)', email: 'off (SMTP_URL not set)' });
    expect(lines.map((l) => (JSON.parse(l) as { channel: string }).channel)).toEqual(['slack', 'email']);
    await built.close();
  });

  it('turns email action links on with public_url and BURNRATE_LINK_SECRET, and refuses a secret too short to resist guessing', async () => {
    const withUrl = parseConfig(`org: acme\npublic_url: https://burnrate.acme.internal\n`, '<inline>', { receiver: receiverSchema });
    const smtp = { SMTP_URL: 'smtp://smtp.acme.com:587' };
    const noSecret = buildChannels(smtp, withUrl, log);
    expect(noSecret.status.email).toBe('on (smtp://smtp.acme.com:587; action links off: BURNRATE_LINK_SECRET not set)');
    await noSecret.close();
    const on = buildChannels({ ...smtp, BURNRATE_LINK_SECRET: 'x'.repeat(32) }, withUrl, log);
    expect(on.status.email).toBe('on (smtp://smtp.acme.com:587; action links on)');
    await on.close();
    expect(() => buildChannels({ ...smtp, BURNRATE_LINK_SECRET: 'hunter2' }, withUrl, log)).toThrow(
      'BURNRATE_LINK_SECRET is 7 characters; it needs at least 32',
    );
  });

  it('says which channels have no receivers', () => {
    const built = buildChannels({}, parseConfig('org: acme'), log);
    expect(built.status).toEqual({
      slack: 'off (SLACK_BOT_TOKEN not set)',
      email: 'off (SMTP_URL not set)',
      webhook: 'off (no webhook receivers)',
      pagerduty: 'off (no pagerduty receivers)',
      msteams: 'off (no msteams receivers)',
    });
  });

  it('refuses to start while a variable a receiver names is unset, naming every receiver and variable', () => {
    const { PD_FINOPS: _, OPS_WEBHOOK_SECRET: __, ...some } = secrets;
    expect(() => buildChannels({ ...some, TEAMS_PAYMENTS_URL: '' }, config, log)).toThrow(
      [
        "the config's receivers cannot be used:",
        '  teams[0].receivers[0]: webhook receiver "ops-bus" needs OPS_WEBHOOK_SECRET (its secret_env), which is not set',
        '  teams[0].receivers[1]: msteams receiver "payments" needs TEAMS_PAYMENTS_URL (its url_env), which is not set',
        '  finops.receivers[0]: pagerduty receiver "finops" needs PD_FINOPS (its routing_key_env), which is not set',
      ].join('\n'),
    );
  });

  it('refuses a receiver its channel cannot read, for a config loaded without the registry', () => {
    const loose = parseConfig('org: acme\nteams:\n  - id: a\n    receivers: [{ channel: pagerduty, name: a }, { channel: pigeon }]\n');
    expect(() => buildChannels({}, loose, log)).toThrow(
      [
        "the config's receivers cannot be used:",
        '  teams[0].receivers[0].routing_key_env: Invalid input: expected string, received undefined',
        '  teams[0].receivers[1]: unknown channel "pigeon"; expected one of slack, email, webhook, pagerduty, msteams',
      ].join('\n'),
    );
  });

  it('refuses a URL variable that does not hold a URL, without printing it', () => {
    expect(() => buildChannels({ ...secrets, TEAMS_PAYMENTS_URL: 'not a url with token-xyz' }, config, log)).toThrow(
      /^msteams receiver "payments": TEAMS_PAYMENTS_URL does not hold an http\(s\) URL$/,
    );
  });
});
