import { readFileSync } from 'node:fs';
import { createLogger } from '@burnrate/core';
import type { ProviderHttp } from './provider-http.ts';
import { type BucketRow, DAY_MS, HOUR_MS, type UsageSource } from './source.ts';
import { anthropicCostReport, anthropicUsageReport } from './sources/anthropic.ts';
import { claudeCodeAnalytics } from './sources/claude-code-analytics.ts';
import { copilotMetricsReports, copilotPremiumUsage } from './sources/copilot.ts';
import { cursorDailyUsage, cursorUsageEvents } from './sources/cursor.ts';
import { openaiCompletionsUsage, openaiCosts } from './sources/openai.ts';

/** One report for the normalisation bench: a page as the provider answers it, and how the poller reads it. */
export interface BenchSource {
  source: string;
  endpoint: string;
  /** One page of `perPage` rows as the provider sends it (from the recorded fixture, rows repeated with distinct keys). */
  body: string;
  /** How the body reads as plain JSON, the bench's baseline: one document, or one per line. */
  format: 'json' | 'ndjson';
  /** The rows the poller makes of the body: its schema, paging and row mapping, as in a poll. */
  rows(text: string): Promise<BucketRow[]>;
}

const fixtureText = (name: string): string => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
const fixture = (name: string): Record<string, unknown> => JSON.parse(fixtureText(name)) as Record<string, unknown>;

/** A ProviderHttp that answers every request with `text` parsed, as fetch's `response.json()` would. */
const answering = (text: string): ProviderHttp => ({
  getJson: () => Promise.resolve(JSON.parse(text) as unknown),
  postJson: () => Promise.resolve(JSON.parse(text) as unknown),
  download: () => Promise.resolve(text),
});

/** A ProviderHttp whose report call links to one file, `text`: GitHub's metrics reports. */
const linkingTo = (text: string): ProviderHttp => ({
  getJson: () => Promise.resolve({ download_links: ['https://reports.bench.invalid/users-1-day.ndjson?sig=x'] }),
  postJson: () => Promise.reject(new Error('not asked')),
  download: () => Promise.resolve(text),
});

const signal = new AbortController().signal;

function reading(
  source: UsageSource,
  window: { start: number; end: number },
  http: (text: string) => ProviderHttp = answering,
): (text: string) => Promise<BucketRow[]> {
  return async (text) => (await source.read(window, http(text), signal)).flatMap((b) => b.rows);
}

/**
 * A bucketed report's recorded page with its first bucket holding `perPage` rows (the fixture's,
 * repeated, each made distinct by `distinct(i)`), and no further page.
 */
function bucketPage(name: string, perPage: number, distinct: (i: number) => Record<string, unknown>): Record<string, unknown> {
  const page = fixture(name) as { data: { results: Record<string, unknown>[] }[] };
  const rows = page.data[0]?.results ?? [];
  const results = Array.from({ length: perPage }, (_, i) => ({ ...rows[i % rows.length], ...distinct(i) }));
  return { ...page, data: [{ ...page.data[0], results }], has_more: false, next_page: null };
}

/** `perPage` of `rows`, repeated in turn, each made distinct by `distinct(i)`. */
const repeated = (rows: readonly Record<string, unknown>[], perPage: number, distinct: (i: number) => Record<string, unknown>) =>
  Array.from({ length: perPage }, (_, i) => ({ ...rows[i % rows.length], ...distinct(i) }));

/** The report pollers (usage and cost), Claude Code's analytics, Cursor's events and daily usage data and GitHub Copilot's daily reports, each with a page of `perPage` rows. */
export function benchSources(perPage: number): BenchSource[] {
  const cursor = fixture('cursor-filtered-usage-events.json') as { usageEvents: Record<string, unknown>[] };
  // A user-day with no activity is no event: the bench's rows are the active ones, repeated.
  const cursorDaily = (fixture('cursor-daily-usage-data.json') as { data: Record<string, unknown>[] }).data.filter(
    (r) => r.isActive === true,
  );
  const premiumPage = fixture('github-premium-request-usage.json') as { usageItems: Record<string, unknown>[] };
  const userDays = fixtureText('github-copilot-users-1-day.ndjson')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const hour = Date.parse('2026-12-07T09:00:00Z');
  const cursorHour = Date.parse('2026-12-07T10:00:00Z');
  // The fixtures' day, and the day after in progress (a metrics report exists once its day is over).
  const day = Date.parse('2026-12-06T00:00:00Z');
  const premium = copilotPremiumUsage({ org: 'acme', perUser: false, log: createLogger({ level: 'silent' }) });
  const metrics = copilotMetricsReports({ org: 'acme' });
  const analytics = (fixture('claude-code-analytics.json') as { data: Record<string, unknown>[] }).data;
  return [
    {
      source: anthropicUsageReport.source,
      endpoint: 'Anthropic usage report',
      body: JSON.stringify(bucketPage('anthropic-usage-report.json', perPage, (i) => ({ api_key_id: `apikey_${i}` }))),
      format: 'json',
      rows: reading(anthropicUsageReport, { start: hour, end: hour + HOUR_MS }),
    },
    {
      source: anthropicCostReport.source,
      endpoint: 'Anthropic cost report',
      body: JSON.stringify(bucketPage('anthropic-cost-report.json', perPage, (i) => ({ workspace_id: `wrkspc_${i}` }))),
      format: 'json',
      rows: reading(anthropicCostReport, { start: day, end: day + DAY_MS }),
    },
    {
      source: claudeCodeAnalytics.source,
      endpoint: 'Claude Code analytics',
      body: JSON.stringify({
        data: repeated(analytics, perPage, (i) => ({ actor: { type: 'user_actor', email_address: `dev-${i}@acme.com` } })),
        has_more: false,
        next_page: null,
      }),
      format: 'json',
      rows: reading(claudeCodeAnalytics, { start: day, end: day + DAY_MS }),
    },
    {
      source: openaiCosts.source,
      endpoint: 'OpenAI costs',
      body: JSON.stringify(bucketPage('openai-costs.json', perPage, (i) => ({ api_key_id: `key_${i}` }))),
      format: 'json',
      rows: reading(openaiCosts, { start: day, end: day + DAY_MS }),
    },
    {
      source: openaiCompletionsUsage.source,
      endpoint: 'OpenAI usage (completions)',
      body: JSON.stringify(bucketPage('openai-usage-completions.json', perPage, (i) => ({ api_key_id: `key_${i}` }))),
      format: 'json',
      rows: reading(openaiCompletionsUsage, { start: hour, end: hour + HOUR_MS }),
    },
    {
      source: cursorUsageEvents.source,
      endpoint: 'Cursor usage events',
      body: JSON.stringify({
        ...cursor,
        pagination: { numPages: 1, currentPage: 1, pageSize: perPage, hasNextPage: false, hasPreviousPage: false },
        usageEvents: repeated(cursor.usageEvents, perPage, (i) => ({ timestamp: String(cursorHour + i * 1000) })),
      }),
      format: 'json',
      rows: reading(cursorUsageEvents, { start: cursorHour, end: cursorHour + HOUR_MS }),
    },
    {
      source: cursorDailyUsage.source,
      endpoint: 'Cursor daily usage data',
      body: JSON.stringify({
        data: repeated(cursorDaily, perPage, (i) => ({ date: day, email: `dev-${i}@acme.com` })),
        period: { startDate: day, endDate: day + DAY_MS },
      }),
      format: 'json',
      rows: reading(cursorDailyUsage, { start: day, end: day + DAY_MS }),
    },
    {
      source: premium.source,
      // The organization's answer alone: per user, the same shape once per seat.
      endpoint: 'GitHub Copilot premium requests',
      body: JSON.stringify({
        ...premiumPage,
        usageItems: repeated(premiumPage.usageItems, perPage, (i) => ({ sku: `Copilot Premium Request ${i}` })),
      }),
      format: 'json',
      rows: reading(premium, { start: day, end: day + DAY_MS }),
    },
    {
      source: metrics.source,
      endpoint: 'GitHub Copilot users-1-day report',
      body: repeated(userDays, perPage, (i) => ({ user_id: 5000 + i, user_login: `dev-${i}` }))
        .map((record) => JSON.stringify(record))
        .join('\n'),
      format: 'ndjson',
      rows: reading(metrics, { start: day, end: day + 2 * DAY_MS }, linkingTo),
    },
  ];
}
