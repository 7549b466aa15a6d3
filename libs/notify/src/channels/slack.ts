import { BurnrateError, type Logger, SlackChannel } from '@burnrate/core';
import { ErrorCode, LogLevel, WebClient, type Logger as SlackLogger, type RetryOptions } from '@slack/web-api';
import { z } from 'zod';
import { type Channel, type ChannelDefinition, type Notification, receiverOf } from '../channel.ts';
import { renderSlack } from '../render-slack.ts';

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
 * message metadata `{ event_type: 'burnrate_anomaly', event_payload: { anomaly_id, version, receiver } }`.
 * The id it returns is `<channel id>:<ts>`, what chat.update needs to edit the message later
 * (acknowledged, snoozed).
 *
 * `reconcile` finds a message an earlier, unrecorded attempt posted, by that metadata, with
 * conversations.history (`include_all_metadata`). conversations.history takes only channel ids,
 * so a channel configured by name is resolved with conversations.list once per process (or
 * learned from an earlier post). Scopes: chat:write to send; channels:history / groups:history
 * and channels:read / groups:read to reconcile in public / private channels.
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

  return {
    name: 'slack',
    async send(n: Notification) {
      const channel = target(n);
      const message = renderSlack(n.anomaly, { reason: n.reason });
      const payload: SlackAnomalyPayload = { anomaly_id: n.anomaly.id, version: n.anomaly.version, receiver: receiverOf('slack', n) };
      let result;
      try {
        result = await client.chat.postMessage({
          channel,
          text: message.text,
          blocks: message.blocks,
          unfurl_links: false,
          unfurl_media: false,
          metadata: { event_type: SLACK_EVENT_TYPE, event_payload: { ...payload } },
        });
      } catch (err) {
        throw translateSlackError(err, channel);
      }
      if (result.channel && !CHANNEL_ID.test(channel)) channelIds.set(channel.replace(/^#/, ''), result.channel);
      return { id: `${result.channel ?? channel}:${result.ts ?? ''}` };
    },
    async reconcile(n: Notification, since: Date) {
      const channel = target(n);
      const id = await resolveChannelId(channel);
      const receiver = receiverOf('slack', n);
      const oldest = slackTs(new Date(since.getTime() - RECONCILE_LOOKBACK_MS));
      let cursor: string | undefined;
      for (let page = 0; page < HISTORY_MAX_PAGES; page++) {
        let result;
        try {
          result = await client.conversations.history({
            channel: id,
            oldest,
            include_all_metadata: true,
            limit: HISTORY_PAGE,
            ...(cursor ? { cursor } : {}),
          });
        } catch (err) {
          throw translateSlackError(err, channel, 'conversations.history');
        }
        for (const m of result.messages ?? []) {
          if (m.ts && isSameNotification(m.metadata, n.anomaly.id, n.anomaly.version, receiver)) return { id: `${id}:${m.ts}` };
        }
        cursor = result.has_more ? result.response_metadata?.next_cursor : undefined;
        if (!cursor) return undefined;
      }
      log.warn(
        { anomalyId: n.anomaly.id, version: n.anomaly.version, channel, messages: HISTORY_PAGE * HISTORY_MAX_PAGES },
        'reconcile gave up: too many messages in the channel since the attempt; the notification may be posted twice',
      );
      return undefined;
    },
    async close() {},
  };
}

function isSameNotification(metadata: unknown, anomalyId: string, version: number, receiver: string): boolean {
  const m = metadata as { event_type?: unknown; event_payload?: Partial<Record<keyof SlackAnomalyPayload, unknown>> } | undefined;
  if (m?.event_type !== SLACK_EVENT_TYPE || !m.event_payload) return false;
  const p = m.event_payload;
  return p.anomaly_id === anomalyId && Number(p.version) === version && p.receiver === receiver;
}

/** `{ channel: slack, to: "#payments" }`; `slack: { channel: "#payments" }` is shorthand for it. */
export const SlackReceiver = z.object({ channel: z.literal('slack'), to: SlackChannel }).strict();
export type SlackReceiver = z.infer<typeof SlackReceiver>;

/** On when SLACK_BOT_TOKEN is set; SLACK_API_URL points it elsewhere (a proxy, the stand-in in tests). */
export const slack: ChannelDefinition<SlackReceiver> = {
  name: 'slack',
  receiver: SlackReceiver,
  to: (r) => [r.to],
  create(_receivers, { env, log }) {
    const token = env.SLACK_BOT_TOKEN;
    if (!token) return { off: 'SLACK_BOT_TOKEN not set' };
    return { channel: createSlackChannel({ token, ...(env.SLACK_API_URL ? { slackApiUrl: env.SLACK_API_URL } : {}), log }), status: 'on' };
  },
};
