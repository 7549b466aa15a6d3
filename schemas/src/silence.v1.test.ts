import { describe, expect, it } from 'vitest';
import { anomaly } from '@burnrate/testing/builders';
import { formatSilenceMatcher, parseSilenceMatcher, Silence, silenceActive, silenceMatches, type SilenceMatcher } from './silence.v1.ts';

const silence = (matchers: SilenceMatcher[], overrides: Partial<Silence> = {}): Silence =>
  Silence.parse({
    id: 'sil-1',
    matchers,
    starts_at: '2026-11-27T10:00:00Z',
    ends_at: '2026-11-27T14:00:00Z',
    created_by: 'bob@acme.com',
    comment: 'load test in payments',
    created_at: '2026-11-27T09:59:00Z',
    ...overrides,
  });
const during = new Date('2026-11-27T12:00:00Z');
// A warning session_cost for alice@acme.com's session sess-1 in payments, no model.
const sessionCost = anomaly({ subject: { session: 'sess-1', model: undefined } });

describe('silenceMatches', () => {
  it('matches when every matcher holds, while active', () => {
    const s = silence([
      { label: 'team', value: 'payments' },
      { label: 'kind', value: 'session_cost' },
    ]);
    expect(silenceMatches(s, sessionCost, during)).toBe(true);
    expect(silenceMatches(s, anomaly({ subject: { team: 'research' } }), during)).toBe(false);
    expect(silenceMatches(s, anomaly({ kind: 'spend_spike' }), during)).toBe(false);
  });

  it('is active from starts_at (inclusive) to ends_at (exclusive)', () => {
    const s = silence([{ label: 'team', value: 'payments' }]);
    expect(silenceMatches(s, sessionCost, new Date('2026-11-27T09:59:59.999Z'))).toBe(false);
    expect(silenceMatches(s, sessionCost, new Date('2026-11-27T10:00:00Z'))).toBe(true);
    expect(silenceMatches(s, sessionCost, new Date('2026-11-27T13:59:59.999Z'))).toBe(true);
    expect(silenceMatches(s, sessionCost, new Date('2026-11-27T14:00:00Z'))).toBe(false);
    // An expired silence (ends_at = starts_at) never matches.
    expect(silenceActive({ starts_at: '2026-11-27T10:00:00Z', ends_at: '2026-11-27T10:00:00Z' }, new Date('2026-11-27T10:00:00Z'))).toBe(
      false,
    );
  });

  it('!= matches any other value, and a missing label counts as empty', () => {
    const notCritical = silence([{ label: 'severity', value: 'critical', op: '!=' }]);
    expect(silenceMatches(notCritical, sessionCost, during)).toBe(true);
    expect(silenceMatches(notCritical, anomaly({ severity: 'critical' }), during)).toBe(false);
    // No model on the anomaly: model=x never matches, model!=x always does.
    expect(silenceMatches(silence([{ label: 'model', value: 'gpt-5' }]), sessionCost, during)).toBe(false);
    expect(silenceMatches(silence([{ label: 'model', value: 'gpt-5', op: '!=' }]), sessionCost, during)).toBe(true);
    expect(silenceMatches(silence([{ label: 'tool', value: 'cursor' }]), sessionCost, during)).toBe(false);
    expect(silenceMatches(silence([{ label: 'developer', value: 'alice@acme.com' }]), sessionCost, during)).toBe(true);
    expect(silenceMatches(silence([{ label: 'session', value: 'sess-1' }]), sessionCost, during)).toBe(true);
    expect(silenceMatches(silence([{ label: 'session', value: 'sess-2' }]), sessionCost, during)).toBe(false);
  });
});

describe('Silence', () => {
  it('refuses no matchers, an unknown kind or severity, and an end before the start', () => {
    expect(() => silence([])).toThrow(/at least one matcher/);
    expect(() => silence([{ label: 'kind', value: 'session_costs' }])).toThrow(/kind must be one of session_cost/);
    expect(() => silence([{ label: 'severity', value: 'high' }])).toThrow(/severity must be one of info, warning, critical/);
    expect(() => silence([{ label: 'team', value: 'payments' }], { ends_at: '2026-11-27T09:00:00Z' })).toThrow(/before starts_at/);
    expect(() => silence([{ label: 'org' as never, value: 'acme' }])).toThrow();
  });
});

describe('parseSilenceMatcher', () => {
  it('reads label=value and label!=value, and formats them back', () => {
    expect(parseSilenceMatcher('team=payments')).toEqual({ label: 'team', value: 'payments' });
    expect(parseSilenceMatcher(' kind != spend_spike ')).toEqual({ label: 'kind', value: 'spend_spike', op: '!=' });
    expect(parseSilenceMatcher('developer=o=brien@acme.com')).toEqual({ label: 'developer', value: 'o=brien@acme.com' });
    for (const text of ['team=payments', 'kind!=spend_spike']) expect(formatSilenceMatcher(parseSilenceMatcher(text))).toBe(text);
  });

  it('says what is wrong', () => {
    expect(() => parseSilenceMatcher('payments')).toThrow(/not a matcher: write label=value/);
    expect(() => parseSilenceMatcher('org=acme')).toThrow(/label must be one of team, kind/);
    expect(() => parseSilenceMatcher('team=')).toThrow(/value is empty/);
    expect(() => parseSilenceMatcher('kind=session-cost')).toThrow(/kind must be one of session_cost/);
  });
});
