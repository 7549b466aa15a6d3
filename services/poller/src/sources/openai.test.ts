import { fixedClock } from '@burnrate/core';
import { buildUsageEvent } from '@burnrate/ingest';
import { describe, expect, it } from 'vitest';
import { pagesHttp, readFixture, recordingProducer, testContext, testIngest } from '../test-helpers.ts';
import { openaiCompletionsUsage, openaiCosts } from './openai.ts';

const NOW = new Date('2026-12-07T10:20:00Z');
const ingest = testIngest(recordingProducer(), fixedClock(NOW));
const signal = new AbortController().signal;
const window = { start: Date.parse('2026-12-06T00:00:00Z'), end: Date.parse('2026-12-07T11:00:00Z') };

describe('OpenAI completions usage', () => {
  it('asks for hourly buckets over Unix seconds, grouped by the canonical set', async () => {
    const http = pagesHttp([readFixture('openai-usage-completions.json')]);
    await openaiCompletionsUsage.read(window, http, signal);
    const [request] = http.requests;
    expect(request?.path).toBe('/v1/organization/usage/completions');
    expect(request?.query.get('start_time')).toBe(String(window.start / 1000));
    expect(request?.query.get('end_time')).toBe(String(window.end / 1000));
    expect(request?.query.get('bucket_width')).toBe('1h');
    expect(request?.query.getAll('group_by[]')).toEqual(['project_id', 'user_id', 'api_key_id', 'model', 'batch', 'service_tier']);
  });

  it('takes cache reads and writes out of input_tokens, counts requests, attributes the user', async () => {
    const [bucket] = await openaiCompletionsUsage.read(window, pagesHttp([readFixture('openai-usage-completions.json')]), signal);
    const ctx = testContext(ingest, 'openai_usage');
    const [first, second] = (bucket?.rows ?? []).map((row) => {
      const built = buildUsageEvent({ ...row.fields, event_id: 'x' }, ctx);
      if (!built.ok) throw new Error(JSON.stringify(built.issues));
      return built.event;
    });
    expect(first).toMatchObject({
      source: 'openai_usage',
      provider: 'openai',
      granularity: '1h',
      period_start: '2026-12-07T09:00:00.000Z',
      period_end: '2026-12-07T10:00:00.000Z',
      model: 'gpt-5-mini-2025-08-07',
      requests: 7,
      input_tokens: 3000,
      cache_read_tokens: 8000,
      cache_write_tokens: 1000,
      output_tokens: 900,
      is_batch: false,
      service_tier: 'default',
      api_key_id: 'key_xyz789',
      project: 'proj_abc123',
      developer: 'alice@acme.com',
      team: 'payments',
      cost_source: 'computed',
      attributes: { user_id: 'user-alice' },
    });
    // Without input_uncached_tokens: 5000 in, of which 1000 cached.
    expect(second).toMatchObject({
      input_tokens: 4000,
      cache_read_tokens: 1000,
      cache_write_tokens: 0,
      is_batch: true,
      requests: 2,
      developer: 'key_batch01',
      team: 'unattributed',
    });
    expect(first?.cost_usd).toBeGreaterThan(0);
  });

  it('keys a row on start_time, width and every group-by value', async () => {
    const [bucket] = await openaiCompletionsUsage.read(window, pagesHttp([readFixture('openai-usage-completions.json')]), signal);
    expect(bucket?.rows[1]?.key).toEqual({
      start_time: 1796634000,
      bucket_width: '1h',
      project_id: null,
      user_id: null,
      api_key_id: 'key_batch01',
      model: 'gpt-5',
      batch: true,
      service_tier: null,
    });
  });
});

describe('OpenAI costs', () => {
  it('asks for daily buckets grouped by project, line item and key', async () => {
    const http = pagesHttp([readFixture('openai-costs.json')]);
    await openaiCosts.read(window, http, signal);
    expect(http.requests[0]?.path).toBe('/v1/organization/costs');
    expect(http.requests[0]?.query.getAll('group_by[]')).toEqual(['project_id', 'line_item', 'api_key_id']);
  });

  it('keeps amount.value as dollars, the model from the line item, and the project and key', async () => {
    const [bucket] = await openaiCosts.read(window, pagesHttp([readFixture('openai-costs.json')]), signal);
    const ctx = testContext(ingest, 'openai_costs');
    const events = (bucket?.rows ?? []).map((row) => buildUsageEvent({ ...row.fields, event_id: 'x' }, ctx));
    expect(events.map((e) => (e.ok ? e.event : e.issues))).toMatchObject([
      {
        granularity: '1d',
        period_start: '2026-12-06T00:00:00.000Z',
        period_end: '2026-12-07T00:00:00.000Z',
        model: 'gpt-5-mini',
        cost_usd: 0.0625,
        cost_source: 'reported',
        project: 'proj_abc123',
        api_key_id: 'key_xyz789',
        team: 'platform',
        attributes: { line_item: 'gpt-5-mini, input', quantity: '250000', quantity_unit: 'tokens' },
      },
      { model: 'unknown', cost_usd: 1.5, team: 'unattributed', attributes: { line_item: 'Web search tool calls' } },
    ]);
  });

  it('refuses a page in another currency rather than publishing it as dollars', async () => {
    const page = readFixture('openai-costs.json') as { data: { results: { amount: { currency: string } }[] }[] };
    const first = page.data[0]?.results[0];
    if (first) first.amount.currency = 'eur';
    await expect(openaiCosts.read(window, pagesHttp([page]), signal)).rejects.toThrow(/currency eur, only USD/);
  });
});
