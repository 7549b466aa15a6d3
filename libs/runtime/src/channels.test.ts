import { Writable } from 'node:stream';
import { createLogger, parseConfig } from '@burnrate/core';
import { CHANNELS, receiverSchema } from '@burnrate/notify';
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
    receivers: [{ channel: slack, to: "#payments-leads" }]
finops:
  receivers: [{ channel: email, to: finops@acme.com }]
`,
  '<inline>',
  { receiver: receiverSchema },
);

describe('buildChannels', () => {
  it('builds Slack and email from their settings, and says which are on for the start-up log', async () => {
    const built = buildChannels({ SLACK_BOT_TOKEN: 'xoxb-1', SMTP_URL: 'smtp://burnrate:hunter2@smtp.acme.com:587' }, config, log);
    expect(built.channels.slack?.name).toBe('slack');
    expect(built.channels.email?.name).toBe('email');
    expect(built.status).toMatchObject({ slack: 'on', email: 'on (smtp://burnrate:redacted@smtp.acme.com:587)' });
    expect(Object.keys(built.status)).toEqual(CHANNELS.map((c) => c.name));
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
    const built = buildChannels({}, config, capture);
    expect(built.channels).toEqual({});
    expect(built.status).toMatchObject({ slack: 'off (SLACK_BOT_TOKEN not set)', email: 'off (SMTP_URL not set)' });
    expect(lines.map((l) => JSON.parse(l) as { channel: string; receivers: number })).toMatchObject([
      { channel: 'slack', receivers: 2 },
      { channel: 'email', receivers: 2 },
    ]);
    await built.close();
  });

  it('refuses a receiver its channel cannot read, for a config loaded without the registry', () => {
    const loose = parseConfig('org: acme\nteams:\n  - id: a\n    receivers: [{ channel: slack, to: nope }, { channel: pigeon }]\n');
    expect(() => buildChannels({}, loose, log)).toThrow(
      [
        "the config's receivers cannot be used:",
        '  teams[0].receivers[0].to: expected a channel like #name (or a channel id like C0123ABCD)',
        `  teams[0].receivers[1]: unknown channel "pigeon"; expected one of ${CHANNELS.map((c) => c.name).join(', ')}`,
      ].join('\n'),
    );
  });
});
