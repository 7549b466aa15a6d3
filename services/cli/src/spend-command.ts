import type { BudgetReport, SpendResponse, SpendTopResponse } from '@burnrate/api';
import { type SpendReportRow, type SpendTotals, sumTotals } from '@burnrate/store';
import { type OnCallEnv, runOnCall } from './anomalies-command.ts';
import { createApiClient } from './api-client.ts';
import { UsageError } from './backtest-args.ts';
import { formatUsd, table } from './backtest-format.ts';
import { type CommandArgs, parseCommandArgs } from './command-args.ts';
import type { CommandIO } from './config-command.ts';

const DIMENSIONS = ['team', 'model', 'developer', 'tool', 'provider'] as const;
const FILTER_FLAGS = [...DIMENSIONS];

export const SPEND_USAGE = `usage:
  burnrate spend [--group-by team,model,developer,tool,provider] [--granularity hour|day|month]
                 [--from 30d | --from 2026-11-01] [--to 2026-12-01T00:00:00Z]
                 [--team T] [--model M] [--developer D] [--tool T] [--provider P] [--budget] [--json | --csv]
      spend per period and group, each UTC day, provider and team counted once (the provider's
      report where one covers it, else the live feed); --budget (and --granularity month) adds each
      team's month to date against its budget.monthly_usd and a month-end forecast

Talks to a running instance: BURNRATE_URL (default http://127.0.0.1:8787), BURNRATE_API_TOKEN.`;

/** `burnrate spend`: 0 printed, 1 the instance refused or could not be reached, 2 a bad command line. */
export async function spendCommand(argv: readonly string[], env: OnCallEnv, io: CommandIO): Promise<number> {
  return runOnCall(io, SPEND_USAGE, async () => {
    const args = parseCommandArgs(argv, {
      values: ['group-by', 'granularity', 'from', 'to', ...FILTER_FLAGS],
      switches: ['json', 'csv', 'budget'],
    });
    if (args.switches.has('help')) {
      io.out(SPEND_USAGE);
      return 0;
    }
    if (args.positionals.length > 0) throw new UsageError(`spend takes no ${JSON.stringify(args.positionals[0])}`);
    const output = outputOf(args);
    const query = filterQuery(args);
    const groupBy = args.values.get('group-by');
    if (groupBy !== undefined) query.set('group_by', groupBy);
    const granularity = args.values.get('granularity');
    if (granularity !== undefined) query.set('granularity', granularity);
    if (args.switches.has('budget')) query.set('budget', 'true');
    const report = await client(env).call<SpendResponse>('GET', `/api/spend?${query.toString()}`);
    if (output === 'json') io.out(JSON.stringify(report, null, 2));
    else if (output === 'csv') for (const line of spendCsv(report)) io.out(line);
    else for (const line of spendTable(report)) io.out(line);
    return 0;
  });
}

/** `burnrate report daily|monthly|session`, ccusage's three reports over the instance's spend. */
export async function usageReport(
  sub: 'daily' | 'monthly' | 'session',
  rest: readonly string[],
  env: OnCallEnv,
  io: CommandIO,
): Promise<number> {
  const values = sub === 'session' ? ['from', 'to', 'limit', ...FILTER_FLAGS] : ['from', 'to', ...FILTER_FLAGS];
  const args = parseCommandArgs(rest, { values, switches: ['json', 'csv'] });
  if (args.switches.has('help')) return -1;
  if (args.positionals.length > 0) throw new UsageError(`report ${sub} takes no ${JSON.stringify(args.positionals[0])}`);
  const output = outputOf(args);
  const query = filterQuery(args);
  const api = client(env);
  if (sub === 'session') {
    query.set('by', 'session');
    query.set('limit', args.values.get('limit') ?? '20');
    const report = await api.call<SpendTopResponse>('GET', `/api/spend/top?${query.toString()}`);
    if (output === 'json') io.out(JSON.stringify(report, null, 2));
    else {
      const { header, rows } = sessionCells(report, output === 'csv');
      if (output === 'csv') for (const line of csv(header, rows)) io.out(line);
      else if (rows.length === 0) io.out(`no sessions with spend from ${report.from} to ${report.to}`);
      else
        for (const line of [
          `sessions by spend from ${report.from} to ${report.to} (request-level spend)`,
          '',
          ...table(header, rows, SESSION_ALIGN, ''),
        ])
          io.out(line);
    }
    return 0;
  }
  if (sub === 'monthly') {
    query.set('granularity', 'month');
    if (!args.values.has('from')) {
      // Twelve calendar months including this one.
      const now = new Date();
      query.set('from', new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 11, 1)).toISOString());
    }
  } else query.set('granularity', 'day');
  query.set('group_by', 'model');
  const report = await api.call<SpendResponse>('GET', `/api/spend?${query.toString()}`);
  if (output === 'json') {
    io.out(JSON.stringify(report, null, 2));
    return 0;
  }
  const { header, rows } = periodCells(report, sub === 'daily' ? 'DATE' : 'MONTH', output === 'csv');
  if (output === 'csv') {
    for (const line of csv(header, rows)) io.out(line);
    return 0;
  }
  const lines = [`${sub} spend from ${report.from} to ${report.to} (UTC; each day, provider and team counted once)`, ''];
  if (rows.length === 0) lines.push('no spend in that period');
  else lines.push(...table(header, rows, PERIOD_ALIGN, ''));
  if (report.budget !== undefined) lines.push('', ...budgetTable(report.budget));
  for (const line of lines) io.out(line);
  return 0;
}

type Output = 'table' | 'json' | 'csv';

function outputOf(args: CommandArgs): Output {
  if (args.switches.has('json') && args.switches.has('csv')) throw new UsageError('give --json or --csv, not both');
  return args.switches.has('json') ? 'json' : args.switches.has('csv') ? 'csv' : 'table';
}

function filterQuery(args: CommandArgs): URLSearchParams {
  const query = new URLSearchParams();
  for (const name of ['from', 'to', ...FILTER_FLAGS]) {
    const value = args.values.get(name);
    if (value !== undefined) query.set(name, value);
  }
  return query;
}

const client = (env: OnCallEnv) => createApiClient({ url: env.url, token: env.token, ...(env.fetch ? { fetch: env.fetch } : {}) });

const TOKEN_HEADER = ['INPUT', 'OUTPUT', 'CACHE CREATE', 'CACHE READ', 'TOTAL TOKENS', 'COST'];
const PERIOD_ALIGN = ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right'] as const;
const SESSION_ALIGN = ['left', 'left', 'left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'left'] as const;

/** Whole numbers grouped by thousands; CSV keeps them bare. */
const count = (n: number, raw: boolean): string => (raw ? String(n) : n.toLocaleString('en-US'));
const money = (usd: number, raw: boolean): string => (raw ? String(usd) : formatUsd(usd));
const totalTokens = (t: SpendTotals): number => t.input_tokens + t.output_tokens + t.cache_write_tokens + t.cache_read_tokens;
const tokenCells = (t: SpendTotals, raw: boolean): string[] => [
  count(t.input_tokens, raw),
  count(t.output_tokens, raw),
  count(t.cache_write_tokens, raw),
  count(t.cache_read_tokens, raw),
  count(totalTokens(t), raw),
  money(t.cost_usd, raw),
];

/** One row per period with its models, as ccusage's daily and monthly reports; the total last. */
function periodCells(report: SpendResponse, label: string, raw: boolean): { header: string[]; rows: string[][] } {
  const periods = new Map<string, { models: string[]; totals: SpendReportRow[] }>();
  for (const r of report.rows) {
    const p = periods.get(r.period) ?? { models: [], totals: [] };
    if (r.model !== undefined && !p.models.includes(r.model)) p.models.push(r.model);
    p.totals.push(r);
    periods.set(r.period, p);
  }
  const rows = [...periods].map(([period, p]) => [
    label === 'MONTH' ? period.slice(0, 7) : period.slice(0, 10),
    p.models.sort().join(raw ? ' ' : ', '),
    ...tokenCells(sumTotals(p.totals), raw),
  ]);
  if (!raw && rows.length > 0) rows.push(['Total', '', ...tokenCells(report.total, raw)]);
  return { header: [label, 'MODELS', ...TOKEN_HEADER], rows };
}

function sessionCells(report: SpendTopResponse, raw: boolean): { header: string[]; rows: string[][] } {
  return {
    header: ['SESSION', 'DEVELOPER', 'TEAM', 'MODELS', ...TOKEN_HEADER, 'LAST ACTIVITY'],
    rows: report.rows.map((r) => [
      r.key,
      r.developer,
      r.teams.join(raw ? ' ' : ', '),
      r.models.join(raw ? ' ' : ', '),
      ...tokenCells(r, raw),
      raw ? r.last_hour : `${r.last_hour.slice(0, 13).replace('T', ' ')}h`,
    ]),
  };
}

/** `burnrate spend` as a table: a row per period and group, the total last, then the budget if asked. */
export function spendTable(report: SpendResponse): string[] {
  const lines = [`spend from ${report.from} to ${report.to} by ${report.granularity} (UTC; each day, provider and team counted once)`, ''];
  const { header, rows } = spendCells(report, false);
  if (report.rows.length === 0) lines.push('no spend in that period');
  else
    lines.push(
      ...table(
        header,
        rows,
        ['left', ...report.group_by.map(() => 'left' as const), ...header.slice(1 + report.group_by.length).map(() => 'right' as const)],
        '',
      ),
    );
  if (report.budget !== undefined) lines.push('', ...budgetTable(report.budget));
  return lines;
}

export function spendCsv(report: SpendResponse): string[] {
  const { header, rows } = spendCells(report, true);
  return csv(header, rows);
}

function spendCells(report: SpendResponse, raw: boolean): { header: string[]; rows: string[][] } {
  const dims = report.group_by;
  const period = (p: string): string =>
    report.granularity === 'month' ? p.slice(0, 7) : report.granularity === 'day' ? p.slice(0, 10) : `${p.slice(0, 13).replace('T', ' ')}h`;
  const header = [
    raw ? 'period' : 'PERIOD',
    ...dims.map((d) => (raw ? d : d.toUpperCase())),
    ...(raw
      ? ['events', 'input_tokens', 'output_tokens', 'cache_write_tokens', 'cache_read_tokens', 'total_tokens', 'cost_usd']
      : ['EVENTS', ...TOKEN_HEADER]),
  ];
  const rows = report.rows.map((r) => [
    raw ? r.period : period(r.period),
    ...dims.map((d) => r[d] ?? ''),
    count(r.events, raw),
    ...tokenCells(r, raw),
  ]);
  if (!raw && rows.length > 0)
    rows.push(['Total', ...dims.map(() => ''), count(report.total.events, raw), ...tokenCells(report.total, raw)]);
  return { header, rows };
}

/** Month to date against budget per team. */
export function budgetTable(budget: BudgetReport): string[] {
  const pct = (x: number | null): string => (x === null ? '-' : `${Math.round(x * 100)}%`);
  const usdOrDash = (x: number | null): string => (x === null ? '-' : formatUsd(x));
  return [
    `budget ${budget.month} as of ${budget.as_of.slice(0, 16).replace('T', ' ')}Z, ${budget.days_left.toFixed(1)} days left (forecast = month to date + last 7 days' daily average x days left)`,
    '',
    ...table(
      ['TEAM', 'BUDGET', 'MONTH TO DATE', 'USED', 'PER DAY', 'FORECAST', 'OF BUDGET'],
      budget.teams.map((t) => [
        t.team,
        usdOrDash(t.budget_usd),
        formatUsd(t.month_to_date_usd),
        pct(t.used_share),
        formatUsd(t.daily_rate_usd),
        formatUsd(t.forecast_usd),
        pct(t.forecast_share),
      ]),
      ['left', 'right', 'right', 'right', 'right', 'right', 'right'],
      '',
    ),
  ];
}

/** RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled. */
export function csv(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const field = (v: string): string => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  return [header, ...rows].map((r) => r.map(field).join(','));
}
