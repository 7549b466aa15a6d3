import type { OutgoingMessage, Producer } from '@burnrate/bus';
import { createLogger, fixedClock } from '@burnrate/core';
import { SpendCorrection } from '@burnrate/schemas';
import { createMemoryStore } from '@burnrate/store';
import { reportBucket, usageEvent } from '@burnrate/testing/builders';
import { describe, expect, it } from 'vitest';
import { correctionsFrom, createReportCorrections, readReconcileInterval } from './report-corrections.ts';

const silent = createLogger({ level: 'silent' });

function recordingProducer() {
  const sent: OutgoingMessage[] = [];
  const producer: Producer & { fail: boolean } = {
    fail: false,
    send(topic, messages) {
      if (producer.fail) return Promise.reject(new Error('broker unavailable'));
      expect(topic).toBe('usage.rollups.v1');
      sent.push(...messages);
      return Promise.resolve();
    },
  };
  return { producer, sent };
}

const live = (id: string, at: string, cost: number) => usageEvent({ event_id: id, occurred_at: at, cost_usd: cost });
const costReport = (id: string, day: string, cost: number) => reportBucket('anthropic_cost_report', day, cost, { event_id: id });

describe('report corrections', () => {
  it("publishes each team day's figures once, and again only when a report revises them", async () => {
    const store = createMemoryStore();
    await store.migrate();
    const clock = fixedClock(new Date('2026-12-09T12:00:00Z'));
    const { producer, sent } = recordingProducer();
    const corrections = createReportCorrections({ store, producer, log: silent, clock });
    await store.insertUsageEvents([
      live('l1', '2026-12-07T10:00:00.000Z', 30),
      live('l2', '2026-12-08T10:00:00.000Z', 20),
      costReport('c1', '2026-12-07', 95),
      // Last month: no team's month any more.
      live('l0', '2026-11-20T10:00:00.000Z', 5),
      costReport('c0', '2026-11-20', 50),
    ]);

    expect(await corrections.runOnce()).toBe(1);
    const first = SpendCorrection.parse(JSON.parse(sent[0]?.value ?? ''));
    expect(sent[0]?.key).toBe('acme:payments');
    expect(first).toEqual({
      correction: 'provider_reports',
      org: 'acme',
      team: 'payments',
      day: '2026-12-07',
      counted_usd: 95,
      judged_usd: 30,
      sources: ['anthropic_cost_report'],
      as_of: '2026-12-09T12:00:00.000Z',
    });
    expect(corrections.status()).toMatchObject({ published: 1, teams_days_corrected: 1, delta_usd: 65, last_error: null });

    // Nothing changed: nothing sent.
    expect(await corrections.runOnce()).toBe(0);
    // The provider revises the day upwards (a correction event of the growth): sent again, with the new figure.
    await store.insertUsageEvents([costReport('c1b', '2026-12-07', 5)]);
    expect(await corrections.runOnce()).toBe(1);
    expect(SpendCorrection.parse(JSON.parse(sent[1]?.value ?? '')).counted_usd).toBe(100);
  });

  it('keeps trying after a failure and says what failed', async () => {
    const store = createMemoryStore();
    await store.migrate();
    await store.insertUsageEvents([live('l1', '2026-12-07T10:00:00.000Z', 30), costReport('c1', '2026-12-07', 95)]);
    const { producer, sent } = recordingProducer();
    producer.fail = true;
    const corrections = createReportCorrections({
      store,
      producer,
      log: silent,
      clock: fixedClock(new Date('2026-12-09T12:00:00Z')),
      everyMs: 10,
    });
    corrections.start();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(corrections.status().last_error?.message).toBe('broker unavailable');
    producer.fail = false;
    await new Promise((resolve) => setTimeout(resolve, 50));
    await corrections.stop();
    expect(corrections.status().last_error).toBeNull();
    // Figures that failed to go out were not taken for sent.
    expect(sent.map((m) => (JSON.parse(m.value) as SpendCorrection).day)).toEqual(['2026-12-07']);
  });

  it('reads from the month of a day ago, and a bad interval names the setting', () => {
    expect(correctionsFrom(Date.parse('2026-12-01T05:00:00Z'))).toBe('2026-11-01T00:00:00.000Z');
    expect(correctionsFrom(Date.parse('2026-12-02T05:00:00Z'))).toBe('2026-12-01T00:00:00.000Z');
    expect(readReconcileInterval({})).toBe(300_000);
    expect(readReconcileInterval({ BURNRATE_RECONCILE_INTERVAL: '30s' })).toBe(30_000);
    expect(() => readReconcileInterval({ BURNRATE_RECONCILE_INTERVAL: 'often' })).toThrow(
      'BURNRATE_RECONCILE_INTERVAL must be a duration from 1s to 1d, such as 5m; got "often"',
    );
    expect(() => readReconcileInterval({ BURNRATE_RECONCILE_INTERVAL: '10ms' })).toThrow(/BURNRATE_RECONCILE_INTERVAL/);
  });
});
