import { anomaly } from '@burnrate/testing/builders';
import { describe, expect, it } from 'vitest';
import { groupKey, notificationVariant } from './channel.ts';

describe('groupKey', () => {
  it('is fixed by the members’ ids and versions, in any order', () => {
    const a = anomaly({ id: 'a' });
    const b = anomaly({ id: 'b' });
    expect(groupKey([a, b])).toMatch(/^[0-9a-f]{32}$/);
    expect(groupKey([b, a])).toBe(groupKey([a, b]));
    expect(groupKey([a, { ...b, version: 2 }])).not.toBe(groupKey([a, b]));
    expect(groupKey([a, b, anomaly({ id: 'c' })])).not.toBe(groupKey([a, b]));
  });
});

describe('notificationVariant', () => {
  it('leaves first sights and escalations alone, and sets reminders and groups apart', () => {
    const a = anomaly();
    expect(notificationVariant({ reason: 'new' })).toBeUndefined();
    expect(notificationVariant({ reason: 'escalated', group: [a] })).toBeUndefined();
    expect(notificationVariant({ reason: 'reminder' })).toBe('reminder');
    expect(notificationVariant({ reason: 'snooze_ended' })).toBe('snooze_ended');
    const two = [a, anomaly({ id: 'other' })];
    expect(notificationVariant({ reason: 'new', group: two })).toBe(`group:${groupKey(two)}`);
    expect(notificationVariant({ reason: 'reminder', group: two })).toBe(`reminder\u0000group:${groupKey(two)}`);
  });
});
