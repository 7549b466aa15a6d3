import { z } from 'zod';
import { Count, Instant, NonNegative } from './common.ts';

export const Granularity = z.enum(['request', '1m', '1h', '1d']);
export const Tier = z.enum(['premium', 'standard', 'economy', 'unknown']);
export const CostSource = z.enum(['reported', 'computed']);

/**
 * One priced, attributed unit of usage on `usage.events.v1` (key `org:developer`).
 * Produced by ingest after normalisation; every field is filled, defaults included,
 * so consumers never guess. `event_id` is the idempotency key everywhere.
 */
export const UsageEvent = z
  .object({
    event_id: z.string().min(1).max(128),
    source: z.string().min(1),
    provider: z.string().min(1),
    tool: z.string().min(1),
    granularity: Granularity,
    // Buckets (1m/1h/1d) carry their period; request-level events leave these out.
    period_start: Instant.optional(),
    period_end: Instant.optional(),
    occurred_at: Instant,
    ingested_at: Instant,
    org: z.string().min(1),
    developer: z.string().min(1),
    developer_email: z.string().optional(),
    team: z.string().min(1),
    session_id: z.string().optional(),
    prompt_id: z.string().optional(),
    api_key_id: z.string().optional(),
    project: z.string().optional(),
    model: z.string().min(1),
    model_family: z.string().min(1),
    tier: Tier,
    service_tier: z.string().optional(),
    is_batch: z.boolean(),
    speed: z.string().optional(),
    requests: Count,
    input_tokens: Count,
    output_tokens: Count,
    cache_read_tokens: Count,
    cache_write_tokens: Count,
    cost_usd: NonNegative,
    cost_source: CostSource,
    // When the source reported a cost and tokens let us compute one too, both are kept:
    // cost_usd is the reported figure and this is the catalog's, for cross-checking.
    computed_cost_usd: NonNegative.optional(),
    // The same spend seen by several sources (OTel and the usage report) shares a group and counts once.
    overlap_group: z.string().optional(),
    attributes: z.record(z.string(), z.string()),
  })
  .strict()
  .superRefine((e, ctx) => {
    if (e.granularity !== 'request' && (!e.period_start || !e.period_end)) {
      ctx.addIssue({ code: 'custom', path: ['period_start'], message: `a ${e.granularity} bucket needs period_start and period_end` });
    }
  });
export type UsageEvent = z.infer<typeof UsageEvent>;
