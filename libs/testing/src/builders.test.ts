import { Anomaly, UsageEvent } from '@burnrate/schemas';
import { describe, expect, it } from 'vitest';
import { anomaly, usageEvent } from './builders.ts';
import { settled, waitUntil } from './wait-until.ts';

describe('usageEvent', () => {
  it('builds a valid event with a fresh id each time', () => {
    const a = usageEvent();
    const b = usageEvent({ cost_usd: 3 });
    expect(UsageEvent.safeParse(a).success).toBe(true);
    expect(a.event_id).not.toBe(b.event_id);
    expect(b.cost_usd).toBe(3);
  });

  it('throws when an override breaks the contract', () => {
    expect(() => usageEvent({ cost_usd: -1 })).toThrow();
    expect(() => usageEvent({ occurred_at: 'Friday' })).toThrow(/occurred_at/);
  });

  it('leaves out an optional field overridden with undefined', () => {
    const e = usageEvent({ session_id: undefined, developer_email: undefined });
    expect('session_id' in e || 'developer_email' in e).toBe(false);
    expect(UsageEvent.parse(e)).toEqual(e);
  });

  it('is ingested a second after it occurred, unless told otherwise', () => {
    expect(usageEvent({ occurred_at: '2026-11-25T10:00:00+01:00' })).toMatchObject({
      occurred_at: '2026-11-25T09:00:00.000Z',
      ingested_at: '2026-11-25T09:00:01.000Z',
    });
    expect(usageEvent({ occurred_at: '2026-11-25T09:00:00Z', ingested_at: '2026-11-26T00:00:00Z' }).ingested_at).toBe(
      '2026-11-26T00:00:00.000Z',
    );
  });
});

describe('anomaly', () => {
  it('merges subject overrides into the default subject', () => {
    const a = anomaly({ subject: { team: 'research' }, severity: 'critical', version: 2 });
    expect(Anomaly.safeParse(a).success).toBe(true);
    expect(a.subject).toMatchObject({ team: 'research', developer: 'alice@acme.com', org: 'acme' });
    expect(a.severity).toBe('critical');
    expect(a.version).toBe(2);
    expect('model' in anomaly({ subject: { model: undefined } }).subject).toBe(false);
  });
});

describe('waitUntil', () => {
  it('returns the first truthy value', async () => {
    let n = 0;
    await expect(waitUntil(() => (++n >= 3 ? n : undefined), { intervalMs: 1 })).resolves.toBe(3);
  });

  it('gives up after the timeout and names what it waited for', async () => {
    await expect(waitUntil(() => false, { timeoutMs: 30, intervalMs: 5, message: 'the moon' })).rejects.toThrow(/the moon/);
  });

  it('settled() lets a chain of continuations across event-loop turns finish', async () => {
    let steps = 0;
    void (async () => {
      for (let i = 0; i < 5; i++) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        steps += 1;
      }
    })();
    await settled();
    expect(steps).toBe(5);
  });
});
