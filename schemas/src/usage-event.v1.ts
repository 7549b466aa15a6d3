import { z } from 'zod';
import { Count, Instant, NonNegative } from './common.ts';
import { isCount, isNonEmptyString, isNonNegative, isPlainRecord, normaliseInstant, onlyKeys, stringRecord } from './fast-checks.ts';

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
    !isCount(requests) ||
    !isCount(input_tokens) ||
    !isCount(output_tokens) ||
    !isCount(cache_read_tokens) ||
    !isCount(cache_write_tokens) ||
    !isNonNegative(cost_usd)
  ) {
    return undefined;
  }
  const occurred_at = normaliseInstant(e.occurred_at);
  const ingested_at = normaliseInstant(e.ingested_at);
  const attributes = stringRecord(e.attributes);
  if (occurred_at === undefined || ingested_at === undefined || attributes === undefined) return undefined;

  // Optional fields: zod keeps a key that is present with the value undefined, and leaves out an absent one.
  const { period_start: givenStart, period_end: givenEnd } = e;
  const period_start = givenStart === undefined ? undefined : normaliseInstant(givenStart);
  const period_end = givenEnd === undefined ? undefined : normaliseInstant(givenEnd);
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
    !(computed_cost_usd === undefined || isNonNegative(computed_cost_usd)) ||
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
