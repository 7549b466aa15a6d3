import type { ConfigSource, Logger } from '@burnrate/core';
import { slackLogger } from '@burnrate/notify';
import { WebClient } from '@slack/web-api';

/** Who a Slack user is in Burnrate's terms: what a decision made from Slack records as `by`. */
export interface SlackUserDirectory {
  /**
   * The member email of a Slack user id: a member whose aliases include the id, else the email
   * Slack's users.info gives (with SLACK_BOT_TOKEN and the users:read.email scope), else
   * `slack:<user id>`. Never rejects: a Slack that does not answer costs the name, not the press.
   */
  identify(userId: string): Promise<string>;
}

export interface SlackUserDirectoryOptions {
  config: ConfigSource;
  log: Logger;
  /** SLACK_BOT_TOKEN; without it only the config's aliases are known. */
  botToken?: string | undefined;
  /** SLACK_API_URL: the Web API base (the stand-in in tests). */
  slackApiUrl?: string | undefined;
  /** users.info's deadline: the whole press must be answered within Slack's 3 s. Default 1 s. */
  timeoutMs?: number;
  now?: () => number;
}

// Emails of people change rarely; a failed lookup is retried after a few minutes so that a
// Slack retry of the same press (seconds later) records the same `by`.
const FOUND_TTL_MS = 24 * 3_600_000;
const NOT_FOUND_TTL_MS = 5 * 60_000;
const MAX_CACHED = 5_000;

export function createSlackUserDirectory(options: SlackUserDirectoryOptions): SlackUserDirectory {
  const log = options.log.child({ component: 'slack-users' });
  const now = options.now ?? Date.now;
  const client = options.botToken
    ? new WebClient(options.botToken, {
        ...(options.slackApiUrl ? { slackApiUrl: options.slackApiUrl } : {}),
        logger: slackLogger(log),
        timeout: options.timeoutMs ?? 1_000,
        retryConfig: { retries: 0 },
        rejectRateLimitedCalls: true,
      })
    : undefined;
  const cache = new Map<string, { by: string; until: number }>();

  function fromAliases(userId: string): string | undefined {
    for (const team of options.config.current().teams) {
      for (const member of team.members) {
        if (typeof member !== 'string' && member.aliases.includes(userId)) return member.email;
      }
    }
    return undefined;
  }

  async function fromSlack(userId: string): Promise<string | undefined> {
    if (!client) return undefined;
    try {
      const answer = await client.users.info({ user: userId });
      const email = answer.user?.profile?.email;
      if (email) return email.toLowerCase();
      log.warn(
        { slackUser: userId },
        'Slack gave no email for this user (the app needs the users:read.email scope); recording the Slack id',
      );
    } catch (err) {
      log.warn({ err, slackUser: userId }, 'users.info failed; recording the Slack id');
    }
    return undefined;
  }

  function remember(userId: string, by: string, ttlMs: number): void {
    if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
    cache.set(userId, { by, until: now() + ttlMs });
  }

  return {
    async identify(userId) {
      // The config wins and is read fresh, so a reload that adds an alias applies at once.
      const alias = fromAliases(userId);
      if (alias) return alias;
      const cached = cache.get(userId);
      if (cached && cached.until > now()) return cached.by;
      const email = await fromSlack(userId);
      const by = email ?? `slack:${userId}`;
      remember(userId, by, email ? FOUND_TTL_MS : NOT_FOUND_TTL_MS);
      return by;
    },
  };
}
