import { type Clock, jsonResponse, parseDuration, type Route } from '@burnrate/core';
import { Instant } from '@burnrate/schemas';
import {
  roundToMicroUsd,
  SPEND_DIMENSIONS,
  SPEND_GRANULARITIES,
  type SpendDimension,
  type SpendFilter,
  type SpendGranularity,
  type SpendReportRow,
  type SpendTopRow,
  type SpendTotals,
  type Store,
  sumTotals,
} from '@burnrate/store';
import { authorize, invalidField } from './request.ts';

export type SpendRoutesStore = Pick<Store, 'spend' | 'spendTop'>;

export interface SpendRoutesDeps {
  store: SpendRoutesStore;
  clock: Clock;
  apiToken?: string | undefined;
  /** Each configured team's `budget.monthly_usd` (undefined without one), read per request so a reload shows. */
  budgets: () => ReadonlyMap<string, number | undefined>;
}

const DAY_MS = 86_400_000;
const DEFAULT_RANGE = '30d';
/** spend_hourly_v1 and the rollup keep about three years. */
const MAX_RANGE_MS = 1100 * DAY_MS;
/** A response larger than this is a query to narrow, not a page to render. */
const MAX_ROWS = 100_000;
const MAX_TOP = 1000;
/** The trailing complete UTC days whose average daily spend the month-end forecast extends. */
const RATE_DAYS = 7;

const SPEND_PARAMS = ['group_by', 'from', 'to', 'granularity', 'budget', ...SPEND_DIMENSIONS] as const;
const TOP_PARAMS = ['by', 'from', 'to', 'limit', ...SPEND_DIMENSIONS] as const;

export interface SpendResponse {
  from: string;
  to: string;
  granularity: SpendGranularity;
  group_by: SpendDimension[];
  filter: SpendFilter;
  /** Periods oldest first, then by the grouped dimensions; each (UTC day, provider, team) counted once. */
  rows: SpendReportRow[];
  total: SpendTotals;
  /** With granularity=month or budget=true. */
  budget?: BudgetReport;
}

/** Where each team stands against its month: UTC month to date, and a straight-line month-end forecast. */
export interface BudgetReport {
  /** `YYYY-MM`, UTC. */
  month: string;
  as_of: string;
  /** Days (fractional) from as_of to the end of the month. */
  days_left: number;
  teams: BudgetTeamRow[];
}

export interface BudgetTeamRow {
  team: string;
  /** burnrate.yaml `budget.monthly_usd`; null when the team has none (or is not configured). */
  budget_usd: number | null;
  month_to_date_usd: number;
  /** month_to_date / budget. */
  used_share: number | null;
  /** Average spend per day over the last 7 complete UTC days. */
  daily_rate_usd: number;
  /** month to date + daily rate × days left. */
  forecast_usd: number;
  forecast_share: number | null;
}

export interface SpendTopResponse {
  from: string;
  to: string;
  by: 'session' | 'developer';
  filter: SpendFilter;
  rows: SpendTopRow[];
}

/** The config's teams and their `budget.monthly_usd`, as SpendRoutesDeps.budgets reads them. */
export function teamBudgets(config: {
  teams: readonly { id: string; budget?: { monthly_usd: number } | undefined }[];
}): Map<string, number | undefined> {
  return new Map(config.teams.map((t) => [t.id, t.budget?.monthly_usd]));
}

/** GET /api/spend and GET /api/spend/top. */
export function spendRoutes(deps: SpendRoutesDeps): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/spend',
      handler: async (req) => {
        authorize(req, deps.apiToken);
        refuseUnknown(req.query, SPEND_PARAMS, 'GET /api/spend');
        const now = deps.clock.now();
        const { from, to } = rangeOf(req.query, now);
        const granularity = granularityOf(req.query.get('granularity'));
        const groupBy = groupByOf(req.query.get('group_by'));
        const filter = filterOf(req.query);
        const budget = booleanOf(req.query.get('budget'), 'budget') ?? granularity === 'month';
        const rows = await deps.store.spend({
          from: from.toISOString(),
          to: to.toISOString(),
          granularity,
          group_by: groupBy,
          filter,
          limit: MAX_ROWS + 1,
        });
        if (rows.length > MAX_ROWS) {
          throw invalidField(
            'granularity',
            `with group_by ${groupBy.join(',') || '(none)'} gives more than ${MAX_ROWS} rows over ${from.toISOString()}..${to.toISOString()}: narrow from/to, use a coarser granularity, group by less or filter`,
          );
        }
        const body: SpendResponse = {
          from: from.toISOString(),
          to: to.toISOString(),
          granularity,
          group_by: groupBy,
          filter,
          rows,
          total: sumTotals(rows),
        };
        if (budget) body.budget = await budgetReport(deps, now, filter.team);
        return jsonResponse(200, body);
      },
    },
    {
      method: 'GET',
      path: '/api/spend/top',
      handler: async (req) => {
        authorize(req, deps.apiToken);
        refuseUnknown(req.query, TOP_PARAMS, 'GET /api/spend/top');
        const { from, to } = rangeOf(req.query, deps.clock.now());
        const by = req.query.get('by') ?? 'developer';
        if (by !== 'session' && by !== 'developer') throw invalidField('by', `must be session or developer, not ${JSON.stringify(by)}`);
        const limit = limitOf(req.query.get('limit'));
        const filter = filterOf(req.query);
        const rows = await deps.store.spendTop({ from: from.toISOString(), to: to.toISOString(), by, limit, filter });
        const body: SpendTopResponse = { from: from.toISOString(), to: to.toISOString(), by, filter, rows };
        return jsonResponse(200, body);
      },
    },
  ];
}

function refuseUnknown(query: URLSearchParams, known: readonly string[], route: string): void {
  for (const name of query.keys()) {
    if (!known.includes(name)) throw invalidField(name, `is not a parameter of ${route}; it takes ${known.join(', ')}`);
  }
}

/** `to` defaults to now, `from` to 30 days before `to`; `from` may also be a duration back from `to` (`7d`). */
function rangeOf(query: URLSearchParams, now: Date): { from: Date; to: Date } {
  const toText = query.get('to');
  const to = toText === null ? now : instantOf(toText, 'to');
  const fromText = query.get('from') ?? DEFAULT_RANGE;
  const back = parseDuration(fromText);
  let from: Date;
  if (back !== undefined) {
    if (back <= 0 || back > MAX_RANGE_MS)
      throw invalidField('from', `as a duration must be from 1s to 1100d, not ${JSON.stringify(fromText)}`);
    from = new Date(to.getTime() - back);
  } else from = instantOf(fromText, 'from');
  if (from.getTime() >= to.getTime()) throw invalidField('from', `(${from.toISOString()}) must be before to (${to.toISOString()})`);
  if (to.getTime() - from.getTime() > MAX_RANGE_MS) throw invalidField('from', 'must be at most 1100 days before to');
  return { from, to };
}

/** An instant, or a UTC day `2026-11-01` (its midnight). */
function instantOf(text: string, field: string): Date {
  const parsed = Instant.safeParse(/^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text);
  if (!parsed.success) {
    throw invalidField(field, `must be an instant such as 2026-11-01T00:00:00Z or a day such as 2026-11-01, not ${JSON.stringify(text)}`);
  }
  return new Date(parsed.data);
}

function granularityOf(text: string | null): SpendGranularity {
  if (text === null) return 'day';
  if (!(SPEND_GRANULARITIES as readonly string[]).includes(text)) {
    throw invalidField('granularity', `must be one of ${SPEND_GRANULARITIES.join(', ')}, not ${JSON.stringify(text)}`);
  }
  return text as SpendGranularity;
}

function groupByOf(text: string | null): SpendDimension[] {
  if (text === null || text.trim() === '') return [];
  const dims: SpendDimension[] = [];
  for (const part of text.split(',').map((p) => p.trim())) {
    if (!(SPEND_DIMENSIONS as readonly string[]).includes(part)) {
      throw invalidField('group_by', `takes ${SPEND_DIMENSIONS.join(', ')} (comma-separated), not ${JSON.stringify(part)}`);
    }
    if (!dims.includes(part as SpendDimension)) dims.push(part as SpendDimension);
  }
  return dims;
}

function filterOf(query: URLSearchParams): SpendFilter {
  const filter: SpendFilter = {};
  for (const dim of SPEND_DIMENSIONS) {
    const value = query.get(dim);
    if (value === null) continue;
    if (value === '') throw invalidField(dim, 'must not be empty');
    filter[dim] = value;
  }
  return filter;
}

function booleanOf(text: string | null, field: string): boolean | undefined {
  if (text === null) return undefined;
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  throw invalidField(field, `must be true or false, not ${JSON.stringify(text)}`);
}

function limitOf(text: string | null): number {
  if (text === null) return 10;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > MAX_TOP)
    throw invalidField('limit', `must be a whole number from 1 to ${MAX_TOP}, not ${JSON.stringify(text)}`);
  return n;
}

/**
 * Month to date per team (UTC month, counted spend, every provider and model) against the budget,
 * and a straight line to the month's end at the last 7 complete days' average. The budget_forecast
 * detector's projection is calendar-aware (team zone, working days), so near a weekend the two differ.
 */
async function budgetReport(deps: SpendRoutesDeps, now: Date, team: string | undefined): Promise<BudgetReport> {
  const monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
  const monthEnd = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
  const today = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
  const rateFrom = today - RATE_DAYS * DAY_MS;
  const rows = await deps.store.spend({
    from: new Date(Math.min(monthStart, rateFrom)).toISOString(),
    // The current hour included: month to date is up to now.
    to: new Date(Math.floor(now.getTime() / 3_600_000) * 3_600_000 + 3_600_000).toISOString(),
    granularity: 'day',
    group_by: ['team'],
    ...(team === undefined ? {} : { filter: { team } }),
  });
  const budgets = deps.budgets();
  const teams = new Map<string, { mtd: number; trailing: number }>();
  for (const [id] of budgets) if (team === undefined || id === team) teams.set(id, { mtd: 0, trailing: 0 });
  for (const r of rows) {
    const id = r.team ?? '';
    const t = teams.get(id) ?? { mtd: 0, trailing: 0 };
    const day = Date.parse(r.period);
    if (day >= monthStart) t.mtd += r.cost_usd;
    if (day >= rateFrom && day < today) t.trailing += r.cost_usd;
    teams.set(id, t);
  }
  const daysLeft = (monthEnd - now.getTime()) / DAY_MS;
  const share = (x: number, budget: number | undefined): number | null => (budget === undefined || budget <= 0 ? null : round4(x / budget));
  return {
    month: new Date(monthStart).toISOString().slice(0, 7),
    as_of: now.toISOString(),
    days_left: round4(daysLeft),
    teams: [...teams]
      .map(([id, t]) => {
        const budget = budgets.get(id);
        const rate = t.trailing / RATE_DAYS;
        const forecast = t.mtd + rate * daysLeft;
        return {
          team: id,
          budget_usd: budget ?? null,
          month_to_date_usd: roundToMicroUsd(t.mtd),
          used_share: share(t.mtd, budget),
          daily_rate_usd: roundToMicroUsd(rate),
          forecast_usd: roundToMicroUsd(forecast),
          forecast_share: share(forecast, budget),
        };
      })
      .sort((a, b) => (a.team < b.team ? -1 : a.team > b.team ? 1 : 0)),
  };
}

const round4 = (x: number): number => Math.round(x * 1e4) / 1e4;
