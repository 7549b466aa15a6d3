import { z } from 'zod';
import { Count, Instant, NonNegative } from './common.ts';
import { isCount, isNonEmptyString, isNonNegative, isPlainRecord, normaliseInstant, onlyKeys } from './fast-checks.ts';
import { Tier } from './usage-event.v1.ts';

const HOUR_MS = 3_600_000;

/**
 * The running totals of one (org, team, developer, model, hour) as one stage-A detector partition
 * has seen them, on `usage.rollups.v1` (key `org:team`, so every rollup of a team meets in one stage-B
 * consumer, whichever stage-A partition its developers' events went to).
 *
 * Cumulative, not a delta: a later message of the same (source, org, team, developer, model, hour) replaces
 * the earlier one. `seq` orders them, so redelivery, duplicates and reordering are harmless: the
 * consumer keeps the highest `seq` per source and adds the sources up.
 */
export const UsageRollup = z
  .object({
    org: z.string().min(1),
    team: z.string().min(1),
    // Team detectors add developers up, but model_mix_drift asks how many of them moved, each
    // against their own habit; a developer's events all reach one stage-A partition.
    developer: z.string().min(1),
    model: z.string().min(1),
    // The model's price tier as its latest event gave it; informational, the premium fields carry the split.
    tier: Tier,
    /** Start of the UTC hour. */
    hour: Instant,
    cost_usd: NonNegative,
    cost_premium_usd: NonNegative,
    events: Count,
    premium_events: Count,
    input_tokens: Count,
    cache_read_tokens: Count,
    cache_write_tokens: Count,
    output_tokens: Count,
    /** `topic:partition` of usage.events.v1 this partition's totals come from. */
    source: z.string().min(1),
    /** Offset (in `source`) of the last event these totals include. */
    seq: Count,
    /**
     * The source partition's event-time watermark once that event was counted: stage B's clock.
     * Hours close on it (end + allowed lateness), and a team detector judges an open hour at it,
     * as it would inside the stage-A engine. Not in the hour alone because an hour-grained clock
     * would hold every team alert back to the next hour.
     */
    watermark: Instant,
    /**
     * The developer's spend in the hour above its own usual level, when stage A's spend_spike
     * already takes it for a spike of that developer (else 0), as of the event `seq` names. Not a
     * total: the latest value. Stage B's team spend_spike leaves a team spike that is mostly one
     * developer's to that developer's alert (one spike, one page). Optional: a producer from
     * before it sends none, and its team spikes are then reported as before.
     */
    developer_spike_usd: NonNegative.optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (Date.parse(r.hour) % HOUR_MS !== 0) {
      ctx.addIssue({ code: 'custom', path: ['hour'], message: 'expected the start of an hour, such as 2026-11-28T14:00:00Z' });
    }
    if (r.premium_events > r.events) {
      ctx.addIssue({ code: 'custom', path: ['premium_events'], message: 'premium_events cannot exceed events' });
    }
  });
export type UsageRollup = z.infer<typeof UsageRollup>;

/** Kafka-style key for a rollup: all of a team's rollups go to one stage-B partition. */
export const usageRollupKey = (r: { org: string; team: string }): string => `${r.org}:${r.team}`;

const USAGE_ROLLUP_KEYS: ReadonlySet<string> = new Set(Object.keys(UsageRollup.shape));
const TIERS: ReadonlySet<unknown> = new Set(Tier.options);

/**
 * Exactly `UsageRollup.safeParse(value)` — same acceptance, same value (instants normalised, keys in
 * schema order) — for the rollups stage A checks before sending and stage B reads back: a
 * hand-written check of the valid case, and zod itself whenever that check says no, so a
 * rejection still names each path and reason.
 */
export function safeParseUsageRollup(value: unknown): z.ZodSafeParseResult<UsageRollup> {
  const data = checkUsageRollup(value);
  return data !== undefined ? { success: true, data } : UsageRollup.safeParse(value);
}

/** The parsed rollup when it is valid; undefined when it may not be (zod decides). */
function checkUsageRollup(value: unknown): UsageRollup | undefined {
  if (!isPlainRecord(value) || !onlyKeys(value, USAGE_ROLLUP_KEYS)) return undefined;
  const { org, team, developer, model, tier, cost_usd, cost_premium_usd, events, premium_events } = value;
  const { input_tokens, cache_read_tokens, cache_write_tokens, output_tokens, source, seq, developer_spike_usd } = value;
  if (
    !isNonEmptyString(org) ||
    !isNonEmptyString(team) ||
    !isNonEmptyString(developer) ||
    !isNonEmptyString(model) ||
    !TIERS.has(tier) ||
    !isNonNegative(cost_usd) ||
    !isNonNegative(cost_premium_usd) ||
    !isCount(events) ||
    !isCount(premium_events) ||
    !isCount(input_tokens) ||
    !isCount(cache_read_tokens) ||
    !isCount(cache_write_tokens) ||
    !isCount(output_tokens) ||
    !isNonEmptyString(source) ||
    !isCount(seq) ||
    (developer_spike_usd !== undefined && !isNonNegative(developer_spike_usd))
  ) {
    return undefined;
  }
  const hour = normaliseInstant(value.hour);
  const watermark = normaliseInstant(value.watermark);
  // The schema's refinements, written as it writes them.
  if (hour === undefined || watermark === undefined || Date.parse(hour) % HOUR_MS !== 0 || premium_events > events) return undefined;
  const out = {
    org,
    team,
    developer,
    model,
    tier,
    hour,
    cost_usd,
    cost_premium_usd,
    events,
    premium_events,
    input_tokens,
    cache_read_tokens,
    cache_write_tokens,
    output_tokens,
    source,
    seq,
    watermark,
  } as UsageRollup;
  // zod keeps an optional key given as undefined.
  if ('developer_spike_usd' in value) out.developer_spike_usd = developer_spike_usd;
  return out;
}
