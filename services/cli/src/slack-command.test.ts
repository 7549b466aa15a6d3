import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { slackCommand, type SlackCommandEnv } from './slack-command.ts';

const SECRET = 'slack-signing-secret-for-tests';
const NOW = new Date('2026-11-27T14:10:00Z');
const TS = String(NOW.getTime() / 1000);

async function run(sub: string | undefined, flags: Record<string, string | true>, env: Partial<SlackCommandEnv> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await slackCommand(
    sub,
    new Map(Object.entries(flags)),
    { out: (l) => out.push(l), err: (l) => err.push(l) },
    {
      signingSecret: SECRET,
      readStdin: async () => '',
      readFile: async (path) => {
        throw new Error(`ENOENT: no such file, open '${path}'`);
      },
      now: () => NOW,
      ...env,
    },
  );
  return { code, out, err, text: out.join('\n') };
}

const expectedSignature = (body: string, secret = SECRET) => `v0=${createHmac('sha256', secret).update(`v0:${TS}:${body}`).digest('hex')}`;

/** The body and headers a POSIX shell passes to curl from the printed line (echoed instead of sent). */
function curlArguments(curlLine: string): string[] {
  const script = `args() { for a in "$@"; do printf '%s\\0' "$a"; done; }\n${curlLine.replace(/^curl /, 'args ')}`;
  return execFileSync('sh', ['-c', script], { encoding: 'utf8' }).split('\0').slice(0, -1);
}

describe('burnrate slack sign', () => {
  it('signs a given body and prints the headers and a curl line a shell runs as is', async () => {
    const body = "payload=%7B%22type%22%3A%22block_actions%22%7D&x=it's";
    const { code, out, text } = await run('sign', { body, url: 'http://127.0.0.1:9999/slack/interactions' });
    expect(code).toBe(0);
    expect(out.slice(0, 2)).toEqual([`X-Slack-Request-Timestamp: ${TS}`, `X-Slack-Signature: ${expectedSignature(body)}`]);
    expect(text).toContain('# valid until 2026-11-27T14:15:00.000Z');
    const curl = text.slice(text.indexOf('curl '));
    expect(curlArguments(curl)).toEqual([
      '-sS',
      '-X',
      'POST',
      'http://127.0.0.1:9999/slack/interactions',
      '-H',
      'Content-Type: application/x-www-form-urlencoded',
      '-H',
      `X-Slack-Request-Timestamp: ${TS}`,
      '-H',
      `X-Slack-Signature: ${expectedSignature(body)}`,
      '--data-raw',
      body,
    ]);
  });

  it('takes the secret from --secret over SLACK_SIGNING_SECRET, and the default URL', async () => {
    const { out, text } = await run('sign', { body: 'a=b', secret: 'other-secret' });
    expect(out[1]).toBe(`X-Slack-Signature: ${expectedSignature('a=b', 'other-secret')}`);
    expect(text).toContain("curl -sS -X POST 'http://127.0.0.1:8787/slack/interactions'");
  });

  it('form-encodes a JSON payload from a file or stdin', async () => {
    const payload = '{"type":"block_actions","user":{"id":"U0BOB"}}';
    const fromFile = await run('sign', { 'payload-file': 'press.json' }, { readFile: async () => `${payload}\n` });
    const fromStdin = await run('sign', {}, { readStdin: async () => payload });
    const body = new URLSearchParams({ payload }).toString();
    expect(fromFile.out[1]).toBe(`X-Slack-Signature: ${expectedSignature(body)}`);
    expect(fromStdin.out[1]).toBe(fromFile.out[1]);
  });

  it('builds a block_actions press on a Burnrate control', async () => {
    const { code, text } = await run('sign', { press: 'snooze:tomorrow', anomaly: 'session_cost:acme:x', user: 'U0BOB' });
    expect(code).toBe(0);
    const body = curlArguments(text.slice(text.indexOf('curl '))).at(-1) as string;
    const payload = JSON.parse(new URLSearchParams(body).get('payload') as string) as Record<string, unknown>;
    expect(payload).toMatchObject({
      type: 'block_actions',
      user: { id: 'U0BOB' },
      actions: [{ action_id: 'burnrate_snooze', value: 'snooze:tomorrow|session_cost:acme:x', action_ts: `${TS}.000000` }],
    });
    expect(text).toContain(`X-Slack-Signature: ${expectedSignature(body)}`);
  });

  it.each([
    ['no secret', {}, { signingSecret: undefined }, /no signing secret: pass --secret or set SLACK_SIGNING_SECRET/],
    ['two bodies', { body: 'a', press: 'ack', anomaly: 'x' }, {}, /give one of --body, --payload-file or --press, not --body and --press/],
    ['an empty stdin', {}, {}, /stdin is empty/],
    ['a payload that is not JSON', { 'payload-file': '-' }, { readStdin: async () => '{nope' }, /stdin is not JSON/],
    ['an unknown press', { press: 'delete', anomaly: 'x' }, {}, /--press must be ack, unack, snooze:1h/],
    ['a press without an anomaly', { press: 'ack' }, {}, /--press needs an action .* and --anomaly ID/],
    ['a group press without its message', { press: 'ack', anomaly: '*' }, {}, /give its --channel \(id\) and --ts/],
    ['a URL that is not http', { body: 'a', url: 'ftp://x' }, {}, /--url must be an http\(s\) URL/],
  ])('refuses %s with exit 2 and says why', async (_name, flags, env, message) => {
    const { code, err, out } = await run('sign', flags, env);
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(message);
    expect(out).toEqual([]);
  });

  it('prints its usage for anything but sign', async () => {
    const { code, err } = await run(undefined, {});
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(/usage: burnrate slack sign/);
  });
});
