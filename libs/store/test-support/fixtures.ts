import type { Anomaly, AnomalyState, DlqRecord, UsageEvent } from '@burnrate/schemas';
import { anomaly as buildAnomaly, type AnomalyOverrides, usageEvent as buildUsageEvent } from '@burnrate/testing/builders';
import type { DeliveryRecord } from '../src/port.ts';

/**
 * The shared event as the store's tests need it: in the 10:00 hour of 2026-03-02 (the spend and
 * time-window tests count on one hour), without a session or an email (the round trip checks that
 * absent optionals stay absent), with token counts the spend rollups sum, and a computed cost.
 */
export function usageEvent(overrides: Partial<UsageEvent> = {}): UsageEvent {
  return buildUsageEvent({
    event_id: 'evt-1',
    occurred_at: '2026-03-02T10:15:00.000Z',
    session_id: undefined,
    developer_email: undefined,
    input_tokens: 1200,
    output_tokens: 340,
    cache_read_tokens: 50_000,
    cache_write_tokens: 0,
    cost_usd: 0.1234,
    cost_source: 'computed',
    ...overrides,
  });
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

/**
 * The shared anomaly with values that stress the store: an expected value that is not exact in
 * binary (0.1 + 0.2), quotes in the evidence, times on 2026-03-02, and no model in the subject
 * unless one is given (an absent optional must round-trip as absent).
 */
export function anomaly(overrides: AnomalyOverrides = {}): Anomaly {
  return buildAnomaly({
    id: 'anom-1',
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
    subject: { model: undefined, ...overrides.subject },
  });
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
