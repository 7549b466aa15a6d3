import type { Clock, IngestLimits } from '@burnrate/core';
import type { PriceCatalog } from '@burnrate/pricing';
import { Granularity, Instant, safeParseUsageEvent, type UsageEvent } from '@burnrate/schemas';
import { z } from 'zod';
import type { Attribution, Attributor, Identity } from './attribution.ts';
import { deterministicEventId, sha256Hex, stableStringify } from './event-id.ts';
import {
  costIssue,
  countIssue,
  MAX_ATTRIBUTES,
  MAX_EMAIL_LENGTH,
  preview,
  reservedKeyIssue,
  textIssue,
  timeIssue,
  type TextKind,
} from './limits.ts';

/** One problem with one record: a dotted field path inside it (`(record)` for the whole) and why. */
export interface RecordIssue {
  field: string;
  message: string;
}

export type NormalizeResult =
  | { ok: true; event: UsageEvent }
  /** `forbidden`: the record is well-formed but claims what its sender may not (HTTP 403). */
  | { ok: false; issues: RecordIssue[]; forbidden?: true };

/**
 * What the sender may claim, checked against each record once it is attributed. Returns the
 * attribution to use (a source that speaks for a team places identities the config cannot), or
 * the problem when the record claims another team, tool or email domain.
 */
export type ClaimCheck = (
  record: { identity: Identity; tool: string },
  who: Attribution,
) => { ok: true; who: Attribution } | { ok: false; issue: RecordIssue };

export interface NormalizeContext {
  org: string;
  /** The `source` stamped on every event, e.g. `http_events`, `claude_code_otel`. */
  source: string;
  catalog: PriceCatalog;
  attribute: Attributor;
  clock: Clock;
  /** What one record may carry (`ingest.limits`); see limits.ts. */
  limits: IngestLimits;
  /** The sender's claims (a source key's team, emitter, domains); absent when ingest is open. */
  claims?: ClaimCheck;
}

/** What a source adapter extracted from one native record, before defaults, pricing and attribution. */
export interface UsageFields {
  event_id: string;
  /** ISO-8601 instant. */
  occurred_at: string;
  identity: Identity;
  model: string;
  provider?: string;
  tool?: string;
  granularity?: UsageEvent['granularity'];
  period_start?: string;
  period_end?: string;
  session_id?: string;
  prompt_id?: string;
  api_key_id?: string;
  project?: string;
  service_tier?: string;
  is_batch?: boolean;
  speed?: string;
  requests?: number;
  input_tokens?: number;
  output_tokens?: number;
  cache_read_tokens?: number;
  cache_write_tokens?: number;
  /** The part of cache_write_tokens written with the 1-hour TTL (priced higher); not published. */
  cache_write_1h_tokens?: number;
  /** A cost the source reported, already in USD. */
  cost_usd?: number;
  overlap_group?: string;
  attributes?: Record<string, string>;
  /**
   * The source's own name for a field, for messages (`attributes.session.id` for `session_id`);
   * identity fields go by `developer_email`, `developer`, `account_id`, `api_key_id`,
   * `api_key_name`, `project`, `team` and `tool`. Unnamed fields keep their UsageEvent name.
   */
  paths?: Partial<Record<string, string>>;
  /** A published event posted back keeps the fingerprint it was first accepted with, so it is a duplicate, not a conflict. */
  fingerprint?: string;
}

const TOKEN_FIELDS = ['input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens'] as const;

/**
 * Fills defaults, prices and attributes one record. A reported cost is kept as `cost_usd`
 * (`reported`) with the catalog's figure beside it when tokens allow; without a reported cost the
 * catalog's figure is the cost (`computed`), and a model it cannot price makes the record invalid
 * rather than silently free.
 */
export function buildUsageEvent(fields: UsageFields, ctx: NormalizeContext): NormalizeResult {
  const bounds = boundIssues(fields, ctx);
  if (bounds.length > 0) return { ok: false, issues: bounds };
  const at = new Date(fields.occurred_at);
  const info = ctx.catalog.describe(fields.model, at);
  const tokens = {
    input_tokens: fields.input_tokens ?? 0,
    output_tokens: fields.output_tokens ?? 0,
    cache_read_tokens: fields.cache_read_tokens ?? 0,
    cache_write_tokens: fields.cache_write_tokens ?? 0,
  };
  const is_batch = fields.is_batch ?? fields.service_tier === 'batch';
  const tokensGiven = TOKEN_FIELDS.some((k) => fields[k] !== undefined);
  const computed = tokensGiven
    ? ctx.catalog.costOf({
        model: fields.model,
        at,
        ...tokens,
        ...(fields.cache_write_1h_tokens !== undefined ? { cache_write_1h_tokens: fields.cache_write_1h_tokens } : {}),
        is_batch,
      })
    : undefined;

  // A computed cost that is only the cross-check of a reported one is bounded by the tokens.
  if (fields.cost_usd === undefined && computed?.ok) {
    const tooMuch = costIssue(computed.cost_usd, ctx.limits, 'computed from the token counts: ');
    if (tooMuch !== undefined) return { ok: false, issues: [{ field: fields.paths?.cost_usd ?? 'cost_usd', message: tooMuch }] };
  }

  let cost: Pick<UsageEvent, 'cost_usd' | 'cost_source' | 'computed_cost_usd'>;
  if (fields.cost_usd !== undefined) {
    cost = { cost_usd: fields.cost_usd, cost_source: 'reported', ...(computed?.ok ? { computed_cost_usd: computed.cost_usd } : {}) };
  } else if (computed === undefined) {
    return {
      ok: false,
      issues: [
        {
          field: 'cost_usd',
          message: 'a record needs cost_usd or token counts (input_tokens, output_tokens, cache_read_tokens, cache_write_tokens)',
        },
      ],
    };
  } else if (computed.ok) {
    cost = { cost_usd: computed.cost_usd, cost_source: 'computed' };
  } else {
    return { ok: false, issues: [{ field: 'model', message: `cannot compute cost_usd from tokens: ${computed.reason}` }] };
  }

  const tool = fields.tool ?? 'api';
  let who = ctx.attribute(fields.identity);
  if (ctx.claims !== undefined) {
    const verdict = ctx.claims({ identity: fields.identity, tool }, who);
    if (!verdict.ok) return { ok: false, issues: [verdict.issue], forbidden: true };
    who = verdict.who;
  }
  const optional = (key: string, value: string | undefined): Record<string, string> =>
    value === undefined || value === '' ? {} : { [key]: value };
  const candidate = {
    event_id: fields.event_id,
    source: ctx.source,
    provider: fields.provider ?? info.provider,
    tool,
    granularity: fields.granularity ?? 'request',
    ...optional('period_start', fields.period_start),
    ...optional('period_end', fields.period_end),
    occurred_at: fields.occurred_at,
    ingested_at: ctx.clock.now().toISOString(),
    org: ctx.org,
    developer: who.developer,
    ...optional('developer_email', who.developer_email),
    team: who.team,
    ...optional('session_id', fields.session_id),
    ...optional('prompt_id', fields.prompt_id),
    ...optional('api_key_id', fields.api_key_id ?? fields.identity.api_key_id),
    ...optional('project', fields.project ?? fields.identity.project),
    model: fields.model,
    model_family: info.model_family,
    tier: info.tier,
    ...optional('service_tier', fields.service_tier),
    is_batch,
    ...optional('speed', fields.speed),
    requests: fields.requests ?? 1,
    ...tokens,
    ...cost,
    ...optional('overlap_group', fields.overlap_group),
    fingerprint: fields.fingerprint ?? fingerprintOf(fields),
    attributes: fields.attributes ?? {},
  };
  const parsed = safeParseUsageEvent(candidate);
  if (!parsed.success) return { ok: false, issues: parsed.error.issues.flatMap(describeIssue) };
  return { ok: true, event: parsed.data };
}

/**
 * What the source said, as a digest: everything extracted from the record but its id (and the
 * names of its fields, for messages). Taken before attribution and pricing, so a resend after a
 * config or price change still has the same one.
 */
export function fingerprintOf(fields: UsageFields): string {
  const { event_id: _id, fingerprint: _given, paths: _paths, ...content } = fields;
  return sha256Hex(stableStringify(content)).slice(0, 32);
}

const COUNT_FIELDS = ['requests', ...TOKEN_FIELDS, 'cache_write_1h_tokens'] as const;
const TIME_FIELDS = ['occurred_at', 'period_start', 'period_end'] as const;
const TEXT_FIELDS = [
  'event_id',
  'model',
  'provider',
  'tool',
  'session_id',
  'prompt_id',
  'api_key_id',
  'project',
  'service_tier',
  'speed',
  'overlap_group',
] as const;
const IDENTITY_FIELDS: ReadonlyArray<readonly [keyof Identity, string, TextKind]> = [
  ['email', 'developer_email', 'email'],
  ['developer', 'developer', 'identifier'],
  ['account_id', 'account_id', 'identifier'],
  ['api_key_id', 'api_key_id', 'identifier'],
  ['api_key_name', 'api_key_name', 'identifier'],
  ['project', 'project', 'identifier'],
  ['team_id', 'team', 'identifier'],
  ['tool', 'tool', 'identifier'],
];

/** A key that reads well in a dotted path as it is; any other is quoted and shortened there. */
const PLAIN_KEY = /^[\w.:/@-]{1,64}$/;

const attributePath = (key: string): string => (PLAIN_KEY.test(key) ? `attributes.${key}` : `attributes[${preview(key)}]`);

/**
 * The sane bounds of `ingest.limits`, the same for every source: cost and counts per event, event
 * times within [now − max_age, now + max_future], and text that is valid Unicode, printable and
 * not too long (identity fields and attribute keys included). One issue per field, by the
 * source's own name for it.
 */
function boundIssues(fields: UsageFields, ctx: NormalizeContext): RecordIssue[] {
  const { limits } = ctx;
  const issues: RecordIssue[] = [];
  const named = new Set<string>();
  const add = (name: string, message: string | undefined): void => {
    const field = fields.paths?.[name] ?? name;
    if (message === undefined || named.has(field)) return;
    named.add(field);
    issues.push({ field, message });
  };

  if (fields.cost_usd !== undefined) add('cost_usd', costIssue(fields.cost_usd, limits));
  for (const key of COUNT_FIELDS) {
    const value = fields[key];
    if (value !== undefined) add(key, countIssue(value, limits));
  }
  const now = ctx.clock.now().getTime();
  for (const key of TIME_FIELDS) {
    const value = fields[key];
    if (value !== undefined) add(key, timeIssue(Date.parse(value), now, limits));
  }
  for (const key of TEXT_FIELDS) {
    const value = fields[key];
    if (value !== undefined) add(key, textIssue(value, 'identifier', limits));
  }
  for (const [key, name, kind] of IDENTITY_FIELDS) {
    const value = fields.identity[key];
    if (value !== undefined) add(name, textIssue(value, kind, limits));
  }

  const attributes = fields.attributes ?? {};
  const keys = Object.keys(attributes);
  if (keys.length > MAX_ATTRIBUTES) add('attributes', `${keys.length} attributes; the limit is ${MAX_ATTRIBUTES}`);
  for (const key of keys) {
    const reserved = reservedKeyIssue(key);
    if (reserved !== undefined) {
      add(`attributes.${key}`, reserved);
      continue;
    }
    const badKey = textIssue(key, 'identifier', limits);
    if (badKey !== undefined) add('attributes', `key ${badKey}`);
    else add(attributePath(key), textIssue(attributes[key] ?? '', 'description', limits));
  }
  return issues;
}

const Text = z.string().min(1, { message: 'must not be empty' });
const Tokens = z.number().int().nonnegative();
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

// The shape POST /v1/events accepts. Unknown keys are rejected (a misspelt `input_token` would
// otherwise price a request at zero). Numbers must be JSON numbers: a quoted "1,200" or "12.5k"
// is ambiguous, and our own endpoint can afford to be strict where OTLP cannot.
const PostedRecord = z
  .object({
    event_id: z.string().min(1).max(128, { message: 'must be at most 128 characters' }).optional(),
    occurred_at: Instant,
    developer_email: z
      .string()
      // Only once the length is sane (boundIssues reports it otherwise): this pattern backtracks
      // on a long string of dots.
      .refine((s) => s.length > MAX_EMAIL_LENGTH || EMAIL.test(s), { message: 'expected an email address such as alice@acme.com' })
      .optional(),
    developer: Text.optional(),
    model: Text,
    provider: Text.optional(),
    tool: Text.optional(),
    granularity: Granularity.optional(),
    period_start: Instant.optional(),
    period_end: Instant.optional(),
    session_id: Text.optional(),
    prompt_id: Text.optional(),
    api_key_id: Text.optional(),
    api_key_name: Text.optional(),
    account_id: Text.optional(),
    project: Text.optional(),
    service_tier: Text.optional(),
    is_batch: z.boolean().optional(),
    speed: Text.optional(),
    requests: Tokens.optional(),
    input_tokens: Tokens.optional(),
    output_tokens: Tokens.optional(),
    cache_read_tokens: Tokens.optional(),
    cache_write_tokens: Tokens.optional(),
    cache_write_1h_tokens: Tokens.optional(),
    cost_usd: z.number().finite().nonnegative().optional(),
    overlap_group: Text.optional(),
    // Count, keys and values are held by boundIssues, as for every source.
    attributes: z.record(z.string(), z.string()).optional(),
    org: z.string().optional(),
    // Derived at ingest and recomputed; accepted so a published UsageEvent can be posted back as is.
    // A sent `team` is kept only as a hint for ownership rules on team_id.
    source: z.unknown().optional(),
    ingested_at: z.unknown().optional(),
    team: z.unknown().optional(),
    model_family: z.unknown().optional(),
    tier: z.unknown().optional(),
    cost_source: z.unknown().optional(),
    computed_cost_usd: z.unknown().optional(),
    // Kept as posted (it is what the event was first accepted with); hex, as ingest writes it.
    fingerprint: z
      .string()
      .regex(/^[0-9a-f]{1,64}$/, { message: 'expected the hex digest a published event carries' })
      .optional(),
  })
  .strict();

const ACCEPTED_KEYS = new Set(Object.keys(PostedRecord.shape));

/** A path as the client wrote it; a key that would not read well (any key a client invented) is quoted and shortened. */
function joinPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(record)';
  return path
    .map((p, i) => {
      if (typeof p === 'number') return `[${p}]`;
      const key = String(p);
      if (!PLAIN_KEY.test(key)) return `[${preview(key)}]`;
      return i === 0 ? key : `.${key}`;
    })
    .join('');
}

/** A value for a message: strings quoted and shortened, numbers and booleans as JSON. */
function quote(value: unknown): string {
  return typeof value === 'string' ? preview(value) : String(JSON.stringify(value));
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${quote(value)}`;
}

function describeIssue(issue: z.core.$ZodIssue): RecordIssue[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const snake = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
      const hint = snake !== key && ACCEPTED_KEYS.has(snake) ? `; did you mean ${snake}?` : '';
      return { field: joinPath([...issue.path, key]), message: `unknown field${hint}` };
    });
  }
  const field = joinPath(issue.path);
  if (issue.code === 'invalid_type') {
    if (issue.input === undefined) return [{ field, message: 'is required' }];
    if ((issue.expected === 'number' || issue.expected === 'int') && typeof issue.input === 'string') {
      return [{ field, message: `expected a JSON number, got the string ${quote(issue.input)}; send numbers without quotes` }];
    }
    if (issue.expected === 'int') return [{ field, message: `expected a whole number, got ${quote(issue.input)}` }];
    return [{ field, message: `expected ${issue.expected}, got ${typeName(issue.input)}` }];
  }
  if (issue.code === 'too_small' && issue.origin === 'number')
    return [{ field, message: `must not be negative, got ${String(issue.input)}` }];
  return [{ field, message: issue.message }];
}

/**
 * Turns one loosely-typed posted record into a UsageEvent. A record needs `occurred_at`,
 * `developer_email` or `developer`, `model`, and `cost_usd` or token counts; everything else has a
 * default. All problems of the record are reported, each with its field.
 */
export function normalizeRecord(raw: unknown, ctx: NormalizeContext): NormalizeResult {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, issues: [{ field: '(record)', message: `expected a JSON object, got ${typeName(raw)}` }] };
  }
  const record = raw as Record<string, unknown>;
  const issues: RecordIssue[] = [];
  const parsed = PostedRecord.safeParse(record, { reportInput: true });
  if (!parsed.success) issues.push(...parsed.error.issues.flatMap(describeIssue));
  if (record.developer_email === undefined && record.developer === undefined) {
    issues.push({ field: 'developer_email', message: 'a record needs developer_email or developer' });
  }
  if (typeof record.org === 'string' && record.org !== ctx.org) {
    issues.push({ field: 'org', message: `this Burnrate serves org "${ctx.org}", not ${preview(record.org)}` });
  }
  // JSON.parse makes `__proto__` an own key, which zod's record then drops without a word.
  const givenAttributes = record.attributes;
  if (givenAttributes !== null && typeof givenAttributes === 'object' && Object.hasOwn(givenAttributes, '__proto__')) {
    issues.push({ field: 'attributes.__proto__', message: reservedKeyIssue('__proto__') ?? '' });
  }
  if (!parsed.success || issues.length > 0) return { ok: false, issues };

  const r = parsed.data;
  const attributes: Record<string, string> = { ...r.attributes };
  if (r.api_key_name !== undefined) attributes.api_key_name ??= r.api_key_name;
  if (r.account_id !== undefined) attributes.account_id ??= r.account_id;
  const teamFromAttributes = attributes['team.id'] !== undefined;
  const teamHint = attributes['team.id'] ?? (typeof r.team === 'string' ? r.team : undefined);
  const tool = r.tool ?? 'api';
  // A posted-back event whose cost the catalog computed is priced again, not taken as reported.
  const hasTokens =
    r.input_tokens !== undefined ||
    r.output_tokens !== undefined ||
    r.cache_read_tokens !== undefined ||
    r.cache_write_tokens !== undefined;
  const cost_usd = r.cost_source === 'computed' && hasTokens ? undefined : r.cost_usd;

  return buildUsageEvent(
    {
      event_id: r.event_id ?? deterministicEventId(ctx.source, record),
      occurred_at: r.occurred_at,
      identity: {
        email: r.developer_email,
        developer: r.developer,
        account_id: r.account_id,
        api_key_id: r.api_key_id,
        api_key_name: r.api_key_name,
        project: r.project,
        team_id: teamHint,
        tool,
      },
      model: r.model,
      provider: r.provider,
      tool,
      granularity: r.granularity,
      period_start: r.period_start,
      period_end: r.period_end,
      session_id: r.session_id,
      prompt_id: r.prompt_id,
      api_key_id: r.api_key_id,
      project: r.project,
      service_tier: r.service_tier,
      is_batch: r.is_batch,
      speed: r.speed,
      requests: r.requests,
      input_tokens: r.input_tokens,
      output_tokens: r.output_tokens,
      cache_read_tokens: r.cache_read_tokens,
      cache_write_tokens: r.cache_write_tokens,
      cache_write_1h_tokens: r.cache_write_1h_tokens,
      cost_usd,
      overlap_group: r.overlap_group,
      attributes,
      ...(teamFromAttributes ? { paths: { team: 'attributes.team.id' } } : {}),
      ...(r.fingerprint !== undefined ? { fingerprint: r.fingerprint } : {}),
    },
    ctx,
  );
}
