import { fixedClock } from '@burnrate/core';
import { buildUsageEvent } from '@burnrate/ingest';
import { describe, expect, it } from 'vitest';
import { pagesHttp, readFixture, recordingProducer, testContext, testIngest } from '../test-helpers.ts';
import { claudeCodeAnalytics } from './claude-code-analytics.ts';

const NOW = new Date('2026-12-07T10:20:00Z');
const ingest = testIngest(recordingProducer(), fixedClock(NOW));
const signal = new AbortController().signal;
const emptyPage = { data: [], has_more: false, next_page: null };

describe('Claude Code Analytics report', () => {
  it('asks for one UTC day per call, every day of the window', async () => {
    const http = pagesHttp([readFixture('claude-code-analytics.json'), emptyPage]);
    const buckets = await claudeCodeAnalytics.read(
      { start: Date.parse('2026-12-06T00:00:00Z'), end: Date.parse('2026-12-08T00:00:00Z') },
      http,
      signal,
    );
    expect(http.requests.map((r) => [r.path, r.query.get('starting_at')])).toEqual([
      ['/v1/organizations/usage_report/claude_code', '2026-12-06'],
      ['/v1/organizations/usage_report/claude_code', '2026-12-07'],
    ]);
    expect(buckets.map((b) => [new Date(b.start).toISOString(), b.rows.length])).toEqual([
      ['2026-12-06T00:00:00.000Z', 3],
      ['2026-12-07T00:00:00.000Z', 0],
    ]);
  });

  it('makes one daily event per model of each record: estimated cost in cents as USD, tokens, the user by email', async () => {
    const [bucket] = await claudeCodeAnalytics.read(
      { start: Date.parse('2026-12-06T00:00:00Z'), end: Date.parse('2026-12-07T00:00:00Z') },
      pagesHttp([readFixture('claude-code-analytics.json')]),
      signal,
    );
    const ctx = testContext(ingest, 'claude_code_analytics');
    const events = (bucket?.rows ?? []).map((row) => {
      const built = buildUsageEvent({ ...row.fields, event_id: 'x' }, ctx);
      if (!built.ok) throw new Error(JSON.stringify(built.issues));
      return built.event;
    });
    expect(events).toMatchObject([
      {
        source: 'claude_code_analytics',
        provider: 'anthropic',
        tool: 'claude-code',
        granularity: '1d',
        period_start: '2026-12-06T00:00:00.000Z',
        period_end: '2026-12-07T00:00:00.000Z',
        model: 'claude-sonnet-4-5-20250929',
        input_tokens: 100_000,
        output_tokens: 35_000,
        cache_read_tokens: 10_000,
        cache_write_tokens: 5000,
        cost_usd: 1.86,
        cost_source: 'reported',
        developer: 'alice@acme.com',
        team: 'payments',
        attributes: { terminal_type: 'vscode', is_remote: 'false', customer_type: 'api' },
      },
      { model: 'claude-haiku-4-5', cost_usd: 0.15, developer: 'alice@acme.com' },
      // An API key is known by its name only.
      {
        model: 'claude-opus-4-5',
        cost_usd: 0.035,
        developer: 'payments-ci',
        team: 'unattributed',
        attributes: { api_key_name: 'payments-ci', is_remote: 'true' },
      },
    ]);
    expect(events[0]?.computed_cost_usd).toBeGreaterThan(0);
  });

  it('keys a row on the day, organisation, actor, terminal, remote and model', async () => {
    const [bucket] = await claudeCodeAnalytics.read(
      { start: Date.parse('2026-12-06T00:00:00Z'), end: Date.parse('2026-12-07T00:00:00Z') },
      pagesHttp([readFixture('claude-code-analytics.json')]),
      signal,
    );
    expect(bucket?.rows[2]?.key).toEqual({
      date: '2026-12-06T00:00:00.000Z',
      organization_id: '12345678-1234-5678-1234-567812345678',
      actor_type: 'api_actor',
      actor: 'payments-ci',
      terminal_type: 'iTerm.app',
      is_remote: true,
      model: 'claude-opus-4-5',
    });
  });
});
