import { toDateTime64, toNumber, where, type QueryParams, type SqlExecutor } from '../executor.ts';
import type { ReconciliationQuery, ReconciliationRow, SpendCorrectionRow } from '../port.ts';
import { USAGE_EVENTS_TABLE } from './usage-events.ts';

/**
 * Reconciliation: what the fast sources saw against what the providers report, per UTC day.
 *
 * Live spend is the request-level events (Claude Code's OTLP, LiteLLM, POST /v1/events per call,
 * imported transcripts): seconds old, per developer, and what detection judges. Reported spend is
 * the providers' buckets (usage and cost APIs), hours late and the invoice's truth. Both are
 * stored; these rows say which one a day's total counts:
 *
 * - per (day, org, provider), the report of highest precedence present that day
 *   (REPORT_PRECEDENCE: a cost report before a usage report before per-user analytics before
 *   Claude Code's cost metrics; Copilot's billing before its activity reports) is the
 *   day's truth, as the report attributes it to teams; other reports of that provider, counting
 *   the same spend again, are left out;
 * - a (day, org, provider) no report covers (yet) counts its live spend;
 * - an activity report (ACTIVITY_SOURCES: bucketed, $0, beside a provider's request-level money)
 *   is never the day's report, so it cannot put $0 in place of that live spend;
 * - `delta_usd` is reported − live for each team: positive where the report saw spend nothing
 *   live did (another app's API key, events lost on the way), negative where live attribution
 *   and the report's (API key or workspace ownership) put the same spend on different teams.
 *
 * Totals therefore count every dollar once, whichever way it arrived.
 */

/** Report sources per provider, most authoritative first; any other bucketed source comes after these. */
export const REPORT_PRECEDENCE: readonly string[] = [
  'anthropic_cost_report',
  'anthropic_usage_report',
  'claude_code_analytics',
  // Claude Code's own cost metrics (OTLP): a report of the same calls its log events carry.
  'claude_code_metrics',
  'openai_costs',
  'openai_usage',
  // Copilot's money is its premium-request billing; the metrics reports are its activity at $0.
  'copilot_premium',
  'copilot_metrics',
];

/**
 * Bucketed sources that report activity at $0 while the provider's money arrives request-level
 * (Cursor's daily usage data beside its usage events). Chosen as a day's report, one would count
 * the day at $0 and leave the live spend out; they are left out of the reconciliation instead.
 */
export const ACTIVITY_SOURCES: readonly string[] = ['cursor_daily'];

/** One day's spend of one org, team, provider and source: live (request-level) or a report's buckets. */
export interface SourceDay {
  day: string;
  org: string;
  team: string;
  provider: string;
  source: string;
  live: boolean;
  cost_usd: number;
  events: number;
}

const rank = (source: string): number => {
  const i = REPORT_PRECEDENCE.indexOf(source);
  return i === -1 ? REPORT_PRECEDENCE.length : i;
};

/** A report source with rows on a UTC day for an org and provider (any team, any amount, $0 included). */
export interface ReportPresence {
  day: string;
  org: string;
  provider: string;
  source: string;
}

/** The key chooseReports files a (day, org, provider) under. */
export const reportKey = (day: string, org: string, provider: string): string => JSON.stringify([day, org, provider]);

/**
 * The report that counts per (day, org, provider), keyed by reportKey: the highest-ranked present,
 * by name on a tie; activity sources never. The one place the choice is made: the reconciliation
 * rows and the spend views (tables/spend-rollup.ts) both take it from here.
 */
export function chooseReports(present: Iterable<ReportPresence>): Map<string, string> {
  const chosen = new Map<string, string>();
  for (const d of present) {
    if (ACTIVITY_SOURCES.includes(d.source)) continue;
    const key = reportKey(d.day, d.org, d.provider);
    const current = chosen.get(key);
    if (current === undefined || rank(d.source) < rank(current) || (rank(d.source) === rank(current) && d.source < current))
      chosen.set(key, d.source);
  }
  return chosen;
}

/** Rows by (day, org, team, provider), from per-source days, as the header describes. */
export function reconcile(days: readonly SourceDay[], team?: string): ReconciliationRow[] {
  const chosen = chooseReports(days.filter((d) => !d.live));
  const rows = new Map<string, ReconciliationRow>();
  for (const d of days) {
    if (team !== undefined && d.team !== team) continue;
    const report = chosen.get(reportKey(d.day, d.org, d.provider)) ?? null;
    if (!d.live && d.source !== report) continue;
    const key = JSON.stringify([d.day, d.org, d.team, d.provider]);
    let row = rows.get(key);
    if (row === undefined) {
      row = {
        day: d.day,
        org: d.org,
        team: d.team,
        provider: d.provider,
        live_usd: 0,
        live_events: 0,
        report_usd: 0,
        report_buckets: 0,
        report_source: report,
        counted_usd: 0,
        delta_usd: 0,
      };
      rows.set(key, row);
    }
    if (d.live) {
      row.live_usd += d.cost_usd;
      row.live_events += d.events;
    } else {
      row.report_usd += d.cost_usd;
      row.report_buckets += d.events;
    }
  }
  const out = [...rows.values()];
  for (const row of out) {
    row.live_usd = roundToMicroUsd(row.live_usd);
    row.report_usd = roundToMicroUsd(row.report_usd);
    row.counted_usd = row.report_source === null ? row.live_usd : row.report_usd;
    row.delta_usd = row.report_source === null ? 0 : roundToMicroUsd(row.report_usd - row.live_usd);
  }
  return out.sort((a, b) => compare(a.day, b.day) || compare(a.org, b.org) || compare(a.provider, b.provider) || compare(a.team, b.team));
}

/**
 * How far live detection is from the reports, per UTC day, org and team (SpendCorrectionRow), for
 * the days on or after `fromDay` where a report counts for some provider. `days` should start a
 * week (LIVE_SILENCE) before `fromDay`, so whether a provider had a live feed is known.
 *
 * What detection counted (`judged_usd`), per provider with a report that day: its request-level
 * events, and, where the org had no live feed of that provider that day or in the week before
 * (the detector's source precedence at day grain), every report bucket too: those were judged,
 * not superseded. `counted_usd` is the reconciliation's figure for the same providers.
 */
export function spendCorrections(days: readonly SourceDay[], fromDay: string): SpendCorrectionRow[] {
  const chosen = chooseReports(days.filter((d) => !d.live));
  // Days each (org, provider) had request-level spend, to tell a covered report from a judged one.
  const liveDays = new Map<string, string[]>();
  for (const d of days) {
    if (!d.live) continue;
    const key = JSON.stringify([d.org, d.provider]);
    const list = liveDays.get(key) ?? [];
    list.push(d.day);
    liveDays.set(key, list);
  }
  const covered = (org: string, provider: string, day: string): boolean => {
    const since = new Date(Date.parse(day) - LIVE_SILENCE_DAYS * DAY_MS).toISOString().slice(0, 10);
    return (liveDays.get(JSON.stringify([org, provider])) ?? []).some((l) => l >= since && l <= day);
  };
  const rows = new Map<string, SpendCorrectionRow>();
  for (const d of days) {
    if (d.day < fromDay) continue;
    const report = chosen.get(reportKey(d.day, d.org, d.provider));
    if (report === undefined) continue;
    const key = JSON.stringify([d.day, d.org, d.team]);
    let row = rows.get(key);
    if (row === undefined) {
      row = { day: d.day, org: d.org, team: d.team, counted_usd: 0, judged_usd: 0, sources: [] };
      rows.set(key, row);
    }
    if (d.source === report) {
      row.counted_usd += d.cost_usd;
      if (!row.sources.includes(report)) row.sources.push(report);
    }
    if (d.live || !covered(d.org, d.provider, d.day)) row.judged_usd += d.cost_usd;
  }
  const out = [...rows.values()];
  for (const row of out) {
    row.counted_usd = roundToMicroUsd(row.counted_usd);
    row.judged_usd = roundToMicroUsd(row.judged_usd);
    row.sources.sort();
  }
  return out.sort((a, b) => compare(a.day, b.day) || compare(a.org, b.org) || compare(a.team, b.team));
}

/** The detector's LIVE_SILENCE_MS (@burnrate/detection), in days. */
const LIVE_SILENCE_DAYS = 7;
const DAY_MS = 86_400_000;

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
/** To a millionth of a dollar: a sum of float costs otherwise reads 12.340000000000002. */
export const roundToMicroUsd = (usd: number): number => Math.round(usd * 1e6) / 1e6;

type Int64 = number | string;

/** Days from `from` (inclusive) to `to` (exclusive), UTC; a 1d bucket counts on the day it starts. */
export async function reconciliation(exec: SqlExecutor, query: ReconciliationQuery): Promise<ReconciliationRow[]> {
  return reconcile(await sourceDays(exec, query), query.team);
}

/** SpendCorrectionRows for the days from `from` (a week before read too, see `spendCorrections`) to `to`. */
export async function spendCorrectionsOf(
  exec: SqlExecutor,
  query: { from: string; to?: string; org?: string },
): Promise<SpendCorrectionRow[]> {
  return spendCorrections(await sourceDays(exec, correctionsSourceQuery(query)), query.from.slice(0, 10));
}

/** The source days `spendCorrections` needs for days from `query.from`: a week more before it, so a live feed is known. */
export function correctionsSourceQuery<Q extends { from: string }>(query: Q): Q {
  return { ...query, from: new Date(Date.parse(query.from) - LIVE_SILENCE_DAYS * DAY_MS).toISOString() };
}

/** Every org's, team's and provider's spend per UTC day and source, live or reported. */
async function sourceDays(exec: SqlExecutor, query: ReconciliationQuery): Promise<SourceDay[]> {
  const conditions: string[] = [];
  const params: QueryParams = {};
  if (query.org !== undefined) {
    conditions.push('org = {org:String}');
    params.org = query.org;
  }
  if (query.from !== undefined) {
    conditions.push("occurred_at >= {from:DateTime64(3, 'UTC')}");
    params.from = toDateTime64(query.from);
  }
  if (query.to !== undefined) {
    conditions.push("occurred_at < {to:DateTime64(3, 'UTC')}");
    params.to = toDateTime64(query.to);
  }
  // Every team is read: which report counts is decided per org and provider, not per team.
  // FINAL: a duplicate not yet merged away must still count once.
  const rows = await exec.query<{
    day: string;
    org: string;
    team: string;
    provider: string;
    source: string;
    live: number | boolean;
    cost_usd: number;
    events: Int64;
  }>(
    `SELECT toString(toDate(occurred_at)) AS day, org, team, provider, source, granularity = 'request' AS live,
            sum(cost_usd) AS cost_usd, count() AS events
       FROM ${USAGE_EVENTS_TABLE} FINAL
       ${where(conditions)}
      GROUP BY day, org, team, provider, source, live`,
    params,
  );
  return rows.map((r) => ({ ...r, live: r.live === true || Number(r.live) === 1, events: toNumber(r.events) }));
}
