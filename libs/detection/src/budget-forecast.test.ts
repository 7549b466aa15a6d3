import { Anomaly } from '@burnrate/schemas';
import type { SpendCorrection, UsageEvent } from '@burnrate/schemas';
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

  describe("the providers' reports correct the month to date", () => {
    const correct = (...args: Parameters<NonNullable<typeof budgetForecast.correct>>) => {
      const result = budgetForecast.correct?.(...args);
      if (result === undefined) throw new Error('budget_forecast takes corrections');
      return result;
    };
    const correction = (day: string, counted: number, judged: number, team = 'payments'): SpendCorrection => ({
      correction: 'provider_reports',
      org: 'acme',
      team,
      day,
      counted_usd: counted,
      judged_usd: judged,
      sources: ['anthropic_cost_report'],
      as_of: '2026-12-09T12:00:00.000Z',
    });
    const at = (iso: string) => ({ watermark: Date.parse(iso), lateness: 600_000 });
    // Six working days at $200 (≈77% of $6,000 projected): quiet on the live feed alone.
    const quietWeek = () =>
      runDetector(
        detector,
        cfg(),
        stream(8, () => 200),
      );

    it('a report counting more than was seen live raises the forecast, once, in money words', () => {
      const { out, state } = quietWeek();
      expect(out).toEqual([]);
      // The cost report of 7 December: $1,400 where the live feed saw $200 (an API key nothing sends live for).
      const r = correct(state, correction('2026-12-07', 1400, 200), cfg(), at('2026-12-09T10:00:00Z'));
      expect(r.anomalies.map(brief)).toEqual([{ version: 1, severity: 'warning', status: 'open', day: '2026-12-09' }]);
      const a = r.anomalies[0] as Anomaly;
      expect(Anomaly.parse(a)).toEqual(a);
      expect(a.summary).toMatch(
        /^Team payments has spent \$2,400(\.00)? of its \$6,000 budget for 2026-12 \(the providers' reports count \$1,200(\.00)? more than was seen live\)/,
      );
      // Month to date at the end of 7 December: $800 live before it, $1,400 that day by the report.
      expect(a.evidence.find((p) => p.at === '2026-12-07T00:00:00.000Z' && p.label.startsWith('month-to-date'))?.value).toBe(2200);
      // The same figures again (a restart of the publisher, a redelivery): nothing new.
      expect(correct(r.state, correction('2026-12-07', 1400, 200), cfg(), at('2026-12-09T10:05:00Z')).anomalies).toEqual([]);
    });

    it('a day replaces its earlier figures, and a report counting less lowers the month to date', () => {
      const { state } = quietWeek();
      let r = correct(state, correction('2026-12-07', 1400, 200), cfg(), at('2026-12-09T10:00:00Z'));
      expect(r.anomalies).toHaveLength(1);
      // Revised the next hour: the cost report now says $300 for the day. Back on course.
      r = correct(r.state, correction('2026-12-07', 300, 200), cfg(), at('2026-12-09T11:00:00Z'));
      expect(r.anomalies.map((a) => a.status)).toEqual(['resolved']);
      // A report attributing part of the live spend to another team lowers this one's month.
      r = correct(r.state, correction('2026-12-08', 50, 200), cfg(), at('2026-12-09T12:00:00Z'));
      const team = r.state.teams.acme?.payments;
      expect(team?.reported?.slice(6, 8)).toEqual([100, -150]);
    });

    it('a team only the reports know of is created and judged', () => {
      const { state } = quietWeek();
      const r = correct(state, correction('2026-12-08', 5500, 0, 'research'), cfg(), at('2026-12-09T10:00:00Z'));
      // $5,500 of $6,000 with no live days to project from: 92%, past the warning line.
      expect(r.anomalies.map((a) => [a.subject.team, a.severity])).toEqual([['research', 'warning']]);
    });

    it("another month's day is left alone, and a new month starts without the last one's reports", () => {
      const { state } = quietWeek();
      expect(correct(state, correction('2026-11-30', 9000, 0), cfg(), at('2026-12-09T10:00:00Z')).anomalies).toEqual([]);
      expect(state.teams.acme?.payments?.reported).toBeUndefined();
      correct(state, correction('2026-12-07', 300, 200), cfg(), at('2026-12-09T10:00:00Z'));
      const january = runDetector(
        detector,
        cfg(),
        stream(1, () => 10, Date.parse('2027-01-04T00:00:00Z')),
        state,
      );
      expect(january.state.teams.acme?.payments?.month).toBe('2027-01');
      expect(january.state.teams.acme?.payments?.reported).toBeUndefined();
    });

    it('survives a snapshot: the reports are in the state', () => {
      const { state } = quietWeek();
      const r = correct(state, correction('2026-12-07', 1400, 200), cfg(), at('2026-12-09T10:00:00Z'));
      const restored = JSON.parse(JSON.stringify(r.state)) as BudgetForecastState;
      expect(restored.teams.acme?.payments?.reported?.[6]).toBe(1200);
    });
  });
});
