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
  /** Message metadata as posted (`{ event_type, event_payload }`), when there was any. */
  metadata: SlackMessageMetadata | undefined;
  /** How many times chat.update replaced it. */
  updates: number;
  /** The ts of the thread's parent, for a reply (chat.postMessage with `thread_ts`). */
  threadTs: string | undefined;
  /** A reply also shown in the channel (`reply_broadcast`). */
  replyBroadcast: boolean;
}

export interface SlackMessageMetadata {
  event_type: string;
  event_payload: Record<string, unknown>;
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
  /**
   * When set, posting elsewhere answers `channel_not_found`. Names (`#x`) or ids. Otherwise a
   * channel exists once something was posted to it.
   */
  channels?: readonly string[];
  /**
   * The workspace's people, by user id, for users.info (`{ U0ALICE: { email: 'alice@acme.com' } }`).
   * A user without an email answers as Slack does for a token without users:read.email: a
   * profile with no email. Anyone else is user_not_found.
   */
  users?: Readonly<Record<string, { name?: string; email?: string }>>;
  /** Port on 127.0.0.1 (default: any free one). */
  port?: number;
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
  /**
   * Answers the next `n` calls with `failure`, then succeeds again: calls of any method, or
   * only of `method` (`chat.update`) when it is given, other methods answering as usual.
   * Failures still pending from an earlier call are used up first.
   */
  failNext(n: number, failure: SlackFailure, method?: string): void;
  /** Drops every failure still pending: from now on each call answers as usual (Slack is back). */
  clearFailures(): void;
  /** The replies in the thread of the message with ts `parentTs`, oldest first. */
  repliesTo(parentTs: string): SlackMessage[];
  waitFor(predicate: (m: SlackMessage) => boolean, timeoutMs?: number): Promise<SlackMessage>;
  close(): Promise<void>;
}

const JSON_FIELDS = new Set(['blocks', 'attachments', 'metadata']);

/**
 * A local HTTP server speaking enough of the Slack Web API for @slack/web-api pointed at it.
 * Faithful where the client depends on it: every method is a POST to /api/<method>; the client
 * sends `application/x-www-form-urlencoded` with objects (blocks, metadata) as JSON strings and
 * booleans as `true`/`false` (JSON bodies are accepted too); the token comes as
 * `Authorization: Bearer` (or a `token` field); platform errors are HTTP 200 `{ ok: false, error }`;
 * rate limits are HTTP 429 with `Retry-After` in seconds, which the client either sleeps on and
 * retries or, with `rejectRateLimitedCalls`, throws as a rate-limited error; any other non-200
 * status is an HTTP error to the client.
 *
 * Methods: auth.test, chat.postMessage (keeps `metadata`; `thread_ts` and `reply_broadcast`),
 * chat.update, conversations.list, conversations.history, conversations.replies and users.info. As on
 * Slack, conversations.history takes a channel id only (a `#name` answers channel_not_found),
 * returns messages newest first, excludes `oldest` / `latest` unless `inclusive`, pages with
 * `has_more` and `response_metadata.next_cursor`, includes each message's `metadata` only with
 * `include_all_metadata`, and leaves out thread replies unless they were broadcast.
 * conversations.replies (channel id and the parent's `ts`) returns the parent and its replies
 * oldest first, the parent always first on the first page, the replies within `oldest` /
 * `latest`. A reply to a message that does not exist answers thread_not_found, a malformed
 * `thread_ts` invalid_thread_ts. chat.update takes a channel id and the message's ts
 * (message_not_found otherwise), replaces text and blocks and keeps the metadata unless given.
 */
export async function startSlackStandIn(options: SlackStandInOptions = {}): Promise<SlackStandIn> {
  const token = options.token ?? 'xoxb-test-token';
  const calls: SlackCall[] = [];
  const messages: SlackMessage[] = [];
  let failures: Array<{ remaining: number; what: SlackFailure; method: string | undefined }> = [];
  let lastTsMicros = 0;
  const known = options.channels ? new Set(options.channels.map((c) => channelId(c))) : undefined;
  // Channel id → name, for conversations.list: configured names, then names posted to.
  const names = new Map<string, string>();
  for (const c of options.channels ?? []) if (!CHANNEL_ID.test(c)) names.set(channelId(c), c.replace(/^#/, ''));
  const exists = (id: string) => (known ? known.has(id) : names.has(id) || messages.some((m) => m.channel === id));

  // Slack's ts is seconds.microseconds, unique and increasing within a channel.
  const nextTs = (): string => {
    lastTsMicros = Math.max(lastTsMicros + 1, Date.now() * 1000);
    return `${Math.floor(lastTsMicros / 1e6)}.${String(lastTsMicros % 1e6).padStart(6, '0')}`;
  };

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
    const failure = failures.find((f) => f.remaining > 0 && (f.method === undefined || f.method === method));
    if (failure) {
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
          team_id: TEAM_ID,
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
        let metadata: SlackMessageMetadata | undefined;
        if (args.metadata !== undefined) {
          metadata = parseMetadata(args.metadata);
          if (!metadata) return answer(200, { ok: false, error: 'invalid_metadata_format' });
        }
        let threadTs: string | undefined;
        if (args.thread_ts !== undefined && args.thread_ts !== '') {
          if (typeof args.thread_ts !== 'string' || !TS.test(args.thread_ts)) return answer(200, { ok: false, error: 'invalid_thread_ts' });
          const parent = messages.find((m) => m.channel === id && m.ts === args.thread_ts);
          if (!parent) return answer(200, { ok: false, error: 'thread_not_found' });
          // A reply to a reply joins the parent's thread, as on Slack.
          threadTs = parent.threadTs ?? parent.ts;
        }
        const ts = nextTs();
        const message: SlackMessage = {
          channel: id,
          channelName: channel,
          ts,
          text,
          blocks,
          metadata,
          updates: 0,
          threadTs,
          replyBroadcast: threadTs !== undefined && flag(args.reply_broadcast),
        };
        messages.push(message);
        if (!CHANNEL_ID.test(channel)) names.set(id, channel.replace(/^#/, ''));
        return answer(200, { ok: true, channel: id, ts, message: { ...asHistoryMessage(message, true), team: TEAM_ID } });
      }
      case 'conversations.history': {
        const channel = typeof args.channel === 'string' ? args.channel : '';
        // Only ids: Slack answers channel_not_found for a #name here, unlike chat.postMessage.
        if (!CHANNEL_ID.test(channel) || !exists(channel)) return answer(200, { ok: false, error: 'channel_not_found' });
        const limit = clampLimit(args.limit, 100, 999);
        if (limit === undefined) return answer(200, { ok: false, error: 'invalid_limit' });
        const inclusive = flag(args.inclusive);
        const oldest = typeof args.oldest === 'string' && args.oldest !== '' ? Number(args.oldest) : 0;
        let latest = typeof args.latest === 'string' && args.latest !== '' ? Number(args.latest) : Number.POSITIVE_INFINITY;
        let latestInclusive = inclusive;
        const cursor = typeof args.cursor === 'string' && args.cursor !== '' ? decodeCursor(args.cursor) : undefined;
        if (typeof args.cursor === 'string' && args.cursor !== '' && cursor === undefined) {
          return answer(200, { ok: false, error: 'invalid_cursor' });
        }
        if (cursor !== undefined) {
          latest = cursor;
          latestInclusive = true;
        }
        const inWindow = messages
          .filter((m) => m.channel === channel && (m.threadTs === undefined || m.replyBroadcast))
          .filter((m) => {
            const ts = Number(m.ts);
            return (inclusive ? ts >= oldest : ts > oldest) && (latestInclusive ? ts <= latest : ts < latest);
          })
          .sort((x, y) => Number(y.ts) - Number(x.ts));
        const page = inWindow.slice(0, limit);
        const next = inWindow[limit];
        const withMetadata = flag(args.include_all_metadata);
        return answer(200, {
          ok: true,
          messages: page.map((m) => asHistoryMessage(m, withMetadata)),
          has_more: next !== undefined,
          pin_count: 0,
          channel_actions_ts: null,
          channel_actions_count: 0,
          response_metadata: { next_cursor: next ? encodeCursor(next.ts) : '' },
        });
      }
      case 'conversations.replies': {
        const channel = typeof args.channel === 'string' ? args.channel : '';
        if (!CHANNEL_ID.test(channel) || !exists(channel)) return answer(200, { ok: false, error: 'channel_not_found' });
        const parent = messages.find((m) => m.channel === channel && m.ts === args.ts);
        if (!parent) return answer(200, { ok: false, error: 'thread_not_found' });
        const root = parent.threadTs ?? parent.ts;
        const limit = clampLimit(args.limit, 1000, 1000);
        if (limit === undefined) return answer(200, { ok: false, error: 'invalid_limit' });
        const inclusive = flag(args.inclusive);
        const oldest = typeof args.oldest === 'string' && args.oldest !== '' ? Number(args.oldest) : 0;
        const latest = typeof args.latest === 'string' && args.latest !== '' ? Number(args.latest) : Number.POSITIVE_INFINITY;
        const cursor = typeof args.cursor === 'string' && args.cursor !== '' ? decodeCursor(args.cursor) : undefined;
        if (typeof args.cursor === 'string' && args.cursor !== '' && cursor === undefined) {
          return answer(200, { ok: false, error: 'invalid_cursor' });
        }
        const replies = messages
          .filter((m) => m.channel === channel && m.threadTs === root)
          .filter((m) => {
            const ts = Number(m.ts);
            return (inclusive ? ts >= oldest && ts <= latest : ts > oldest && ts < latest) && (cursor === undefined || ts >= cursor);
          })
          .sort((x, y) => Number(x.ts) - Number(y.ts));
        const head = messages.find((m) => m.channel === channel && m.ts === root);
        const page = replies.slice(0, limit);
        const next = replies[limit];
        const withMetadata = flag(args.include_all_metadata);
        return answer(200, {
          ok: true,
          messages: [...(cursor === undefined && head ? [head] : []), ...page].map((m) => asHistoryMessage(m, withMetadata)),
          has_more: next !== undefined,
          response_metadata: { next_cursor: next ? encodeCursor(next.ts) : '' },
        });
      }
      case 'conversations.list': {
        const limit = clampLimit(args.limit, 100, 1000);
        if (limit === undefined) return answer(200, { ok: false, error: 'invalid_limit' });
        const types = (typeof args.types === 'string' && args.types !== '' ? args.types : 'public_channel').split(',');
        // Every stand-in channel is public.
        const all = types.includes('public_channel') ? [...names].sort(([a], [b]) => a.localeCompare(b)) : [];
        const start =
          typeof args.cursor === 'string' && args.cursor !== ''
            ? Number(
                Buffer.from(args.cursor, 'base64')
                  .toString('utf8')
                  .replace(/^offset:/, ''),
              )
            : 0;
        if (!Number.isInteger(start) || start < 0) return answer(200, { ok: false, error: 'invalid_cursor' });
        const page = all.slice(start, start + limit);
        const more = start + limit < all.length;
        return answer(200, {
          ok: true,
          channels: page.map(([id, name]) => ({
            id,
            name,
            is_channel: true,
            is_group: false,
            is_im: false,
            is_private: false,
            is_archived: false,
            is_member: true,
            context_team_id: TEAM_ID,
          })),
          response_metadata: { next_cursor: more ? Buffer.from(`offset:${start + limit}`).toString('base64') : '' },
        });
      }
      case 'users.info': {
        const id = typeof args.user === 'string' ? args.user : '';
        const person = options.users?.[id];
        if (!person) return answer(200, { ok: false, error: 'user_not_found' });
        const name = person.name ?? id.toLowerCase();
        return answer(200, {
          ok: true,
          user: {
            id,
            team_id: TEAM_ID,
            name,
            real_name: name,
            is_bot: false,
            profile: { real_name: name, display_name: name, ...(person.email ? { email: person.email } : {}) },
          },
        });
      }
      case 'chat.update': {
        // Slack edits a message by channel id and ts; a #name is not found.
        const channel = typeof args.channel === 'string' ? args.channel : '';
        if (!CHANNEL_ID.test(channel) || !exists(channel)) return answer(200, { ok: false, error: 'channel_not_found' });
        const message = messages.find((m) => m.channel === channel && m.ts === args.ts);
        if (!message) return answer(200, { ok: false, error: 'message_not_found' });
        const text = typeof args.text === 'string' ? args.text : '';
        const blocks = Array.isArray(args.blocks) ? args.blocks : undefined;
        if (text === '' && (blocks === undefined || blocks.length === 0)) return answer(200, { ok: false, error: 'no_text' });
        if (args.metadata !== undefined) {
          const metadata = parseMetadata(args.metadata);
          if (!metadata) return answer(200, { ok: false, error: 'invalid_metadata_format' });
          message.metadata = metadata;
        }
        message.text = text;
        if (blocks !== undefined) message.blocks = blocks;
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
    server.listen(options.port ?? 0, '127.0.0.1', () => {
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
    failNext(n, what, method) {
      failures = [...failures.filter((f) => f.remaining > 0), { remaining: n, what, method }];
    },
    clearFailures() {
      failures = [];
    },
    repliesTo: (parentTs) => messages.filter((m) => m.threadTs === parentTs).sort((x, y) => Number(x.ts) - Number(y.ts)),
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

const CHANNEL_ID = /^[CGD][A-Z0-9]{6,}$/;
const TS = /^\d+\.\d+$/;
const TEAM_ID = 'T0000TEST';

/** Slack answers with channel ids; a name maps to the same made-up id every time. */
export function channelId(channel: string): string {
  if (CHANNEL_ID.test(channel)) return channel;
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

/** A message as conversations.history shows it; metadata only when asked for, as on Slack. */
function asHistoryMessage(m: SlackMessage, withMetadata: boolean): Record<string, unknown> {
  return {
    type: 'message',
    subtype: 'bot_message',
    text: m.text,
    blocks: m.blocks,
    ts: m.ts,
    ...(m.threadTs !== undefined ? { thread_ts: m.threadTs, ...(m.replyBroadcast ? { subtype: 'thread_broadcast' } : {}) } : {}),
    bot_id: 'B0000BOT',
    app_id: 'A0000APP',
    user: 'U0000BOT',
    ...(withMetadata && m.metadata ? { metadata: m.metadata } : {}),
  };
}

function parseMetadata(value: unknown): SlackMessageMetadata | undefined {
  const m = value as { event_type?: unknown; event_payload?: unknown } | null;
  if (typeof m !== 'object' || m === null || typeof m.event_type !== 'string' || m.event_type === '') return undefined;
  if (typeof m.event_payload !== 'object' || m.event_payload === null || Array.isArray(m.event_payload)) return undefined;
  return { event_type: m.event_type, event_payload: m.event_payload as Record<string, unknown> };
}

/** Form-encoded booleans arrive as `true` / `1`; JSON bodies as booleans. */
function flag(value: unknown): boolean {
  return value === true || value === 'true' || value === '1' || value === 1;
}

function clampLimit(value: unknown, fallback: number, max: number): number | undefined {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) return undefined;
  return n === 0 ? fallback : Math.min(n, max);
}

// Slack's history cursors are base64 of `next_ts:<ts without the dot>`.
function encodeCursor(ts: string): string {
  return Buffer.from(`next_ts:${ts.replace('.', '')}`).toString('base64');
}

function decodeCursor(cursor: string): number | undefined {
  const m = /^next_ts:(\d{7,})$/.exec(Buffer.from(cursor, 'base64').toString('utf8'));
  if (!m?.[1]) return undefined;
  return Number(`${m[1].slice(0, -6)}.${m[1].slice(-6)}`);
}
