import type { Anomaly, AnomalyState, DlqRecord, UsageEvent } from '@burnrate/schemas';
import type { DeliveryRecord } from '../src/port.ts';

/** A request-level event with every required field; pass overrides for what a test is about. */
export function usageEvent(overrides: Partial<UsageEvent> = {}): UsageEvent {
  return {
    event_id: 'evt-1',
    source: 'claude_code_otel',
    provider: 'anthropic',
    tool: 'claude-code',
    granularity: 'request',
    occurred_at: '2026-03-02T10:15:00.000Z',
    ingested_at: '2026-03-02T10:15:01.000Z',
    org: 'acme',
    developer: 'alice@acme.com',
    team: 'payments',
    model: 'claude-opus-4-5',
    model_family: 'claude-opus',
    tier: 'premium',
    is_batch: false,
    requests: 1,
    input_tokens: 1200,
    output_tokens: 340,
    cache_read_tokens: 50_000,
    cache_write_tokens: 0,
    cost_usd: 0.1234,
    cost_source: 'computed',
    attributes: {},
    ...overrides,
  };
}

/** An event with every optional field set, and values that stress quoting and precision. */
export function fullUsageEvent(overrides: Partial<UsageEvent> = {}): UsageEvent {
  return usageEvent({
    event_id: 'evt-full',
    granularity: '1h',
    period_start: '2026-03-02T10:00:00.000Z',
    period_end: '2026-03-02T11:00:00.000Z',
    developer_email: "o'brien@acme.com",
    session_id: 'sess-"quoted"',
    prompt_id: 'prompt-1',
    api_key_id: 'key-{x:String}',
    project: 'ledger\nnewline',
    service_tier: 'priority',
    is_batch: true,
    speed: 'fast',
    requests: 3,
    input_tokens: 2 ** 39,
    cost_usd: 0.1 + 0.2,
    cost_source: 'reported',
    computed_cost_usd: 1 / 3,
    overlap_group: 'og-1',
    fingerprint: '0123456789abcdef0123456789abcdef',
    attributes: { terminal: 'vscode', query_source: 'agent', 'unicode ✓': 'ünïcødé 🚀' },
    ...overrides,
  });
}

export function anomaly(overrides: Partial<Anomaly> = {}): Anomaly {
  return {
    id: 'anom-1',
    version: 1,
    kind: 'session_cost',
    severity: 'warning',
    status: 'open',
    subject: { org: 'acme', team: 'payments', developer: 'alice@acme.com', session: 'sess-1' },
    window: { start: '2026-03-02T10:00:00.000Z', end: '2026-03-02T11:00:00.000Z' },
    observed: { value: 31.25, unit: 'usd' },
    expected: { value: 0.1 + 0.2, unit: 'usd' },
    impact_usd: 30.95,
    projected_usd: 120,
    evidence: [
      { at: '2026-03-02T10:10:00.000Z', label: 'turn 1', value: 0.5, unit: 'usd' },
      { at: '2026-03-02T10:20:00.000Z', label: 'turn "40"', value: 4.75, unit: 'usd' },
    ],
    summary: "Alice's session has spent $31.25 in an hour.",
    advice: 'Reset the context.',
    detected_at: '2026-03-02T11:00:00.000Z',
    ...overrides,
  };
}

export function anomalyState(overrides: Partial<AnomalyState> = {}): AnomalyState {
  return {
    anomaly_id: 'anom-1',
    action: 'acknowledged',
    by: 'bob@acme.com',
    channel: 'slack',
    at: '2026-03-02T11:05:00.000Z',
    ...overrides,
  };
}

export function dlqRecord(overrides: Partial<DlqRecord> = {}): DlqRecord {
  return {
    dlq_id: 'dlq-1',
    source: 'cursor_events',
    received_at: '2026-03-02T10:00:00.000Z',
    reason: 'invalid record',
    issues: [{ path: 'cost_usd', message: 'expected a number' }],
    raw: '{"cost_usd":"12 cents"}',
    ...overrides,
  };
}

export function delivery(overrides: Partial<DeliveryRecord> = {}): DeliveryRecord {
  return {
    anomaly_id: 'anom-1',
    version: 1,
    receiver: 'slack:#payments-ai-spend',
    channel: 'slack',
    status: 'sent',
    detail: 'ts=1700000000.000100',
    attempts: 1,
    at: '2026-03-02T11:00:05.000Z',
    ...overrides,
  };
}
