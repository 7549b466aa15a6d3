import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Producer } from '@burnrate/bus';
import { type Clock, fixedClock } from '@burnrate/core';
import type { UsageEvent } from '@burnrate/schemas';
import {
  ANTHROPIC_COST_PATH,
  ANTHROPIC_USAGE_PATH,
  CLAUDE_CODE_ANALYTICS_PATH,
  type GitHubStandIn,
  OPENAI_COMPLETIONS_PATH,
  OPENAI_COSTS_PATH,
  startAnthropicStandIn,
  startCursorStandIn,
  startGitHubStandIn,
  startOpenAiStandIn,
  tempDir,
  type TempDir,
  type UsageApiStandIn,
  waitUntil,
} from '@burnrate/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Poller, PollerHealth } from './poller.ts';
import { createPollers, type Pollers } from './pollers.ts';
import { POLL_SOURCES, PollerEnv, type PollerSettings } from './settings.ts';
import { copilotSeat, premiumItem, readFixture, readFixtureText, recordingProducer, silentLog, testIngest } from './test-helpers.ts';

const ANTHROPIC_KEY = 'sk-ant-admin01-test';
const OPENAI_KEY = 'sk-admin-test';
const CURSOR_KEY = 'key_cursor_test';
const GITHUB_TOKEN = 'github_pat_test';

type UsageRow = Record<string, unknown> & { output_tokens: number };
const usageTemplate = (readFixture('anthropic-usage-report.json') as { data: { results: UsageRow[] }[] }).data[0]?.results[0] as UsageRow;
const usageRow = (output: number, apiKey = 'apikey_01Rj2N8SVvo6BePZj99NhmiT'): UsageRow => ({
  ...usageTemplate,
  api_key_id: apiKey,
  output_tokens: output,
});
const costTemplate = (readFixture('anthropic-cost-report.json') as { data: { results: Record<string, unknown>[] }[] }).data[0]?.results[0];
const completionsTemplate = (readFixture('openai-usage-completions.json') as { data: { results: Record<string, unknown>[] }[] }).data[0]
  ?.results[0];
const costsTemplate = (readFixture('openai-costs.json') as { data: { results: Record<string, unknown>[] }[] }).data[0]?.results[0];

/** Output tokens of every published event of a bucket row, summed: what the pipeline adds up. */
const outputOf = (events: readonly UsageEvent[], periodStart: string, apiKey = 'apikey_01Rj2N8SVvo6BePZj99NhmiT'): number =>
  events.filter((e) => e.period_start === periodStart && e.api_key_id === apiKey).reduce((sum, e) => sum + e.output_tokens, 0);

describe('Anthropic pollers against a stand-in of the Admin API', () => {
  let dir: TempDir;
  let api: UsageApiStandIn;
  const clock = fixedClock(new Date('2026-12-07T10:20:00Z'));
  const waits: number[] = [];
  const running: Pollers[] = [];

  const pollers = (producer = recordingProducer()) => {
    const settings = PollerEnv.parse({
      ANTHROPIC_ADMIN_API_KEY: ANTHROPIC_KEY,
      ANTHROPIC_API_URL: api.origin,
      BURNRATE_POLL_BACKFILL: '6h',
      BURNRATE_POLL_OVERLAP_BUCKETS: '3',
      BURNRATE_POLL_SOURCES: POLL_SOURCES.join(','),
    });
    const p = testPollers(settings, dir.path, producer, clock, waits);
    running.push(p);
    const [usage, cost, claudeCode] = p.pollers;
    if (usage === undefined || cost === undefined || claudeCode === undefined) throw new Error('expected the three Anthropic pollers');
    return { producer, usage, cost, claudeCode, all: p };
  };

  beforeEach(async () => {
    dir = await tempDir();
    api = await startAnthropicStandIn(ANTHROPIC_KEY);
    clock.set(new Date('2026-12-07T10:20:00Z'));
    waits.length = 0;
    api.setRows(ANTHROPIC_USAGE_PATH, '2026-12-07T05:00:00Z', [usageRow(100)]);
    api.setRows(ANTHROPIC_USAGE_PATH, '2026-12-07T08:00:00Z', [usageRow(200), usageRow(250, 'apikey_other')]);
    api.setRows(ANTHROPIC_USAGE_PATH, '2026-12-07T09:00:00Z', [usageRow(300)]);
    // The hour in progress.
    api.setRows(ANTHROPIC_USAGE_PATH, '2026-12-07T10:00:00Z', [usageRow(40)]);
  });

  afterEach(async () => {
    for (const p of running.splice(0)) await p.stop();
    await api.close();
    await dir.cleanup();
  });

  it('reads every page of the backfill, publishes each row once, and sets the cursor to the newest complete bucket', async () => {
    const { producer, usage } = pollers();
    const result = await usage.pollOnce();

    // 04:00 to 11:00 is 7 hourly buckets, 3 a page.
    expect(api.pagesOf(ANTHROPIC_USAGE_PATH)).toEqual([
      { start: '2026-12-07T04:00:00.000Z', page: null },
      { start: '2026-12-07T04:00:00.000Z', page: '3' },
      { start: '2026-12-07T04:00:00.000Z', page: '6' },
    ]);
    expect(result).toMatchObject({ buckets: 7, published: 5, corrections: 0 });
    const events = producer.events();
    expect(events.map((e) => [e.period_start, e.output_tokens])).toEqual([
      ['2026-12-07T05:00:00.000Z', 100],
      ['2026-12-07T08:00:00.000Z', 200],
      ['2026-12-07T08:00:00.000Z', 250],
      ['2026-12-07T09:00:00.000Z', 300],
      ['2026-12-07T10:00:00.000Z', 40],
    ]);
    expect(new Set(events.map((e) => e.source))).toEqual(new Set(['anthropic_usage_report']));
    expect(new Set(events.map((e) => e.granularity))).toEqual(new Set(['1h']));
    expect(usage.health()).toMatchObject({
      cursor: '2026-12-07T10:00:00.000Z',
      lag_s: 20 * 60,
      last_error: null,
      last_success_at: '2026-12-07T10:20:00.000Z',
    });
    // The auth headers, and the key nowhere but in x-api-key.
    expect(api.requests[0]?.headers).toMatchObject({ 'x-api-key': ANTHROPIC_KEY, 'anthropic-version': '2023-06-01' });
    expect(api.requests[0]?.headers['user-agent']).toMatch(/^burnrate-poller/);
  });

  it('re-reads the overlap, publishes only the growth of a revised bucket, and never re-publishes an unchanged one', async () => {
    const { producer, usage } = pollers();
    await usage.pollOnce();
    // Late data: 09:00 grows, the 10:00 hour completes, 11:00 starts.
    api.setRows(ANTHROPIC_USAGE_PATH, '2026-12-07T09:00:00Z', [usageRow(1300)]);
    api.setRows(ANTHROPIC_USAGE_PATH, '2026-12-07T10:00:00Z', [usageRow(90)]);
    api.setRows(ANTHROPIC_USAGE_PATH, '2026-12-07T11:00:00Z', [usageRow(7)]);
    clock.set(new Date('2026-12-07T11:20:00Z'));

    const result = await usage.pollOnce();
    // Three buckets before the cursor (10:00) again.
    expect(api.pagesOf(ANTHROPIC_USAGE_PATH).at(-2)).toEqual({ start: '2026-12-07T07:00:00.000Z', page: null });
    expect(result).toMatchObject({ published: 3, corrections: 2 });
    const events = producer.events();
    expect(outputOf(events, '2026-12-07T09:00:00.000Z')).toBe(1300);
    expect(outputOf(events, '2026-12-07T10:00:00.000Z')).toBe(90);
    expect(outputOf(events, '2026-12-07T11:00:00.000Z')).toBe(7);
    expect(outputOf(events, '2026-12-07T08:00:00.000Z')).toBe(200);
    const correction = events.find((e) => e.period_start === '2026-12-07T09:00:00.000Z' && e.output_tokens === 1000);
    // Only what grew: the other totals of the row stayed.
    expect(correction).toMatchObject({ input_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0 });
    expect(correction?.attributes.corrects).toBe(events.find((e) => e.period_start === '2026-12-07T09:00:00.000Z')?.event_id);
    expect(new Set(events.map((e) => e.event_id)).size).toBe(events.length);

    // The same figures read again are nothing new.
    await usage.pollOnce();
    expect(producer.events()).toHaveLength(events.length);
  });

  it('after a restart resumes from the saved cursor: only the overlap is read again and nothing old is published twice', async () => {
    const first = pollers();
    await first.usage.pollOnce();
    await first.all.stop();
    const saved = JSON.parse(await readFile(join(dir.path, 'anthropic_usage_report.json'), 'utf8')) as { cursor: string };
    expect(saved.cursor).toBe('2026-12-07T10:00:00.000Z');

    clock.set(new Date('2026-12-07T11:20:00Z'));
    api.setRows(ANTHROPIC_USAGE_PATH, '2026-12-07T11:00:00Z', [usageRow(7)]);
    // A new process: its own producer and an empty dedupe ledger.
    const second = pollers();
    await second.usage.pollOnce();
    expect(api.pagesOf(ANTHROPIC_USAGE_PATH).at(-2)?.start).toBe('2026-12-07T07:00:00.000Z');
    expect(second.producer.events().map((e) => [e.period_start, e.output_tokens])).toEqual([['2026-12-07T11:00:00.000Z', 7]]);
    expect(second.usage.health().cursor).toBe('2026-12-07T11:00:00.000Z');
  });

  it('does not apply a bucket revised downwards, and counts it', async () => {
    const { producer, usage } = pollers();
    await usage.pollOnce();
    api.setRows(ANTHROPIC_USAGE_PATH, '2026-12-07T09:00:00Z', [usageRow(250)]);
    const result = await usage.pollOnce();
    expect(result).toMatchObject({ published: 0, lowered: 1 });
    expect(outputOf(producer.events(), '2026-12-07T09:00:00.000Z')).toBe(300);
    expect(usage.health().lowered).toBe(1);
  });

  it('waits out a 429 for its Retry-After and retries a 5xx after a jittered backoff, in the same poll', async () => {
    const { producer, usage } = pollers();
    api.failNext(1, { status: 429, retryAfterSec: 7 });
    api.failNext(1, { status: 503 });
    await usage.pollOnce();
    // 7 s as asked; then half (random 0.5) of the second try's 2 s backoff.
    expect(waits).toEqual([7000, 1000]);
    expect(api.requests.map((r) => r.status)).toEqual([429, 503, 200, 200, 200]);
    expect(producer.events()).toHaveLength(5);
  });

  it('fails a poll the provider asks to pause for longer than a poll waits, keeping the cursor and reporting why', async () => {
    const { usage } = pollers();
    await usage.pollOnce();
    api.failNext(1, { status: 429, retryAfterSec: 600 });
    await expect(usage.pollOnce()).rejects.toMatchObject({ code: 'PROVIDER_UNAVAILABLE', retryAfterMs: 600_000 });
    expect(usage.health().cursor).toBe('2026-12-07T10:00:00.000Z');
  });

  it('shows on its health line the last error, then the next success clears it', async () => {
    const { cost } = pollers();
    api.setRows(ANTHROPIC_COST_PATH, '2026-12-07T00:00:00Z', [costTemplate]);
    api.failNext(1, { status: 401, body: '{"error":{"type":"authentication_error"}}' });
    // The polling loop: it polls at once, and its next poll is an interval (5m) away.
    await cost.start();
    const failed = await waitForHealth(
      () => [cost.health()],
      (h) => h.source === 'anthropic_cost_report' && h.last_error !== null,
    );
    expect(failed).toMatchObject({
      last_success_at: null,
      cursor: null,
      lag_s: null,
      last_error: { code: 'PROVIDER_REJECTED', at: '2026-12-07T10:20:00.000Z' },
    });
    expect(failed.last_error?.message).toMatch(/cost_report answered 401/);
    expect(failed.last_error?.message).not.toContain(ANTHROPIC_KEY);

    // The loop sleeps until its next poll; one just after the day closed reads the report.
    clock.set(new Date('2026-12-08T00:20:00Z'));
    await cost.pollOnce();
    expect(cost.health()).toMatchObject({
      last_error: null,
      last_success_at: '2026-12-08T00:20:00.000Z',
      cursor: '2026-12-08T00:00:00.000Z',
      lag_s: 20 * 60,
      published: 1,
    });
  });

  it('reads the Claude Code report a day per call, every page, and corrects a day that grew', async () => {
    const { producer, claudeCode } = pollers();
    const record = (readFixture('claude-code-analytics.json') as { data: Record<string, unknown>[] }).data[0] as Record<string, unknown>;
    const terminals = ['vscode', 'iTerm.app', 'cursor', 'ghostty'];
    api.setRecords(
      CLAUDE_CODE_ANALYTICS_PATH,
      '2026-12-07',
      terminals.map((terminal_type) => ({ ...record, date: '2026-12-07T00:00:00Z', terminal_type })),
    );
    await claudeCode.pollOnce();
    // 6h of backfill reach back into today only; 4 records, 3 a page.
    expect(api.pagesOf(CLAUDE_CODE_ANALYTICS_PATH)).toEqual([
      { start: '2026-12-07', page: null },
      { start: '2026-12-07', page: '3' },
    ]);
    // Two models per record.
    expect(producer.events()).toHaveLength(8);

    const grown = structuredClone(record) as { model_breakdown: { estimated_cost: { amount: number } }[] };
    const first = grown.model_breakdown[0];
    if (first) first.estimated_cost.amount += 100;
    api.setRecords(CLAUDE_CODE_ANALYTICS_PATH, '2026-12-07', [
      { ...grown, date: '2026-12-07T00:00:00Z', terminal_type: 'vscode' },
      ...terminals.slice(1).map((terminal_type) => ({ ...record, date: '2026-12-07T00:00:00Z', terminal_type })),
    ]);
    clock.set(new Date('2026-12-08T02:00:00Z'));
    const result = await claudeCode.pollOnce();
    expect(result).toMatchObject({ published: 1, corrections: 1 });
    const vscode = producer.events().filter((e) => e.attributes.terminal_type === 'vscode' && e.model === 'claude-sonnet-4-5-20250929');
    expect(vscode.map((e) => e.cost_usd)).toEqual([1.86, 1]);
    expect(claudeCode.health().cursor).toBe('2026-12-08T00:00:00.000Z');
  });

  it('publishes after a restart what a poll saved but could not publish', async () => {
    const broken = recordingProducer();
    broken.failWith = new Error('bus down');
    const first = pollers(broken);
    await expect(first.usage.pollOnce()).rejects.toThrow(/could not publish/);
    const saved = JSON.parse(await readFile(join(dir.path, 'anthropic_usage_report.json'), 'utf8')) as { pending: unknown[] };
    expect(saved.pending).toHaveLength(5);

    const second = pollers();
    await second.usage.pollOnce();
    expect(second.producer.events().map((e) => e.output_tokens)).toEqual([100, 200, 250, 300, 40]);
    const after = JSON.parse(await readFile(join(dir.path, 'anthropic_usage_report.json'), 'utf8')) as { pending: unknown[] };
    expect(after.pending).toEqual([]);
  });
});

describe('OpenAI pollers against a stand-in of the organization API', () => {
  it('read usage and costs with the bearer key, page by page, as usage and cost events', async () => {
    await using dir = await tempDir();
    const api = await startOpenAiStandIn(OPENAI_KEY, 2);
    try {
      const clock = fixedClock(new Date('2026-12-07T10:20:00Z'));
      api.setRows(OPENAI_COMPLETIONS_PATH, '2026-12-07T06:00:00Z', [completionsTemplate]);
      api.setRows(OPENAI_COMPLETIONS_PATH, '2026-12-07T09:00:00Z', [
        completionsTemplate,
        { ...completionsTemplate, user_id: null, output_tokens: 5 },
      ]);
      api.setRows(OPENAI_COSTS_PATH, '2026-12-07T00:00:00Z', [costsTemplate]);
      const producer = recordingProducer();
      const settings = PollerEnv.parse({
        OPENAI_ADMIN_KEY: OPENAI_KEY,
        OPENAI_API_URL: api.origin,
        BURNRATE_POLL_BACKFILL: '5h',
        BURNRATE_POLL_SOURCES: 'openai_usage,openai_costs',
      });
      const { pollers } = createPollers({ settings, dir: dir.path, ingest: testIngest(producer, clock), clock, log: silentLog });
      expect(pollers.map((p) => p.source)).toEqual(['openai_usage', 'openai_costs']);
      for (const p of pollers) await p.pollOnce();

      // 05:00 to 11:00 is 6 buckets, 2 a page; the costs window (today, in progress) is one page.
      expect(api.pagesOf(OPENAI_COMPLETIONS_PATH).map((p) => p.page)).toEqual([null, '2', '4']);
      expect(api.pagesOf(OPENAI_COMPLETIONS_PATH)[0]?.start).toBe(String(Date.parse('2026-12-07T05:00:00Z') / 1000));
      expect(api.requests[0]?.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
      expect(producer.events().map((e) => [e.source, e.granularity, e.period_start, e.requests, e.output_tokens])).toEqual([
        ['openai_usage', '1h', '2026-12-07T06:00:00.000Z', 7, 900],
        ['openai_usage', '1h', '2026-12-07T09:00:00.000Z', 7, 900],
        ['openai_usage', '1h', '2026-12-07T09:00:00.000Z', 7, 5],
        ['openai_costs', '1d', '2026-12-07T00:00:00.000Z', 0, 0],
      ]);
      expect(producer.events().at(-1)).toMatchObject({ cost_usd: 0.0625, cost_source: 'reported' });
    } finally {
      await api.close();
    }
  });
});

describe('Cursor poller against a stand-in of the Admin API', () => {
  const cursorTemplate = (readFixture('cursor-filtered-usage-events.json') as { usageEvents: Record<string, unknown>[] }).usageEvents[0];
  const call = (at: string, cents: number, user = 'alice@acme.com') => ({
    ...cursorTemplate,
    timestamp: String(Date.parse(at)),
    userEmail: user,
    chargedCents: cents,
  });
  const costOf = (events: readonly UsageEvent[], at: string): number =>
    Math.round(events.filter((e) => e.occurred_at === new Date(at).toISOString()).reduce((sum, e) => sum + e.cost_usd, 0) * 1e6) / 1e6;

  it('reads every page with Basic auth, counts each call once through revisions, 429s, 5xx and restarts, and re-reads the last day', async () => {
    await using dir = await tempDir();
    const api = await startCursorStandIn(CURSOR_KEY, 2);
    const running: Pollers[] = [];
    try {
      const clock = fixedClock(new Date('2026-12-07T12:20:00Z'));
      const waits: number[] = [];
      const producer = recordingProducer();
      const start = solePoller(
        { CURSOR_ADMIN_API_KEY: CURSOR_KEY, CURSOR_API_URL: api.origin, BURNRATE_POLL_BACKFILL: '6h', BURNRATE_POLL_OVERLAP_BUCKETS: '3' },
        { dir: dir.path, producer, clock, waits, running },
      );
      api.setEvents([call('2026-12-07T07:05:00Z', 10), call('2026-12-07T09:30:00Z', 20), call('2026-12-07T09:45:00Z', 30, 'bob@acme.com')]);
      const first = start();
      expect(first.source).toBe('cursor_events');
      expect(await first.pollOnce()).toMatchObject({ published: 3, corrections: 0, rejected: 0 });
      // 06:00 to 13:00, three events, two a page.
      expect(api.pages()).toEqual([
        { startDate: Date.parse('2026-12-07T06:00:00Z'), endDate: Date.parse('2026-12-07T13:00:00Z'), page: 1 },
        { startDate: Date.parse('2026-12-07T06:00:00Z'), endDate: Date.parse('2026-12-07T13:00:00Z'), page: 2 },
      ]);
      expect(api.requests.every((r) => r.headers.authorization === `Basic ${Buffer.from(`${CURSOR_KEY}:`).toString('base64')}`)).toBe(true);
      expect(producer.events().map((e) => [e.source, e.granularity, e.provider, e.developer, e.cost_usd])).toEqual([
        ['cursor_events', 'request', 'cursor', 'alice@acme.com', 0.1],
        ['cursor_events', 'request', 'cursor', 'alice@acme.com', 0.2],
        ['cursor_events', 'request', 'cursor', 'bob@acme.com', 0.3],
      ]);
      expect(first.health()).toMatchObject({ source: 'cursor_events', cursor: '2026-12-07T12:00:00.000Z', last_error: null });

      // A restart (the state file is all that is left, as after kill -9); Cursor revised a call
      // upwards and logged a new one; it answers 429 once and 500 once first.
      for (const p of running.splice(0)) await p.stop();
      clock.set(new Date('2026-12-07T13:20:00Z'));
      api.setEvents([
        call('2026-12-07T07:05:00Z', 10),
        call('2026-12-07T09:30:00Z', 25),
        call('2026-12-07T09:45:00Z', 30, 'bob@acme.com'),
        call('2026-12-07T13:01:00Z', 40),
      ]);
      api.failNext(1, { status: 429, retryAfterSec: 3 });
      api.failNext(1, { status: 500 });
      const second = start();
      expect(await second.pollOnce()).toMatchObject({ published: 2, corrections: 1, rejected: 0 });
      expect(waits[0]).toBe(3000);
      expect(api.requests.map((r) => r.status).slice(-4, -2)).toEqual([429, 500]);
      // The last day is read again whatever BURNRATE_POLL_OVERLAP_BUCKETS says: Cursor revises it.
      expect(api.pages().at(-1)?.startDate).toBe(Date.parse('2026-12-06T12:00:00Z'));
      const events = producer.events();
      expect(events).toHaveLength(5);
      expect(costOf(events, '2026-12-07T09:30:00Z')).toBe(0.25);
      expect(costOf(events, '2026-12-07T07:05:00Z')).toBe(0.1);
      expect(costOf(events, '2026-12-07T13:01:00Z')).toBe(0.4);
      expect(events.filter((e) => e.attributes.corrects !== undefined)).toHaveLength(1);
      // Once more with nothing new: nothing is published.
      expect(await second.pollOnce()).toMatchObject({ published: 0, corrections: 0 });
    } finally {
      for (const p of running.splice(0)) await p.stop();
      await api.close();
    }
  });

  it('reads the daily usage data when named: one $0 event per active user-day, a revision once as a correction, through a 429 and a restart', async () => {
    await using dir = await tempDir();
    const api = await startCursorStandIn(CURSOR_KEY);
    const running: Pollers[] = [];
    const template = (readFixture('cursor-daily-usage-data.json') as { data: Record<string, unknown>[] }).data[0] as Record<
      string,
      unknown
    >;
    const userDay = (day: string, chat: number, email = 'alice@acme.com') => ({
      ...template,
      date: Date.parse(`${day}T00:00:00Z`),
      email,
      composerRequests: 0,
      agentRequests: 0,
      cmdkUsages: 0,
      chatRequests: chat,
    });
    try {
      const clock = fixedClock(new Date('2026-12-07T12:20:00Z'));
      const waits: number[] = [];
      const producer = recordingProducer();
      const start = solePoller(
        {
          CURSOR_ADMIN_API_KEY: CURSOR_KEY,
          CURSOR_API_URL: api.origin,
          BURNRATE_POLL_SOURCES: 'cursor_daily',
          BURNRATE_POLL_BACKFILL: '2d',
          BURNRATE_POLL_OVERLAP_BUCKETS: '1',
        },
        { dir: dir.path, producer, clock, waits, running },
      );
      api.setDaily(
        [userDay('2026-12-06', 12), userDay('2026-12-06', 0, 'carol@acme.com'), userDay('2026-12-07', 5)].map((r, i) =>
          i === 1 ? { ...r, isActive: false } : r,
        ),
      );
      const first = start();
      expect(first.source).toBe('cursor_daily');
      expect(await first.pollOnce()).toMatchObject({ published: 2, corrections: 0, rejected: 0 });
      // From the backfill's day to the end of the day in progress, in one request.
      expect(api.dailyReads()).toEqual([{ startDate: Date.parse('2026-12-05T00:00:00Z'), endDate: Date.parse('2026-12-08T00:00:00Z') }]);
      expect(producer.events().map((e) => [e.source, e.granularity, e.period_start, e.developer, e.requests, e.cost_usd])).toEqual([
        ['cursor_daily', '1d', '2026-12-06T00:00:00.000Z', 'alice@acme.com', 12, 0],
        ['cursor_daily', '1d', '2026-12-07T00:00:00.000Z', 'alice@acme.com', 5, 0],
      ]);
      expect(first.health()).toMatchObject({ source: 'cursor_daily', cursor: '2026-12-07T00:00:00.000Z', last_error: null });

      // A restart from the state file the next day: Cursor completed Alice's Dec 7 and she worked on
      // the 8th; it answers 429 once first.
      for (const p of running.splice(0)) await p.stop();
      const saved = JSON.parse(await readFile(join(dir.path, 'cursor_daily.json'), 'utf8')) as { cursor: string };
      expect(saved.cursor).toBe('2026-12-07T00:00:00.000Z');
      clock.set(new Date('2026-12-08T01:20:00Z'));
      api.setDaily([userDay('2026-12-06', 12), userDay('2026-12-07', 9), userDay('2026-12-08', 1)]);
      api.failNext(1, { status: 429, retryAfterSec: 3 });
      const second = start();
      expect(await second.pollOnce()).toMatchObject({ published: 2, corrections: 1, rejected: 0 });
      expect(waits[0]).toBe(3000);
      // Two days before the cursor again (whatever BURNRATE_POLL_OVERLAP_BUCKETS says): Cursor revises them.
      expect(api.dailyReads().at(-1)).toEqual({
        startDate: Date.parse('2026-12-05T00:00:00Z'),
        endDate: Date.parse('2026-12-09T00:00:00Z'),
      });
      const events = producer.events();
      expect(events.filter((e) => e.period_start === '2026-12-07T00:00:00.000Z').map((e) => e.requests)).toEqual([5, 4]);
      expect(events.filter((e) => e.attributes.corrects !== undefined)).toHaveLength(1);
      expect(events.every((e) => e.cost_usd === 0 && e.provider === 'cursor')).toBe(true);
      expect(second.health().cursor).toBe('2026-12-08T00:00:00.000Z');
      // Once more with nothing new: nothing is published.
      expect(await second.pollOnce()).toMatchObject({ published: 0, corrections: 0 });
    } finally {
      for (const p of running.splice(0)) await p.stop();
      await api.close();
    }
  });
});

describe('GitHub Copilot poller against a stand-in of the REST API', () => {
  type Item = Record<string, unknown>;
  const userDayTemplates = readFixtureText('github-copilot-users-1-day.ndjson')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Item);
  const userDay = (day: string, login: 'alice-octo' | 'bob-builds', interactions: number): Item => ({
    ...(userDayTemplates.find((r) => r.user_login === login) as Item),
    day,
    user_initiated_interaction_count: interactions,
  });
  /** The day's published cost, summed over every event of it: what the pipeline adds up. */
  const costOf = (events: readonly UsageEvent[], day: string): number =>
    Math.round(events.filter((e) => e.period_start === `${day}T00:00:00.000Z`).reduce((sum, e) => sum + e.cost_usd, 0) * 1e6) / 1e6;
  /** The organization's net amount of a day, as GitHub's total answers it. */
  const orgNet = (byUser: Record<string, Item[]>): number =>
    Math.round(
      Object.values(byUser)
        .flat()
        .reduce((sum, i) => sum + Number(i.netAmount), 0) * 1e6,
    ) / 1e6;

  let dir: TempDir;
  let api: GitHubStandIn;
  let producer: ReturnType<typeof recordingProducer>;
  const clock = fixedClock(new Date('2026-12-07T10:20:00Z'));
  const waits: number[] = [];
  const running: Pollers[] = [];

  beforeEach(async () => {
    dir = await tempDir();
    api = await startGitHubStandIn(GITHUB_TOKEN);
    producer = recordingProducer();
    clock.set(new Date('2026-12-07T10:20:00Z'));
    waits.length = 0;
  });

  afterEach(async () => {
    for (const p of running.splice(0)) await p.stop();
    await api.close();
    await dir.cleanup();
  });

  /** A process's Copilot pollers (a restart is a new one), reading back to Dec 5 on a first poll. */
  const start = (env: Record<string, string> = {}) => {
    const settings = PollerEnv.parse({
      GITHUB_COPILOT_TOKEN: GITHUB_TOKEN,
      GITHUB_ORG: 'acme',
      GITHUB_API_URL: api.origin,
      BURNRATE_POLL_BACKFILL: '2d',
      // Below the two days GitHub revises: the sources read them again anyway.
      BURNRATE_POLL_OVERLAP_BUCKETS: '1',
      BURNRATE_POLL_SOURCES: 'copilot_premium,copilot_metrics',
      ...env,
    });
    const p = testPollers(settings, dir.path, producer, clock, waits);
    running.push(p);
    return p.pollers;
  };
  const both = () => {
    const [premium, metrics] = start();
    if (premium === undefined || metrics === undefined) throw new Error('expected the two Copilot pollers');
    return { premium, metrics };
  };

  it('attributes premium requests per active seat with the org remainder, counts each user-day once through a revision, 429, 500 and a restart', async () => {
    // 150 seats, two pages; all but three idle since November.
    api.setSeats([
      copilotSeat('alice-octo', '2026-12-07T09:00:00Z'),
      copilotSeat('bob-builds', '2026-12-06T18:00:00+00:00'),
      copilotSeat('carol-new', null),
      ...Array.from({ length: 147 }, (_, i) => copilotSeat(`idle-${i}`, '2026-11-01T12:00:00Z')),
    ]);
    const days: Record<string, Record<string, Item[]>> = {
      '2026-12-05': { 'alice-octo': [premiumItem('Claude Sonnet 4.5', 50, 0)], 'erin-left': [premiumItem('GPT-5', 10, 0.4)] },
      '2026-12-06': {
        'alice-octo': [premiumItem('Claude Sonnet 4.5', 100, 0), premiumItem('GPT-5', 20, 0.4)],
        'bob-builds': [premiumItem('GPT-5', 25, 0.6), premiumItem('Claude Opus 4.1', 30, 1.2)],
        // Left the organization: no seat, still on the invoice.
        'erin-left': [premiumItem('Gemini 2.0 Flash', 2.5, 0.1)],
      },
      // The day in progress.
      '2026-12-07': { 'alice-octo': [premiumItem('GPT-5', 5, 0.2)] },
    };
    for (const [day, byUser] of Object.entries(days)) api.setPremiumUsage(day, byUser);

    const first = both();
    expect(await first.premium.pollOnce()).toMatchObject({ buckets: 3, published: 7, corrections: 0, rejected: 0 });
    expect(api.seatPages()).toEqual([1, 2]);
    // The organization's total of each day, then each seat active since the day began.
    expect(api.usageCalls()).toEqual([
      { day: '2026-12-05', user: null },
      { day: '2026-12-05', user: 'alice-octo' },
      { day: '2026-12-05', user: 'bob-builds' },
      { day: '2026-12-05', user: 'carol-new' },
      { day: '2026-12-06', user: null },
      { day: '2026-12-06', user: 'alice-octo' },
      { day: '2026-12-06', user: 'bob-builds' },
      { day: '2026-12-06', user: 'carol-new' },
      { day: '2026-12-07', user: null },
      { day: '2026-12-07', user: 'alice-octo' },
      { day: '2026-12-07', user: 'carol-new' },
    ]);
    for (const r of api.requests) {
      expect(r.headers).toMatchObject({
        authorization: `Bearer ${GITHUB_TOKEN}`,
        accept: 'application/vnd.github+json',
        'x-github-api-version': '2022-11-28',
      });
      expect(r.headers['user-agent']).toMatch(/^burnrate-poller/);
    }
    const events = producer.events();
    expect(events.map((e) => [e.period_start?.slice(0, 10), e.developer, e.model, e.requests, e.cost_usd])).toEqual([
      ['2026-12-05', 'alice@acme.com', 'claude-sonnet-4.5', 50, 0],
      // The organization's remainder: usage no seat read accounts for.
      ['2026-12-05', 'unattributed', 'gpt-5', 10, 0.4],
      ['2026-12-06', 'alice@acme.com', 'claude-sonnet-4.5', 100, 0],
      ['2026-12-06', 'alice@acme.com', 'gpt-5', 20, 0.4],
      ['2026-12-06', 'bob-builds', 'gpt-5', 25, 0.6],
      ['2026-12-06', 'bob-builds', 'claude-opus-4.1', 30, 1.2],
      // Dec 6's remainder waits until the day has settled (Dec 8): a seat seen active only later
      // would otherwise move spend out of a published remainder and count it twice.
      ['2026-12-07', 'alice@acme.com', 'gpt-5', 5, 0.2],
    ]);
    expect(new Set(events.map((e) => [e.source, e.provider, e.tool, e.granularity].join()))).toEqual(
      new Set(['copilot_premium,github,copilot,1d']),
    );
    for (const [day, byUser] of Object.entries(days)) {
      expect(costOf(events, day), day).toBe(Math.round((orgNet(byUser) - (day === '2026-12-06' ? 0.1 : 0)) * 1e6) / 1e6);
    }
    expect(first.premium.health()).toMatchObject({ cursor: '2026-12-07T00:00:00.000Z', last_error: null });

    // kill -9: the state file is all that is left. GitHub then revised Bob's Dec 6 and the
    // rest of Dec 7 came in; it answers 429 once and 500 once first.
    running.splice(0);
    const saved = JSON.parse(await readFile(join(dir.path, 'copilot_premium.json'), 'utf8')) as { cursor: string; pending: unknown[] };
    expect(saved).toMatchObject({ cursor: '2026-12-07T00:00:00.000Z', pending: [] });
    clock.set(new Date('2026-12-08T01:20:00Z'));
    days['2026-12-06'] = { ...days['2026-12-06'], 'bob-builds': [premiumItem('GPT-5', 28, 0.72), premiumItem('Claude Opus 4.1', 30, 1.2)] };
    days['2026-12-07'] = { 'alice-octo': [premiumItem('GPT-5', 12, 0.48)], 'carol-new': [premiumItem('Claude Sonnet 4.5', 4, 0)] };
    for (const [day, byUser] of Object.entries(days)) api.setPremiumUsage(day, byUser);
    api.failNext(1, { status: 429, retryAfterSec: 3 });
    api.failNext(1, { status: 500 });
    const calls = api.usageCalls().length;
    const requests = api.requests.length;

    const second = both();
    // Bob's revision and Alice's growth (corrections), Carol's first use, and Dec 6's remainder, settled now.
    expect(await second.premium.pollOnce()).toMatchObject({ published: 4, corrections: 2, rejected: 0, lowered: 0 });
    expect(waits[0]).toBe(3000);
    expect(api.requests.slice(requests, requests + 3).map((r) => [new URL(r.path, api.origin).pathname, r.status])).toEqual([
      ['/orgs/acme/copilot/billing/seats', 429],
      ['/orgs/acme/copilot/billing/seats', 500],
      ['/orgs/acme/copilot/billing/seats', 200],
    ]);
    // Two days before the cursor again (whatever BURNRATE_POLL_OVERLAP_BUCKETS says), up to the day in progress.
    expect([
      ...new Set(
        api
          .usageCalls()
          .slice(calls)
          .map((c) => c.day),
      ),
    ]).toEqual(['2026-12-05', '2026-12-06', '2026-12-07', '2026-12-08']);
    const all = producer.events();
    const corrections = all.filter((e) => e.attributes.corrects !== undefined);
    expect(corrections.map((e) => [e.period_start?.slice(0, 10), e.developer, e.requests, e.cost_usd])).toEqual([
      ['2026-12-06', 'bob-builds', 3, 0.12],
      ['2026-12-07', 'alice@acme.com', 7, 0.28],
    ]);
    // Each user-day once: the day's cost is the organization's net amount, no more.
    for (const [day, byUser] of Object.entries(days)) expect(costOf(all, day), day).toBe(orgNet(byUser));
    expect(second.premium.health().cursor).toBe('2026-12-08T00:00:00.000Z');

    // Nothing new: nothing published.
    expect(await second.premium.pollOnce()).toMatchObject({ published: 0, corrections: 0 });
  });

  it('publishes only the organization’s figures with GITHUB_COPILOT_PER_USER=false', async () => {
    api.setSeats([copilotSeat('alice-octo', '2026-12-07T09:00:00Z')]);
    api.setPremiumUsage('2026-12-06', { 'alice-octo': [premiumItem('GPT-5', 20, 0.4)], 'bob-builds': [premiumItem('GPT-5', 5, 0.2)] });
    const pollers = start({ GITHUB_COPILOT_PER_USER: 'false', BURNRATE_POLL_SOURCES: 'copilot_premium' });
    expect(pollers.map((p) => p.source)).toEqual(['copilot_premium']);
    await pollers[0]?.pollOnce();
    expect(api.seatPages()).toEqual([]);
    expect(api.usageCalls().every((c) => c.user === null)).toBe(true);
    expect(producer.events().map((e) => [e.developer, e.requests, e.cost_usd])).toEqual([['unattributed', 25, 0.6]]);
  });

  it('reads the users-1-day reports through their signed links without the token, a day once through a revision, and waits for a report not produced yet', async () => {
    api.setUserDays('2026-12-05', [userDay('2026-12-05', 'alice-octo', 14), userDay('2026-12-05', 'bob-builds', 0)], 2);
    // Not produced yet: GitHub answers 404 until it is.
    api.setUserDays('2026-12-06', null);

    const first = both();
    expect(await first.metrics.pollOnce()).toMatchObject({ buckets: 3, published: 2, rejected: 0 });
    const reports = () => api.requests.filter((r) => r.path.startsWith('/orgs/acme/copilot/metrics/reports/users-1-day'));
    // The day in progress has no report: not asked.
    expect(reports().map((r) => [new URL(r.path, api.origin).searchParams.get('day'), r.status])).toEqual([
      ['2026-12-05', 200],
      ['2026-12-06', 404],
    ]);
    expect(api.downloads().map((d) => [d.status, d.headers.authorization])).toEqual([
      [200, undefined],
      [200, undefined],
    ]);
    expect(producer.events().map((e) => [e.period_start?.slice(0, 10), e.developer, e.requests, e.input_tokens, e.cost_usd])).toEqual([
      ['2026-12-05', 'alice@acme.com', 14, 38_000, 0],
      ['2026-12-05', 'bob-builds', 0, 0, 0],
    ]);
    expect(first.metrics.health()).toMatchObject({ cursor: '2026-12-07T00:00:00.000Z', last_error: null });

    // A day later: Dec 6 is produced, GitHub revised Alice's Dec 5, Dec 7 had no activity (204);
    // it answers 500 once first.
    running.splice(0);
    clock.set(new Date('2026-12-08T01:20:00Z'));
    api.setUserDays('2026-12-05', [userDay('2026-12-05', 'alice-octo', 20), userDay('2026-12-05', 'bob-builds', 0)], 2);
    api.setUserDays('2026-12-06', [userDay('2026-12-06', 'alice-octo', 6)]);
    const second = both();
    api.failNext(1, { status: 500 });
    expect(await second.metrics.pollOnce()).toMatchObject({ published: 2, corrections: 1, rejected: 0 });
    expect(
      reports()
        .slice(2)
        .map((r) => [new URL(r.path, api.origin).searchParams.get('day'), r.status]),
    ).toEqual([
      ['2026-12-05', 500],
      ['2026-12-05', 200],
      ['2026-12-06', 200],
      ['2026-12-07', 204],
    ]);
    const events = producer.events();
    expect(events.filter((e) => e.developer === 'alice@acme.com').map((e) => [e.period_start?.slice(0, 10), e.requests])).toEqual([
      ['2026-12-05', 14],
      ['2026-12-05', 6],
      ['2026-12-06', 6],
    ]);
    expect(api.downloads().every((d) => d.status === 200 && d.headers.authorization === undefined)).toBe(true);
    expect(second.metrics.health().cursor).toBe('2026-12-08T00:00:00.000Z');
  });
});

/**
 * The pollers of `settings`, keeping their state in `dir`, publishing to `producer`, whose HTTP
 * retries wait no time, record each wait in `waits` and jitter to the middle.
 */
function testPollers(settings: PollerSettings, dir: string, producer: Producer, clock: Clock, waits: number[]): Pollers {
  return createPollers({
    settings,
    dir,
    ingest: testIngest(producer, clock),
    clock,
    log: silentLog,
    http: {
      sleep: (ms) => {
        waits.push(ms);
        return Promise.resolve();
      },
      random: () => 0.5,
    },
  });
}

/**
 * Starts the one poller `env` turns on, as a fresh process would (only the state files in `dir`
 * carry over from an earlier start); each start is kept in `running` to be stopped.
 */
function solePoller(
  env: Record<string, string>,
  around: { dir: string; producer: Producer; clock: Clock; waits: number[]; running: Pollers[] },
): () => Poller {
  return () => {
    const p = testPollers(PollerEnv.parse(env), around.dir, around.producer, around.clock, around.waits);
    around.running.push(p);
    const [poller] = p.pollers;
    if (poller === undefined || p.pollers.length !== 1)
      throw new Error(`expected one poller, not ${p.pollers.map((x) => x.source).join(', ')}`);
    return poller;
  };
}

function waitForHealth(health: () => PollerHealth[], predicate: (h: PollerHealth) => boolean): Promise<PollerHealth> {
  return waitUntil(() => health().find(predicate), { message: 'a health line to match' });
}
