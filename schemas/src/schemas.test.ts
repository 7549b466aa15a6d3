import { describe, expect, it } from 'vitest';
import {
  Anomaly,
  AnomalyState,
  BackfillWindow,
  DlqRecord,
  isSpendCorrection,
  safeParseTeamInput,
  TeamInput,
  TOPIC_NAMES,
  TOPICS,
  UsageEvent,
  usageEventKey,
  UsageRollup,
  usageRollupKey,
} from './index.ts';

const event = {
  event_id: 'http_events:abc',
  source: 'http_events',
  provider: 'anthropic',
  tool: 'claude-code',
  granularity: 'request',
  occurred_at: '2026-11-28T09:00:00+01:00',
  ingested_at: '2026-11-28T08:00:01Z',
  org: 'acme',
  developer: 'alice@acme.com',
  developer_email: 'alice@acme.com',
  team: 'payments',
  session_id: 's-1',
  model: 'claude-sonnet-4-5',
  model_family: 'claude-sonnet',
  tier: 'standard',
  is_batch: false,
  requests: 1,
  input_tokens: 1200,
  output_tokens: 40,
  cache_read_tokens: 20000,
  cache_write_tokens: 5000,
  cost_usd: 0.02895,
  cost_source: 'reported',
  attributes: { terminal: 'xterm' },
};

const anomaly = {
  id: 'an_1',
  version: 1,
  kind: 'session_cost',
  severity: 'warning',
  status: 'open',
  subject: { org: 'acme', team: 'payments', developer: 'alice@acme.com', session: 's-1' },
  window: { start: '2026-11-28T08:00:00Z', end: '2026-11-28T09:00:00Z' },
  observed: { value: 31.5, unit: 'usd' },
  expected: { value: 25, unit: 'usd' },
  impact_usd: 6.5,
  projected_usd: 120,
  evidence: [{ at: '2026-11-28T09:00:00Z', label: 'cumulative cost', value: 31.5, unit: 'usd' }],
  summary: 'Session s-1 has cost $31.50.',
  advice: 'Reset the context.',
  detected_at: '2026-11-28T09:00:00Z',
};

describe('UsageEvent', () => {
  it('accepts a complete event and normalises instants to UTC', () => {
    const parsed = UsageEvent.parse(event);
    expect(parsed.occurred_at).toBe('2026-11-28T08:00:00.000Z');
  });

  it.each([
    ['negative cost', { cost_usd: -1 }, 'cost_usd'],
    ['fractional tokens', { input_tokens: 1.5 }, 'input_tokens'],
    ['unknown granularity', { granularity: '5m' }, 'granularity'],
    ['timestamp without offset', { occurred_at: '2026-11-28 09:00' }, 'occurred_at'],
    ['unknown field', { colour: 'red' }, ''],
    ['bucket without period', { granularity: '1h' }, 'period_start'],
  ])('rejects %s naming the field', (_name, patch, path) => {
    const result = UsageEvent.safeParse({ ...event, ...patch });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toContain(path);
  });
});

describe('Anomaly and AnomalyState', () => {
  it('accepts a valid anomaly and rejects version 0 and an unknown kind', () => {
    expect(Anomaly.parse(anomaly).id).toBe('an_1');
    expect(Anomaly.safeParse({ ...anomaly, version: 0 }).success).toBe(false);
    expect(Anomaly.safeParse({ ...anomaly, kind: 'vibes' }).success).toBe(false);
  });

  it("marks a backfill's anomaly historical, and reads anomalies without the field as live", () => {
    expect(Anomaly.parse(anomaly).historical).toBeUndefined();
    expect(Anomaly.parse({ ...anomaly, historical: true }).historical).toBe(true);
    // Absent is the one way to say live, so a stored row and a message agree on it.
    expect(Anomaly.safeParse({ ...anomaly, historical: false }).success).toBe(false);
  });

  it('needs snoozed_until for a snooze', () => {
    const base = { anomaly_id: 'an_1', action: 'snoozed', by: 'bob@acme.com', channel: 'slack', at: '2026-11-28T09:00:00Z' };
    expect(AnomalyState.safeParse(base).success).toBe(false);
    expect(AnomalyState.safeParse({ ...base, snoozed_until: '2026-11-28T13:00:00Z' }).success).toBe(true);
  });

  it('keeps DLQ records with their issues', () => {
    const rec = {
      dlq_id: 'd1',
      source: 'http_events',
      received_at: '2026-11-28T09:00:00Z',
      index: 3,
      reason: 'invalid',
      issues: [{ path: 'model', message: 'required' }],
      raw: '{}',
    };
    expect(DlqRecord.parse(rec).index).toBe(3);
  });
});

describe('topic registry', () => {
  it('names topics <domain>.<event>.v<N>', () => {
    expect(TOPIC_NAMES).toEqual([
      'usage.events.v1',
      'usage.dlq.v1',
      'anomalies.v1',
      'anomaly-state.v1',
      'usage.rollups.v1',
      'usage.backfill.v1',
    ]);
    for (const name of TOPIC_NAMES) expect(name).toMatch(/^[a-z-]+(\.[a-z-]+)*\.v\d+$/);
    expect(TOPICS.usageEvents.schema).toBe(UsageEvent);
  });

  it('keys usage events by org and developer', () => {
    expect(usageEventKey({ org: 'acme', developer: 'alice@acme.com' })).toBe('acme:alice@acme.com');
  });

  it("keys rollups by org and team; the topic carries the reports' corrections beside them", () => {
    expect(TOPICS.usageRollups).toMatchObject({ name: 'usage.rollups.v1', schema: TeamInput, key: 'org:team' });
    expect(usageRollupKey({ org: 'acme', team: 'payments' })).toBe('acme:payments');
  });

  describe('TeamInput', () => {
    const correction = {
      correction: 'provider_reports',
      org: 'acme',
      team: 'payments',
      day: '2026-12-07',
      counted_usd: 95,
      judged_usd: 30,
      sources: ['anthropic_cost_report'],
      as_of: '2026-12-07T23:00:00.000Z',
    };

    it('reads a correction as one, and names what is wrong with a bad one', () => {
      const ok = safeParseTeamInput(correction);
      expect(ok.success && isSpendCorrection(ok.data)).toBe(true);
      const bad = safeParseTeamInput({ ...correction, day: '2026-12-32', judged_usd: -1 });
      expect(bad.success).toBe(false);
      if (!bad.success) expect(bad.error.issues.map((i) => i.path.join('.')).sort()).toEqual(['day', 'judged_usd']);
      // A rollup's fields on a correction are refused, not taken for a rollup.
      const mixed = safeParseTeamInput({ ...correction, seq: 4 });
      expect(mixed.success).toBe(false);
      expect(TeamInput.safeParse(correction).success).toBe(true);
    });
  });
});

describe('BackfillWindow', () => {
  const window = {
    org: 'acme',
    from: '2026-10-28T09:00:00+01:00',
    to: '2026-10-29T17:30:00Z',
    events: 1200,
    source: 'usage.events.v1:3',
    last_event: { event_id: 'http_events:abc', occurred_at: '2026-10-29T17:30:00Z' },
    watermark: '2026-11-28T14:41:07Z',
  };

  it('accepts a span of late events and normalises instants to UTC', () => {
    expect(BackfillWindow.parse(window)).toMatchObject({ from: '2026-10-28T08:00:00.000Z', to: '2026-10-29T17:30:00.000Z' });
    expect(TOPICS.usageBackfill).toMatchObject({ name: 'usage.backfill.v1', schema: BackfillWindow, key: 'org' });
  });

  it.each([
    ['a span that ends before it starts', { to: '2026-10-28T07:59:59Z' }, 'to'],
    ['no events', { events: 0 }, 'events'],
    ['no last event id', { last_event: { event_id: '', occurred_at: '2026-10-29T17:30:00Z' } }, 'last_event.event_id'],
    ['an unknown field', { team: 'payments' }, ''],
  ])('rejects %s naming the field', (_name, patch, path) => {
    const result = BackfillWindow.safeParse({ ...window, ...patch });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toContain(path);
  });
});

describe('UsageRollup', () => {
  const rollup = {
    org: 'acme',
    team: 'payments',
    developer: 'alice@acme.com',
    model: 'claude-opus-4-5',
    tier: 'premium',
    hour: '2026-11-28T15:00:00+01:00',
    cost_usd: 12.5,
    cost_premium_usd: 12.5,
    events: 40,
    premium_events: 40,
    input_tokens: 120_000,
    cache_read_tokens: 900_000,
    cache_write_tokens: 30_000,
    output_tokens: 8_000,
    source: 'usage.events.v1:3',
    seq: 18_004,
    watermark: '2026-11-28T14:41:07Z',
  };

  it('accepts cumulative totals of an hour and normalises instants to UTC', () => {
    expect(UsageRollup.parse(rollup)).toMatchObject({ hour: '2026-11-28T14:00:00.000Z', watermark: '2026-11-28T14:41:07.000Z' });
  });

  it.each([
    ['an hour that does not start on the hour', { hour: '2026-11-28T14:30:00Z' }, 'hour'],
    ['more premium events than events', { premium_events: 41 }, 'premium_events'],
    ['a fractional seq', { seq: 1.5 }, 'seq'],
    ['a negative cost', { cost_usd: -1 }, 'cost_usd'],
    ['no source', { source: '' }, 'source'],
    ['no developer', { developer: '' }, 'developer'],
    ['an unknown field', { session_id: 's-1' }, ''],
  ])('rejects %s naming the field', (_name, patch, path) => {
    const result = UsageRollup.safeParse({ ...rollup, ...patch });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toContain(path);
  });
});
