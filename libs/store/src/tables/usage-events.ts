import type { UsageEvent } from '@burnrate/schemas';
import { fromDateTime64, insertRows, toDateTime64, toNumber, where, type QueryParams, type SqlExecutor } from '../executor.ts';
import type { AcceptedEventId, UsageEventListQuery } from '../port.ts';

/** usage_events_v1 (infra/clickhouse/0001_usage_events.sql): one row per event version. */
export const USAGE_EVENTS_TABLE = 'usage_events_v1';

type Int64 = number | string;

export interface UsageEventRow {
  event_id: string;
  source: string;
  provider: string;
  tool: string;
  granularity: string;
  period_start: string | null;
  period_end: string | null;
  occurred_at: string;
  ingested_at: string;
  org: string;
  developer: string;
  developer_email: string | null;
  team: string;
  session_id: string | null;
  prompt_id: string | null;
  api_key_id: string | null;
  project: string | null;
  model: string;
  model_family: string;
  tier: string;
  service_tier: string | null;
  is_batch: boolean;
  speed: string | null;
  requests: Int64;
  input_tokens: Int64;
  output_tokens: Int64;
  cache_read_tokens: Int64;
  cache_write_tokens: Int64;
  cost_usd: number;
  cost_source: string;
  computed_cost_usd: number | null;
  overlap_group: string | null;
  fingerprint: string;
  attributes: Record<string, string>;
}

const COLUMNS =
  'event_id, source, provider, tool, granularity, period_start, period_end, occurred_at, ingested_at, org, developer, ' +
  'developer_email, team, session_id, prompt_id, api_key_id, project, model, model_family, tier, service_tier, is_batch, ' +
  'speed, requests, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, cost_source, ' +
  'computed_cost_usd, overlap_group, fingerprint, attributes';

const DEFAULT_LIST_LIMIT = 100_000;

export function usageEventToRow(e: UsageEvent): UsageEventRow {
  return {
    event_id: e.event_id,
    source: e.source,
    provider: e.provider,
    tool: e.tool,
    granularity: e.granularity,
    period_start: e.period_start === undefined ? null : toDateTime64(e.period_start),
    period_end: e.period_end === undefined ? null : toDateTime64(e.period_end),
    occurred_at: toDateTime64(e.occurred_at),
    ingested_at: toDateTime64(e.ingested_at),
    org: e.org,
    developer: e.developer,
    developer_email: e.developer_email ?? null,
    team: e.team,
    session_id: e.session_id ?? null,
    prompt_id: e.prompt_id ?? null,
    api_key_id: e.api_key_id ?? null,
    project: e.project ?? null,
    model: e.model,
    model_family: e.model_family,
    tier: e.tier,
    service_tier: e.service_tier ?? null,
    is_batch: e.is_batch,
    speed: e.speed ?? null,
    requests: e.requests,
    input_tokens: e.input_tokens,
    output_tokens: e.output_tokens,
    cache_read_tokens: e.cache_read_tokens,
    cache_write_tokens: e.cache_write_tokens,
    cost_usd: e.cost_usd,
    cost_source: e.cost_source,
    computed_cost_usd: e.computed_cost_usd ?? null,
    overlap_group: e.overlap_group ?? null,
    fingerprint: e.fingerprint ?? '',
    attributes: e.attributes,
  };
}

/** Row back to the contract shape: NULL becomes an absent key, so the result equals what was inserted. */
export function usageEventFromRow(r: UsageEventRow): UsageEvent {
  const e: UsageEvent = {
    event_id: r.event_id,
    source: r.source,
    provider: r.provider,
    tool: r.tool,
    granularity: r.granularity as UsageEvent['granularity'],
    occurred_at: fromDateTime64(r.occurred_at),
    ingested_at: fromDateTime64(r.ingested_at),
    org: r.org,
    developer: r.developer,
    team: r.team,
    model: r.model,
    model_family: r.model_family,
    tier: r.tier as UsageEvent['tier'],
    is_batch: r.is_batch,
    requests: toNumber(r.requests),
    input_tokens: toNumber(r.input_tokens),
    output_tokens: toNumber(r.output_tokens),
    cache_read_tokens: toNumber(r.cache_read_tokens),
    cache_write_tokens: toNumber(r.cache_write_tokens),
    cost_usd: r.cost_usd,
    cost_source: r.cost_source as UsageEvent['cost_source'],
    attributes: r.attributes,
  };
  if (r.period_start !== null) e.period_start = fromDateTime64(r.period_start);
  if (r.period_end !== null) e.period_end = fromDateTime64(r.period_end);
  if (r.developer_email !== null) e.developer_email = r.developer_email;
  if (r.session_id !== null) e.session_id = r.session_id;
  if (r.prompt_id !== null) e.prompt_id = r.prompt_id;
  if (r.api_key_id !== null) e.api_key_id = r.api_key_id;
  if (r.project !== null) e.project = r.project;
  if (r.service_tier !== null) e.service_tier = r.service_tier;
  if (r.speed !== null) e.speed = r.speed;
  if (r.computed_cost_usd !== null) e.computed_cost_usd = r.computed_cost_usd;
  if (r.overlap_group !== null) e.overlap_group = r.overlap_group;
  if (r.fingerprint !== '') e.fingerprint = r.fingerprint;
  return e;
}

export async function insertUsageEvents(exec: SqlExecutor, events: readonly UsageEvent[]): Promise<void> {
  if (events.length === 0) return;
  await insertRows(exec, USAGE_EVENTS_TABLE, events, usageEventToRow);
}

// FINAL: a duplicate not yet merged away must still count once.
export async function countUsageEvents(exec: SqlExecutor, filter: { org?: string; session_id?: string } = {}): Promise<number> {
  const conditions: string[] = [];
  const params: QueryParams = {};
  if (filter.org !== undefined) {
    conditions.push('org = {org:String}');
    params.org = filter.org;
  }
  if (filter.session_id !== undefined) {
    conditions.push('session_id = {session_id:String}');
    params.session_id = filter.session_id;
  }
  const rows = await exec.query<{ n: Int64 }>(`SELECT count() AS n FROM ${USAGE_EVENTS_TABLE} FINAL ${where(conditions)}`, params);
  return toNumber(rows[0]?.n ?? 0);
}

export async function listUsageEvents(exec: SqlExecutor, filter: UsageEventListQuery): Promise<UsageEvent[]> {
  const conditions: string[] = [];
  const params: QueryParams = { limit: filter.limit ?? DEFAULT_LIST_LIMIT };
  if (filter.org !== undefined) {
    conditions.push('org = {org:String}');
    params.org = filter.org;
  }
  if (filter.from !== undefined) {
    conditions.push("occurred_at >= {from:DateTime64(3, 'UTC')}");
    params.from = toDateTime64(filter.from);
  }
  if (filter.to !== undefined) {
    conditions.push("occurred_at < {to:DateTime64(3, 'UTC')}");
    params.to = toDateTime64(filter.to);
  }
  if (filter.after !== undefined) {
    conditions.push("(occurred_at, event_id) > ({after_at:DateTime64(3, 'UTC')}, {after_id:String})");
    params.after_at = toDateTime64(filter.after.occurred_at);
    params.after_id = filter.after.event_id;
  }
  const rows = await exec.query<UsageEventRow>(
    `SELECT ${COLUMNS} FROM ${USAGE_EVENTS_TABLE} FINAL ${where(conditions)} ORDER BY occurred_at, event_id LIMIT {limit:UInt32}`,
    params,
  );
  return rows.map(usageEventFromRow);
}

/**
 * The ids of events ingested at or after `since`, in event_id order after `after` (keyset paging:
 * a day of a large org is millions of rows, read a page at a time). No FINAL: a duplicate row
 * carries the same id and fingerprint, and the reader keeps the first.
 */
export async function listAcceptedEventIds(
  exec: SqlExecutor,
  query: { org: string; since: string; after?: string; limit: number },
): Promise<AcceptedEventId[]> {
  const rows = await exec.query<AcceptedEventId>(
    `SELECT event_id, fingerprint, ingested_at FROM ${USAGE_EVENTS_TABLE}
      WHERE org = {org:String} AND ingested_at >= {since:DateTime64(3, 'UTC')} AND event_id > {after:String}
      ORDER BY event_id LIMIT {limit:UInt32}`,
    { org: query.org, since: toDateTime64(query.since), after: query.after ?? '', limit: query.limit },
  );
  return rows.map((r) => ({ event_id: r.event_id, fingerprint: r.fingerprint, ingested_at: fromDateTime64(r.ingested_at) }));
}
