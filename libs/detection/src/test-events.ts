import { UsageEvent } from '@burnrate/schemas';

/**
 * Usage events for this package's tests: valid by the real schema (parsed, so timestamps are
 * normalised exactly as consumers see them). Only tests import this file.
 */
export function usageEvent(overrides: Partial<UsageEvent> & { occurred_at: string; event_id: string }): UsageEvent {
  return UsageEvent.parse({
    source: 'claude_code_otel',
    provider: 'anthropic',
    tool: 'claude-code',
    granularity: 'request',
    ingested_at: overrides.occurred_at,
    org: 'acme',
    developer: 'alice@acme.com',
    developer_email: 'alice@acme.com',
    team: 'payments',
    session_id: '28b3c0de-7f1a-4c55-9d0e-3b1f2a6c9e41',
    model: 'claude-opus-4-5',
    model_family: 'claude-opus',
    tier: 'premium',
    is_batch: false,
    requests: 1,
    input_tokens: 1000,
    output_tokens: 200,
    cache_read_tokens: 0,
    cache_write_tokens: 0,
    cost_usd: 1,
    cost_source: 'reported',
    attributes: {},
    ...overrides,
  });
}

/** `2026-11-25T10:00:00Z` plus `minutes`, as ISO text. */
export function at(base: string, minutes: number): string {
  return new Date(Date.parse(base) + minutes * 60_000).toISOString();
}
