import { BurnrateError } from '@burnrate/core';
import { z } from 'zod';
import { attributesOf, type Bucket, type BucketRow, DAY_MS, HOUR_MS, present, readAllPages, type UsageSource } from '../source.ts';

export const ANTHROPIC_USAGE_REPORT_SOURCE = 'anthropic_usage_report';
export const ANTHROPIC_COST_REPORT_SOURCE = 'anthropic_cost_report';

/** The headers of every Admin API call; the key goes in `x-api-key` and nowhere else. */
export function anthropicHeaders(adminKey: string, userAgent: string): Record<string, string> {
  return { 'x-api-key': adminKey, 'anthropic-version': '2023-06-01', 'user-agent': userAgent, accept: 'application/json' };
}

const count = z.number().int().nonnegative();
const dimension = z.string().nullish();

const UsageRow = z.looseObject({
  account_id: dimension,
  service_account_id: dimension,
  api_key_id: dimension,
  workspace_id: dimension,
  model: dimension,
  service_tier: dimension,
  context_window: dimension,
  inference_geo: dimension,
  uncached_input_tokens: count,
  cache_read_input_tokens: count,
  // Cache writes come only split by TTL: there is no flat cache_creation_input_tokens in this report.
  cache_creation: z.looseObject({ ephemeral_5m_input_tokens: count, ephemeral_1h_input_tokens: count }),
  output_tokens: count,
  server_tool_use: z.looseObject({ web_search_requests: count }).nullish(),
});
type UsageRow = z.infer<typeof UsageRow>;

const bucketOf = <Row extends z.ZodType>(row: Row) =>
  z.looseObject({ starting_at: z.iso.datetime({ offset: true }), ending_at: z.iso.datetime({ offset: true }), results: z.array(row) });

const page = <Row extends z.ZodType>(row: Row) =>
  z.looseObject({ data: z.array(bucketOf(row)), has_more: z.boolean(), next_page: z.string().nullish() });

/**
 * The dimensions the usage report is grouped by: enough to attribute (key, workspace, and the
 * OAuth account when there is one) and to price (model, tier). Changing it changes every row's
 * key, so a poller with a cursor would publish its overlap again: treat it as fixed.
 */
const USAGE_GROUP_BY = ['account_id', 'api_key_id', 'workspace_id', 'model', 'service_tier'] as const;

/** A null workspace_id is the organisation's default workspace. */
const DEFAULT_WORKSPACE = 'default';

/** One usage report row → the fields of its UsageEvent, priced from its tokens by the catalog. */
export function anthropicUsageRow(bucket: { starting_at: string; ending_at: string }, row: UsageRow): BucketRow {
  const model = present(row.model) ?? 'unknown';
  const cacheWrite5m = row.cache_creation.ephemeral_5m_input_tokens;
  const cacheWrite1h = row.cache_creation.ephemeral_1h_input_tokens;
  const serviceTier = present(row.service_tier);
  const start = new Date(bucket.starting_at).toISOString();
  return {
    key: {
      starting_at: start,
      bucket_width: '1h',
      ...Object.fromEntries(USAGE_GROUP_BY.map((dim) => [dim, row[dim] ?? null])),
    },
    fields: {
      occurred_at: start,
      granularity: '1h',
      period_start: start,
      period_end: new Date(bucket.ending_at).toISOString(),
      identity: {
        account_id: present(row.account_id),
        api_key_id: present(row.api_key_id),
        project: present(row.workspace_id) ?? DEFAULT_WORKSPACE,
      },
      provider: 'anthropic',
      tool: 'api',
      model,
      api_key_id: present(row.api_key_id),
      project: present(row.workspace_id) ?? DEFAULT_WORKSPACE,
      service_tier: serviceTier,
      is_batch: serviceTier === 'batch',
      // The report counts no requests.
      requests: 0,
      input_tokens: row.uncached_input_tokens,
      output_tokens: row.output_tokens,
      cache_read_tokens: row.cache_read_input_tokens,
      cache_write_tokens: cacheWrite5m + cacheWrite1h,
      cache_write_1h_tokens: cacheWrite1h,
      attributes: attributesOf({
        account_id: present(row.account_id),
        service_account_id: present(row.service_account_id),
        context_window: present(row.context_window),
        inference_geo: present(row.inference_geo),
        web_search_requests: row.server_tool_use?.web_search_requests || undefined,
      }),
      paths: {
        model: 'model',
        input_tokens: 'uncached_input_tokens',
        cache_read_tokens: 'cache_read_input_tokens',
        cache_write_tokens: 'cache_creation',
      },
    },
    raw: row,
  };
}

const toBuckets = <Row>(
  buckets: readonly { starting_at: string; ending_at: string; results: Row[] }[],
  toRow: (bucket: { starting_at: string; ending_at: string }, row: Row) => BucketRow,
): Bucket[] =>
  buckets.map((b) => ({ start: Date.parse(b.starting_at), end: Date.parse(b.ending_at), rows: b.results.map((r) => toRow(b, r)) }));

/** `GET /v1/organizations/usage_report/messages`, hourly, grouped by USAGE_GROUP_BY. */
export const anthropicUsageReport: UsageSource = {
  source: ANTHROPIC_USAGE_REPORT_SOURCE,
  granularity: '1h',
  bucketMs: HOUR_MS,
  async read(window, http, signal) {
    const query = new URLSearchParams({
      starting_at: new Date(window.start).toISOString(),
      ending_at: new Date(window.end).toISOString(),
      bucket_width: '1h',
      // In buckets: the most a 1h page may hold.
      limit: '168',
    });
    for (const dim of USAGE_GROUP_BY) query.append('group_by[]', dim);
    const buckets = await readAllPages(http, { path: '/v1/organizations/usage_report/messages', query }, page(UsageRow), signal);
    return toBuckets(buckets, anthropicUsageRow);
  },
};

const CostRow = z.looseObject({
  // A decimal string in cents: "123.45" is $1.2345.
  amount: z.string().regex(/^\d+(\.\d+)?$/, { message: 'expected a decimal string of cents' }),
  currency: z.string(),
  workspace_id: dimension,
  description: dimension,
  cost_type: dimension,
  model: dimension,
  service_tier: dimension,
  context_window: dimension,
  inference_geo: dimension,
  token_type: dimension,
});
type CostRow = z.infer<typeof CostRow>;

/**
 * One cost report row → a reported cost. Grouped by description, so model and token type are
 * filled; code execution and web search have no model and go by `unknown`. The report has no
 * per-key or per-user cost, so these events are attributed to the workspace only.
 */
export function anthropicCostRow(bucket: { starting_at: string; ending_at: string }, row: CostRow): BucketRow {
  const start = new Date(bucket.starting_at).toISOString();
  const serviceTier = present(row.service_tier);
  const workspace = present(row.workspace_id) ?? DEFAULT_WORKSPACE;
  return {
    key: { starting_at: start, workspace_id: row.workspace_id ?? null, description: row.description ?? null },
    fields: {
      occurred_at: start,
      granularity: '1d',
      period_start: start,
      period_end: new Date(bucket.ending_at).toISOString(),
      identity: { project: workspace },
      provider: 'anthropic',
      tool: 'api',
      model: present(row.model) ?? 'unknown',
      project: workspace,
      service_tier: serviceTier,
      is_batch: serviceTier === 'batch',
      requests: 0,
      cost_usd: Number(row.amount) / 100,
      attributes: attributesOf({
        description: present(row.description),
        cost_type: present(row.cost_type),
        token_type: present(row.token_type),
        context_window: present(row.context_window),
        inference_geo: present(row.inference_geo),
      }),
      paths: { cost_usd: 'amount' },
    },
    raw: row,
  };
}

/** `GET /v1/organizations/cost_report`, daily (its only width), grouped by workspace and description. */
export const anthropicCostReport: UsageSource = {
  source: ANTHROPIC_COST_REPORT_SOURCE,
  granularity: '1d',
  bucketMs: DAY_MS,
  async read(window, http, signal) {
    const query = new URLSearchParams({
      starting_at: new Date(window.start).toISOString(),
      ending_at: new Date(window.end).toISOString(),
      bucket_width: '1d',
      limit: '31',
    });
    query.append('group_by[]', 'workspace_id');
    query.append('group_by[]', 'description');
    const buckets = await readAllPages(http, { path: '/v1/organizations/cost_report', query }, page(CostRow), signal);
    for (const b of buckets) {
      for (const row of b.results) {
        if (row.currency.toUpperCase() !== 'USD') {
          throw new BurnrateError(
            'PROVIDER_REJECTED',
            `cost_report bucket ${b.starting_at}: currency ${row.currency}, only USD is converted`,
          );
        }
      }
    }
    return toBuckets(buckets, anthropicCostRow);
  },
};
