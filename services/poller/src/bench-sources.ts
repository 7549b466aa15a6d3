import { readFileSync } from 'node:fs';
import type { ProviderHttp } from './provider-http.ts';
import { type BucketRow, HOUR_MS, type UsageSource } from './source.ts';
import { anthropicUsageReport } from './sources/anthropic.ts';
import { cursorUsageEvents } from './sources/cursor.ts';
import { openaiCompletionsUsage } from './sources/openai.ts';

/** One report for the normalisation bench: a page as the provider answers it, and how the poller reads it. */
export interface BenchSource {
  source: string;
  endpoint: string;
  /** One page of `perPage` rows (from the recorded fixture, rows repeated with distinct keys). */
  page: unknown;
  /** The rows the poller makes of the page's JSON text: its schema, paging and row mapping, as in a poll. */
  rows(text: string): Promise<BucketRow[]>;
}

const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')) as Record<string, unknown>;

/** A ProviderHttp that answers every request with `text` parsed, as fetch's `response.json()` would. */
const answering = (text: string): ProviderHttp => ({
  getJson: () => Promise.resolve(JSON.parse(text) as unknown),
  postJson: () => Promise.resolve(JSON.parse(text) as unknown),
  download: () => Promise.resolve(text),
});

const signal = new AbortController().signal;

function reading(source: UsageSource, window: { start: number; end: number }): (text: string) => Promise<BucketRow[]> {
  return async (text) => (await source.read(window, answering(text), signal)).flatMap((b) => b.rows);
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

/** The hourly report pollers and Cursor's events, each with a page of `perPage` rows. */
export function benchSources(perPage: number): BenchSource[] {
  const cursor = fixture('cursor-filtered-usage-events.json') as { usageEvents: Record<string, unknown>[] };
  const hour = Date.parse('2026-12-07T09:00:00Z');
  const cursorHour = Date.parse('2026-12-07T10:00:00Z');
  return [
    {
      source: anthropicUsageReport.source,
      endpoint: 'Anthropic usage report',
      page: bucketPage('anthropic-usage-report.json', perPage, (i) => ({ api_key_id: `apikey_${i}` })),
      rows: reading(anthropicUsageReport, { start: hour, end: hour + HOUR_MS }),
    },
    {
      source: openaiCompletionsUsage.source,
      endpoint: 'OpenAI usage (completions)',
      page: bucketPage('openai-usage-completions.json', perPage, (i) => ({ api_key_id: `key_${i}` })),
      rows: reading(openaiCompletionsUsage, { start: hour, end: hour + HOUR_MS }),
    },
    {
      source: cursorUsageEvents.source,
      endpoint: 'Cursor usage events',
      page: {
        ...cursor,
        pagination: { numPages: 1, currentPage: 1, pageSize: perPage, hasNextPage: false, hasPreviousPage: false },
        usageEvents: Array.from({ length: perPage }, (_, i) => ({
          ...cursor.usageEvents[i % cursor.usageEvents.length],
          timestamp: String(cursorHour + i * 1000),
        })),
      },
      rows: reading(cursorUsageEvents, { start: cursorHour, end: cursorHour + HOUR_MS }),
    },
  ];
}
