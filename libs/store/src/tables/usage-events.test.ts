import { describe, expect, it } from 'vitest';
import { UsageEvent } from '@burnrate/schemas';
import { fullUsageEvent, usageEvent } from '../../test-support/fixtures.ts';
import { usageEventFromRow, usageEventToRow } from './usage-events.ts';

describe('usage event rows', () => {
  it('writes instants as UTC DateTime64 text and absent optionals as NULL', () => {
    const row = usageEventToRow(UsageEvent.parse(usageEvent({ occurred_at: '2026-03-02T11:15:00.5+01:00' })));
    expect(row.occurred_at).toBe('2026-03-02 10:15:00.500');
    expect(row.session_id).toBeNull();
    expect(row.period_start).toBeNull();
    expect(row.computed_cost_usd).toBeNull();
  });

  it('reads back exactly what was written, with 64-bit integers quoted as a server sends them', () => {
    const event = UsageEvent.parse(fullUsageEvent());
    const row = usageEventToRow(event);
    const fromServer = { ...row, input_tokens: String(row.input_tokens), requests: String(row.requests) };
    expect(usageEventFromRow(fromServer)).toEqual(event);
    expect(usageEventFromRow(row)).toEqual(event);
  });

  it('omits optional keys that were NULL rather than setting them to undefined', () => {
    const event = UsageEvent.parse(usageEvent());
    const back = usageEventFromRow(usageEventToRow(event));
    expect(Object.keys(back).sort()).toEqual(Object.keys(event).sort());
  });
});
