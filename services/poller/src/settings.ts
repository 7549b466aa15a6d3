import { BurnrateError, parseDuration } from '@burnrate/core';
import type { Env } from '@burnrate/runtime';
import { z } from 'zod';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** A duration such as `5m` or `7d`, within bounds, in milliseconds. */
const duration = (min: number, max: number) =>
  z
    .string()
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected a duration such as 5m, 1h or 7d, not ${JSON.stringify(text)}` });
        return z.NEVER;
      }
      return ms;
    })
    .refine((ms) => ms >= min && ms <= max, { message: `must be from ${min / 1000}s to ${max / DAY_MS}d` });

const secret = z.string().trim().min(1).optional();

/** Every report the poller can read, by the `source` its events carry. */
export const POLL_SOURCES = [
  'anthropic_usage_report',
  'anthropic_cost_report',
  'claude_code_analytics',
  'openai_usage',
  'openai_costs',
  'cursor_events',
  'cursor_daily',
  'copilot_premium',
  'copilot_metrics',
] as const;
/**
 * One report per provider: the reports of one provider count the same spend (the cost report and
 * the Claude Code report are other views of the usage report's), so polling them all would count
 * it two or three times in every total. The usage reports carry tokens, models and keys. For
 * GitHub the premium-request billing is the money; the Copilot metrics reports are seat-licensed
 * activity ($0), opt-in. Likewise Cursor's usage events are the money and its daily usage data
 * activity ($0), opt-in.
 */
export const DEFAULT_POLL_SOURCES = ['anthropic_usage_report', 'openai_usage', 'cursor_events', 'copilot_premium'] as const;
const baseUrl = (fallback: string) =>
  z
    .url({ protocol: /^https?$/, message: 'expected an http(s) URL' })
    .default(fallback)
    .transform((url) => url.replace(/\/+$/, ''));

const PollerFields = z.object({
  ANTHROPIC_ADMIN_API_KEY: secret.describe(
    'Anthropic Admin API key (sk-ant-admin01-…); when set, the Anthropic reports named in BURNRATE_POLL_SOURCES are polled',
  ),
  ANTHROPIC_API_URL: baseUrl('https://api.anthropic.com').describe('Base URL of the Anthropic API (a stand-in in tests)'),
  OPENAI_ADMIN_KEY: secret.describe('OpenAI admin key; when set, the OpenAI reports named in BURNRATE_POLL_SOURCES are polled'),
  OPENAI_API_URL: baseUrl('https://api.openai.com').describe('Base URL of the OpenAI API (a stand-in in tests)'),
  CURSOR_ADMIN_API_KEY: secret.describe(
    "Cursor Admin API key (a team admin's key_…); when set, the Cursor reports named in BURNRATE_POLL_SOURCES are polled (cursor_events by default; cursor_daily when named)",
  ),
  CURSOR_API_URL: baseUrl('https://api.cursor.com').describe('Base URL of the Cursor Admin API (a stand-in in tests)'),
  GITHUB_COPILOT_TOKEN: secret.describe(
    "GitHub token (fine-grained, classic or a GitHub App's) of an organization owner or billing manager; when set, GITHUB_ORG's Copilot reports named in BURNRATE_POLL_SOURCES are polled",
  ),
  GITHUB_ORG: z
    .string()
    .trim()
    // GitHub's rule for a login; it goes into request paths.
    .regex(/^[a-z\d](?:[a-z\d-]{0,38})$/i, 'expected an organization login such as acme')
    .optional()
    .describe('The GitHub organization whose Copilot usage is polled; required with GITHUB_COPILOT_TOKEN'),
  GITHUB_API_URL: baseUrl('https://api.github.com').describe('Base URL of the GitHub REST API (a stand-in in tests)'),
  GITHUB_COPILOT_PER_USER: z
    .stringbool({ error: 'expected true or false' })
    .default(true)
    .describe(
      "Attribute copilot_premium's cost per user: one more request per active Copilot seat and day read; false publishes the organization's figures only",
    ),
  BURNRATE_POLL_SOURCES: z
    .string()
    .default(DEFAULT_POLL_SOURCES.join(','))
    .transform((text, ctx) => {
      const names = text
        .split(',')
        .map((n) => n.trim())
        .filter((n) => n !== '');
      const unknown = names.filter((n) => !(POLL_SOURCES as readonly string[]).includes(n));
      if (unknown.length > 0 || names.length === 0) {
        ctx.addIssue({
          code: 'custom',
          message: `${unknown.length > 0 ? `unknown ${unknown.map((n) => JSON.stringify(n)).join(', ')}` : 'names no source'}; the sources are ${POLL_SOURCES.join(', ')}`,
        });
        return z.NEVER;
      }
      return new Set(names);
    })
    .describe(
      "The reports polled when their provider's key is set, comma-separated. They overlap (the cost report and the Claude Code report count the usage report's spend again), so by default one per provider",
    ),
  BURNRATE_POLL_INTERVAL: duration(10_000, DAY_MS)
    .prefault('5m')
    .describe('Time between two polls of one source; Anthropic supports one poll a minute, data is about 5 minutes fresh'),
  BURNRATE_POLL_OVERLAP_BUCKETS: z.coerce
    .number()
    .int()
    .min(1)
    .max(48)
    .default(3)
    .describe('Buckets before the cursor read again on every poll, because providers revise recent buckets as late data arrives'),
  BURNRATE_POLL_BACKFILL: duration(HOUR_MS, 31 * DAY_MS)
    .prefault('7d')
    .describe('How far back the first poll of a source reads, when it has no cursor yet'),
});

/**
 * The pollers' settings, all from the environment: the admin keys are secrets and never belong in
 * burnrate.yaml, and a poller runs exactly when its provider's key is set.
 */
export const PollerEnv = PollerFields.refine((s) => s.GITHUB_COPILOT_TOKEN === undefined || s.GITHUB_ORG !== undefined, {
  path: ['GITHUB_ORG'],
  message: 'required when GITHUB_COPILOT_TOKEN is set: the organization to poll',
  // Named with the other bad settings, not only once they are fixed.
  when: () => true,
});
export type PollerSettings = z.infer<typeof PollerEnv>;

/** The pollers' settings from `env`; every bad one is named in one CONFIG_INVALID error. */
export function readPollerSettings(env: Env): PollerSettings {
  const given = Object.fromEntries(Object.keys(PollerEnv.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]));
  const parsed = PollerEnv.safeParse(given);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
  throw new BurnrateError('CONFIG_INVALID', `poller settings: ${problems}`);
}
