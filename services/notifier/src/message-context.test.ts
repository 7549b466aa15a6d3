import { createLogger, fixedConfig, parseConfig } from '@burnrate/core';
import { receiverSchema } from '@burnrate/notify';
import type { ReconciliationQuery, ReconciliationRow } from '@burnrate/store';
import { anomaly } from '@burnrate/testing/builders';
import { describe, expect, it } from 'vitest';
import { createMessageContext } from './message-context.ts';

const log = createLogger({ level: 'silent' });
const config = parseConfig(
  `
org: acme
teams:
  - id: payments
    timezone: Europe/Berlin
    budget: { monthly_usd: 6000 }
  - id: search
    timezone: America/New_York
    oncall: { email: [oncall@acme.com] }
`,
  '<inline>',
  { receiver: receiverSchema },
);

const row = (team: string, counted: number): ReconciliationRow => ({
  day: '2026-11-10',
  org: 'acme',
  team,
  provider: 'anthropic',
  live_usd: counted,
  live_events: 1,
  report_usd: 0,
  report_buckets: 0,
  report_source: null,
  counted_usd: counted,
  delta_usd: 0,
});

/** The Store port's reconciliation, answering from rows and counting the questions. */
function reconciliationOf(rows: ReconciliationRow[]) {
  const asked: ReconciliationQuery[] = [];
  return {
    asked,
    store: {
      reconciliation: async (q: ReconciliationQuery) => {
        asked.push(q);
        return rows.filter((r) => r.team === q.team);
      },
    },
  };
}

describe('message context', () => {
  it("reads each team's month from the 1st in its own zone, once per cache period", async () => {
    const { asked, store } = reconciliationOf([row('payments', 3000), row('payments', 1210.4)]);
    const contextOf = createMessageContext({ config: fixedConfig(config), store, log });
    const now = new Date('2026-11-16T00:00:00.000Z');
    const first = await contextOf([anomaly({ id: 'a' })], now);
    // From 1 November 00:00 in Berlin (31 October 23:00Z): 15 days and 1 hour of a 30-day month.
    expect(first.months).toEqual([
      { team: 'payments', spent_usd: 4210.4, budget_usd: 6000, on_course_usd: expect.closeTo((4210.4 * 30) / (15 + 1 / 24), 6) },
    ]);
    expect(asked).toEqual([{ from: '2026-10-31T23:00:00.000Z', org: 'acme', team: 'payments' }]);
    await contextOf([anomaly({ id: 'b' })], new Date(now.getTime() + 30_000));
    expect(asked).toHaveLength(1);
    await contextOf([anomaly({ id: 'c' })], new Date(now.getTime() + 61_000));
    expect(asked).toHaveLength(2);
  });

  it('says no pace in the first two days, and takes an open budget forecast as the month-end figure', async () => {
    const { store } = reconciliationOf([row('payments', 400)]);
    const contextOf = createMessageContext({ config: fixedConfig(config), store, log });
    const early = await contextOf([anomaly()], new Date('2026-11-02T12:00:00.000Z'));
    expect(early.months?.[0]).toEqual({ team: 'payments', spent_usd: 400, budget_usd: 6000 });
    const forecast = anomaly({
      id: 'f',
      kind: 'budget_forecast',
      observed: { value: 6400, unit: 'usd' },
      subject: { developer: undefined, session: undefined },
    });
    const later = await contextOf([forecast], new Date('2026-11-02T12:00:30.000Z'));
    expect(later.months?.[0]?.on_course_usd).toBe(6400);
  });

  it("gives each anomaly's horizon in its team's calendar, on-call included", async () => {
    const contextOf = createMessageContext({ config: fixedConfig(config), store: reconciliationOf([]).store, log });
    const friday = '2026-11-27T18:00:00.000Z'; // 19:00 in Berlin, 13:00 in New York
    const night = '2026-11-28T04:00:00.000Z'; // 23:00 Friday in New York
    const { lookBy } = await contextOf(
      [
        anomaly({ id: 'p', detected_at: friday }),
        anomaly({ id: 's', detected_at: friday, subject: { team: 'search' } }),
        anomaly({ id: 'n', detected_at: night, subject: { team: 'search' } }),
        anomaly({ id: 'none', projected_usd: 0 }),
      ],
      new Date(friday),
    );
    expect(lookBy).toEqual({
      p: 'by Mon 09:00 Europe/Berlin',
      s: 'within the next 1h',
      n: expect.stringMatching(/^within the next \d+m?h?, before on-call is likely to respond$/),
    });
  });

  it('leaves the month out when the store fails or is slow, and asks again after the cache period', async () => {
    let calls = 0;
    const failing = {
      reconciliation: async () => {
        calls += 1;
        throw new Error('store down');
      },
    };
    const contextOf = createMessageContext({ config: fixedConfig(config), store: failing, log });
    const now = new Date('2026-11-16T00:00:00.000Z');
    expect((await contextOf([anomaly()], now)).months).toBeUndefined();
    expect((await contextOf([anomaly()], now)).months).toBeUndefined();
    expect(calls).toBe(1);
    const slow = { reconciliation: () => new Promise<ReconciliationRow[]>(() => {}) };
    const started = performance.now();
    const slowContext = createMessageContext({ config: fixedConfig(config), store: slow, log, timeoutMs: 20 });
    expect((await slowContext([anomaly()], now)).months).toBeUndefined();
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});
