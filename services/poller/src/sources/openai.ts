import { BurnrateError } from '@burnrate/core';
import { z } from 'zod';
import { attributesOf, type Bucket, type BucketRow, DAY_MS, HOUR_MS, present, readAllPages, type UsageSource } from '../source.ts';

export const OPENAI_USAGE_SOURCE = 'openai_usage';
export const OPENAI_COSTS_SOURCE = 'openai_costs';

export function openaiHeaders(adminKey: string, userAgent: string): Record<string, string> {
  return { authorization: `Bearer ${adminKey}`, 'user-agent': userAgent, accept: 'application/json' };
}

const count = z.number().int().nonnegative();
const dimension = z.string().nullish();

const CompletionsRow = z.looseObject({
  project_id: dimension,
  user_id: dimension,
  api_key_id: dimension,
  model: dimension,
  batch: z.boolean().nullish(),
  service_tier: dimension,
  // Includes cached and cache-write tokens.
  input_tokens: count,
  input_cached_tokens: count.nullish(),
  input_cache_write_tokens: count.nullish(),
  input_uncached_tokens: count.nullish(),
  output_tokens: count,
  num_model_requests: count,
});
type CompletionsRow = z.infer<typeof CompletionsRow>;

const page = <Row extends z.ZodType>(row: Row) =>
  z.looseObject({
    data: z.array(z.looseObject({ start_time: z.number().int(), end_time: z.number().int(), results: z.array(row) })),
    has_more: z.boolean(),
    next_page: z.string().nullish(),
  });

/** The canonical group-by set of the completions poller: every row key depends on it, so it is fixed. */
const COMPLETIONS_GROUP_BY = ['project_id', 'user_id', 'api_key_id', 'model', 'batch', 'service_tier'] as const;

const iso = (unixSeconds: number): string => new Date(unixSeconds * 1000).toISOString();

/**
 * One completions row → the fields of its UsageEvent. OpenAI's `input_tokens` includes cache
 * reads and writes; Burnrate's is the uncached part, so they are taken out (or
 * `input_uncached_tokens` used when the row has it).
 */
export function openaiCompletionsRow(bucket: { start_time: number; end_time: number }, row: CompletionsRow): BucketRow {
  const cached = row.input_cached_tokens ?? 0;
  const cacheWrite = row.input_cache_write_tokens ?? 0;
  const uncached = row.input_uncached_tokens ?? Math.max(0, row.input_tokens - cached - cacheWrite);
  const start = iso(bucket.start_time);
  return {
    key: {
      start_time: bucket.start_time,
      bucket_width: '1h',
      ...Object.fromEntries(COMPLETIONS_GROUP_BY.map((dim) => [dim, row[dim] ?? null])),
    },
    fields: {
      occurred_at: start,
      granularity: '1h',
      period_start: start,
      period_end: iso(bucket.end_time),
      identity: { developer: present(row.user_id), api_key_id: present(row.api_key_id), project: present(row.project_id) },
      provider: 'openai',
      tool: 'api',
      model: present(row.model) ?? 'unknown',
      api_key_id: present(row.api_key_id),
      project: present(row.project_id),
      service_tier: present(row.service_tier),
      is_batch: row.batch === true,
      requests: row.num_model_requests,
      input_tokens: uncached,
      output_tokens: row.output_tokens,
      cache_read_tokens: cached,
      cache_write_tokens: cacheWrite,
      attributes: attributesOf({ user_id: present(row.user_id) }),
      paths: { requests: 'num_model_requests', cache_read_tokens: 'input_cached_tokens', cache_write_tokens: 'input_cache_write_tokens' },
    },
    raw: row,
  };
}

const toBuckets = <Row>(
  buckets: readonly { start_time: number; end_time: number; results: Row[] }[],
  toRow: (bucket: { start_time: number; end_time: number }, row: Row) => BucketRow,
): Bucket[] => buckets.map((b) => ({ start: b.start_time * 1000, end: b.end_time * 1000, rows: b.results.map((r) => toRow(b, r)) }));

const unixSeconds = (ms: number): string => String(Math.floor(ms / 1000));

/** `GET /v1/organization/usage/completions`, hourly, grouped by COMPLETIONS_GROUP_BY. */
export const openaiCompletionsUsage: UsageSource = {
  source: OPENAI_USAGE_SOURCE,
  granularity: '1h',
  bucketMs: HOUR_MS,
  async read(window, http, signal) {
    const query = new URLSearchParams({
      start_time: unixSeconds(window.start),
      end_time: unixSeconds(window.end),
      bucket_width: '1h',
      limit: '168',
    });
    for (const dim of COMPLETIONS_GROUP_BY) query.append('group_by[]', dim);
    const buckets = await readAllPages(http, { path: '/v1/organization/usage/completions', query }, page(CompletionsRow), signal);
    return toBuckets(buckets, openaiCompletionsRow);
  },
};

const CostsRow = z.looseObject({
  // In currency units (dollars), not cents.
  amount: z.looseObject({ value: z.number().nonnegative(), currency: z.string() }),
  line_item: dimension,
  project_id: dimension,
  api_key_id: dimension,
  quantity: z.number().nullish(),
  quantity_unit: dimension,
});
type CostsRow = z.infer<typeof CostsRow>;

/**
 * A token line item names the model first (`gpt-5-mini, input`); others (`Web search tool calls`)
 * name no model.
 */
const modelOfLineItem = (lineItem: string | undefined): string | undefined =>
  lineItem?.includes(',') ? present(lineItem.split(',')[0]?.trim()) : undefined;

/** One costs row → a reported cost, attributed to its project and key (the API has no user here). */
export function openaiCostsRow(bucket: { start_time: number; end_time: number }, row: CostsRow): BucketRow {
  const start = iso(bucket.start_time);
  const lineItem = present(row.line_item);
  return {
    key: {
      start_time: bucket.start_time,
      project_id: row.project_id ?? null,
      line_item: row.line_item ?? null,
      api_key_id: row.api_key_id ?? null,
    },
    fields: {
      occurred_at: start,
      granularity: '1d',
      period_start: start,
      period_end: iso(bucket.end_time),
      identity: { api_key_id: present(row.api_key_id), project: present(row.project_id) },
      provider: 'openai',
      tool: 'api',
      model: modelOfLineItem(lineItem) ?? 'unknown',
      api_key_id: present(row.api_key_id),
      project: present(row.project_id),
      requests: 0,
      cost_usd: row.amount.value,
      attributes: attributesOf({ line_item: lineItem, quantity: row.quantity, quantity_unit: present(row.quantity_unit) }),
      paths: { cost_usd: 'amount.value' },
    },
    raw: row,
  };
}

/** `GET /v1/organization/costs`, daily (its only width), grouped by project, line item and key. */
export const openaiCosts: UsageSource = {
  source: OPENAI_COSTS_SOURCE,
  granularity: '1d',
  bucketMs: DAY_MS,
  async read(window, http, signal) {
    const query = new URLSearchParams({
      start_time: unixSeconds(window.start),
      end_time: unixSeconds(window.end),
      bucket_width: '1d',
      limit: '31',
    });
    for (const dim of ['project_id', 'line_item', 'api_key_id']) query.append('group_by[]', dim);
    const buckets = await readAllPages(http, { path: '/v1/organization/costs', query }, page(CostsRow), signal);
    for (const b of buckets) {
      for (const row of b.results) {
        if (row.amount.currency.toLowerCase() !== 'usd') {
          throw new BurnrateError(
            'PROVIDER_REJECTED',
            `costs bucket ${iso(b.start_time)}: currency ${row.amount.currency}, only USD is converted`,
          );
        }
      }
    }
    return toBuckets(buckets, openaiCostsRow);
  },
};
