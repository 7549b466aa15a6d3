import { z } from 'zod';
import { Count, Instant, NonNegative } from './common.ts';
import { isCount, isNonEmptyString, isNonNegative, isPlainRecord, normaliseInstantWithin, onlyKeys, stringRecord } from './fast-checks.ts';

export const Granularity = z.enum(['request', '1m', '1h', '1d']);
export const Tier = z.enum(['premium', 'standard', 'economy', 'unknown']);
export const CostSource = z.enum(['reported', 'computed']);

/**
 * Hard caps of a usage event that every consumer enforces, whoever produced it, so that no event
 * can blind detection or storage. They sit far above anything real; ingest refuses much less by
 * default (`ingest.limits` in burnrate.yaml, which cannot go past these).
 */
export const USAGE_EVENT_CAPS = {
  /**
   * USD per event (cost_usd, computed_cost_usd). Sums of any number of such events stay finite
   * (Number.MAX_VALUE is 1.8e308), where one 1e308 made every total Infinity and every anomaly
   * built on it invalid.
   */
  maxCostUsd: 1e9,
  /**
   * Requests and each token count. Totals of thousands of events at the cap stay exact integers
   * (below 2^53, which is what a count on the bus must be).
   */
  maxCount: 1e12,
  /** Instants from 1970-01-01T00:00:00Z (inclusive; ClickHouse's DateTime starts there)… */
  fromInstantMs: Date.UTC(1970, 0, 1),
  /**
   * …to 2100-01-01T00:00:00Z (exclusive). DateTime ends on 2106-02-07 and the tables add their TTL
   * (up to 1100 days, spend_hourly_v1) to event times: a later time wraps to 1970, and its row
   * expires at once.
   */
  toInstantMs: Date.UTC(2100, 0, 1),
} as const;

const CAPS = USAGE_EVENT_CAPS;

const EventInstant = Instant.refine(
  (s) => {
    const ms = Date.parse(s);
    return ms >= CAPS.fromInstantMs && ms < CAPS.toInstantMs;
  },
  { message: 'must be between 1970-01-01T00:00:00Z and 2100-01-01T00:00:00Z' },
);
const EventCost = NonNegative.max(CAPS.maxCostUsd, { message: `must be at most ${CAPS.maxCostUsd} USD` });
const EventCount = Count.max(CAPS.maxCount, { message: `must be at most ${CAPS.maxCount}` });

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
    period_start: EventInstant.optional(),
    period_end: EventInstant.optional(),
    occurred_at: EventInstant,
    ingested_at: EventInstant,
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
    requests: EventCount,
    input_tokens: EventCount,
    output_tokens: EventCount,
    cache_read_tokens: EventCount,
    cache_write_tokens: EventCount,
    cost_usd: EventCost,
    cost_source: CostSource,
    // When the source reported a cost and tokens let us compute one too, both are kept:
    // cost_usd is the reported figure and this is the catalog's, for cross-checking.
    computed_cost_usd: EventCost.optional(),
    // The same spend seen by several sources (OTel and the usage report) shares a group and counts once.
    overlap_group: z.string().optional(),
    // Digest of the source record's content, set at ingest: a resend has the same one, a reused
    // event_id with other content does not, so ingest can refuse the second (events are immutable).
    // Absent on events from before it existed.
    fingerprint: z.string().max(64).optional(),
    attributes: z.record(z.string(), z.string()),
  })
  .strict()
  .superRefine((e, ctx) => {
    if (e.granularity !== 'request' && (!e.period_start || !e.period_end)) {
      ctx.addIssue({ code: 'custom', path: ['period_start'], message: `a ${e.granularity} bucket needs period_start and period_end` });
    }
  });
export type UsageEvent = z.infer<typeof UsageEvent>;

const USAGE_EVENT_KEYS: ReadonlySet<string> = new Set(Object.keys(UsageEvent.shape));
const GRANULARITIES: ReadonlySet<unknown> = new Set(Granularity.options);
const TIERS: ReadonlySet<unknown> = new Set(Tier.options);
const COST_SOURCES: ReadonlySet<unknown> = new Set(CostSource.options);

/** `z.string().optional()`: absent, undefined or a string. */
const optionalString = (v: unknown): boolean => v === undefined || typeof v === 'string';
const isEventCount = (v: unknown): boolean => isCount(v) && v <= CAPS.maxCount;
const isEventCost = (v: unknown): boolean => isNonNegative(v) && v <= CAPS.maxCostUsd;
const eventInstant = (v: unknown): string | undefined => normaliseInstantWithin(v, CAPS.fromInstantMs, CAPS.toInstantMs);

/**
 * Exactly `UsageEvent.safeParse(value)` — same acceptance, same value (instants normalised, keys
 * in schema order, an optional key given as undefined kept) — for consumers of every event: a
 * hand-written check of the valid case, about ten times cheaper than zod's, and zod itself
 * whenever that check says no, so a rejection still names each path and reason.
 */
export function safeParseUsageEvent(value: unknown): z.ZodSafeParseResult<UsageEvent> {
  const data = checkUsageEvent(value);
  return data !== undefined ? { success: true, data } : UsageEvent.safeParse(value);
}

/** The parsed event when it is valid; undefined when it may not be (zod decides). */
function checkUsageEvent(value: unknown): UsageEvent | undefined {
  if (!isPlainRecord(value) || !onlyKeys(value, USAGE_EVENT_KEYS)) return undefined;
  const e = value;
  const { event_id, source, provider, tool, granularity, org, developer, team, model, model_family, tier, is_batch, cost_source } = e;
  if (
    !isNonEmptyString(event_id) ||
    event_id.length > 128 ||
    !isNonEmptyString(source) ||
    !isNonEmptyString(provider) ||
    !isNonEmptyString(tool) ||
    !GRANULARITIES.has(granularity) ||
    !isNonEmptyString(org) ||
    !isNonEmptyString(developer) ||
    !isNonEmptyString(team) ||
    !isNonEmptyString(model) ||
    !isNonEmptyString(model_family) ||
    !TIERS.has(tier) ||
    typeof is_batch !== 'boolean' ||
    !COST_SOURCES.has(cost_source)
  ) {
    return undefined;
  }
  const { requests, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd } = e;
  if (
    !isEventCount(requests) ||
    !isEventCount(input_tokens) ||
    !isEventCount(output_tokens) ||
    !isEventCount(cache_read_tokens) ||
    !isEventCount(cache_write_tokens) ||
    !isEventCost(cost_usd)
  ) {
    return undefined;
  }
  const occurred_at = eventInstant(e.occurred_at);
  const ingested_at = eventInstant(e.ingested_at);
  const attributes = stringRecord(e.attributes);
  if (occurred_at === undefined || ingested_at === undefined || attributes === undefined) return undefined;

  // Optional fields: zod keeps a key that is present with the value undefined, and leaves out an absent one.
  const { period_start: givenStart, period_end: givenEnd } = e;
  const period_start = givenStart === undefined ? undefined : eventInstant(givenStart);
  const period_end = givenEnd === undefined ? undefined : eventInstant(givenEnd);
  if ((period_start === undefined && givenStart !== undefined) || (period_end === undefined && givenEnd !== undefined)) return undefined;
  // The schema's refinement: a bucket carries its period.
  if (granularity !== 'request' && (period_start === undefined || period_end === undefined)) return undefined;
  const {
    developer_email,
    session_id,
    prompt_id,
    api_key_id,
    project,
    service_tier,
    speed,
    computed_cost_usd,
    overlap_group,
    fingerprint,
  } = e;
  if (
    !optionalString(developer_email) ||
    !optionalString(session_id) ||
    !optionalString(prompt_id) ||
    !optionalString(api_key_id) ||
    !optionalString(project) ||
    !optionalString(service_tier) ||
    !optionalString(speed) ||
    !(computed_cost_usd === undefined || isEventCost(computed_cost_usd)) ||
    !optionalString(overlap_group) ||
    !(fingerprint === undefined || (typeof fingerprint === 'string' && fingerprint.length <= 64))
  ) {
    return undefined;
  }

  // Built in the schema's key order, as zod builds its output.
  const out: Record<string, unknown> = { event_id, source, provider, tool, granularity };
  if ('period_start' in e) out.period_start = period_start;
  if ('period_end' in e) out.period_end = period_end;
  out.occurred_at = occurred_at;
  out.ingested_at = ingested_at;
  out.org = org;
  out.developer = developer;
  if ('developer_email' in e) out.developer_email = developer_email;
  out.team = team;
  if ('session_id' in e) out.session_id = session_id;
  if ('prompt_id' in e) out.prompt_id = prompt_id;
  if ('api_key_id' in e) out.api_key_id = api_key_id;
  if ('project' in e) out.project = project;
  out.model = model;
  out.model_family = model_family;
  out.tier = tier;
  if ('service_tier' in e) out.service_tier = service_tier;
  out.is_batch = is_batch;
  if ('speed' in e) out.speed = speed;
  out.requests = requests;
  out.input_tokens = input_tokens;
  out.output_tokens = output_tokens;
  out.cache_read_tokens = cache_read_tokens;
  out.cache_write_tokens = cache_write_tokens;
  out.cost_usd = cost_usd;
  out.cost_source = cost_source;
  if ('computed_cost_usd' in e) out.computed_cost_usd = computed_cost_usd;
  if ('overlap_group' in e) out.overlap_group = overlap_group;
  if ('fingerprint' in e) out.fingerprint = fingerprint;
  out.attributes = attributes;
  return out as UsageEvent;
}
