import { fromDateTime64, toDateTime64, toNumber, where, type QueryParams, type SqlExecutor } from '../executor.ts';
import type { SpendQuery, SpendRow } from '../port.ts';

/**
 * spend_hourly_v1 (infra/clickhouse/0002_spend_hourly.sql), filled by a materialised view from
 * usage_events_v1 with one narrow row per event. Summing happens here, over FINAL, so a duplicate
 * or a revised event is counted once with its latest figures; no code inserts into it directly.
 */
export const SPEND_HOURLY_TABLE = 'spend_hourly_v1';

type Int64 = number | string;

interface SpendAggregateRow {
  hour: string;
  org: string;
  team: string;
  developer: string;
  model: string;
  tool: string;
  cost_usd: number;
  events: Int64;
  input_tokens: Int64;
  output_tokens: Int64;
  cache_read_tokens: Int64;
  cache_write_tokens: Int64;
}

export function spendRowFromRow(r: SpendAggregateRow): SpendRow {
  return {
    hour: fromDateTime64(r.hour),
    org: r.org,
    team: r.team,
    developer: r.developer,
    model: r.model,
    tool: r.tool,
    cost_usd: r.cost_usd,
    events: toNumber(r.events),
    input_tokens: toNumber(r.input_tokens),
    output_tokens: toNumber(r.output_tokens),
    cache_read_tokens: toNumber(r.cache_read_tokens),
    cache_write_tokens: toNumber(r.cache_write_tokens),
  };
}

export async function spendByHour(exec: SqlExecutor, filter: SpendQuery): Promise<SpendRow[]> {
  const conditions: string[] = [];
  const params: QueryParams = {};
  if (filter.org !== undefined) {
    conditions.push('org = {org:String}');
    params.org = filter.org;
  }
  if (filter.team !== undefined) {
    conditions.push('team = {team:String}');
    params.team = filter.team;
  }
  if (filter.from !== undefined) {
    conditions.push("hour >= {from:DateTime64(3, 'UTC')}");
    params.from = toDateTime64(filter.from);
  }
  if (filter.to !== undefined) {
    conditions.push("hour < {to:DateTime64(3, 'UTC')}");
    params.to = toDateTime64(filter.to);
  }
  const rows = await exec.query<SpendAggregateRow>(
    `SELECT hour, org, team, developer, model, tool, sum(cost_usd) AS cost_usd, count() AS events,
            sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
            sum(cache_read_tokens) AS cache_read_tokens, sum(cache_write_tokens) AS cache_write_tokens
       FROM ${SPEND_HOURLY_TABLE} FINAL
       ${where(conditions)}
      GROUP BY hour, org, team, developer, model, tool
      ORDER BY hour, org, team, developer, model, tool`,
    params,
  );
  return rows.map(spendRowFromRow);
}
