import { z } from 'zod';
import { CalendarConfig, CalendarOverride, DetectorsConfig } from './detectors.ts';
import { IngestConfig } from './ingest.ts';
import { Duration, Email, Id, Money, SlackChannel, TimeZone } from './primitives.ts';
import { ReceiverEntry, type ReceiverSchema } from './receivers.ts';
import { Source } from './sources.ts';

// Every schema here is `.strict()`: a misspelt key in burnrate.yaml is an error that names it,
// not a setting silently ignored.

const SlackTarget = z.object({ channel: SlackChannel }).strict();

const Member = z.union([
  Email,
  z
    .object({
      email: Email,
      // Other identities that mean this person: an Anthropic account id, a GitHub login, an API key name…
      aliases: z.array(z.string().min(1)).default([]),
    })
    .strict(),
]);

// `slack:` and `email:` are shorthand for a slack and an email receiver (see receivers.ts);
// `receivers:` lists receivers of any channel.
function receiverHolder(receiver: ReceiverSchema) {
  return {
    slack: SlackTarget.optional(),
    email: z.array(Email).default([]),
    receivers: z.array(receiver).default([]),
  };
}

function teamSchema(receiver: ReceiverSchema) {
  return z
    .object({
      id: Id,
      name: z.string().optional(),
      timezone: TimeZone.optional(),
      members: z.array(Member).default([]),
      ...receiverHolder(receiver),
      oncall: z.object(receiverHolder(receiver)).strict().optional(),
      budget: z.object({ monthly_usd: Money }).strict().optional(),
      // The team's working week, when it differs from the org's.
      calendar: CalendarOverride.optional(),
    })
    .strict();
}

export const Team = teamSchema(ReceiverEntry);

/** How an identity that is not a listed member is given an owner. Globs use `*`. */
export const OwnershipRule = z
  .object({
    match: z
      .object({
        email: z.string().optional(),
        api_key_name: z.string().optional(),
        api_key_id: z.string().optional(),
        account_id: z.string().optional(),
        project: z.string().optional(),
        tool: z.string().optional(),
        // The team an emitter declares itself, e.g. OTEL_RESOURCE_ATTRIBUTES=team.id=payments.
        team_id: z.string().optional(),
      })
      .strict()
      .refine((m) => Object.values(m).some((v) => v !== undefined), { message: 'a match needs at least one field' }),
    team: Id,
  })
  .strict();

const SeverityName = z.enum(['info', 'warning', 'critical']);

const RouteMatch = z
  .object({
    kind: z.union([z.string(), z.array(z.string())]).optional(),
    severity: z.union([SeverityName, z.array(SeverityName)]).optional(),
    team: z.union([Id, z.array(Id)]).optional(),
    model: z.string().optional(),
  })
  .strict();

export const Receiver = z.enum(['team', 'oncall', 'finops']);

/**
 * What anomalies are grouped by into one message per receiver (Alertmanager's group_by):
 * `anomaly` means no grouping (one message per anomaly).
 */
export const GroupLabel = z.enum(['team', 'kind', 'severity', 'developer', 'session', 'model', 'anomaly']);
export const DEFAULT_GROUP_BY = ['team', 'kind'] as const;

const InhibitMatch = z
  .object({
    kind: z.union([z.string(), z.array(z.string())]).optional(),
    severity: z.union([SeverityName, z.array(SeverityName)]).optional(),
  })
  .strict();

/**
 * An open anomaly matching `source` keeps anomalies matching `target` from being sent while the
 * labels in `equal` are the same on both (Alertmanager's inhibit_rules). Inhibited anomalies are
 * stored and listed, with the reason on their delivery record; they are never sent.
 */
export const InhibitRule = z
  .object({
    source: InhibitMatch,
    target: InhibitMatch,
    equal: z.array(z.enum(['team', 'developer', 'session', 'model'])).min(1),
  })
  .strict();
export type InhibitRule = z.infer<typeof InhibitRule>;

/**
 * Used when the config has no `inhibit:`: a team-level cause (caching broke, spend jumped) makes
 * that team's session warnings its symptoms; a critical on a session makes lesser anomalies of
 * the same session noise.
 */
export const DEFAULT_INHIBIT: InhibitRule[] = [
  {
    source: { kind: ['cache_efficiency_drop', 'spend_spike', 'model_mix_drift'] },
    target: { kind: ['session_cost', 'context_bloat', 'runaway_session'], severity: ['info', 'warning'] },
    equal: ['team'],
  },
  { source: { severity: 'critical' }, target: { severity: ['info', 'warning'] }, equal: ['session'] },
];

/** Settings of the Slack app itself, as opposed to the channels alerts go to. */
export const SlackAppConfig = z
  .object({
    // The path Slack posts button presses to: the app's Interactivity Request URL is public_url + this.
    interactions_path: z
      .string()
      .regex(/^\/[A-Za-z0-9._~/-]*$/, { message: 'expected an absolute path such as /slack/interactions' })
      .refine((p) => !/^\/(api|v1|act|anomalies)(\/|$)/.test(p) && p !== '/healthz', {
        message: 'must not overlap /api/…, /v1/…, /act/…, /anomalies/… or /healthz',
      })
      .default('/slack/interactions'),
  })
  .strict();

export const RoutesConfig = z
  .object({
    group_by: z
      .array(GroupLabel)
      .min(1)
      .default([...DEFAULT_GROUP_BY]),
    group_wait: Duration.default(10_000),
    group_interval: Duration.default(300_000),
    repeat_interval: Duration.default(14_400_000),
    escalate_after: Duration.default(1_800_000),
    // How soon a team's on-call receiver acts on a page outside working hours: the horizon of
    // projected spend (and of severity from it) for teams with an on-call receiver.
    oncall_response: Duration.default(1_800_000),
    // Anomalies below this severity are stored and listed but not sent anywhere.
    min_severity: SeverityName.default('warning'),
    rules: z
      .array(
        z
          .object({
            match: RouteMatch.default({}),
            notify: z.array(Receiver).min(1),
            // Keep evaluating later rules after this one matched (Alertmanager's `continue`).
            continue: z.boolean().default(false),
          })
          .strict(),
      )
      .default([]),
  })
  .strict();

const PriceRow = z
  .object({
    model: z.string().min(1),
    effective_from: z.iso.date({ message: 'expected a date such as 2026-09-01' }),
    input: Money,
    output: Money,
    cache_read: Money.optional(),
    cache_write_5m: Money.optional(),
    cache_write_1h: Money.optional(),
    batch_discount: z.number().min(0).max(1).optional(),
    tier: z.enum(['premium', 'standard', 'economy']).optional(),
  })
  .strict();

function buildConfigSchema(receiver: ReceiverSchema) {
  return z
    .object({
      org: Id,
      timezone: TimeZone.default('UTC'),
      teams: z.array(teamSchema(receiver)).default([]),
      ownership: z.array(OwnershipRule).default([]),
      // A CSV of people and their identities at other vendors (identities.ts), relative to this
      // file; read with it, so a reload reads it again.
      identities: z.string().min(1).optional(),
      calendar: CalendarConfig.default({
        working_hours: { start: '09:00', end: '18:00' },
        working_days: ['mon', 'tue', 'wed', 'thu', 'fri'],
        holidays: [],
      }),
      detectors: DetectorsConfig.prefault({}),
      routes: RoutesConfig.default({
        group_by: [...DEFAULT_GROUP_BY],
        group_wait: 10_000,
        group_interval: 300_000,
        repeat_interval: 14_400_000,
        escalate_after: 1_800_000,
        oncall_response: 1_800_000,
        min_severity: 'warning',
        rules: [],
      }),
      finops: z.object(receiverHolder(receiver)).strict().optional(),
      // Inhibition rules; [] turns the defaults off.
      inhibit: z.array(InhibitRule).default(DEFAULT_INHIBIT),
      // USD per million tokens; rows here win over the bundled catalog from their effective date.
      pricing: z
        .object({ prices: z.array(PriceRow).default([]) })
        .strict()
        .default({ prices: [] }),
      // Where links in emails and Slack messages point, e.g. https://burnrate.acme.internal
      public_url: z.url().optional(),
      // The Slack app's side of Burnrate (its secrets come from the environment).
      slack: SlackAppConfig.prefault({}),
      // Who may post usage, with which keys, claiming what (see sources.ts).
      sources: z.array(Source).default([]),
      // What the HTTP receivers accept, and from whom (ingest.ts).
      ingest: IngestConfig.prefault({}),
    })
    .strict();
  // Checks between sections (a route naming a team that does not exist, …) are references.ts's:
  // they run on the file as written, so they are reported together with the schema's problems.
}

const schemas = new WeakMap<ReceiverSchema, ReturnType<typeof buildConfigSchema>>();

/**
 * The schema of burnrate.yaml with every receiver checked by `receiver` (a channel registry's
 * union, from @burnrate/notify); built once per receiver schema.
 */
export function createConfigSchema(receiver: ReceiverSchema): ReturnType<typeof buildConfigSchema> {
  let schema = schemas.get(receiver);
  if (!schema) {
    schema = buildConfigSchema(receiver);
    schemas.set(receiver, schema);
  }
  return schema;
}

/** burnrate.yaml with receivers checked only for a channel name (see ReceiverEntry). */
export const ConfigSchema = createConfigSchema(ReceiverEntry);

export type ConfigInput = z.input<typeof ConfigSchema>;
export type Config = z.infer<typeof ConfigSchema>;
export type TeamConfig = z.infer<typeof Team>;
export type OwnershipRuleConfig = z.infer<typeof OwnershipRule>;
export type RoutesConfig = z.infer<typeof RoutesConfig>;
export type SlackAppConfig = z.infer<typeof SlackAppConfig>;
export type ReceiverName = z.infer<typeof Receiver>;
export type PriceRowConfig = z.infer<typeof PriceRow>;
