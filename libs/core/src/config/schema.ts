import { z } from 'zod';
import { CalendarConfig, CalendarOverride, DetectorsConfig } from './detectors.ts';
import { IngestConfig } from './ingest.ts';
import { Duration, Email, Id, Money, SlackChannel, TimeZone } from './primitives.ts';
import { ReceiverEntry, type ReceiverSchema } from './receivers.ts';
import { Source } from './sources.ts';

// Every schema here is `.strict()`: a misspelt key in burnrate.yaml is an error that names it,
// not a setting silently ignored.

const SlackTarget = z
  .object({
    channel: SlackChannel.meta({ description: 'The Slack channel: #name, or a channel id.', examples: ['#payments-ai-spend'] }),
  })
  .strict();

const Member = z
  .union([
    Email,
    z
      .object({
        email: Email.meta({ description: "The person's canonical email.", examples: ['alice@acme.com'] }),
        aliases: z
          .array(z.string().min(1))
          .default([])
          .meta({
            description:
              'Other identities that mean this person: an Anthropic account, a GitHub login, an API key name, Claude Code user.id…',
            examples: [['alice-gh', 'alice@acme-console.com']],
          }),
      })
      .strict(),
  ])
  .describe('A member: an email, or { email, aliases } for the other identities of the same person.');

// `slack:` and `email:` are shorthand for a slack and an email receiver (see receivers.ts);
// `receivers:` lists receivers of any channel.
function receiverHolder(receiver: ReceiverSchema) {
  return {
    slack: SlackTarget.optional().describe('Shorthand for a receiver { channel: slack, to: <channel> }.'),
    email: z
      .array(Email)
      .default([])
      .meta({
        description: 'Shorthand for a receiver { channel: email, to: [...] }: addresses that share one email.',
        examples: [['payments-leads@acme.com']],
      }),
    receivers: z
      .array(receiver)
      .default([])
      .describe(
        'Receivers of any channel (slack, email, webhook, pagerduty, msteams): { channel, ...its settings }; secrets are named by *_env fields.',
      ),
  };
}

function teamSchema(receiver: ReceiverSchema) {
  return z
    .object({
      id: Id.meta({
        description: 'The team id: lowercase letters, digits, - and _. Routes, ownership rules and sources refer to it.',
        examples: ['payments'],
      }),
      name: z
        .string()
        .optional()
        .meta({ description: 'A display name.', examples: ['Payments'] }),
      timezone: TimeZone.optional().meta({
        description: "The team's IANA time zone (working hours, weekends); the org's when unset.",
        examples: ['Europe/Berlin'],
      }),
      members: z.array(Member).default([]).describe("The team's developers; their spend is the team's. A developer belongs to one team."),
      ...receiverHolder(receiver),
      oncall: z
        .object(receiverHolder(receiver))
        .strict()
        .optional()
        .describe('The on-call receivers: what a route rule notifying oncall reaches, and where unacknowledged criticals escalate.'),
      budget: z
        .object({
          monthly_usd: Money.meta({
            description: 'Soft monthly budget in USD: budget_forecast compares the month-end projection with it.',
            examples: [6000],
          }),
        })
        .strict()
        .optional()
        .describe("The team's budget."),
      calendar: CalendarOverride.optional().describe("The team's own working week: only the fields it sets replace the org's calendar."),
    })
    .strict();
}

export const Team = teamSchema(ReceiverEntry);

/** How an identity that is not a listed member is given an owner. Globs use `*`. */
export const OwnershipRule = z
  .object({
    match: z
      .object({
        email: z
          .string()
          .optional()
          .meta({ description: "The developer's email (glob).", examples: ['*@payments.acme.com'] }),
        api_key_name: z
          .string()
          .optional()
          .meta({ description: 'The API key name (glob).', examples: ['payments-*'] }),
        api_key_id: z.string().optional().describe('The API key id (glob).'),
        account_id: z.string().optional().describe('The provider account (an Anthropic or OpenAI user id; glob).'),
        project: z.string().optional().describe('The project (glob).'),
        tool: z
          .string()
          .optional()
          .meta({ description: 'The tool (glob).', examples: ['claude-code'] }),
        team_id: z
          .string()
          .optional()
          .meta({
            description: 'The team an emitter declares itself, e.g. OTEL_RESOURCE_ATTRIBUTES=team.id=payments (glob).',
            examples: ['payments'],
          }),
      })
      .strict()
      .refine((m) => Object.values(m).some((v) => v !== undefined), { message: 'a match needs at least one field' })
      .describe('What identifies the usage; every field given must match. Globs use *.'),
    team: Id.meta({ description: 'The team that owns matching usage: an id from teams[].', examples: ['payments'] }),
  })
  .strict();

const SeverityName = z.enum(['info', 'warning', 'critical']);

const KindMatch = z
  .union([z.string(), z.array(z.string())])
  .optional()
  .meta({ description: 'Anomaly kinds, one or a list.', examples: ['session_cost', ['spend_spike', 'budget_forecast']] });
const SeverityMatch = z
  .union([SeverityName, z.array(SeverityName)])
  .optional()
  .meta({ description: 'Severities (info, warning, critical), one or a list.', examples: ['critical'] });

const RouteMatch = z
  .object({
    kind: KindMatch,
    severity: SeverityMatch,
    team: z
      .union([Id, z.array(Id)])
      .optional()
      .meta({ description: 'Teams from teams[] (or unattributed), one or a list.', examples: ['payments'] }),
    model: z
      .string()
      .optional()
      .meta({ description: 'The model (glob).', examples: ['claude-opus-*'] }),
  })
  .strict()
  .describe('What an anomaly must be for this rule; every field given must match. Empty matches every anomaly.');

export const Receiver = z.enum(['team', 'oncall', 'finops']);

/**
 * What anomalies are grouped by into one message per receiver (Alertmanager's group_by):
 * `anomaly` means no grouping (one message per anomaly).
 */
export const GroupLabel = z.enum(['team', 'kind', 'severity', 'developer', 'session', 'model', 'anomaly']);
export const DEFAULT_GROUP_BY = ['team', 'kind'] as const;

const InhibitMatch = z
  .object({
    kind: KindMatch,
    severity: SeverityMatch,
  })
  .strict();

/**
 * An open anomaly matching `source` keeps anomalies matching `target` from being sent while the
 * labels in `equal` are the same on both (Alertmanager's inhibit_rules). Inhibited anomalies are
 * stored and listed, with the reason on their delivery record; they are never sent.
 */
export const InhibitRule = z
  .object({
    source: InhibitMatch.describe('The open anomaly that inhibits.'),
    target: InhibitMatch.describe('The anomalies it keeps from being sent.'),
    equal: z
      .array(z.enum(['team', 'developer', 'session', 'model']))
      .min(1)
      .meta({ description: 'Labels source and target must share for the rule to apply.', examples: [['team']] }),
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
      .default('/slack/interactions')
      .describe("Where Slack posts button presses: the Slack app's Interactivity Request URL is public_url + this path."),
  })
  .strict();

export const RoutesConfig = z
  .object({
    group_by: z
      .array(GroupLabel)
      .min(1)
      .default([...DEFAULT_GROUP_BY])
      .meta({
        description: 'What anomalies are grouped by into one message per receiver; anomaly means no grouping.',
        examples: [['team', 'kind']],
      }),
    group_wait: Duration.default(10_000).meta({
      description: 'How long a new group waits for the rest of a burst before its first message.',
      examples: ['10s'],
    }),
    group_interval: Duration.default(300_000).meta({
      description: 'How long after a message the next one of the same group waits.',
      examples: ['5m'],
    }),
    repeat_interval: Duration.default(14_400_000).meta({
      description: 'How often an open, unacknowledged anomaly is brought up again.',
      examples: ['4h'],
    }),
    escalate_after: Duration.default(1_800_000).meta({
      description: 'How long an open critical may stay unacknowledged before on-call hears of it (and, after as long again, FinOps).',
      examples: ['30m'],
    }),
    oncall_response: Duration.default(1_800_000).meta({
      description:
        "How soon a team's on-call receiver acts on a page outside working hours: the horizon of projected spend (and of severity from it) for teams with an on-call receiver.",
      examples: ['30m'],
    }),
    min_severity: SeverityName.default('warning').describe('Anomalies below this severity are stored and listed but not sent anywhere.'),
    rules: z
      .array(
        z
          .object({
            match: RouteMatch.default({}),
            notify: z
              .array(Receiver)
              .min(1)
              .meta({
                description: "Who hears of a matching anomaly: the team's receivers, its on-call's, FinOps'.",
                examples: [['team', 'oncall']],
              }),
            continue: z.boolean().default(false).describe("Keep evaluating later rules after this one matched (Alertmanager's continue)."),
          })
          .strict(),
      )
      .default([])
      .describe('Routing rules, first match wins; an anomaly no rule matches notifies its team.'),
  })
  .strict();

const PriceRow = z
  .object({
    model: z
      .string()
      .min(1)
      .meta({ description: 'The model id as usage names it.', examples: ['claude-opus-4-5'] }),
    effective_from: z.iso
      .date({ message: 'expected a date such as 2026-09-01' })
      .meta({ description: 'The first day (UTC) these prices apply.', examples: ['2026-09-01'] }),
    input: Money.meta({ description: 'USD per million input tokens.', examples: [5] }),
    output: Money.meta({ description: 'USD per million output tokens.', examples: [25] }),
    cache_read: Money.optional().describe('USD per million cache-read tokens.'),
    cache_write_5m: Money.optional().describe('USD per million tokens written to the 5-minute cache.'),
    cache_write_1h: Money.optional().describe('USD per million tokens written to the 1-hour cache.'),
    batch_discount: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .meta({ description: 'Share taken off batch requests.', examples: [0.5] }),
    tier: z
      .enum(['premium', 'standard', 'economy'])
      .optional()
      .describe("The model's price tier: model_mix_drift watches the premium share of spend."),
  })
  .strict();

function buildConfigSchema(receiver: ReceiverSchema) {
  return z
    .object({
      org: Id.meta({ description: 'The organisation id, stamped on every event.', examples: ['acme'] }),
      timezone: TimeZone.default('UTC').meta({
        description: 'The default IANA time zone for working hours; each team may set its own.',
        examples: ['America/New_York'],
      }),
      teams: z.array(teamSchema(receiver)).default([]).describe('The teams: who is in each, where its alerts go, its budget.'),
      ownership: z.array(OwnershipRule).default([]).describe('How usage by someone no team lists is given an owner; first match wins.'),
      // Read with this file, so a reload reads it again.
      identities: z
        .string()
        .min(1)
        .optional()
        .meta({
          description:
            'Path of a CSV (relative to this file) of people across vendors: an email column, an optional team column, and any other columns as aliases.',
          examples: ['people.csv'],
        }),
      calendar: CalendarConfig.default({
        working_hours: { start: '09:00', end: '18:00' },
        working_days: ['mon', 'tue', 'wed', 'thu', 'fri'],
        holidays: [],
      }).describe("When people work: off-hours and weekends are judged in each team's zone."),
      detectors: DetectorsConfig.prefault({}).describe('Thresholds of each detector, per-team overrides and planned changes.'),
      routes: RoutesConfig.default({
        group_by: [...DEFAULT_GROUP_BY],
        group_wait: 10_000,
        group_interval: 300_000,
        repeat_interval: 14_400_000,
        escalate_after: 1_800_000,
        oncall_response: 1_800_000,
        min_severity: 'warning',
        rules: [],
      }).describe('Where anomalies go, and how they are grouped, repeated and escalated.'),
      finops: z
        .object(receiverHolder(receiver))
        .strict()
        .optional()
        .describe('The FinOps receivers: what a route rule notifying finops reaches, and where unattributed spend goes.'),
      inhibit: z
        .array(InhibitRule)
        .default(DEFAULT_INHIBIT)
        .describe(
          'While an open anomaly matches a source, those matching its target with the same labels are not sent. [] turns the defaults off.',
        ),
      pricing: z
        .object({
          prices: z
            .array(PriceRow)
            .default([])
            .describe('USD per million tokens; a row wins over the bundled catalog from its effective date.'),
        })
        .strict()
        .default({ prices: [] })
        .describe('Prices that replace or add to the bundled catalog.'),
      public_url: z
        .url()
        .optional()
        .meta({
          description: 'Where links in emails, Slack, webhooks, PagerDuty and Teams point.',
          examples: ['https://burnrate.acme.internal'],
        }),
      slack: SlackAppConfig.prefault({}).describe("The Slack app's side of Burnrate (its secrets come from the environment)."),
      sources: z.array(Source).default([]).describe('Who may post usage, with which keys, claiming what.'),
      ingest: IngestConfig.prefault({}).describe('What the HTTP receivers accept, and from whom.'),
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
