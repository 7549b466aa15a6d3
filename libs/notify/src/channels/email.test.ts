import { anomaly } from '@burnrate/testing/builders';
import { describe, expect, it } from 'vitest';
import { anomalyMessageId, emailSubject } from './email.ts';

describe('anomalyMessageId', () => {
  it('is fixed by anomaly id, version and receiver, at the domain of From', () => {
    const id = anomalyMessageId('0f3a9c', 4, 'email:leads@acme.com', 'Burnrate <burnrate@acme.com>');
    expect(id).toMatch(/^<burnrate\.0f3a9c\.v4\.[0-9a-f]{12}@acme\.com>$/);
    expect(anomalyMessageId('0f3a9c', 4, 'email:leads@acme.com', 'Burnrate <burnrate@acme.com>')).toBe(id);
    expect(anomalyMessageId('0f3a9c', 5, 'email:leads@acme.com', 'Burnrate <burnrate@acme.com>')).not.toBe(id);
    expect(anomalyMessageId('0f3a9c', 4, 'email:oncall@acme.com', 'Burnrate <burnrate@acme.com>')).not.toBe(id);
  });

  it('keeps the id-left a plain dot-atom and tells apart ids that clean up alike', () => {
    const a = anomalyMessageId('a b@c', 1, 'email:x@acme.com', 'burnrate@mail.acme.com');
    const b = anomalyMessageId('a-b-c', 1, 'email:x@acme.com', 'burnrate@mail.acme.com');
    expect(a).toMatch(/^<burnrate\.a-b-c\.v1\.[0-9a-f]{12}@mail\.acme\.com>$/);
    expect(a).not.toBe(b);
  });

  it('falls back to a reserved domain when From has none', () => {
    expect(anomalyMessageId('x', 1, 'email:x@acme.com', 'Burnrate')).toMatch(/@burnrate\.invalid>$/);
  });
});

describe('emailSubject', () => {
  const thread = { parentId: '<burnrate.x.v1.abc@acme.com>', broadcast: false };

  it('is the same for every version of an episode, with Re: on replies', () => {
    const v1 = anomaly({ severity: 'warning', observed: { value: 31.2, unit: 'usd' } });
    const v2 = anomaly({ version: 2, severity: 'critical', observed: { value: 104.2, unit: 'usd' } });
    expect(emailSubject({ anomaly: v1 })).toBe('[Burnrate] Session cost for alice@acme.com (payments)');
    expect(emailSubject({ anomaly: v2, thread })).toBe('Re: [Burnrate] Session cost for alice@acme.com (payments)');
  });

  it('names a model or the team when there is no developer', () => {
    expect(emailSubject({ anomaly: anomaly({ kind: 'model_mix_drift', subject: { developer: undefined } }) })).toBe(
      '[Burnrate] Model mix drift for claude-opus-4-5 (payments)',
    );
    expect(emailSubject({ anomaly: anomaly({ kind: 'spend_spike', subject: { developer: undefined, model: undefined } }) })).toBe(
      '[Burnrate] Spend spike for team payments',
    );
  });

  it('names the count of a group, and the kind when they share one', () => {
    const group = [anomaly({ id: 'a' }), anomaly({ id: 'b' }), anomaly({ id: 'c', kind: 'context_bloat' })];
    expect(emailSubject({ anomaly: group[0] ?? anomaly(), group: group.slice(0, 2) })).toBe(
      '[Burnrate] 2 session cost anomalies for team payments',
    );
    expect(emailSubject({ anomaly: group[0] ?? anomaly(), group })).toBe('[Burnrate] Session cost and 2 more anomalies for team payments');
  });

  it('keeps anything from an event on one line', () => {
    expect(emailSubject({ anomaly: anomaly({ subject: { developer: 'x\r\nBcc: all@acme.com' } }) })).toBe(
      '[Burnrate] Session cost for x Bcc: all@acme.com (payments)',
    );
  });
});

describe('anomalyMessageId variants', () => {
  it('differs for a variant (a reminder, a group) and is unchanged without one', () => {
    const id = anomalyMessageId('a1', 1, 'email:x@acme.com', 'burnrate@acme.com');
    expect(anomalyMessageId('a1', 1, 'email:x@acme.com', 'burnrate@acme.com', 'reminder')).not.toBe(id);
    expect(anomalyMessageId('a1', 1, 'email:x@acme.com', 'burnrate@acme.com', undefined)).toBe(id);
  });
});
