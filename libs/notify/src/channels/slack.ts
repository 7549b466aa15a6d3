import { BurnrateError, type Logger, SlackChannel } from '@burnrate/core';
import { ErrorCode, LogLevel, WebClient, type Logger as SlackLogger, type RetryOptions } from '@slack/web-api';
import { z } from 'zod';
import { type Channel, type ChannelDefinition, groupKey, type Notification, receiverOf } from '../channel.ts';
import { renderSlack, type SlackMessage } from '../render-slack.ts';

export interface SlackChannelOptions {
  /** Bot token (xoxb-…), from SLACK_BOT_TOKEN. */
  token: string;
  /** Defaults to Slack's; tests point it at the stand-in. */
  slackApiUrl?: string;
  log: Logger;
  /** Per-request timeout (default 10 s), so a hung connection becomes a retriable error. */
  timeoutMs?: number;
  /**
   * Retries inside the client. Default none: the notifier owns retries (bounded, with backoff
   * and Retry-After) so a failing send is never retried twice over and a rate limit comes back
   * as NOTIFY_RATE_LIMITED instead of a sleep hidden in the client.
   */
  retryConfig?: RetryOptions;
  /** The config's public_url: messages link to each anomaly's page. */
  publicUrl?: string | undefined;
}

// Platform errors that will not change by trying again: a human has to fix config or the app.
const REJECTED = new Set([
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'no_permission',
  'missing_scope',
  'restricted_action',
  'invalid_blocks',
  'invalid_arguments',
  'msg_too_long',
  'no_text',
  // chat.update of a message that is gone or not ours; a reply to a malformed thread_ts.
  'message_not_found',
  'cant_update_message',
  'edit_window_closed',
  'invalid_thread_ts',
  'thread_not_found',
]);
// Platform errors Slack documents as transient.
const TRANSIENT = new Set(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'team_added_to_org']);

/**
 * Translates what @slack/web-api throws into a BurnrateError, so the notifier decides from
 * `retriable` alone: rate limited → NOTIFY_RATE_LIMITED with retryAfterMs; 5xx and network →
 * NOTIFY_UNAVAILABLE; config problems (channel_not_found, invalid_auth, not_in_channel, …) →
 * NOTIFY_REJECTED. An unknown platform error is treated as rejected: retrying it would loop.
 */
export function translateSlackError(err: unknown, channel: string, method = 'chat.postMessage'): BurnrateError {
  const code = (err as { code?: unknown } | undefined)?.code;
  const where = `Slack ${method} ${method === 'chat.postMessage' ? 'to' : 'for'} ${channel}`;
  if (code === ErrorCode.RateLimitedError) {
    const retryAfterSec = Number((err as { retryAfter?: unknown }).retryAfter);
    const retryAfterMs = Number.isFinite(retryAfterSec) ? retryAfterSec * 1000 : undefined;
    return new BurnrateError('NOTIFY_RATE_LIMITED', `${where} was rate limited (retry after ${retryAfterSec}s)`, {
      cause: err,
      retryAfterMs,
    });
  }
  if (code === ErrorCode.HTTPError) {
    const status = Number((err as { statusCode?: unknown }).statusCode);
    if (status >= 500 || status === 408) {
      return new BurnrateError('NOTIFY_UNAVAILABLE', `${where} failed with HTTP ${status}`, { cause: err, details: { status } });
    }
    return new BurnrateError('NOTIFY_REJECTED', `${where} was refused with HTTP ${status}`, { cause: err, details: { status } });
  }
  if (code === ErrorCode.RequestError) {
    return new BurnrateError('NOTIFY_UNAVAILABLE', `${where} failed: ${(err as Error).message}`, { cause: err });
  }
  if (code === ErrorCode.PlatformError) {
    const reported = (err as { data?: { error?: unknown } }).data?.error;
    const slackError = typeof reported === 'string' ? reported : 'unknown_error';
    if (slackError === 'ratelimited') {
      return new BurnrateError('NOTIFY_RATE_LIMITED', `${where} was rate limited (ratelimited)`, { cause: err, details: { slackError } });
    }
    if (TRANSIENT.has(slackError)) {
      return new BurnrateError('NOTIFY_UNAVAILABLE', `${where} failed: ${slackError}`, { cause: err, details: { slackError } });
    }
    const hint = REJECTED.has(slackError) ? '' : ' (unrecognised Slack error, not retried)';
    return new BurnrateError('NOTIFY_REJECTED', `${where} was rejected: ${slackError}${hint}`, { cause: err, details: { slackError } });
  }
  return new BurnrateError('NOTIFY_UNAVAILABLE', `${where} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

/** Routes the Slack client's own log lines into pino at the same level, under component=slack. */
export function slackLogger(log: Logger): SlackLogger {
  let level = LogLevel.DEBUG;
  const text = (msg: unknown[]) => msg.map((m) => (typeof m === 'string' ? m : JSON.stringify(m))).join(' ');
  return {
    debug: (...msg: unknown[]) => log.debug(text(msg)),
    info: (...msg: unknown[]) => log.info(text(msg)),
    warn: (...msg: unknown[]) => log.warn(text(msg)),
    error: (...msg: unknown[]) => log.error(text(msg)),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => {},
  };
}

/** `event_type` of the message metadata every Burnrate message carries. */
export const SLACK_EVENT_TYPE = 'burnrate_anomaly';

/** What a Burnrate message says about itself in its Slack message metadata. */
export interface SlackAnomalyPayload {
  anomaly_id: string;
  version: number;
  receiver: string;
  /**
   * Why it was sent. A reminder carries the version its parent carried, so without the reason
   * reconciling a reminder could find the message it reminds of. Absent on messages posted before it.
   */
  reason?: string;
  /**
   * A group message: a hash of every member's id and version (`groupKey`), since the first
   * member's id and version alone do not tell two messages of a growing group apart.
   */
  group?: string;
}

/** What `send` returned for a message: `<channel id>:<ts>`, read back for chat.update and thread_ts. */
export function parseSlackMessageId(id: string): { channel: string; ts: string } | undefined {
  const m = /^([CGD][A-Z0-9]{6,}):(\d+\.\d+)$/.exec(id);
  return m?.[1] && m[2] ? { channel: m[1], ts: m[2] } : undefined;
}

// Slack stamps ts with its own clock: looking a minute before the attempt began keeps clock skew
// between us and Slack from hiding the message.
const RECONCILE_LOOKBACK_MS = 60_000;
const HISTORY_PAGE = 200;
// Bounds a reconciliation to 2,000 messages posted since the attempt; past that the message is
// assumed absent (logged), so a very busy channel costs a possible duplicate, never a loss.
const HISTORY_MAX_PAGES = 10;
const LIST_PAGE = 1000;
const LIST_MAX_PAGES = 20;

const CHANNEL_ID = /^[CGD][A-Z0-9]{6,}$/;

/** A Slack timestamp (`seconds.microseconds`) for a moment. */
export function slackTs(at: Date): string {
  return (at.getTime() / 1000).toFixed(6);
}

/**
 * The Slack channel: one chat.postMessage per notification with the Block Kit rendering and
 * message metadata `{ event_type: 'burnrate_anomaly', event_payload: { anomaly_id, version, receiver, reason, group? } }`.
 * The id it returns is `<channel id>:<ts>`, what chat.update needs to edit the message later
 * (acknowledged, snoozed). A notification with `thread` is a compact reply in the thread of
 * `thread.parentId` (`thread_ts`), also shown in the channel when `thread.broadcast`
 * (`reply_broadcast`); if the parent was deleted, it is posted as a message of its own instead.
 * `update` re-renders a sent message in place with chat.update (the latest version, who
 * acknowledged, until when snoozed); the metadata stays that of the original post.
 *
 * `reconcile` finds a message an earlier, unrecorded attempt posted, by that metadata, with
 * conversations.history (`include_all_metadata`), or conversations.replies of the parent for a
 * thread reply (a reply is in the channel's history only when broadcast). conversations.history
 * takes only channel ids, so a channel configured by name is resolved with conversations.list
 * once per process (or learned from an earlier post). Scopes: chat:write to send and update;
 * channels:history / groups:history and channels:read / groups:read to reconcile in public /
 * private channels.
 */
export function createSlackChannel(options: SlackChannelOptions): Channel {
  const log = options.log.child({ component: 'slack' });
  const client = new WebClient(options.token, {
    ...(options.slackApiUrl ? { slackApiUrl: options.slackApiUrl } : {}),
    logger: slackLogger(log),
    timeout: options.timeoutMs ?? 10_000,
    retryConfig: options.retryConfig ?? { retries: 0 },
    rejectRateLimitedCalls: true,
  });
  // Channel name (without #) → id, from posts and conversations.list.
  const channelIds = new Map<string, string>();

  function target(n: Notification): string {
    const [channel, ...extra] = n.to;
    if (channel === undefined || extra.length > 0) {
      throw new BurnrateError('NOTIFY_REJECTED', `a Slack notification goes to exactly one channel, got ${n.to.length}`);
    }
    return channel;
  }

  async function resolveChannelId(channel: string): Promise<string> {
    if (CHANNEL_ID.test(channel)) return channel;
    const name = channel.replace(/^#/, '');
    const known = channelIds.get(name);
    if (known) return known;
    let cursor: string | undefined;
    for (let page = 0; page < LIST_MAX_PAGES; page++) {
      let result;
      try {
        result = await client.conversations.list({
          types: 'public_channel,private_channel',
          exclude_archived: true,
          limit: LIST_PAGE,
          ...(cursor ? { cursor } : {}),
        });
      } catch (err) {
        throw translateSlackError(err, channel, 'conversations.list');
      }
      for (const c of result.channels ?? []) if (c.name && c.id) channelIds.set(c.name, c.id);
      const found = channelIds.get(name);
      if (found) return found;
      cursor = result.response_metadata?.next_cursor;
      if (!cursor) break;
    }
    throw new BurnrateError(
      'NOTIFY_REJECTED',
      `Slack channel ${channel} is not in conversations.list (archived, renamed, or private without the app)`,
    );
  }

  function render(n: Notification, reply: boolean): SlackMessage {
    return renderSlack(n.anomaly, {
      reason: n.reason,
      ...(n.group ? { group: n.group } : {}),
      ...(n.lifecycle ? { lifecycle: n.lifecycle } : {}),
      ...(n.escalation ? { escalation: n.escalation } : {}),
      reply,
      publicUrl: options.publicUrl,
      ...(n.context ? { context: n.context } : {}),
    });
  }

  function payloadOf(n: Notification): SlackAnomalyPayload {
    return {
      anomaly_id: n.anomaly.id,
      version: n.anomaly.version,
      receiver: receiverOf('slack', n),
      reason: n.reason,
      ...(n.group && n.group.length > 1 ? { group: groupKey(n.group) } : {}),
    };
  }

  function parentOf(n: Notification): { channel: string; ts: string } | undefined {
    if (!n.thread) return undefined;
    const parent = parseSlackMessageId(n.thread.parentId);
    if (!parent) {
      throw new BurnrateError(
        'NOTIFY_REJECTED',
        `a Slack thread reply needs the parent as <channel id>:<ts>, got ${JSON.stringify(n.thread.parentId)}`,
      );
    }
    return parent;
  }

  async function post(n: Notification, channel: string, thread: { ts: string; broadcast: boolean } | undefined) {
    const message = render(n, thread !== undefined);
    const args = {
      channel,
      text: message.text,
      blocks: message.blocks,
      unfurl_links: false,
      unfurl_media: false,
      metadata: { event_type: SLACK_EVENT_TYPE, event_payload: { ...payloadOf(n) } },
    };
    try {
      if (!thread) return await client.chat.postMessage(args);
      if (thread.broadcast) return await client.chat.postMessage({ ...args, thread_ts: thread.ts, reply_broadcast: true });
      return await client.chat.postMessage({ ...args, thread_ts: thread.ts });
    } catch (err) {
      throw translateSlackError(err, channel);
    }
  }

  async function findIn(
    method: 'conversations.history' | 'conversations.replies',
    n: Notification,
    channel: string,
    id: string,
    threadTs: string | undefined,
    since: Date,
  ): Promise<{ id: string } | undefined> {
    const expected = payloadOf(n);
    const oldest = slackTs(new Date(since.getTime() - RECONCILE_LOOKBACK_MS));
    let cursor: string | undefined;
    for (let page = 0; page < HISTORY_MAX_PAGES; page++) {
      const args = { channel: id, oldest, include_all_metadata: true, limit: HISTORY_PAGE, ...(cursor ? { cursor } : {}) };
      let result;
      try {
        result =
          threadTs === undefined ? await client.conversations.history(args) : await client.conversations.replies({ ...args, ts: threadTs });
      } catch (err) {
        throw translateSlackError(err, channel, method);
      }
      for (const m of result.messages ?? []) {
        if (m.ts && isSameNotification(m.metadata, expected)) return { id: `${id}:${m.ts}` };
      }
      cursor = result.has_more ? result.response_metadata?.next_cursor : undefined;
      if (!cursor) return undefined;
    }
    log.warn(
      { anomalyId: n.anomaly.id, version: n.anomaly.version, channel, method, messages: HISTORY_PAGE * HISTORY_MAX_PAGES },
      'reconcile gave up: too many messages since the attempt; the notification may be posted twice',
    );
    return undefined;
  }

  return {
    name: 'slack',
    async send(n: Notification) {
      const channel = target(n);
      const parent = parentOf(n);
      let result;
      try {
        result = await post(n, channel, parent && n.thread ? { ts: parent.ts, broadcast: n.thread.broadcast } : undefined);
      } catch (err) {
        // The episode's first message was deleted: the news still goes out, as a message of its own.
        if (!(parent && err instanceof BurnrateError && slackErrorOf(err) === 'thread_not_found')) throw err;
        log.warn(
          { anomalyId: n.anomaly.id, version: n.anomaly.version, channel, parent: n.thread?.parentId },
          'thread parent is gone; posting on its own',
        );
        result = await post(n, channel, undefined);
      }
      if (result.channel && !CHANNEL_ID.test(channel)) channelIds.set(channel.replace(/^#/, ''), result.channel);
      return { id: `${result.channel ?? channel}:${result.ts ?? ''}` };
    },
    async update(messageId: string, n: Notification) {
      const sent = parseSlackMessageId(messageId);
      if (!sent) throw new BurnrateError('NOTIFY_REJECTED', `a Slack message id is <channel id>:<ts>, got ${JSON.stringify(messageId)}`);
      const message = render(n, false);
      try {
        await client.chat.update({ channel: sent.channel, ts: sent.ts, text: message.text, blocks: message.blocks });
      } catch (err) {
        throw translateSlackError(err, sent.channel, 'chat.update');
      }
    },
    async reconcile(n: Notification, since: Date) {
      const channel = target(n);
      const parent = parentOf(n);
      if (parent) {
        try {
          return await findIn('conversations.replies', n, channel, parent.channel, parent.ts, since);
        } catch (err) {
          // The parent is gone, so an earlier attempt posted on its own (see send).
          if (!(err instanceof BurnrateError && slackErrorOf(err) === 'thread_not_found')) throw err;
        }
      }
      return findIn('conversations.history', n, channel, await resolveChannelId(channel), undefined, since);
    },
    async close() {},
  };
}

function slackErrorOf(err: BurnrateError): unknown {
  return (err.details as { slackError?: unknown } | undefined)?.slackError;
}

function isSameNotification(metadata: unknown, expected: SlackAnomalyPayload): boolean {
  const m = metadata as { event_type?: unknown; event_payload?: Partial<Record<keyof SlackAnomalyPayload, unknown>> } | undefined;
  if (m?.event_type !== SLACK_EVENT_TYPE || !m.event_payload) return false;
  const p = m.event_payload;
  return (
    p.anomaly_id === expected.anomaly_id &&
    Number(p.version) === expected.version &&
    p.receiver === expected.receiver &&
    // Messages posted before the reason was recorded match any reason.
    (p.reason === undefined || p.reason === expected.reason) &&
    p.group === expected.group
  );
}

/** `{ channel: slack, to: "#payments" }`; `slack: { channel: "#payments" }` is shorthand for it. */
export const SlackReceiver = z
  .object({
    channel: z.literal('slack').describe('Post to a Slack channel (SLACK_BOT_TOKEN; the bot must be invited).'),
    to: SlackChannel.meta({ description: 'The channel: #name, or a channel id.', examples: ['#payments-ai-spend', 'C0123ABCD'] }),
  })
  .strict();
export type SlackReceiver = z.infer<typeof SlackReceiver>;

/** On when SLACK_BOT_TOKEN is set; SLACK_API_URL points it elsewhere (a proxy, the stand-in in tests). */
export const slack: ChannelDefinition<SlackReceiver> = {
  name: 'slack',
  receiver: SlackReceiver,
  to: (r) => [r.to],
  create(_receivers, { env, log, publicUrl }) {
    const token = env.SLACK_BOT_TOKEN;
    if (!token) return { off: 'SLACK_BOT_TOKEN not set' };
    return {
      channel: createSlackChannel({ token, ...(env.SLACK_API_URL ? { slackApiUrl: env.SLACK_API_URL } : {}), log, publicUrl }),
      status: 'on',
    };
  },
};
