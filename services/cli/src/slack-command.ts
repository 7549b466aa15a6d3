import { signSlackRequest, SLACK_SIGNATURE_WINDOW_S } from '@burnrate/api';
import { parseSlackActionValue, SLACK_ACTIONS } from '@burnrate/notify';
import type { CommandIO } from './config-command.ts';

export const DEFAULT_INTERACTIONS_URL = 'http://127.0.0.1:8787/slack/interactions';

export interface SlackCommandEnv {
  /** SLACK_SIGNING_SECRET. */
  signingSecret: string | undefined;
  readStdin(): Promise<string>;
  readFile(path: string): Promise<string>;
  now(): Date;
}

const USAGE = `usage: burnrate slack sign [--secret S] (--press ACTION --anomaly ID | --payload-file FILE | --body TEXT) [--url URL]

Signs a request the way Slack signs a button press, and prints its headers and a curl line that
posts it (valid for ${SLACK_SIGNATURE_WINDOW_S / 60} minutes):
  --secret S          the Slack app's signing secret (default: SLACK_SIGNING_SECRET)
  --press ACTION      a block_actions press: ack, unack, snooze:1h, snooze:tomorrow, snooze:1w,
                      resolve:expected, resolve:real or resolve:noise
    --anomaly ID      the anomaly it is about, or * for every anomaly of the message (--channel, --ts)
    --user U…         the presser's Slack user id (default U0BURNRATE; a member alias maps it to an email)
    --channel C… --ts T   the message pressed (its <channel id>:<ts> in the delivery log)
  --payload-file FILE the interaction payload as JSON (- or no body option: stdin); sent as payload=<json>
  --body TEXT         the exact request body to sign (form-encoded)
  --url URL           where to post it (default ${DEFAULT_INTERACTIONS_URL})`;

/**
 * `burnrate slack sign`: the headers and curl line of a request signed like Slack's, to press a
 * button by hand (the README's on-call walk-through) or to check an endpoint behind a proxy.
 */
export async function slackCommand(
  sub: string | undefined,
  flags: Map<string, string | true>,
  io: CommandIO,
  env: SlackCommandEnv,
): Promise<number> {
  if (sub !== 'sign') {
    io.err(USAGE);
    return 2;
  }
  const secretFlag = flags.get('secret');
  const secret = typeof secretFlag === 'string' ? secretFlag : env.signingSecret;
  if (!secret) {
    io.err('no signing secret: pass --secret or set SLACK_SIGNING_SECRET (the Slack app’s Basic Information page)');
    return 2;
  }
  const body = await bodyFrom(flags, env, io);
  if (body === undefined) return 2;
  const urlFlag = flags.get('url');
  const url = typeof urlFlag === 'string' ? urlFlag : DEFAULT_INTERACTIONS_URL;
  if (!/^https?:\/\//.test(url)) {
    io.err(`--url must be an http(s) URL, not ${JSON.stringify(url)}`);
    return 2;
  }

  const timestamp = Math.floor(env.now().getTime() / 1000);
  const headers = signSlackRequest(secret, timestamp, body);
  io.out(`X-Slack-Request-Timestamp: ${headers['x-slack-request-timestamp']}`);
  io.out(`X-Slack-Signature: ${headers['x-slack-signature']}`);
  io.out('');
  io.out(`# valid until ${new Date((timestamp + SLACK_SIGNATURE_WINDOW_S) * 1000).toISOString()}`);
  io.out(
    [
      `curl -sS -X POST ${shellQuote(url)}`,
      `-H 'Content-Type: application/x-www-form-urlencoded'`,
      `-H ${shellQuote(`X-Slack-Request-Timestamp: ${headers['x-slack-request-timestamp']}`)}`,
      `-H ${shellQuote(`X-Slack-Signature: ${headers['x-slack-signature']}`)}`,
      `--data-raw ${shellQuote(body)}`,
    ].join(' \\\n  '),
  );
  return 0;
}

async function bodyFrom(flags: Map<string, string | true>, env: SlackCommandEnv, io: CommandIO): Promise<string | undefined> {
  const given = ['body', 'payload-file', 'press'].filter((f) => flags.has(f));
  if (given.length > 1) {
    io.err(`give one of --body, --payload-file or --press, not ${given.map((g) => `--${g}`).join(' and ')}`);
    return undefined;
  }
  const body = flags.get('body');
  if (body !== undefined) {
    if (body === true) {
      io.err('--body needs the request body, e.g. --body "payload=%7B…%7D"');
      return undefined;
    }
    return body;
  }
  if (flags.has('press')) return pressBody(flags, io, env.now());

  const file = flags.get('payload-file');
  const path = typeof file === 'string' ? file : '-';
  const text = (path === '-' ? await env.readStdin() : await env.readFile(path)).trim();
  if (text === '') {
    io.err(`${path === '-' ? 'stdin' : path} is empty: give the interaction payload as JSON\n\n${USAGE}`);
    return undefined;
  }
  try {
    JSON.parse(text);
  } catch (err) {
    io.err(`${path === '-' ? 'stdin' : path} is not JSON: ${(err as Error).message}`);
    return undefined;
  }
  return new URLSearchParams({ payload: text }).toString();
}

/** A block_actions payload as Slack sends it for a press on a Burnrate control. */
function pressBody(flags: Map<string, string | true>, io: CommandIO, now: Date): string | undefined {
  const text = (name: string): string | undefined => {
    const v = flags.get(name);
    return typeof v === 'string' ? v : undefined;
  };
  const press = text('press');
  const anomaly = text('anomaly');
  if (!press || !anomaly) {
    io.err('--press needs an action (ack, snooze:1h, resolve:noise …) and --anomaly ID (or * with --channel and --ts)');
    return undefined;
  }
  const value = `${press}|${anomaly}`;
  const action = parseSlackActionValue(value);
  if (!action) {
    io.err(
      `--press must be ack, unack, snooze:1h, snooze:tomorrow, snooze:1w, resolve:expected, resolve:real or resolve:noise, not ${JSON.stringify(press)}`,
    );
    return undefined;
  }
  const channel = text('channel') ?? 'C0BURNRATE';
  const ts = text('ts') ?? '0000000000.000000';
  if (anomaly === '*' && (!text('channel') || !text('ts'))) {
    io.err('--anomaly * acts on every anomaly of one message: give its --channel (id) and --ts');
    return undefined;
  }
  const user = text('user') ?? 'U0BURNRATE';
  // Each run is a new press (a new decision time); a retry of one is the same curl line again.
  const actionTs = (now.getTime() / 1000).toFixed(6);
  const payload = {
    type: 'block_actions',
    user: { id: user },
    container: { type: 'message', channel_id: channel, message_ts: ts },
    channel: { id: channel },
    actions: [{ action_id: SLACK_ACTIONS[action.verb], type: 'button', value, action_ts: actionTs }],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

/** Single-quoted for a POSIX shell. */
function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
