import { Anomaly } from '@burnrate/schemas';
import type { UsageEvent } from '@burnrate/schemas';
import { describe, expect, it } from 'vitest';
import { overEvents } from './buckets/bucket-detector.ts';
import { budgetForecast, type BudgetForecastConfig, type BudgetForecastSettings, type BudgetForecastState } from './budget-forecast.ts';
import { testEnv, runDetector } from './test-env.ts';
import { usageEvent } from '@burnrate/testing/builders';

const T0 = Date.parse('2026-12-01T00:00:00Z'); // a Tuesday
const H = 3_600_000;
const D = 24 * H;
const M = 60_000;
const SETTINGS: BudgetForecastSettings = {
  enabled: true,
  min_impact_usd: 100,
  warning_share: 0.9,
  critical_share: 1.1,
  min_days_of_data: 5,
};

function cfg(
  over: Partial<BudgetForecastSettings> = {},
  budget: number | null = 6000,
  planned?: [string, string, string, string][],
): BudgetForecastConfig {
  return { ...testEnv({ ...SETTINGS, ...over }, planned === undefined ? {} : { planned }), budgetFor: () => budget ?? undefined };
}

/** Spend of `daily(day)` USD per working day (weekdays), in 16 events over 08-16 UTC, for `days` days from 1 December. */
function stream(days: number, daily: (day: number) => number, start = T0): UsageEvent[] {
  const out: UsageEvent[] = [];
  let n = 0;
  for (let d = 0; d < days; d++) {
    const weekday = new Date(start + d * D).getUTCDay();
    if (weekday === 0 || weekday === 6) continue;
    for (let i = 0; i < 16; i++) {
      out.push(
        usageEvent({
          event_id: `b${n++}`,
          occurred_at: new Date(start + d * D + 8 * H + i * 30 * M).toISOString(),
          cost_usd: daily(d) / 16,
        }),
      );
    }
  }
  return out;
}

const detector = overEvents(budgetForecast);
const brief = (a: Anomaly) => ({ version: a.version, severity: a.severity, status: a.status, day: a.detected_at.slice(0, 10) });
// $200 a working day is ~$4,600 a month (77% of $6,000); from 8 December it grows by $40 a day.
const growing = (d: number): number => (d < 7 ? 200 : 200 + 40 * (d - 6));

describe('budget_forecast', () => {
  const cases: { name: string; events: () => UsageEvent[]; cfg?: BudgetForecastConfig; want: ReturnType<typeof brief>[] }[] = [
    { name: 'stays quiet on a month within budget', events: () => stream(31, () => 200), want: [] },
    {
      name: 'warns when the month heads over 90% and escalates past 110%, same episode',
      events: () => stream(20, growing),
      want: [
        { version: 1, severity: 'warning', status: 'open', day: '2026-12-11' },
        { version: 2, severity: 'critical', status: 'open', day: '2026-12-15' },
        // While critical, a new version each time the overshoot doubles.
        { version: 3, severity: 'critical', status: 'open', day: '2026-12-18' },
      ],
    },
    { name: 'a team without a budget is not judged', events: () => stream(20, growing), cfg: cfg({}, null), want: [] },
    {
      name: 'warm-up: heavy first days stay quiet until min_days_of_data',
      // $400 a working day heads for ~$9,000, but the first days (Tue-Fri) are not enough to say so.
      events: () => stream(8, () => 400),
      want: [{ version: 1, severity: 'critical', status: 'open', day: '2026-12-07' }],
    },
    {
      name: 'resolves when the projection falls back under the line',
      events: () => stream(24, (d) => (d < 7 ? 200 : d < 11 ? 450 : 20)),
      want: [
        { version: 1, severity: 'warning', status: 'open', day: '2026-12-09' },
        { version: 2, severity: 'critical', status: 'open', day: '2026-12-10' },
        { version: 3, severity: 'critical', status: 'resolved', day: '2026-12-17' },
      ],
    },
    {
      name: 'a planned change keeps it at info',
      events: () => stream(11, growing),
      cfg: cfg({}, 6000, [['payments', '2026-12-01', '2026-12-31', 'Q4 migration']]),
      want: [{ version: 1, severity: 'info', status: 'open', day: '2026-12-11' }],
    },
  ];

  it.each(cases)('$name', ({ events, cfg: c, want }) => {
    const { out } = runDetector(detector, c ?? cfg(), events());
    expect(out.map(brief)).toEqual(want);
    for (const a of out) expect(Anomaly.parse(a)).toEqual(a);
  });

  describe('warm-up counts days of this month', () => {
    // A month of history at $200 a working day (~73% of $6,000), then a busy 1 December ($400):
    // the working-day rate jumps by 30%, and on day 2 the month projects to 102%.
    const november = Date.parse('2026-11-02T00:00:00Z');
    const busyFirst = (d: number): number => (d === 29 ? 400 : 200);

    it('one busy working day at the start of a month does not page before min_days_of_data', () => {
      expect(runDetector(detector, cfg(), stream(36, busyFirst, november)).out).toEqual([]);
    });

    it('with min_days_of_data 1 the same stream pages on day 3, once two working days are in (the case above is not vacuous)', () => {
      const { out } = runDetector(detector, cfg({ min_days_of_data: 1 }), stream(36, busyFirst, november));
      // Judged when event time next moves: the first event of 3 December.
      expect(out.map(brief)[0]).toEqual({ version: 1, severity: 'warning', status: 'open', day: '2026-12-03' });
    });

    it('spend already past the warning line is judged whatever the warm-up', () => {
      const { out } = runDetector(
        detector,
        cfg(),
        stream(33, (d) => (d === 29 ? 5500 : 200), november),
      );
      // The line is crossed by the day's last event; the next hour judged is 2 December's first.
      expect(out.map(brief)[0]).toEqual({ version: 1, severity: 'critical', status: 'open', day: '2026-12-02' });
    });
  });

  it('explains the forecast with month-to-date spend by day', () => {
    const { out } = runDetector(detector, cfg(), stream(20, growing));
    const a = out[0] as Anomaly;
    expect(a.subject).toEqual({ org: 'acme', team: 'payments' });
    expect(a.expected).toEqual({ value: 6000, unit: 'usd' });
    expect(a.observed.value).toBeGreaterThanOrEqual(5400);
    expect(a.impact_usd).toBeCloseTo(a.observed.value - 5400, 6);
    expect(a.summary).toMatch(
      /^Team payments has spent \$[\d,.]+ of its \$6,000 budget for 2026-12 and is on course for \$[\d,.]+ \(\d+%\) by month end \(Europe\/Berlin\)\.$/,
    );
    const days = a.evidence.filter((p) => p.label === 'month-to-date spend at the end of the day');
    expect(days[0]).toEqual({
      at: '2026-12-01T00:00:00.000Z',
      label: 'month-to-date spend at the end of the day',
      value: 200,
      unit: 'usd',
    });
  });

  it('closes an open episode when the month ends', () => {
    const events = [...stream(31, growing), ...stream(1, () => 10, Date.parse('2027-01-04T00:00:00Z'))];
    const { out } = runDetector(detector, cfg(), events);
    const december = out.filter((a) => a.id === out[0]?.id);
    const last = december.at(-1) as Anomaly;
    expect(last.status).toBe('resolved');
    expect(last.detected_at.slice(0, 10)).toBe('2027-01-04');
    expect(last.summary).toMatch(/^Team payments closed 2026-12 at \$[\d,.]+ of its \$6,000 budget\.$/);
    // January starts from December's pace, so it may open a January episode of its own: a new id.
    expect(out.filter((a) => a.id !== out[0]?.id).every((a) => a.window.start >= '2027-01')).toBe(true);
  });

  it('restores from JSON mid-stream and gives the same anomalies', () => {
    const events = stream(20, growing);
    const whole = runDetector(detector, cfg(), events).out;
    const cut = events.findIndex((e) => e.occurred_at >= '2026-12-10');
    const first = runDetector(detector, cfg(), events.slice(0, cut));
    const restored = JSON.parse(JSON.stringify(first.state)) as BudgetForecastState;
    expect(restored).toEqual(first.state);
    const second = runDetector(detector, cfg(), events.slice(cut), restored);
    expect([...first.out, ...second.out]).toEqual(whole);
  });
});
