import { describe, expect, it } from 'vitest';
import { anomalyMessageId } from './email.ts';

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
