import { fixedClock } from '@burnrate/core';
import { buildUsageEvent, deterministicEventId } from '@burnrate/ingest';
import { describe, expect, it } from 'vitest';
import { pagesHttp, readFixture, recordingProducer, testContext, testIngest } from '../test-helpers.ts';
import { anthropicCostReport, anthropicUsageReport } from './anthropic.ts';

const NOW = new Date('2026-12-07T10:20:00Z');
const ingest = testIngest(recordingProducer(), fixedClock(NOW));
const signal = new AbortController().signal;
const window = { start: Date.parse('2026-12-06T00:00:00Z'), end: Date.parse('2026-12-07T11:00:00Z') };

describe('Anthropic usage report', () => {
  it('asks for hourly buckets grouped by key, workspace, account, model and tier, with the window as RFC 3339', async () => {
    const http = pagesHttp([readFixture('anthropic-usage-report.json')]);
    await anthropicUsageReport.read(window, http, signal);
    const [request] = http.requests;
    expect(request?.path).toBe('/v1/organizations/usage_report/messages');
    expect(request?.query.get('bucket_width')).toBe('1h');
    expect(request?.query.get('starting_at')).toBe('2026-12-06T00:00:00.000Z');
    expect(request?.query.get('ending_at')).toBe('2026-12-07T11:00:00.000Z');
    expect(request?.query.getAll('group_by[]')).toEqual(['account_id', 'api_key_id', 'workspace_id', 'model', 'service_tier']);
  });

  it('turns a row into an hourly event: uncached input, cache reads, writes of both TTLs, priced by the catalog', async () => {
    const [bucket] = await anthropicUsageReport.read(window, pagesHttp([readFixture('anthropic-usage-report.json')]), signal);
    const [row] = bucket?.rows ?? [];
    if (row === undefined) throw new Error('no row');
    const built = buildUsageEvent(
      { ...row.fields, event_id: deterministicEventId('anthropic_usage_report', row.key) },
      testContext(ingest, 'anthropic_usage_report'),
    );
    if (!built.ok) throw new Error(JSON.stringify(built.issues));
    // Sonnet 4.5: $3 in, $15 out, reads $0.30, 5m writes $3.75, 1h writes $6 per million.
    const expected = (1500 * 3 + 5000 * 15 + 200_000 * 0.3 + 1000 * 3.75 + 500 * 6) / 1e6;
    expect(built.event).toMatchObject({
      source: 'anthropic_usage_report',
      provider: 'anthropic',
      tool: 'api',
      granularity: '1h',
      period_start: '2026-12-07T09:00:00.000Z',
      period_end: '2026-12-07T10:00:00.000Z',
      occurred_at: '2026-12-07T09:00:00.000Z',
      model: 'claude-sonnet-4-5-20250929',
      service_tier: 'standard',
      is_batch: false,
      requests: 0,
      input_tokens: 1500,
      cache_read_tokens: 200_000,
      cache_write_tokens: 1500,
      output_tokens: 5000,
      cost_source: 'computed',
      api_key_id: 'apikey_01Rj2N8SVvo6BePZj99NhmiT',
      project: 'wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ',
      // The workspace's ownership rule: the key is nobody's alias.
      team: 'platform',
      developer: 'apikey_01Rj2N8SVvo6BePZj99NhmiT',
      attributes: { web_search_requests: '2' },
    });
    expect(built.event.cost_usd).toBeCloseTo(expected, 9);
  });

  it('keys a row on its bucket and every group-by value, nulls included', async () => {
    const [bucket] = await anthropicUsageReport.read(window, pagesHttp([readFixture('anthropic-usage-report.json')]), signal);
    expect(bucket?.rows[1]?.key).toEqual({
      starting_at: '2026-12-07T09:00:00.000Z',
      bucket_width: '1h',
      account_id: 'user_01WCz1FkmYMm4gnmykNKUu3Q',
      api_key_id: null,
      workspace_id: null,
      model: 'claude-haiku-4-5',
      service_tier: 'batch',
    });
  });

  it('attributes an OAuth account to its member, puts a null workspace in the default one and prices batch at half', async () => {
    const [bucket] = await anthropicUsageReport.read(window, pagesHttp([readFixture('anthropic-usage-report.json')]), signal);
    const row = bucket?.rows[1];
    if (row === undefined) throw new Error('no row');
    const built = buildUsageEvent({ ...row.fields, event_id: 'x' }, testContext(ingest, 'anthropic_usage_report'));
    if (!built.ok) throw new Error(JSON.stringify(built.issues));
    expect(built.event).toMatchObject({ developer: 'alice@acme.com', team: 'payments', project: 'default', is_batch: true });
    // Haiku 4.5: $1 in, $5 out per million, batch 50% off.
    expect(built.event.cost_usd).toBeCloseTo(((100_000 * 1 + 20_000 * 5) / 1e6) * 0.5, 9);
    expect(built.event.attributes).toEqual({ account_id: 'user_01WCz1FkmYMm4gnmykNKUu3Q' });
  });

  it('returns empty buckets too, so the cursor passes hours without usage', async () => {
    const buckets = await anthropicUsageReport.read(window, pagesHttp([readFixture('anthropic-usage-report.json')]), signal);
    expect(buckets.map((b) => [new Date(b.start).toISOString(), b.rows.length])).toEqual([
      ['2026-12-07T09:00:00.000Z', 2],
      ['2026-12-07T10:00:00.000Z', 0],
    ]);
  });

  it('refuses a page with a flat cache_creation_input_tokens in place of the TTL split, naming the field', async () => {
    const page = readFixture('anthropic-usage-report.json') as { data: { results: Record<string, unknown>[] }[] };
    const row = page.data[0]?.results[0] as Record<string, unknown>;
    delete row.cache_creation;
    row.cache_creation_input_tokens = 1500;
    await expect(anthropicUsageReport.read(window, pagesHttp([page]), signal)).rejects.toThrow(
      /page 1 .*data\.0\.results\.0\.cache_creation/,
    );
  });
});

describe('Anthropic cost report', () => {
  it('asks for daily buckets grouped by workspace and description', async () => {
    const http = pagesHttp([readFixture('anthropic-cost-report.json')]);
    await anthropicCostReport.read(window, http, signal);
    expect(http.requests[0]?.path).toBe('/v1/organizations/cost_report');
    expect(http.requests[0]?.query.get('bucket_width')).toBe('1d');
    expect(http.requests[0]?.query.getAll('group_by[]')).toEqual(['workspace_id', 'description']);
  });

  it('reads amount as a decimal string of cents and keeps it as the reported cost in USD', async () => {
    const [bucket] = await anthropicCostReport.read(window, pagesHttp([readFixture('anthropic-cost-report.json')]), signal);
    const ctx = testContext(ingest, 'anthropic_cost_report');
    const events = (bucket?.rows ?? []).map((row) => buildUsageEvent({ ...row.fields, event_id: 'x' }, ctx));
    expect(events.map((e) => (e.ok ? e.event : e.issues))).toMatchObject([
      {
        granularity: '1d',
        period_start: '2026-12-06T00:00:00.000Z',
        period_end: '2026-12-07T00:00:00.000Z',
        model: 'claude-sonnet-4-5-20250929',
        cost_usd: 1.2345,
        cost_source: 'reported',
        requests: 0,
        input_tokens: 0,
        project: 'wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ',
        team: 'platform',
        attributes: {
          description: 'Claude Sonnet 4.5 Usage - Output Tokens',
          cost_type: 'tokens',
          token_type: 'output_tokens',
          context_window: '0-200k',
          inference_geo: 'global',
        },
      },
      { model: 'unknown', cost_usd: 0.5, project: 'default', team: 'unattributed', attributes: { cost_type: 'code_execution' } },
    ]);
    expect(bucket?.rows[1]?.key).toEqual({
      starting_at: '2026-12-06T00:00:00.000Z',
      workspace_id: null,
      description: 'Code Execution Usage',
    });
  });
});
