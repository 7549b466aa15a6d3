import type { Anomaly, EvidencePoint, Severity, SpendCorrection } from '@burnrate/schemas';
import { latenessOf, type BucketDetector } from './buckets/bucket-detector.ts';
import { HOUR_MS, hourOf, isClosedHour, type HourBucket } from './buckets/hourly.ts';
import { countKeys, deleteKeys, getKey, setKey, type Keyed } from './buckets/keyed.ts';
import { dateOfDay, isWorkingDay, localHourOf, type LocalHour } from './buckets/local-hour.ts';
import { hoursUntilAcknowledgement, type WorkCalendar } from './calendar.ts';
import type { DetectorEnv } from './detector.ts';
import {
  episodeFields,
  iso,
  markEvidence,
  openEpisode,
  plannedSeverity,
  resolveEpisode,
  sortedEvidence,
  updateEpisode,
  type Episode,
} from './episode.ts';
import { formatUsd, roundMoney } from './format.ts';

/**
 * budget_forecast: a team's month-end spend, projected from what it has spent so far this month
 * and its daily rate, crosses a share of its monthly budget. Team scope only: a BucketDetector
 * over HourBuckets (stage B), or `overEvents(budgetForecast)` in one engine.
 *
 * Months and days are local to the team's zone. Per team the state keeps month-to-date spend,
 * spend per day of the month (evidence), and two daily rates — EWMAs (α 0.3, about the last
 * week of such days) of the spend of a working day and of a day off in the team's calendar
 * (holidays are days off), so a quiet weekend or the holidays ahead are not projected at a
 * Tuesday's rate. Projection = month to date + the rest of today (its rate minus what today has
 * spent, never negative) + each remaining day of the month at its type's rate.
 *
 * The providers' reports: team detection counts the live feed, and a provider's cost or usage report
 * (the invoice's truth, hours later) can say otherwise — spend nothing live saw, or another
 * team's. Stage B is given each UTC day's figures as the reports count them (SpendCorrection:
 * counted against what detection judged); the difference is kept per day of the month and added
 * to the month to date, its evidence and its message. The day's date is taken as the team's
 * local day of the same date (the reports' days are UTC). The daily rates ahead stay the live
 * feed's: they project what the live feed will see.
 *
 * Judged at most once per local hour per team, when spend arrives or the watermark moves:
 *   warning  projection ≥ warning_share × budget, critical ≥ critical_share × budget,
 *   dollar gate  impact = projection − warning_share × budget ≥ min_impact_usd (how far past the
 *                warning line the month is heading; projected overspend above the budget is its
 *                part beyond 100%),
 *   warm-up  min_days_of_data complete local days of data in the month (counted from the later of
 *            the 1st and the team's first spend; at most the month's length less a day), two of
 *            them working days, and two working days learnt. Early in a month the projection is
 *            month-to-date plus ~28 days at rates one busy Monday can move by a third, so it is
 *            not trusted yet; the dollar and share lines still hold once it is. Spend already past
 *            the warning line is judged whatever the warm-up: that is a fact, not a forecast.
 * Episode: opens at the first crossing (id = kind, org, team, time); new versions on escalation
 * and growth while critical; resolves when the projection falls back under (warning_share −
 * 0.05) × budget, or when the month ends. A planned change keeps it at info. Teams without a
 * budget are never judged.
 *
 * Fields: observed = projected month-end spend, expected = the budget (usd); impact_usd as
 * above; projected_usd = spend at the current rate until the team is likely to look.
 *
 * Config (`BudgetForecastConfig`): the DetectorEnv for budget_forecast (settingsFor({ team }),
 * calendarFor(team), plannedChange(team, atMs)) plus budgetFor(team) → the team's
 * `budget.monthly_usd` from burnrate.yaml, undefined when it has none.
 */

export interface BudgetForecastSettings {
  enabled: boolean;
  min_impact_usd: number;
  warning_share: number;
  critical_share: number;
  min_days_of_data: number;
}

export interface BudgetForecastConfig extends DetectorEnv<BudgetForecastSettings> {
  budgetFor(team: string): number | undefined;
}

export interface BudgetTeam {
  org: string;
  team: string;
  /** Local month `YYYY-MM` the month-to-date figures belong to. */
  month: string;
  /**
   * [first local day, current local day, month to date, today's spend, working-day rate,
   * day-off rate, working days seen, days off seen, last judged hour, local day of the 1st].
   */
  v: number[];
  /** Spend per local day of the current month (index = day of month − 1). */
  days: number[];
  /**
   * What the providers' reports add to `days` (counted − judged; negative where they count less),
   * by the same index; absent until a report of this month says something.
   */
  reported?: number[];
  ep: Episode | null;
}

export interface BudgetForecastState {
  /** By org, then team; see buckets/keyed.ts. */
  teams: Keyed<BudgetTeam>;
  late: number;
}

const KIND = 'budget_forecast';
const FIRST_DAY = 0;
const DAY = 1;
const MTD = 2;
const TODAY = 3;
const WORK_RATE = 4;
const OFF_RATE = 5;
const WORK_SEEN = 6;
const OFF_SEEN = 7;
const JUDGED = 8;
const MONTH_START = 9;
const ALPHA = 0.3;
const MIN_WORK_DAYS = 2;
const RESOLVE_MARGIN = 0.05;
const NONE: readonly Anomaly[] = Object.freeze([]);

function foldDay(v: number[], working: boolean, spend: number): void {
  const seen = working ? WORK_SEEN : OFF_SEEN;
  const rate = working ? WORK_RATE : OFF_RATE;
  v[seen] = (v[seen] as number) + 1;
  const a = Math.max(ALPHA, 1 / v[seen]);
  v[rate] = (v[rate] as number) + a * (spend - (v[rate] as number));
}

/** Month to date with the providers' reports in place of the live feed where they have spoken. */
function monthToDate(t: BudgetTeam): number {
  return (t.v[MTD] as number) + reportedDelta(t);
}

/** What the reports add to the month to date (negative where they count less than was seen live). */
function reportedDelta(t: BudgetTeam): number {
  if (t.reported === undefined) return 0;
  let sum = 0;
  for (const d of t.reported) sum += d;
  return sum;
}

/** Moves the team to local day `local.day`, folding finished days into the rates and starting a new month when it changed. */
function rollTo(t: BudgetTeam, local: LocalHour, cfg: BudgetForecastConfig, watermark: number, out: Anomaly[]): void {
  const v = t.v;
  const cal = cfg.calendarFor(t.team);
  let day = v[DAY] as number;
  if (local.day <= day) return;
  foldDay(v, isWorkingDay(day, cal), v[TODAY] as number);
  // Idle days are zero-spend days of their type; beyond a few weeks they add nothing new.
  for (day = Math.max(day + 1, local.day - 28); day < local.day; day++) foldDay(v, isWorkingDay(day, cal), 0);
  v[DAY] = local.day;
  v[TODAY] = 0;
  if (local.month !== t.month) {
    if (t.ep !== null) {
      const budget = cfg.budgetFor(t.team) ?? 0;
      const spent = monthToDate(t);
      resolveEpisode(t.ep, { at: watermark, label: `spend in ${t.month}`, value: spent, unit: 'usd' });
      out.push(toAnomaly(t, { projected: spent, budget, rate: 0, monthEnd: true }, cfg, watermark));
      t.ep = null;
    }
    t.month = local.month;
    v[MTD] = 0;
    v[MONTH_START] = local.day - local.dayOfMonth + 1;
    t.days = new Array<number>(local.monthDays).fill(0);
    delete t.reported;
  }
}

interface Forecast {
  projected: number;
  budget: number;
  /** Expected spend per hour today, for the acknowledgement projection. */
  rate: number;
  monthEnd?: boolean;
}

function forecast(t: BudgetTeam, local: LocalHour, budget: number, cfg: BudgetForecastConfig): Forecast {
  const v = t.v;
  const cal = cfg.calendarFor(t.team);
  const rateOf = (day: number): number => (isWorkingDay(day, cal) ? (v[WORK_RATE] as number) : (v[OFF_RATE] as number));
  const today = rateOf(local.day);
  let projected = monthToDate(t) + Math.max(0, today - (v[TODAY] as number));
  for (let d = local.day + 1; d <= local.day + local.monthDays - local.dayOfMonth; d++) projected += rateOf(d);
  return { projected, budget, rate: today / 24 };
}

function judge(t: BudgetTeam, local: LocalHour, cfg: BudgetForecastConfig, watermark: number): Anomaly | null {
  const budget = cfg.budgetFor(t.team);
  if (budget === undefined || budget <= 0) return null;
  const s = cfg.settingsFor({ team: t.team });
  const spentPastLine = monthToDate(t) >= s.warning_share * budget;
  if (!spentPastLine && !warm(t, local, s, cfg.calendarFor(t.team))) return null;
  const f = forecast(t, local, budget, cfg);
  const share = f.projected / budget;
  const impact = f.projected - s.warning_share * budget;
  const severity: Severity | null = share >= s.critical_share ? 'critical' : share >= s.warning_share ? 'warning' : null;
  if (s.enabled) {
    cfg.score?.({
      kind: KIND,
      subject: { org: t.org, team: t.team },
      at: watermark,
      score: share,
      threshold: s.warning_share,
      unit: 'ratio',
      severity: impact >= s.min_impact_usd ? severity : null,
      impact_usd: impact,
      min_impact_usd: s.min_impact_usd,
    });
  }
  if (t.ep === null) {
    if (severity === null || !s.enabled || impact < s.min_impact_usd) return null;
    t.ep = openEpisode(KIND, [t.org, t.team], watermark, plannedSeverity(severity, cfg.plannedChange(t.team, watermark)), impact, {
      at: watermark,
      label: 'projected month-end spend',
      value: f.projected,
      unit: 'usd',
    });
    return toAnomaly(t, f, cfg, watermark);
  }
  if (share < s.warning_share - RESOLVE_MARGIN) {
    resolveEpisode(t.ep, { at: watermark, label: 'projected month-end spend, back under the line', value: f.projected, unit: 'usd' });
    const a = toAnomaly(t, f, cfg, watermark);
    t.ep = null;
    return a;
  }
  if (severity === null) return null;
  const mark = { at: watermark, label: 'projected month-end spend', value: f.projected, unit: 'usd' };
  return updateEpisode(t.ep, plannedSeverity(severity, cfg.plannedChange(t.team, watermark)), impact, {}, mark) === null
    ? null
    : toAnomaly(t, f, cfg, watermark);
}

/** Enough of this month (and of the team's history) to project from; see the header. */
function warm(t: BudgetTeam, local: LocalHour, s: BudgetForecastSettings, cal: WorkCalendar): boolean {
  const v = t.v;
  const today = v[DAY] as number;
  if (today - (v[FIRST_DAY] as number) < s.min_days_of_data || (v[WORK_SEEN] as number) < MIN_WORK_DAYS) return false;
  const from = Math.max(v[MONTH_START] as number, v[FIRST_DAY] as number);
  if (today - from < Math.min(s.min_days_of_data, local.monthDays - 1)) return false;
  let working = 0;
  for (let d = from; d < today && working < MIN_WORK_DAYS; d++) if (isWorkingDay(d, cal)) working++;
  return working >= MIN_WORK_DAYS;
}

function toAnomaly(t: BudgetTeam, f: Forecast, cfg: BudgetForecastConfig, watermark: number): Anomaly {
  const ep = t.ep as Episode;
  const cal = cfg.calendarFor(t.team);
  const s = cfg.settingsFor({ team: t.team });
  const resolved = ep.status === 'resolved';
  const planned = cfg.plannedChange(t.team, watermark);
  const mtd = monthToDate(t);
  const reported = reportedDelta(t);
  const pct = f.budget > 0 ? Math.round((100 * f.projected) / f.budget) : 0;

  const evidence: EvidencePoint[] = [...markEvidence(ep)];
  const monthStart = t.v[MONTH_START] as number;
  let cumulative = 0;
  for (let i = 0; i < t.days.length && monthStart + i <= (t.v[DAY] as number); i++) {
    cumulative += (t.days[i] as number) + (t.reported?.[i] ?? 0);
    evidence.push({
      at: `${dateOfDay(monthStart + i)}T00:00:00.000Z`,
      label: 'month-to-date spend at the end of the day',
      value: roundMoney(cumulative),
      unit: 'usd',
    });
  }
  const summary =
    f.monthEnd === true
      ? `Team ${t.team} closed ${t.month} at ${formatUsd(mtd)} of its ${formatUsd(f.budget)} budget.`
      : resolved
        ? `Team ${t.team} is back on course: ${formatUsd(f.projected)} projected for ${t.month} (${pct}% of its ${formatUsd(f.budget)} budget).`
        : `Team ${t.team} has spent ${formatUsd(mtd)} of its ${formatUsd(f.budget)} budget for ${t.month}${reportedNote(reported)} and is on course for ${formatUsd(f.projected)} (${pct}%) by month end (${cal.timeZone}).`;
  const advice =
    (resolved
      ? 'No action needed now.'
      : 'Look at what grew this month (spend by developer, model and tool): a runaway agent, a premium default model or a lost cache discount are the usual causes. If the work is planned, raise the budget in burnrate.yaml.') +
    (planned === undefined ? '' : ` Planned change: ${planned}.`);

  return {
    ...episodeFields(ep),
    kind: KIND,
    subject: { org: t.org, team: t.team },
    window: { start: iso(Math.min(ep.start, monthStart * 86_400_000)), end: iso(watermark) },
    observed: { value: roundMoney(f.projected), unit: 'usd' },
    expected: { value: roundMoney(f.budget), unit: 'usd' },
    impact_usd: roundMoney(Math.max(0, f.projected - s.warning_share * f.budget)),
    projected_usd: resolved ? 0 : roundMoney(f.rate * hoursUntilAcknowledgement(cal, watermark)),
    evidence: sortedEvidence(evidence),
    summary,
    advice,
    detected_at: iso(watermark),
  };
}

/** How the providers' reports moved the month to date, for the message; empty when they did not. */
function reportedNote(reported: number): string {
  if (Math.abs(reported) < 0.005) return '';
  return reported > 0
    ? ` (the providers' reports count ${formatUsd(reported)} more than was seen live)`
    : ` (the providers' reports count ${formatUsd(-reported)} less than was seen live)`;
}

/** A new team's state, at its first spend or first report. */
function newTeam(org: string, team: string, local: LocalHour): BudgetTeam {
  return {
    org,
    team,
    month: local.month,
    v: [local.day, local.day, 0, 0, 0, 0, 0, 0, 0, local.day - local.dayOfMonth + 1],
    days: new Array<number>(local.monthDays).fill(0),
    ep: null,
  };
}

/** Judges teams whose hour has moved on: once per local hour each, with or without new spend. */
function judgeAll(state: BudgetForecastState, watermark: number, cfg: BudgetForecastConfig): readonly Anomaly[] {
  const hour = hourOf(watermark);
  let out: Anomaly[] | null = null;
  for (const org in state.teams) {
    for (const team in state.teams[org]) {
      const t = state.teams[org][team] as BudgetTeam;
      if ((t.v[JUDGED] as number) >= hour) continue;
      t.v[JUDGED] = hour;
      const found: Anomaly[] = [];
      const local = localHourOf(hour, cfg.calendarFor(t.team).timeZone);
      rollTo(t, local, cfg, watermark, found);
      const a = judge(t, local, cfg, watermark);
      if (a !== null) found.push(a);
      if (found.length > 0) (out ??= []).push(...found);
    }
  }
  return out ?? NONE;
}

/** Team keys, over hour buckets (stage B rollups). */
export const budgetForecast: BucketDetector<BudgetForecastState, BudgetForecastConfig> = {
  kind: KIND,
  initialState: () => ({ teams: {}, late: 0 }),

  step(state, b: HourBucket, cfg, ctx) {
    if (b.cost_usd <= 0) return { state, anomalies: NONE };
    if (isClosedHour(b.hour, ctx.watermark, latenessOf(ctx))) {
      state.late += 1;
      return { state, anomalies: NONE };
    }
    const local = localHourOf(b.hour, cfg.calendarFor(b.team).timeZone);
    let t = getKey(state.teams, b.org, b.team);
    const out: Anomaly[] = [];
    if (t === undefined) {
      t = newTeam(b.org, b.team, local);
      setKey(state.teams, b.org, b.team, t);
    } else {
      rollTo(t, local, cfg, ctx.watermark, out);
    }
    const v = t.v;
    // A straggler of yesterday still counts for the month (if it is the same month), not for today.
    if (local.month === t.month) {
      v[MTD] = (v[MTD] as number) + b.cost_usd;
      t.days[local.dayOfMonth - 1] = (t.days[local.dayOfMonth - 1] ?? 0) + b.cost_usd;
    }
    if (local.day === v[DAY]) v[TODAY] = (v[TODAY] as number) + b.cost_usd;
    const judged = judgeAll(state, ctx.watermark, cfg);
    return { state, anomalies: out.length === 0 ? judged : [...out, ...judged] };
  },

  advance: (state, watermark, cfg) => ({ state, anomalies: judgeAll(state, watermark, cfg) }),

  correct: (state, c: SpendCorrection, cfg, ctx) => {
    const delta = roundMoney(c.counted_usd - c.judged_usd);
    const index = Number(c.day.slice(8, 10)) - 1;
    let t = getKey(state.teams, c.org, c.team);
    const out: Anomaly[] = [];
    if (t === undefined) {
      // A team only the reports know of (its spend came through keys nothing sends live for).
      if (delta === 0) return { state, anomalies: NONE };
      const at = ctx.watermark > 0 ? ctx.watermark : Date.parse(c.day) + 12 * HOUR_MS;
      t = newTeam(c.org, c.team, localHourOf(hourOf(at), cfg.calendarFor(c.team).timeZone));
      setKey(state.teams, c.org, c.team, t);
    } else if (ctx.watermark > 0) {
      rollTo(t, localHourOf(hourOf(ctx.watermark), cfg.calendarFor(t.team).timeZone), cfg, ctx.watermark, out);
    }
    // Another month's day: that month was closed (or is not this team's yet).
    if (c.day.slice(0, 7) !== t.month || index >= t.days.length) return { state, anomalies: out.length === 0 ? NONE : out };
    if ((t.reported?.[index] ?? 0) === delta) return { state, anomalies: out.length === 0 ? NONE : out };
    (t.reported ??= new Array<number>(t.days.length).fill(0))[index] = delta;
    // Judged again at once: the month to date moved.
    t.v[JUDGED] = -1;
    const judged = ctx.watermark > 0 ? judgeAll(state, ctx.watermark, cfg) : NONE;
    return { state, anomalies: out.length === 0 ? judged : [...out, ...judged] };
  },

  evict(state, idleBeforeMs) {
    // Teams are few and a budget spans a month: keep a team until a month and a half after its last spend.
    const cutoffDay = Math.floor((idleBeforeMs - 45 * 86_400_000) / 86_400_000);
    deleteKeys(state.teams, (t) => (t.v[DAY] as number) < cutoffDay && t.ep === null);
    return state;
  },

  size: (state) => countKeys(state.teams),
};
