import { describe, expect, it } from 'vitest';
import type { HourBucket } from '../buckets/hourly.ts';
import { createHeldAhead } from './held-ahead.ts';

const bucket = (cost: number): HourBucket => ({
  org: 'acme',
  team: 'payments',
  developer: 'alice@acme.com',
  model: 'claude-opus-4-5',
  hour: 0,
  cost_usd: cost,
  cost_premium_usd: 0,
  events: 1,
  premium_events: 0,
  input_tokens: 0,
  cache_read_tokens: 0,
  cache_write_tokens: 0,
  output_tokens: 0,
});

describe('createHeldAhead', () => {
  it('gives back what it holds earliest time first, merged per key, and counts it', () => {
    const ahead = createHeldAhead();
    ahead.hold(300, 'a', bucket(1));
    ahead.hold(100, 'a', bucket(2));
    ahead.hold(200, 'b', bucket(3));
    ahead.hold(100, 'a', bucket(4));
    ahead.hold(100, 'b', bucket(5));
    expect(ahead.size()).toBe(4);
    expect([ahead.firstDue(), ahead.lastDue()]).toEqual([100, 300]);

    const first = ahead.takeFirst();
    expect([...first.entries()].map(([k, b]) => [k, b.cost_usd, b.events])).toEqual([
      ['a', 6, 2],
      ['b', 5, 1],
    ]);
    expect(ahead.size()).toBe(2);
    expect(ahead.firstDue()).toBe(200);
  });

  it('takes several times in a row and still inserts in order afterwards', () => {
    const ahead = createHeldAhead();
    for (const due of [10, 20, 30, 40]) ahead.hold(due, 'k', bucket(due));
    expect(ahead.takeFirst().get('k')?.cost_usd).toBe(10);
    expect(ahead.takeFirst().get('k')?.cost_usd).toBe(20);
    ahead.hold(35, 'k', bucket(35));
    ahead.hold(5, 'k', bucket(5));
    const order: number[] = [];
    for (let due = ahead.firstDue(); due !== undefined; due = ahead.firstDue()) {
      order.push(due);
      ahead.takeFirst();
    }
    expect(order).toEqual([5, 30, 35, 40]);
    expect([ahead.size(), ahead.lastDue()]).toEqual([0, undefined]);
  });

  it('survives its record as a snapshot holds it', () => {
    const ahead = createHeldAhead();
    ahead.hold(20, 'b', bucket(2));
    ahead.hold(10, 'a', bucket(1));
    ahead.takeFirst();
    const record = JSON.parse(JSON.stringify(ahead.toRecord())) as Record<string, Record<string, HourBucket>>;
    expect(Object.keys(record)).toEqual(['20']);

    const restored = createHeldAhead();
    restored.hold(5, 'x', bucket(9));
    restored.restore(record);
    expect([restored.size(), restored.firstDue(), restored.lastDue()]).toEqual([1, 20, 20]);
    expect(restored.takeFirst().get('b')?.cost_usd).toBe(2);
  });
});
