import { BurnrateError, type Logger } from '@burnrate/core';
import { ErrorCode, LogLevel, WebClient, type Logger as SlackLogger, type RetryOptions } from '@slack/web-api';
import type { Channel, Notification } from './channel.ts';
import { renderSlack } from './render-slack.ts';

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
export function translateSlackError(err: unknown, channel: string): BurnrateError {
  const code = (err as { code?: unknown } | undefined)?.code;
  const where = `Slack chat.postMessage to ${channel}`;
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

/**
 * The Slack channel: one chat.postMessage per notification with the Block Kit rendering.
 * The id it returns is `<channel id>:<ts>`, what chat.update needs to edit the message later
 * (acknowledged, snoozed).
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

  return {
    name: 'slack',
    async send(n: Notification) {
      const [channel, ...extra] = n.to;
      if (channel === undefined || extra.length > 0) {
        throw new BurnrateError('NOTIFY_REJECTED', `a Slack notification goes to exactly one channel, got ${n.to.length}`);
      }
      const message = renderSlack(n.anomaly, { reason: n.reason });
      let result;
      try {
        result = await client.chat.postMessage({
          channel,
          text: message.text,
          blocks: message.blocks,
          unfurl_links: false,
          unfurl_media: false,
        });
      } catch (err) {
        throw translateSlackError(err, channel);
      }
      return { id: `${result.channel ?? channel}:${result.ts ?? ''}` };
    },
    async close() {},
  };
}
