import { fromDateTime64, insertRows, toDateTime64, toNumber, type QueryParams, type SqlExecutor } from '../executor.ts';
import {
  SPEND_DIMENSIONS,
  type SpendDimension,
  type SpendFilter,
  type SpendGranularity,
  type SpendReportQuery,
  type SpendReportRow,
  type SpendTopQuery,
  type SpendTopRow,
  type SpendTotals,
} from '../port.ts';
import { chooseReports, type ReportPresence } from './reconciliation.ts';
import { SPEND_HOURLY_TABLE } from './spend-hourly.ts';

/**
 * The spend views (GET /api/spend, /api/spend/top) over infra/clickhouse/0014_spend_rollup.sql:
 *
 * - spend_rollup_v1: per hour and group (team, provider, source, live, model, tool, developer,
 *   session), written by refreshSpendRollup one whole hour at a time from spend_hourly_v1 FINAL,
 *   every row tagged with its build;
 * - spend_rollup_team_v1: the same build without developer and session (a hundred times fewer
 *   rows in a large org), read by the views that neither group nor filter by developer;
 * - spend_rollup_developer_day_v1: per UTC day and group without session, every hour of a day the
 *   build touched, read for the whole days of a range by the views that name developers but not
 *   sessions at day or month granularity;
 * - spend_rollup_hours_v1 and spend_rollup_days_v1: the seal of each hour's and day's build,
 *   written after its rows;
 * - spend_changes_v1: when each hour's events last changed (a view on usage_events_v1);
 * - spend_report_days_v1: which report sources have rows on a day and provider.
 *
 * A read takes an hour from the rollup when its seal is no older than its last change ("clean"),
 * a whole day from the day rollup when its seal is no older than the last change of any of its
 * hours, and every other hour from spend_hourly_v1 FINAL, so the result is exact at any moment and fast once
 * the refresher has sealed the past. What counts is reconciliation's rule, taken from
 * chooseReports: per (UTC day, org, provider) the chosen report's rows where one is present,
 * else the request-level (live) rows. The choice is made over whole UTC days whatever the range,
 * so the sum of two adjacent ranges is the range's sum.
 */
export const SPEND_ROLLUP_TABLE = 'spend_rollup_v1';
export const SPEND_ROLLUP_TEAM_TABLE = 'spend_rollup_team_v1';
export const SPEND_ROLLUP_DEVELOPER_DAY_TABLE = 'spend_rollup_developer_day_v1';
export const SPEND_ROLLUP_HOURS_TABLE = 'spend_rollup_hours_v1';
export const SPEND_ROLLUP_DAYS_TABLE = 'spend_rollup_days_v1';
export const SPEND_CHANGES_TABLE = 'spend_changes_v1';
export const SPEND_REPORT_DAYS_TABLE = 'spend_report_days_v1';

/** Long enough for an insert whose view stamped changed_at to have committed its part. */
export const DEFAULT_SETTLE_MS = 60_000;
const DEFAULT_MAX_HOURS = 2_000;
/** Days re-aggregated per statement: a week keeps one INSERT … SELECT's memory bounded. */
const DAYS_PER_BUILD = 7;
const DEFAULT_SPEND_LIMIT = 100_000;
const DEFAULT_TOP_LIMIT = 10;

type Int64 = number | string;

const MEASURES = ['events', 'requests', 'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens', 'cost_usd'] as const;
const FACT_COLUMNS = 'org, hour, team, provider, source, live, model, tool, developer, session_id';
const TEAM_FACT_COLUMNS = 'org, hour, team, provider, source, live, model, tool';
const DAY_FACT_COLUMNS = 'org, team, provider, source, live, model, tool, developer';
const DEVELOPER_COLUMNS = 'org, hour, team, provider, source, live, model, tool, developer';

/** How fine the hourly facts a query reads: per developer and session, or per team (a hundred times fewer rows). */
type FactLevel = 'developer' | 'team';
const LEVELS: Record<FactLevel, { table: string; columns: string }> = {
  developer: { table: SPEND_ROLLUP_TABLE, columns: FACT_COLUMNS },
  team: { table: SPEND_ROLLUP_TEAM_TABLE, columns: TEAM_FACT_COLUMNS },
};

const BUCKET: Record<SpendGranularity, string> = {
  hour: 'hour',
  day: 'toStartOfDay(hour)',
  month: "toDateTime(toStartOfMonth(hour), 'UTC')",
};

/** Seals the hours whose events settled since their last build; see Store.refreshSpendRollup. */
export async function refreshSpendRollup(exec: SqlExecutor, options: { settleMs?: number; maxHours?: number } = {}): Promise<number> {
  const settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
  // The store's clock, the one the change view stamps with.
  const [clock] = await exec.query<{ now: string }>(`SELECT now64(3, 'UTC') AS now`);
  const builtAt = toDateTime64(new Date(Date.parse(fromDateTime64(clock?.now ?? '')) - settleMs).toISOString());
  const due = await exec.query<{ org: string; hour: string }>(
    `SELECT c.org AS org, c.hour AS hour
       FROM (SELECT org, hour, max(changed_at) AS changed_at FROM ${SPEND_CHANGES_TABLE} GROUP BY org, hour) AS c
       LEFT JOIN (SELECT org, hour, max(built_at) AS built_at FROM ${SPEND_ROLLUP_HOURS_TABLE} GROUP BY org, hour) AS s
         ON c.org = s.org AND c.hour = s.hour
      WHERE (s.built_at IS NULL OR c.changed_at > s.built_at) AND c.changed_at <= {built_at:DateTime64(3, 'UTC')}
      ORDER BY c.hour, c.org
      LIMIT {max:UInt32}`,
    { built_at: builtAt, max: options.maxHours ?? DEFAULT_MAX_HOURS },
  );
  // A day's rows are built from all of its hours at once, so a build takes whole days: a day
  // split over two statements of one build would be counted twice.
  const byOrg = new Map<string, Map<string, string[]>>();
  for (const d of due) {
    const days = byOrg.get(d.org) ?? new Map<string, string[]>();
    const day = d.hour.slice(0, 10);
    days.set(day, [...(days.get(day) ?? []), d.hour]);
    byOrg.set(d.org, days);
  }
  const sums = `{built_at:DateTime64(3, 'UTC')}, count(), sum(requests), sum(input_tokens), sum(output_tokens),
                sum(cache_read_tokens), sum(cache_write_tokens), sum(cost_usd)`;
  for (const [org, hoursByDay] of byOrg) {
    const allDays = [...hoursByDay.keys()];
    for (let i = 0; i < allDays.length; i += DAYS_PER_BUILD) {
      const days = allDays.slice(i, i + DAYS_PER_BUILD);
      const hours = days.flatMap((day) => hoursByDay.get(day) ?? []);
      // Rows first, seals after: a build cut short leaves unsealed rows that no read counts.
      for (const { table, columns } of [LEVELS.developer, LEVELS.team]) {
        await exec.exec(
          `INSERT INTO ${table} (${columns}, built_at, ${MEASURES.join(', ')})
           SELECT ${columns}, ${sums}
             FROM ${SPEND_HOURLY_TABLE} FINAL
            WHERE org = {org:String} AND hour IN {hours:Array(DateTime('UTC'))}
            GROUP BY ${columns}`,
          { built_at: builtAt, org, hours },
        );
      }
      await exec.exec(
        `INSERT INTO ${SPEND_ROLLUP_DEVELOPER_DAY_TABLE} (day, ${DAY_FACT_COLUMNS}, built_at, ${MEASURES.join(', ')}, first_hour, last_hour)
         SELECT toDate(hour) AS day, ${DAY_FACT_COLUMNS}, ${sums}, min(hour), max(hour)
           FROM ${SPEND_HOURLY_TABLE} FINAL
          WHERE org = {org:String} AND toDate(hour) IN {days:Array(Date)}
          GROUP BY day, ${DAY_FACT_COLUMNS}`,
        { built_at: builtAt, org, days },
      );
      await insertRows(
        exec,
        SPEND_ROLLUP_HOURS_TABLE,
        hours.map((hour) => ({ org, hour, built_at: builtAt })),
      );
      await insertRows(
        exec,
        SPEND_ROLLUP_DAYS_TABLE,
        days.map((day) => ({ org, day, built_at: builtAt })),
      );
    }
  }
  return due.length;
}

/**
 * Every fact row of the range: one per day and group from clean whole days (with `days`), one
 * per hour and group from the other clean hours, one per event otherwise. Each branch yields the
 * level's columns and first_hour, last_hour (the hours with spend a day row covers). Key columns
 * only are filtered here: a filter on another column inside FINAL could pick an older version of
 * an event. The events are read for the hours that changed and are not clean, named with IN
 * (which the primary key prunes on) rather than NOT IN clean (which reads the range).
 */
function factsSql(
  params: QueryParams,
  query: { org?: string | undefined; from: string; to: string },
  options: { level?: FactLevel; days?: boolean } = {},
): string {
  const level = LEVELS[options.level ?? 'developer'];
  const table = level.table;
  // Day rows have no session: beside them the hours are read without it too.
  const columns = options.days === true ? DEVELOPER_COLUMNS : level.columns;
  const range = ["hour >= {from:DateTime64(3, 'UTC')}", "hour < {to:DateTime64(3, 'UTC')}"];
  params.from = toDateTime64(query.from);
  params.to = toDateTime64(query.to);
  const ofOrg = query.org === undefined ? '' : ' AND org = {org:String}';
  if (query.org !== undefined) params.org = query.org;
  const inRange = range.join(' AND ') + ofOrg;
  const whole = options.days === true ? wholeDays(query.from, query.to) : undefined;
  // With join_use_nulls off, an hour or day with no change row reads changed_at as 1970: clean.
  let cleanDays: string | undefined;
  let outsideCleanDays = '';
  if (whole !== undefined) {
    params.day_from = whole.first;
    params.day_to = whole.last;
    cleanDays = `SELECT s.org AS org, s.day AS day, s.built_at AS built_at
        FROM (SELECT org, day, max(built_at) AS built_at FROM ${SPEND_ROLLUP_DAYS_TABLE}
               WHERE day >= {day_from:Date} AND day < {day_to:Date}${ofOrg} GROUP BY org, day) AS s
        LEFT JOIN (SELECT org, toDate(hour) AS day, max(changed_at) AS changed_at FROM ${SPEND_CHANGES_TABLE}
                    WHERE hour >= toDateTime({day_from:Date}, 'UTC') AND hour < toDateTime({day_to:Date}, 'UTC')${ofOrg}
                    GROUP BY org, day) AS c
          ON s.org = c.org AND s.day = c.day
       WHERE c.changed_at <= s.built_at`;
    outsideCleanDays = ` AND (org, toDate(hour)) NOT IN (SELECT org, day FROM (${cleanDays}))`;
  }
  const clean = `SELECT org, hour, built_at FROM (
        SELECT s.org AS org, s.hour AS hour, s.built_at AS built_at
          FROM (SELECT org, hour, max(built_at) AS built_at FROM ${SPEND_ROLLUP_HOURS_TABLE} WHERE ${inRange} GROUP BY org, hour) AS s
          LEFT JOIN (SELECT org, hour, max(changed_at) AS changed_at FROM ${SPEND_CHANGES_TABLE} WHERE ${inRange} GROUP BY org, hour) AS c
            ON s.org = c.org AND s.hour = c.hour
         WHERE c.changed_at <= s.built_at)
     WHERE 1${outsideCleanDays}`;
  const hourColumns = `${columns}, hour AS first_hour, hour AS last_hour`;
  const branches = [
    `SELECT ${hourColumns}, ${MEASURES.join(', ')}
       FROM ${table}
      WHERE ${inRange} AND (org, hour, built_at) IN (${clean})`,
    `SELECT ${hourColumns}, toUInt64(1) AS events, requests, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd
       FROM ${SPEND_HOURLY_TABLE} FINAL
      WHERE ${inRange} AND (org, hour) IN (
              SELECT org, hour FROM ${SPEND_CHANGES_TABLE}
               WHERE ${inRange} AND (org, hour) NOT IN (SELECT org, hour FROM (${clean}))${outsideCleanDays})`,
  ];
  if (cleanDays !== undefined) {
    branches.push(
      `SELECT org, toDateTime(day, 'UTC') AS hour, ${DEVELOPER_COLUMNS.replace('org, hour, ', '')}, first_hour, last_hour, ${MEASURES.join(', ')}
         FROM ${SPEND_ROLLUP_DEVELOPER_DAY_TABLE}
        WHERE day >= {day_from:Date} AND day < {day_to:Date}${ofOrg} AND (org, day, built_at) IN (${cleanDays})`,
    );
  }
  return `(\n${branches.join('\n      UNION ALL\n')}\n    )`;
}

/** The UTC days wholly inside [from, to), as [first, last) dates; undefined when there is none. */
function wholeDays(from: string, to: string): { first: string; last: string } | undefined {
  const day = 86_400_000;
  const start = Math.ceil(Date.parse(from) / day) * day;
  const end = Math.floor(Date.parse(to) / day) * day;
  if (start >= end) return undefined;
  return { first: new Date(start).toISOString().slice(0, 10), last: new Date(end).toISOString().slice(0, 10) };
}

/** UTC days [first, last) that the range touches: the report choice is made per whole day. */
function daysOf(from: string, to: string): { first: string; last: string } {
  const day = 86_400_000;
  const start = Math.floor(Date.parse(from) / day) * day;
  const end = Math.ceil(Date.parse(to) / day) * day;
  return { first: new Date(start).toISOString().slice(0, 10), last: new Date(Math.max(end, start + day)).toISOString().slice(0, 10) };
}

/** `<day>/<org bytes>/<org><provider>`: one string per (day, org, provider), never two. */
const choiceKey = (day: string, org: string, provider: string): string => `${day}/${Buffer.byteLength(org)}/${org}${provider}`;
const CHOICE_KEY_SQL = "concat(toString(toDate(hour)), '/', toString(length(org)), '/', org, provider)";

/**
 * The condition a fact row must meet to count: the chosen report's rows on its (day, org,
 * provider), or the live rows where no report is chosen.
 */
async function countedCondition(exec: SqlExecutor, params: QueryParams, query: { org?: string | undefined; from: string; to: string }) {
  const { first, last } = daysOf(query.from, query.to);
  const rows = await exec.query<ReportPresence>(
    `SELECT toString(d) AS day, org, provider, source
       FROM (SELECT day AS d, org, provider, source FROM ${SPEND_REPORT_DAYS_TABLE}
              WHERE day >= {first_day:Date} AND day < {last_day:Date} ${query.org === undefined ? '' : 'AND org = {org:String}'}
              GROUP BY d, org, provider, source)`,
    { first_day: first, last_day: last, ...(query.org === undefined ? {} : { org: query.org }) },
  );
  const chosen = chooseReports(rows);
  if (chosen.size === 0) return 'live';
  const keys: string[] = [];
  const sources: string[] = [];
  for (const [key, source] of chosen) {
    const [day, org, provider] = JSON.parse(key) as [string, string, string];
    keys.push(choiceKey(day, org, provider));
    sources.push(source);
  }
  params.report_keys = keys;
  params.report_sources = sources;
  return `if(transform(${CHOICE_KEY_SQL}, {report_keys:Array(String)}, {report_sources:Array(String)}, '') AS report = '', live, source = report)`;
}

function filterConditions(params: QueryParams, filter: SpendFilter | undefined): string[] {
  const conditions: string[] = [];
  for (const dim of SPEND_DIMENSIONS) {
    const value = filter?.[dim];
    if (value === undefined) continue;
    conditions.push(`${dim} = {filter_${dim}:String}`);
    params[`filter_${dim}`] = value;
  }
  return conditions;
}

const SUMS = MEASURES.map((m) => `sum(${m}) AS ${m}`).join(', ');

type TotalsRow = Record<(typeof MEASURES)[number], Int64>;

function totalsFromRow(r: TotalsRow): SpendTotals {
  return {
    cost_usd: Math.round(toNumber(r.cost_usd) * 1e6) / 1e6,
    events: toNumber(r.events),
    requests: toNumber(r.requests),
    input_tokens: toNumber(r.input_tokens),
    output_tokens: toNumber(r.output_tokens),
    cache_read_tokens: toNumber(r.cache_read_tokens),
    cache_write_tokens: toNumber(r.cache_write_tokens),
  };
}

function checkDimensions(dims: readonly string[]): asserts dims is readonly SpendDimension[] {
  // Dimension names are spliced into SQL as column names: only the closed list may pass.
  for (const d of dims) if (!(SPEND_DIMENSIONS as readonly string[]).includes(d)) throw new RangeError(`not a spend dimension: ${d}`);
}

export async function spendReport(exec: SqlExecutor, query: SpendReportQuery): Promise<SpendReportRow[]> {
  checkDimensions(query.group_by);
  const params: QueryParams = { limit: query.limit ?? DEFAULT_SPEND_LIMIT };
  // Developer-level facts only when the query names developers; a team's view reads the small
  // rollup. Days are summed whole only where a period is a day or more.
  const level: FactLevel = query.group_by.includes('developer') || query.filter?.developer !== undefined ? 'developer' : 'team';
  const facts = factsSql(params, query, { level, days: level === 'developer' && query.granularity !== 'hour' });
  const counted = await countedCondition(exec, params, query);
  const conditions = [counted, ...filterConditions(params, query.filter)];
  const dims = [...new Set(query.group_by)];
  const groupBy = ['period', ...dims].join(', ');
  const rows = await exec.query<TotalsRow & { period: string } & Record<string, string>>(
    `SELECT ${BUCKET[query.granularity]} AS period${dims.map((d) => `, ${d}`).join('')}, ${SUMS}
       FROM ${facts}
      WHERE ${conditions.join(' AND ')}
      GROUP BY ${groupBy}
      ORDER BY ${groupBy}
      LIMIT {limit:UInt32}`,
    params,
  );
  return rows.map((r) => {
    const row: SpendReportRow = { period: fromDateTime64(r.period), ...totalsFromRow(r) };
    for (const d of dims) row[d] = r[d];
    return row;
  });
}

export async function spendTop(exec: SqlExecutor, query: SpendTopQuery): Promise<SpendTopRow[]> {
  const params: QueryParams = { limit: query.limit ?? DEFAULT_TOP_LIMIT };
  // A session needs the hourly rows that name it; a developer's whole days are summed per day.
  const facts = factsSql(params, query, { days: query.by === 'developer' });
  const conditions = filterConditions(params, query.filter);
  // A session is request-level by nature: its live spend, whatever a report says of the day.
  if (query.by === 'session') conditions.push('live', "session_id != ''");
  else conditions.push(await countedCondition(exec, params, query));
  const key = query.by === 'session' ? 'session_id' : 'developer';
  const rows = await exec.query<
    TotalsRow & {
      key: string;
      first_developer: string;
      teams: string[];
      models: string[];
      tools: string[];
      first_seen: string;
      last_seen: string;
    }
  >(
    `SELECT ${key} AS key, min(developer) AS first_developer, groupUniqArray(team) AS teams, groupUniqArray(model) AS models,
            groupUniqArray(tool) AS tools, min(first_hour) AS first_seen, max(last_hour) AS last_seen, ${SUMS}
       FROM ${facts}
      WHERE ${conditions.join(' AND ')}
      GROUP BY key
      ORDER BY cost_usd DESC, key
      LIMIT {limit:UInt32}`,
    params,
  );
  return rows.map((r) => ({
    key: r.key,
    developer: r.first_developer,
    teams: [...r.teams].sort(),
    models: [...r.models].sort(),
    tools: [...r.tools].sort(),
    first_hour: fromDateTime64(r.first_seen),
    last_hour: fromDateTime64(r.last_seen),
    ...totalsFromRow(r),
  }));
}
