import { isBurnrateError, type IncomingRequest, type Route } from '@burnrate/core';
import { formatUsd } from '@burnrate/detection';
import { SPEND_DIMENSIONS, SPEND_GRANULARITIES } from '@burnrate/store';
import { h } from '../html.ts';
import { type SpendResponse, spendRoutes, type SpendTopResponse } from '../spend-routes.ts';
import { pageAccess } from './access.ts';
import { stackedChart, type StackedSeries } from './chart.ts';
import type { ConsoleDeps } from './deps.ts';
import { consolePage } from './layout.ts';

/** The explorer's URL parameters: GET /api/spend's, with one dimension to stack by. */
const PAGE_PARAMS = ['from', 'to', 'granularity', 'group_by', ...SPEND_DIMENSIONS] as const;
const STACK_BY = ['team', 'model', 'tool', 'provider', 'developer'] as const;
const RANGES = ['24h', '7d', '30d', '90d', '365d'];
/** Groups beyond these are summed as "other", so the colours stay tellable apart. */
const MAX_SERIES = 8;
/** The filters offered as a choice, in the form's order. */
const FACETS = ['team', 'model', 'tool', 'developer', 'provider'] as const;
type Facet = (typeof FACETS)[number];
/** What the form offers for each filter: the values seen in the range (and, for teams, the config's). */
export type KnownValues = Record<Facet, readonly string[]>;

/**
 * GET /spend — the spend explorer: spend per period stacked by team, model or tool, month to date
 * against budget with the forecast, and the top sessions and developers. It reads exactly what
 * GET /api/spend and /api/spend/top answer, through their own handlers (same validation, same
 * figures); every filter is a URL parameter, so a view can be bookmarked and shared.
 */
export function spendPageRoute(deps: ConsoleDeps): Route {
  // Authorised by the console session here, so the API's own bearer check is not asked again.
  const [spendApi, topApi] = spendRoutes({ store: deps.store, clock: deps.clock, budgets: deps.budgets }) as [Route, Route];
  const ask = async <T>(route: Route, path: string, query: URLSearchParams): Promise<T> =>
    (await route.handler(internalGet(path, query))).body as T;

  return {
    method: 'GET',
    path: '/spend',
    handler: async (req) => {
      const now = deps.clock.now();
      const access = pageAccess(deps.sessions, req, now);
      if (!access.ok) return access.response;
      const page = (status: number, body: string) =>
        consolePage({
          status,
          title: 'Spend',
          section: 'spend',
          session: access.session,
          sessions: deps.sessions,
          setCookie: access.setCookie,
          body,
        });

      const params = new URLSearchParams();
      for (const [name, value] of req.query) {
        if (!(PAGE_PARAMS as readonly string[]).includes(name))
          return page(
            400,
            `<h1>Spend</h1><p class="error" role="alert">${h(`${name} is not a filter of the spend explorer; it takes ${PAGE_PARAMS.join(', ')}.`)}</p><p><a href="/spend">Start over</a></p>`,
          );
        if (value !== '') params.set(name, value);
      }
      const stackBy = params.get('group_by') ?? 'team';
      if (!(STACK_BY as readonly string[]).includes(stackBy))
        return page(
          400,
          `<h1>Spend</h1><p class="error" role="alert">${h(`group_by must be one of ${STACK_BY.join(', ')}, not ${JSON.stringify(stackBy)}.`)}</p><p><a href="/spend">Start over</a></p>`,
        );
      params.set('group_by', stackBy);
      if (!params.has('from')) params.set('from', '30d');
      const filters = new URLSearchParams(params);
      filters.delete('group_by');
      filters.delete('granularity');
      const configured = deps.config.current().teams.map((t) => t.id);
      let spend: SpendResponse;
      let sessions: SpendTopResponse;
      let developers: SpendTopResponse;
      let known: KnownValues;
      try {
        spend = await ask<SpendResponse>(spendApi, '/api/spend', withParams(params, { budget: 'true' }));
        sessions = await ask<SpendTopResponse>(topApi, '/api/spend/top', withParams(filters, { by: 'session', limit: '10' }));
        developers = await ask<SpendTopResponse>(topApi, '/api/spend/top', withParams(filters, { by: 'developer', limit: '10' }));
        known = await knownValues((query) => ask<SpendResponse>(spendApi, '/api/spend', query), filters, configured);
      } catch (err) {
        if (!isBurnrateError(err) || err.code !== 'INPUT_INVALID') throw err;
        const none = { team: configured, model: [], tool: [], developer: [], provider: [] };
        return page(
          400,
          `<h1>Spend</h1>${filterForm(params, none)}<p class="error" role="alert">${h(err.message)}.</p><p><a href="/spend">Start over</a></p>`,
        );
      }
      return page(200, render(spend, sessions, developers, params, stackBy, known));
    },
  };
}

/**
 * The values each filter can take in the range: for each one, what GET /api/spend groups by it
 * under the other filters (so a team's filter offers that team's models), and every configured
 * team even before it spends. One query per filter, by month, without the budget report.
 */
export async function knownValues(
  spend: (query: URLSearchParams) => Promise<Pick<SpendResponse, 'rows'>>,
  filters: URLSearchParams,
  configuredTeams: readonly string[],
): Promise<KnownValues> {
  const seen = await Promise.all(
    FACETS.map(async (facet) => {
      const query = new URLSearchParams(filters);
      query.delete(facet);
      query.set('group_by', facet);
      query.set('granularity', 'month');
      query.set('budget', 'false');
      const { rows } = await spend(query);
      return rows.map((r) => r[facet]).filter((v): v is string => typeof v === 'string' && v !== '');
    }),
  );
  const values = (facet: Facet, extra: readonly string[] = []): string[] =>
    [...new Set([...extra, ...(seen[FACETS.indexOf(facet)] ?? [])])].sort((a, b) => a.localeCompare(b));
  return {
    team: values('team', configuredTeams),
    model: values('model'),
    tool: values('tool'),
    developer: values('developer'),
    provider: values('provider'),
  };
}

function withParams(base: URLSearchParams, extra: Record<string, string>): URLSearchParams {
  const q = new URLSearchParams(base);
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  return q;
}

function internalGet(path: string, query: URLSearchParams): IncomingRequest {
  return { method: 'GET', path, query, headers: {}, params: {}, contentType: '', remoteAddress: '', body: async () => Buffer.alloc(0) };
}

function render(
  spend: SpendResponse,
  sessions: SpendTopResponse,
  developers: SpendTopResponse,
  params: URLSearchParams,
  stackBy: string,
  known: KnownValues,
): string {
  const periods = [...new Set([...periodsOf(spend), ...spend.rows.map((r) => r.period)])].sort();
  const byGroup = new Map<string, number>();
  for (const r of spend.rows) {
    const name = String(r[stackBy as keyof typeof r] ?? '(none)');
    byGroup.set(name, (byGroup.get(name) ?? 0) + r.cost_usd);
  }
  const ranked = [...byGroup.entries()].sort((a, b) => b[1] - a[1]);
  const shown = ranked.slice(0, MAX_SERIES).map(([n]) => n);
  const index = new Map(periods.map((p, i) => [p, i]));
  const series: StackedSeries[] = shown.map((name) => ({ name, values: periods.map(() => 0) }));
  const other: StackedSeries = { name: 'other', values: periods.map(() => 0) };
  for (const r of spend.rows) {
    const name = String(r[stackBy as keyof typeof r] ?? '(none)');
    const s = series[shown.indexOf(name)] ?? other;
    const values = s.values as number[];
    const i = index.get(r.period) as number;
    values[i] = (values[i] ?? 0) + r.cost_usd;
  }
  if (ranked.length > MAX_SERIES) series.push(other);
  const filterText = Object.entries(spend.filter)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return [
    '<h1>Spend</h1>',
    filterForm(params, known),
    `<p>Total <span class="total" id="spend-total" data-usd="${h(String(spend.total.cost_usd))}">${h(formatUsd(spend.total.cost_usd))}</span> <span class="muted">${h(`${spend.from.slice(0, 16)}Z to ${spend.to.slice(0, 16)}Z, by ${spend.granularity}${filterText ? `, ${filterText}` : ''}; ${spend.total.events.toLocaleString('en-US')} events. Each UTC day, provider and team is counted once: a provider's report replaces the live feed where it covers the day.`)}</span></p>`,
    stackedChart(periods, series, `Spend per ${spend.granularity} by ${stackBy}`),
    '<h2>By ' + h(stackBy) + '</h2>',
    `<table class="list" id="spend-groups"><tr><th>${h(stackBy)}</th><th class="num">Spend</th><th class="num">Share</th></tr>${ranked
      .map(
        ([name, usd]) =>
          `<tr><td>${h(name)}</td><td class="num">${h(formatUsd(usd))}</td><td class="num">${h(spend.total.cost_usd > 0 ? `${Math.round((usd / spend.total.cost_usd) * 100)}%` : '–')}</td></tr>`,
      )
      .join('')}</table>`,
    spend.budget ? budgetTable(spend.budget) : '',
    '<h2>Top sessions</h2>',
    topTable(sessions, 'Session'),
    '<h2>Top developers</h2>',
    topTable(developers, 'Developer'),
  ].join('');
}

function budgetTable(budget: NonNullable<SpendResponse['budget']>): string {
  const pct = (x: number | null): string => (x === null ? '–' : `${Math.round(x * 100)}%`);
  const meter = (x: number | null): string =>
    x === null
      ? ''
      : `<span class="meter"><b class="${x > 1 ? 'over' : ''}" style="width:${Math.min(100, Math.round(x * 100))}%"></b></span>`;
  return [
    `<h2>Month to date against budget <span class="muted">(${h(budget.month)}, ${h(budget.days_left.toFixed(1))} days left; forecast = month to date + the last 7 days' daily average × days left)</span></h2>`,
    `<table class="list" id="budget"><tr><th>Team</th><th class="num">Budget</th><th class="num">Month to date</th><th>Used</th><th class="num">Per day</th><th class="num">Forecast</th><th>Of budget</th></tr>${budget.teams
      .map(
        (t) =>
          `<tr><td>${h(t.team)}</td><td class="num">${h(t.budget_usd === null ? 'none' : formatUsd(t.budget_usd))}</td><td class="num">${h(formatUsd(t.month_to_date_usd))}</td><td>${meter(t.used_share)} ${h(pct(t.used_share))}</td><td class="num">${h(formatUsd(t.daily_rate_usd))}</td><td class="num">${h(formatUsd(t.forecast_usd))}</td><td>${meter(t.forecast_share)} ${h(pct(t.forecast_share))}</td></tr>`,
      )
      .join('')}</table>`,
  ].join('');
}

function topTable(top: SpendTopResponse, what: string): string {
  if (top.rows.length === 0) return '<p class="muted">None in this range.</p>';
  return `<table class="list"><tr><th>${h(what)}</th>${what === 'Session' ? '<th>Developer</th>' : ''}<th>Teams</th><th>Models</th><th>Tools</th><th>From</th><th>To</th><th class="num">Spend</th></tr>${top.rows
    .map(
      (r) =>
        `<tr><td>${h(r.key)}</td>${what === 'Session' ? `<td>${h(r.developer)}</td>` : ''}<td>${h(r.teams.join(', '))}</td><td>${h(r.models.join(', '))}</td><td>${h(r.tools.join(', '))}</td><td>${h(r.first_hour.slice(0, 13))}h</td><td>${h(r.last_hour.slice(0, 13))}h</td><td class="num">${h(formatUsd(r.cost_usd))}</td></tr>`,
    )
    .join('')}</table>`;
}

/**
 * The explorer's filters: range, granularity and stacking as choices; team, model, tool and
 * provider as choices of the values known for the range; developer (thousands, in a large org)
 * typed with the known ones suggested. A value in the URL that is not among them stays selected.
 */
function filterForm(params: URLSearchParams, known: KnownValues): string {
  const current = (n: string): string => params.get(n) ?? '';
  const select = (name: string, label: string, options: readonly string[], value: string, all?: string): string =>
    `<label>${h(label)}<select name="${name}">${all !== undefined ? `<option value="">${h(all)}</option>` : ''}${[
      ...new Set([...options, ...(value && !options.includes(value) ? [value] : [])]),
    ]
      .map((o) => `<option value="${h(o)}"${o === value ? ' selected' : ''}>${h(o)}</option>`)
      .join('')}</select></label>`;
  const suggest = (name: Facet, label: string): string =>
    `<label>${h(label)}<input type="text" name="${name}" value="${h(current(name))}" size="18" list="known-${name}" placeholder="all" autocomplete="off"></label><datalist id="known-${name}">${known[
      name
    ]
      .map((o) => `<option value="${h(o)}"></option>`)
      .join('')}</datalist>`;
  const facet = (name: Exclude<Facet, 'developer'>, label: string): string => select(name, label, known[name], current(name), 'all');
  return `<form class="filters" method="get" action="/spend" id="spend-filters">${select('from', 'Range', RANGES, current('from') || '30d')}${select('granularity', 'Per', SPEND_GRANULARITIES, current('granularity') || 'day')}${select('group_by', 'Stack by', STACK_BY, current('group_by') || 'team')}${facet('team', 'Team')}${facet('model', 'Model')}${facet('tool', 'Tool')}${suggest('developer', 'Developer')}${facet('provider', 'Provider')}<button type="submit">Apply</button> <a href="/spend">Clear</a></form>`;
}

/** Every period of the range, so days without spend show as gaps rather than disappear (at most 2,000). */
function periodsOf(spend: SpendResponse): string[] {
  const out: string[] = [];
  const from = new Date(spend.from);
  let t =
    spend.granularity === 'month'
      ? Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), 1)
      : Math.floor(from.getTime() / (spend.granularity === 'hour' ? 3_600_000 : 86_400_000)) *
        (spend.granularity === 'hour' ? 3_600_000 : 86_400_000);
  const end = Date.parse(spend.to);
  while (t < end && out.length < 2000) {
    out.push(new Date(t).toISOString());
    const d = new Date(t);
    t =
      spend.granularity === 'month'
        ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)
        : t + (spend.granularity === 'hour' ? 3_600_000 : 86_400_000);
  }
  return out;
}
