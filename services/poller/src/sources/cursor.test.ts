import { fixedClock } from '@burnrate/core';
import { buildUsageEvent } from '@burnrate/ingest';
import type { UsageEvent } from '@burnrate/schemas';
import { describe, expect, it } from 'vitest';
import type { Bucket } from '../source.ts';
import { pagesHttp, readFixture, recordingProducer, testContext, testIngest } from '../test-helpers.ts';
import { CURSOR_DAILY_PATH, CURSOR_EVENTS_PATH, cursorDailyUsage, cursorHeaders, cursorUsageEvents } from './cursor.ts';

const NOW = new Date('2026-12-07T12:20:00Z');
const ingest = testIngest(recordingProducer(), fixedClock(NOW));
const signal = new AbortController().signal;
const DAY = { start: Date.parse('2026-12-07T00:00:00Z'), end: Date.parse('2026-12-08T00:00:00Z') };
const emptyPage = (page = 1) => ({
  totalUsageEventsCount: 0,
  pagination: { numPages: page, currentPage: page, pageSize: 500, hasNextPage: false, hasPreviousPage: page > 1 },
  usageEvents: [],
});

function eventsOf(buckets: readonly Bucket[], source = 'cursor_events'): UsageEvent[] {
  const ctx = testContext(ingest, source);
  return buckets.flatMap((b) =>
    b.rows.map((row) => {
      const built = buildUsageEvent({ ...row.fields, event_id: 'x' }, ctx);
      if (!built.ok) throw new Error(JSON.stringify(built.issues));
      return built.event;
    }),
  );
}

describe('Cursor usage events (Admin API)', () => {
  it('POSTs the window in epoch ms, page by page from 1, and files each call in its hour', async () => {
    const first = readFixture('cursor-filtered-usage-events.json') as { pagination: Record<string, unknown> };
    const http = pagesHttp([{ ...first, pagination: { ...first.pagination, numPages: 2, hasNextPage: true } }, emptyPage(2)]);
    const buckets = await cursorUsageEvents.read(DAY, http, signal);
    expect(http.posts).toEqual([
      { path: CURSOR_EVENTS_PATH, body: { startDate: DAY.start, endDate: DAY.end, page: 1, pageSize: 500 } },
      { path: CURSOR_EVENTS_PATH, body: { startDate: DAY.start, endDate: DAY.end, page: 2, pageSize: 500 } },
    ]);
    expect(buckets).toHaveLength(24);
    expect(buckets.filter((b) => b.rows.length > 0).map((b) => [new Date(b.start).toISOString(), b.rows.length])).toEqual([
      ['2026-12-07T10:00:00.000Z', 2],
      ['2026-12-07T11:00:00.000Z', 2],
    ]);
  });

  it('makes one request event per call: the charge in cents as USD, tokens (strings too), the user by email', async () => {
    const events = eventsOf(await cursorUsageEvents.read(DAY, pagesHttp([readFixture('cursor-filtered-usage-events.json')]), signal));
    expect(events).toMatchObject([
      {
        source: 'cursor_events',
        provider: 'cursor',
        tool: 'cursor',
        granularity: 'request',
        occurred_at: '2026-12-07T10:00:00.000Z',
        model: 'claude-4.5-sonnet',
        requests: 1,
        input_tokens: 1200,
        output_tokens: 850,
        cache_write_tokens: 4000,
        cache_read_tokens: 52_000,
        // chargedCents: the model's cost and Cursor's token fee.
        cost_usd: 0.0461,
        cost_source: 'reported',
        developer: 'alice@acme.com',
        team: 'payments',
        attributes: {
          'cursor.kind': 'Usage-based',
          'cursor.max_mode': 'false',
          'cursor.request_units': '1',
          'cursor.token_fee_cents': '0.4',
          'cursor.chargeable': 'true',
          'cursor.headless': 'false',
        },
      },
      { model: 'gpt-5', input_tokens: 3100, output_tokens: 1400, cache_read_tokens: 12_000, cost_usd: 0.033, cost_source: 'reported' },
      // Request units included in the plan: no tokens, no charge.
      { developer: 'bob@acme.com', cost_usd: 0, input_tokens: 0, attributes: { 'cursor.kind': 'Included in Business' } },
      // Tokens without a charge: priced from the catalog.
      { developer: 'bob@acme.com', input_tokens: 900, cache_read_tokens: 20_000, cost_source: 'computed' },
    ]);
    expect(events[3]?.cost_usd).toBeGreaterThan(0);
  });

  it('makes calls of one user, model and kind in the same millisecond one row, their totals added', async () => {
    const page = readFixture('cursor-filtered-usage-events.json') as { usageEvents: Record<string, unknown>[] };
    const twice = { ...page, usageEvents: [page.usageEvents[0], page.usageEvents[0]] };
    const [row, ...rest] = (await cursorUsageEvents.read(DAY, pagesHttp([twice]), signal)).flatMap((b) => b.rows);
    expect(rest).toEqual([]);
    expect(row?.fields).toMatchObject({ requests: 2, input_tokens: 2400, cost_usd: 0.0922 });
  });

  it('asks at most 30 days at a time, and keeps each request to its own window', async () => {
    const start = Date.parse('2026-10-01T00:00:00Z');
    const end = start + 45 * 86_400_000;
    const stray = readFixture('cursor-filtered-usage-events.json') as { usageEvents: Record<string, unknown>[] };
    // An answer holding a call outside what was asked (on the window's end) does not count it twice.
    const outside = { ...stray, usageEvents: [{ ...stray.usageEvents[0], timestamp: String(start + 30 * 86_400_000) }] };
    const http = pagesHttp([outside, emptyPage()]);
    const buckets = await cursorUsageEvents.read({ start, end }, http, signal);
    expect(http.posts.map((p) => p.body)).toEqual([
      { startDate: start, endDate: start + 30 * 86_400_000, page: 1, pageSize: 500 },
      { startDate: start + 30 * 86_400_000, endDate: end, page: 1, pageSize: 500 },
    ]);
    expect(buckets.flatMap((b) => b.rows)).toEqual([]);
  });

  it('refuses a page that is not Cursor’s shape, naming the field', async () => {
    const page = readFixture('cursor-filtered-usage-events.json') as { usageEvents: Record<string, unknown>[] };
    const broken = { ...page, usageEvents: [{ ...page.usageEvents[0], timestamp: 'yesterday' }] };
    await expect(cursorUsageEvents.read(DAY, pagesHttp([broken]), signal)).rejects.toThrow(
      /filtered-usage-events page 1 is not in the expected format: usageEvents\.0\.timestamp/,
    );
    const noPagination = { usageEvents: [] };
    await expect(cursorUsageEvents.read(DAY, pagesHttp([noPagination]), signal)).rejects.toThrow(/pagination/);
  });

  it('authenticates with the key as the Basic user name and an empty password', () => {
    expect(cursorHeaders('key_abc', 'ua').authorization).toBe(`Basic ${Buffer.from('key_abc:').toString('base64')}`);
  });
});

describe('Cursor daily usage data (Admin API)', () => {
  const TWO_DAYS = { start: Date.parse('2026-12-06T00:00:00Z'), end: Date.parse('2026-12-08T00:00:00Z') };
  type Answer = { data: Record<string, unknown>[] };

  it('POSTs the window in epoch ms, and makes one $0 event per active user-day, its counts in attributes', async () => {
    const http = pagesHttp([readFixture('cursor-daily-usage-data.json')]);
    const buckets = await cursorDailyUsage.read(TWO_DAYS, http, signal);
    expect(http.posts).toEqual([{ path: CURSOR_DAILY_PATH, body: { startDate: TWO_DAYS.start, endDate: TWO_DAYS.end } }]);
    expect(buckets.map((b) => [new Date(b.start).toISOString(), b.rows.map((r) => r.key)])).toEqual([
      // Carol was neither active nor asked anything: no event.
      [
        '2026-12-06T00:00:00.000Z',
        [
          { day: '2026-12-06', email: 'alice@acme.com' },
          { day: '2026-12-06', email: 'bob@acme.com' },
        ],
      ],
      ['2026-12-07T00:00:00.000Z', [{ day: '2026-12-07', email: 'alice@acme.com' }]],
    ]);
    const events = eventsOf(buckets, 'cursor_daily');
    expect(events[0]).toMatchObject({
      source: 'cursor_daily',
      provider: 'cursor',
      tool: 'cursor',
      granularity: '1d',
      occurred_at: '2026-12-06T00:00:00.000Z',
      period_start: '2026-12-06T00:00:00.000Z',
      period_end: '2026-12-07T00:00:00.000Z',
      developer: 'alice@acme.com',
      model: 'claude-4.5-sonnet',
      // Composer 45 + chat 128 + agent 12 + Cmd-K 67.
      requests: 252,
      input_tokens: 0,
      output_tokens: 0,
      cost_usd: 0,
      cost_source: 'reported',
    });
    expect(events[0]?.attributes).toMatchObject({
      'cursor.active': 'true',
      'cursor.lines_added': '1543',
      'cursor.accepted_lines_added': '1102',
      'cursor.applies': '87',
      'cursor.tabs_shown': '342',
      'cursor.tabs_accepted': '289',
      'cursor.included_requests': '180',
      'cursor.api_key_requests': '0',
      'cursor.usage_based_requests': '5',
      'cursor.bugbot_usages': '3',
      'cursor.client_version': '2.1.50',
    });
    // Counts sent as strings read as numbers; no model named is `unknown`.
    expect(events[1]).toMatchObject({ developer: 'bob@acme.com', model: 'unknown', requests: 15 });
    expect(events[1]?.attributes['cursor.lines_added']).toBe('210');
  });

  it('makes a user-day listed twice one row, its counts added', async () => {
    const answer = readFixture('cursor-daily-usage-data.json') as Answer;
    const alice = answer.data[0] as Record<string, unknown>;
    const twice = {
      ...answer,
      data: [alice, { ...alice, chatRequests: 2, composerRequests: 0, agentRequests: 0, cmdkUsages: 0, clientVersion: '2.0.1' }],
    };
    const rows = (await cursorDailyUsage.read(TWO_DAYS, pagesHttp([twice]), signal)).flatMap((b) => b.rows);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.fields).toMatchObject({ requests: 254, model: 'claude-4.5-sonnet' });
    expect(rows[0]?.fields.attributes).toMatchObject({
      'cursor.chat_requests': '130',
      'cursor.lines_added': '3086',
      'cursor.client_version': '2.1.50',
    });
  });

  it('asks at most 30 days at a time, and keeps each request to its own window', async () => {
    const start = Date.parse('2026-10-01T00:00:00Z');
    const end = start + 45 * 86_400_000;
    const answer = readFixture('cursor-daily-usage-data.json') as Answer;
    const outside = { ...answer, data: [{ ...answer.data[0], date: start + 30 * 86_400_000 }] };
    const http = pagesHttp([outside, { data: [] }]);
    const buckets = await cursorDailyUsage.read({ start, end }, http, signal);
    expect(http.posts.map((p) => p.body)).toEqual([
      { startDate: start, endDate: start + 30 * 86_400_000 },
      { startDate: start + 30 * 86_400_000, endDate: end },
    ]);
    expect(buckets).toHaveLength(45);
    expect(buckets.flatMap((b) => b.rows)).toEqual([]);
  });

  it('refuses an answer that is not Cursor’s shape, naming the field, and a paged one it would read in part', async () => {
    const answer = readFixture('cursor-daily-usage-data.json') as Answer;
    const broken = { ...answer, data: [{ ...answer.data[0], chatRequests: -3 }] };
    await expect(cursorDailyUsage.read(TWO_DAYS, pagesHttp([broken]), signal)).rejects.toThrow(
      /daily-usage-data page 1 is not in the expected format: data\.0\.chatRequests/,
    );
    await expect(cursorDailyUsage.read(TWO_DAYS, pagesHttp([{ period: {} }]), signal)).rejects.toThrow(/: data:/);
    const paged = { ...answer, pagination: { hasNextPage: true } };
    await expect(cursorDailyUsage.read(TWO_DAYS, pagesHttp([paged]), signal)).rejects.toThrow(/pagination\.hasNextPage: a paged answer/);
  });
});
