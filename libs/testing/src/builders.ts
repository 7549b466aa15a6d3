import { Anomaly, type Subject, UsageEvent } from '@burnrate/schemas';

export type UsageEventOverrides = Partial<UsageEvent>;
export type AnomalyOverrides = Partial<Omit<Anomaly, 'subject'>> & { subject?: Partial<Subject> };

let sequence = 0;

/**
 * A valid, fully filled UsageEvent: one Claude Code request to claude-opus-4-5 by alice@acme.com
 * (payments) in one session (a UUID, as Claude Code names them), costing $0.42. Each call gets a
 * fresh event_id unless one is given, and is ingested a second after it occurred unless
 * `ingested_at` is given: an event stamped after its ingestion reads as clock skew to the
 * detectors; an override of `undefined` leaves an optional field out. The result is parsed with
 * the schema, so an override that breaks the contract throws here rather than deep inside a test.
 * Pure (no I/O): `@burnrate/testing/builders` is what the
 * tests of the pure packages import.
 */
export function usageEvent(overrides: UsageEventOverrides = {}): UsageEvent {
  sequence += 1;
  const occurredAt = overrides.occurred_at ?? '2026-11-27T14:00:00.000Z';
  const occurredMs = Date.parse(occurredAt);
  return withoutUndefined(
    UsageEvent.parse({
      event_id: `evt-${String(sequence).padStart(6, '0')}`,
      source: 'claude_code_otel',
      provider: 'anthropic',
      tool: 'claude-code',
      granularity: 'request',
      occurred_at: occurredAt,
      // An unreadable occurred_at is left for the schema to name.
      ingested_at: Number.isNaN(occurredMs) ? occurredAt : new Date(occurredMs + 1000).toISOString(),
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
      input_tokens: 12_000,
      output_tokens: 1_500,
      cache_read_tokens: 40_000,
      cache_write_tokens: 2_000,
      cost_usd: 0.42,
      cost_source: 'reported',
      attributes: {},
      ...overrides,
    }),
  );
}

/**
 * A valid Anomaly: a warning session_cost episode for alice@acme.com's session sess-1 in team
 * payments ($31.20 against a $25 cap), version 1, open. `subject` overrides merge into the default
 * subject (`model: undefined` leaves the model out); everything else replaces. Parsed with the
 * schema like usageEvent.
 */
export function anomaly(overrides: AnomalyOverrides = {}): Anomaly {
  const { subject, ...rest } = overrides;
  const built = Anomaly.parse({
    id: 'session_cost:acme:alice@acme.com:sess-1:2026-11-27T13:00:00Z',
    version: 1,
    kind: 'session_cost',
    severity: 'warning',
    status: 'open',
    subject: {
      org: 'acme',
      team: 'payments',
      developer: 'alice@acme.com',
      session: 'sess-1',
      model: 'claude-opus-4-5',
      ...subject,
    },
    window: { start: '2026-11-27T13:00:00.000Z', end: '2026-11-27T14:05:00.000Z' },
    observed: { value: 31.2, unit: 'usd' },
    expected: { value: 25, unit: 'usd' },
    impact_usd: 6.2,
    projected_usd: 140,
    evidence: [
      { at: '2026-11-27T13:15:00.000Z', label: 'turn 10', value: 0.35, unit: 'usd' },
      { at: '2026-11-27T13:30:00.000Z', label: 'turn 20', value: 0.61, unit: 'usd' },
      { at: '2026-11-27T13:45:00.000Z', label: 'turn 30', value: 1.12, unit: 'usd' },
      { at: '2026-11-27T14:00:00.000Z', label: 'turn 40', value: 2.05, unit: 'usd' },
    ],
    summary: 'Session sess-1 by alice@acme.com has cost $31.20 in 65 minutes, above the $25 warning cap.',
    advice: 'Each turn costs more than the last: ask the developer to reset the context (/clear) or stop the agent.',
    detected_at: '2026-11-27T14:05:00.000Z',
    ...rest,
  });
  return withoutUndefined({ ...built, subject: withoutUndefined(built.subject) });
}

/**
 * An override of `undefined` leaves an optional field out, as a producer that never set it
 * would: the key is absent, not present and undefined (`'session_id' in event` is false).
 */
function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/**
 * A provider report's daily bucket as a poller publishes it: `granularity: '1d'` over the UTC
 * `day`, attributed to a workspace rather than a developer, no session; `overrides` as usageEvent.
 */
export function reportBucket(source: string, day: string, cost_usd: number, overrides: UsageEventOverrides = {}): UsageEvent {
  const start = `${day}T00:00:00.000Z`;
  return usageEvent({
    source,
    granularity: '1d',
    period_start: start,
    period_end: new Date(Date.parse(start) + 86_400_000).toISOString(),
    occurred_at: start,
    developer: 'workspace:default',
    session_id: undefined,
    cost_usd,
    ...overrides,
  });
}
