import type { UsageRollup } from '@burnrate/schemas';
import type { HourBucket } from '../buckets/hourly.ts';

/** The latest totals one source sent for one hour. */
export interface SourceTotals {
  seq: number;
  cost_usd: number;
  cost_premium_usd: number;
  events: number;
  premium_events: number;
  input_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
}

export function totalsOf(r: UsageRollup): SourceTotals {
  return {
    seq: r.seq,
    cost_usd: r.cost_usd,
    cost_premium_usd: r.cost_premium_usd,
    events: r.events,
    premium_events: r.premium_events,
    input_tokens: r.input_tokens,
    cache_read_tokens: r.cache_read_tokens,
    cache_write_tokens: r.cache_write_tokens,
    output_tokens: r.output_tokens,
  };
}

/**
 * What the source counted between `before` and `after`, as a bucket delta; null when a count
 * went down (the source restarted its totals; see TeamEngineStats.regressed). The developer's
 * spike is not a count: the rollup's latest value is carried as it is.
 */
export function difference(r: UsageRollup, hour: number, after: SourceTotals, before: SourceTotals | undefined): HourBucket | null {
  const bucket: HourBucket = {
    org: r.org,
    team: r.team,
    developer: r.developer,
    model: r.model,
    hour,
    cost_usd: after.cost_usd,
    cost_premium_usd: after.cost_premium_usd,
    events: after.events,
    premium_events: after.premium_events,
    input_tokens: after.input_tokens,
    cache_read_tokens: after.cache_read_tokens,
    cache_write_tokens: after.cache_write_tokens,
    output_tokens: after.output_tokens,
    developer_spike_usd: r.developer_spike_usd ?? 0,
  };
  if (before === undefined) return bucket;
  bucket.cost_usd -= before.cost_usd;
  bucket.cost_premium_usd -= before.cost_premium_usd;
  bucket.events -= before.events;
  bucket.premium_events = after.premium_events - before.premium_events;
  bucket.input_tokens -= before.input_tokens;
  bucket.cache_read_tokens -= before.cache_read_tokens;
  bucket.cache_write_tokens -= before.cache_write_tokens;
  bucket.output_tokens -= before.output_tokens;
  if (bucket.events < 0 || bucket.premium_events < 0 || bucket.input_tokens < 0 || bucket.cache_read_tokens < 0) return null;
  if (bucket.cache_write_tokens < 0 || bucket.output_tokens < 0) return null;
  // Sums of the same costs in a longer run can differ from the shorter run by rounding; never below zero.
  if (bucket.cost_usd < 0) bucket.cost_usd = 0;
  if (bucket.cost_premium_usd < 0) bucket.cost_premium_usd = 0;
  return bucket;
}
