import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitUntil } from './wait-until.ts';

/** One HTTP request the stand-in received, whatever it answered. */
export interface SlackCall {
  method: string;
  contentType: string;
  authorization: string | undefined;
  /** The body decoded; JSON-encoded form fields (`blocks`, `attachments`, `metadata`) are parsed. */
  args: Record<string, unknown>;
  /** HTTP status the stand-in answered with. */
  status: number;
  /** `error` of an `ok: false` answer. */
  error: string | undefined;
  at: number;
}

/** A message as Slack would keep it after chat.postMessage / chat.update. */
export interface SlackMessage {
  /** The channel id Slack answered with (names such as `#payments` are mapped to a stable id). */
  channel: string;
  /** The channel as the caller named it. */
  channelName: string;
  ts: string;
  text: string;
  blocks: unknown[];
  /** How many times chat.update replaced it. */
  updates: number;
}

/** What the next call(s) answer instead of success. */
export type SlackFailure =
  | { status: 429; retryAfterSec: number }
  | { status: 500 | 502 | 503 | 504 }
  /** An HTTP 200 `{ ok: false, error }`, e.g. channel_not_found, not_in_channel, invalid_auth. */
  | { error: string };

export interface SlackStandInOptions {
  /** Bearer token the stand-in accepts (default `xoxb-test-token`). */
  token?: string;
  /** When set, posting elsewhere answers `channel_not_found`. Names (`#x`) or ids. */
  channels?: readonly string[];
}

export interface SlackStandIn {
  /** Pass as WebClient's `slackApiUrl`: `http://127.0.0.1:PORT/api/`. */
  url: string;
  token: string;
  calls: SlackCall[];
  /** Messages currently in the workspace, in post order. */
  messages: SlackMessage[];
  /** Calls of one Web API method, e.g. `chat.postMessage`. */
  callsTo(method: string): SlackCall[];
  /** Answers the next `n` calls (any method) with `failure`, then succeeds again. */
  failNext(n: number, failure: SlackFailure): void;
  waitFor(predicate: (m: SlackMessage) => boolean, timeoutMs?: number): Promise<SlackMessage>;
  close(): Promise<void>;
}

const JSON_FIELDS = new Set(['blocks', 'attachments', 'metadata']);

/**
 * A local HTTP server speaking enough of the Slack Web API for @slack/web-api pointed at it.
 * Faithful where the client depends on it: every method is a POST to /api/<method>; the client
 * sends `application/x-www-form-urlencoded` with objects (blocks) as JSON strings (JSON bodies
 * are accepted too); the token comes as `Authorization: Bearer` (or a `token` field); platform
 * errors are HTTP 200 `{ ok: false, error }`; rate limits are HTTP 429 with `Retry-After` in
 * seconds, which the client either sleeps on and retries or, with `rejectRateLimitedCalls`,
 * throws as a rate-limited error; any other non-200 status is an HTTP error to the client.
 */
export async function startSlackStandIn(options: SlackStandInOptions = {}): Promise<SlackStandIn> {
  const token = options.token ?? 'xoxb-test-token';
  const calls: SlackCall[] = [];
  const messages: SlackMessage[] = [];
  let failure: { remaining: number; what: SlackFailure } = { remaining: 0, what: { error: 'none' } };
  let tsCounter = 0;
  const known = options.channels ? new Set(options.channels.map((c) => channelId(c))) : undefined;

  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`stand-in failed: ${(err as Error).message}`);
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = url.pathname.replace(/^\/api\//, '');
    const contentType = String(req.headers['content-type'] ?? '');
    const body = await readBody(req);
    const args = decodeArgs(body, contentType);
    const call: SlackCall = {
      method,
      contentType,
      authorization: req.headers.authorization,
      args,
      status: 200,
      error: undefined,
      at: Date.now(),
    };
    calls.push(call);

    const answer = (status: number, payload: Record<string, unknown>, headers: Record<string, string> = {}) => {
      call.status = status;
      if (payload.ok === false) call.error = String(payload.error);
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify(payload));
    };

    if (req.method !== 'POST' || !url.pathname.startsWith('/api/')) {
      answer(404, { ok: false, error: 'unknown_method' });
      return;
    }
    if (failure.remaining > 0) {
      failure.remaining -= 1;
      const f = failure.what;
      if ('error' in f) answer(200, { ok: false, error: f.error });
      else if (f.status === 429) answer(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(f.retryAfterSec) });
      else answer(f.status, { ok: false, error: 'service_unavailable' });
      return;
    }

    const presented = bearer(call.authorization) ?? (typeof args.token === 'string' ? args.token : undefined);
    if (presented === undefined) return answer(200, { ok: false, error: 'not_authed' });
    if (presented !== token) return answer(200, { ok: false, error: 'invalid_auth' });

    switch (method) {
      case 'auth.test':
        return answer(200, {
          ok: true,
          url: 'https://burnrate-test.slack.com/',
          team: 'Burnrate Test',
          user: 'burnrate',
          team_id: 'T0000TEST',
          user_id: 'U0000BOT',
          bot_id: 'B0000BOT',
        });
      case 'chat.postMessage': {
        const channel = typeof args.channel === 'string' ? args.channel : '';
        if (channel === '') return answer(200, { ok: false, error: 'channel_not_found' });
        const id = channelId(channel);
        if (known && !known.has(id)) return answer(200, { ok: false, error: 'channel_not_found' });
        const text = typeof args.text === 'string' ? args.text : '';
        const blocks = Array.isArray(args.blocks) ? args.blocks : [];
        if (text === '' && blocks.length === 0) return answer(200, { ok: false, error: 'no_text' });
        tsCounter += 1;
        const ts = `${Math.floor(Date.now() / 1000)}.${String(tsCounter).padStart(6, '0')}`;
        const message: SlackMessage = { channel: id, channelName: channel, ts, text, blocks, updates: 0 };
        messages.push(message);
        return answer(200, { ok: true, channel: id, ts, message: { type: 'message', text, blocks, ts, bot_id: 'B0000BOT' } });
      }
      case 'chat.update': {
        const channel = typeof args.channel === 'string' ? channelId(args.channel) : '';
        const message = messages.find((m) => m.channel === channel && m.ts === args.ts);
        if (!message) return answer(200, { ok: false, error: 'message_not_found' });
        if (typeof args.text === 'string') message.text = args.text;
        if (Array.isArray(args.blocks)) message.blocks = args.blocks;
        message.updates += 1;
        return answer(200, {
          ok: true,
          channel: message.channel,
          ts: message.ts,
          text: message.text,
          message: { text: message.text, blocks: message.blocks },
        });
      }
      default:
        return answer(200, { ok: false, error: 'unknown_method' });
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/api/`,
    token,
    calls,
    messages,
    callsTo: (method) => calls.filter((c) => c.method === method),
    failNext(n, what) {
      failure = { remaining: n, what };
    },
    waitFor: (predicate, timeoutMs = 5_000) =>
      waitUntil(() => messages.find(predicate), {
        timeoutMs,
        message: `no Slack message matched within ${timeoutMs} ms (got ${messages.length})`,
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Slack answers with channel ids; a name maps to the same made-up id every time. */
export function channelId(channel: string): string {
  if (/^[CGD][A-Z0-9]{6,}$/.test(channel)) return channel;
  const name = channel.replace(/^#/, '');
  return `C${createHash('sha256').update(name).digest('hex').slice(0, 10).toUpperCase()}`;
}

function bearer(header: string | undefined): string | undefined {
  const m = header === undefined ? null : /^Bearer (.+)$/.exec(header);
  return m?.[1];
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function decodeArgs(body: string, contentType: string): Record<string, unknown> {
  if (body === '') return {};
  if (contentType.startsWith('application/json')) return JSON.parse(body) as Record<string, unknown>;
  const args: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(body)) {
    if (JSON_FIELDS.has(key)) {
      try {
        args[key] = JSON.parse(value);
        continue;
      } catch {
        // Slack itself answers invalid_blocks; keeping the raw text lets a test assert on it.
      }
    }
    args[key] = value;
  }
  return args;
}
