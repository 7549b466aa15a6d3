import { z } from 'zod';
import { Duration, Id, Money, readsFields } from './primitives.ts';
import { formatDuration } from '../duration.ts';

// Detector settings in burnrate.yaml. Every detector has `enabled` and a dollar gate
// (`min_impact_usd`): a 10x rise from cents is not an alert. Defaults follow the detection table
// of the design; `overrides` refine them per team or developer, in file order.

const Points = z.number().finite().min(0).max(100);
const Positive = z.number().finite().positive();
const Share = z.number().finite().min(0).max(10);

const Enabled = z.boolean().describe('Turn this detector off (false) or on.');
const MinImpact = Money.describe('The dollar gate: an anomaly costing less than this (USD) is not raised.');

/**
 * A detector's settings as two schemas over the same fields: `full` fills every default (the
 * `detectors.<kind>` block), `override` fills none (an override changes only what it names;
 * zod's own `.partial()` would keep the defaults and silently reset fields the override left out).
 */
function settings<T extends z.ZodRawShape>(shape: T, defaults: z.infer<z.ZodObject<T>>) {
  const loose = z.object(shape).partial().strict();
  return {
    override: loose,
    full: loose.transform((given) => ({ ...defaults, ...withoutUndefined(given) })),
    defaults,
  };
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export const DETECTOR_SETTINGS = {
  session_cost: settings(
    {
      enabled: Enabled,
      warning_usd: Money.meta({ description: "Soft cap (USD) on one session's cumulative cost: a warning past it.", examples: [25] }),
      critical_usd: Money.meta({ description: "Cap (USD) on one session's cumulative cost: critical past it.", examples: [100] }),
      relative: z
        .boolean()
        .describe(
          "Also judge a session against its team's finished sessions: the warning cap becomes relative_factor x the team's relative_quantile session cost when higher than warning_usd, and critical_usd scales by the same ratio.",
        ),
      relative_quantile: z
        .number()
        .finite()
        .min(0.5)
        .max(0.999)
        .meta({ description: "The quantile of the team's session costs relative caps start from.", examples: [0.95] }),
      relative_factor: z
        .number()
        .finite()
        .min(1)
        .max(100)
        .meta({ description: 'How far above that quantile the warning cap sits.', examples: [2] }),
      relative_min_sessions: z
        .number()
        .int()
        .min(1)
        .describe('Finished sessions a team needs before its relative caps apply (until then, the fixed caps).'),
    },
    {
      enabled: true,
      warning_usd: 25,
      critical_usd: 100,
      relative: true,
      relative_quantile: 0.95,
      relative_factor: 2,
      relative_min_sessions: 30,
    },
  ),
  runaway_session: settings(
    {
      enabled: Enabled,
      min_impact_usd: MinImpact,
      max_hours_without_human: Positive.meta({
        description: 'Hours an agent may run with no new human prompt before it is a runaway.',
        examples: [4],
      }),
      off_hours_factor: z
        .number()
        .finite()
        .positive()
        .max(1)
        .describe("Off-hours and weekends (in the team's time zone) multiply the limit by this."),
      critical_factor: z.number().finite().min(1).describe('Critical past this multiple of the limit.'),
      critical_projected_usd: Money.describe(
        'Critical too when the unattended spend plus its projection until someone is likely to act (the next working-hours start, or the on-call response) reaches this (USD).',
      ),
    },
    {
      enabled: true,
      min_impact_usd: 10,
      max_hours_without_human: 4,
      off_hours_factor: 0.5,
      critical_factor: 3,
      critical_projected_usd: 100,
    },
  ),
  context_bloat: settings(
    {
      enabled: Enabled,
      min_impact_usd: MinImpact,
      max_input_tokens_per_call: z
        .number()
        .int()
        .positive()
        .meta({ description: 'Input tokens of one call above which it is bloated.', examples: [150000] }),
      cost_per_turn_factor: z.number().finite().min(1).describe("A call costing this many times the session's first turns is bloat."),
      baseline_turns: z.number().int().min(1).max(50).describe("How many of a session's first turns make its baseline cost per turn."),
      // At most 12 h: a session idle for the detector's idle horizon (24 h) is forgotten, and its
      // episode must have resolved before that.
      cool_down_hours: Positive.max(12).describe(
        "Hours a session must make no call before its context_bloat episode resolves. Until then the session keeps one episode: a compaction or /clear does not end it, and bloat after it adds to the same episode's impact.",
      ),
    },
    {
      enabled: true,
      min_impact_usd: 5,
      max_input_tokens_per_call: 150_000,
      cost_per_turn_factor: 8,
      baseline_turns: 3,
      cool_down_hours: 2,
    },
  ),
  model_mix_drift: settings(
    {
      enabled: Enabled,
      min_impact_usd: Money.describe('Weekly spend (USD) above what the baseline mix would have cost, below which nothing is raised.'),
      min_share_increase_points: Points.describe(
        'Rise of the premium share of spend, in percentage points, against the trailing baseline.',
      ),
      baseline_weeks: z.number().int().min(1).max(12).describe('Weeks of trailing baseline.'),
      max_p_value: z.number().finite().positive().max(0.5).describe('Significance of the two-proportion test; lower is stricter.'),
    },
    { enabled: true, min_impact_usd: 50, min_share_increase_points: 20, baseline_weeks: 4, max_p_value: 0.01 },
  ),
  spend_spike: settings(
    {
      enabled: Enabled,
      min_impact_usd: MinImpact,
      min_score: Positive.meta({
        description: 'Robust z-score (median/MAD) of spend against the seasonal baseline above which an hour spikes.',
        examples: [3.5],
      }),
      min_history_hours: z.number().int().min(1).describe('Hours of history a key needs before it can alert (warm-up).'),
      min_slot_weeks: z
        .number()
        .int()
        .min(1)
        .max(8)
        .describe(
          'Weeks of values a calendar slot (a working-day hour, a day-off hour) needs before an hour in it can alert: the first weekend of a new series is judged against no weekend at all.',
        ),
      cool_down_hours: z
        .number()
        .int()
        .min(0)
        .max(48)
        .describe(
          'Hours with no spiking hour before an episode resolves; a spike back within them continues the same episode (0 resolves at the first usual hour).',
        ),
      scale_floor_usd: z
        .number()
        .finite()
        .positive()
        .describe(
          'Smallest scale (usd per hour) a score is measured in: a key that spends the same every hour is not infinitely surprised.',
        ),
      scale_floor_share: z
        .number()
        .finite()
        .min(0)
        .max(10)
        .describe("Smallest scale as a share of the usual hour's spend: a 30% wobble of a steady key is not a spike."),
      min_impact_share: z
        .number()
        .finite()
        .min(0)
        .max(10)
        .describe(
          "The dollar gate of a developer who spends little: min(min_impact_usd, max(min_impact_floor_usd, this x the developer's usual day's spend)); team keys keep min_impact_usd. 0 keeps min_impact_usd for every key.",
        ),
      min_impact_floor_usd: Money.describe('The lowest dollar gate min_impact_share can give a small developer.'),
      team_dedupe_share: z
        .number()
        .finite()
        .min(0)
        .max(1)
        .describe(
          "A team (or team x model) spike is left to a developer's own alert when that developer's spike is at least this share of the team's excess in the hour: reported once, by the developer. 0 reports both.",
        ),
    },
    {
      enabled: true,
      min_impact_usd: 50,
      min_score: 3.5,
      min_history_hours: 72,
      min_slot_weeks: 2,
      cool_down_hours: 3,
      scale_floor_usd: 1,
      scale_floor_share: 0.3,
      min_impact_share: 1,
      min_impact_floor_usd: 20,
      team_dedupe_share: 0.7,
    },
  ),
  budget_forecast: settings(
    {
      enabled: Enabled,
      min_impact_usd: MinImpact,
      warning_share: Share.meta({
        description: "Month-end projection as a share of the team's monthly budget for a warning.",
        examples: [0.9],
      }),
      critical_share: Share.meta({ description: '…and for a critical.', examples: [1.1] }),
      min_days_of_data: z.number().int().min(1).max(28).describe('Days of the month with data before a projection is judged.'),
    },
    { enabled: true, min_impact_usd: 100, warning_share: 0.9, critical_share: 1.1, min_days_of_data: 5 },
  ),
  new_spender: settings(
    {
      enabled: Enabled,
      min_impact_usd: Money.describe('Spend (USD) by an identity, key, tool or provider nobody has seen before it is raised.'),
      window_hours: Positive.describe(
        "An unattributed developer's spend adds up until it stops for this many hours; a new key, tool or provider's counts in its first this many hours.",
      ),
    },
    { enabled: true, min_impact_usd: 5, window_hours: 24 },
  ),
  cache_efficiency_drop: settings(
    {
      enabled: Enabled,
      min_impact_usd: MinImpact,
      min_drop_points: Points.describe('Fall of the cache-read share of input tokens below its baseline, in percentage points.'),
      baseline_days: z.number().int().min(1).max(60).describe("Days of a developer's baseline."),
      cool_down_hours: z
        .number()
        .int()
        .min(1)
        .max(48)
        .describe(
          'Hours in a row with the cache-read share back within half of min_drop_points of its baseline before an open cache_efficiency_drop episode resolves; a low hour before that continues the same episode. Hours with under 20k input tokens are skipped: they neither count nor break the run.',
        ),
      min_season_weeks: z
        .number()
        .int()
        .min(1)
        .max(8)
        .describe(
          "Team scope: distinct local weeks (Monday to Sunday) with values that each local hour × working day/day off of a team's baseline needs before hours there are judged, so a team's first weekend is not judged against that weekend alone.",
        ),
    },
    { enabled: true, min_impact_usd: 20, min_drop_points: 30, baseline_days: 7, cool_down_hours: 6, min_season_weeks: 2 },
  ),
  lost_events: settings(
    {
      enabled: Enabled,
      min_impact_usd: Money.describe(
        "Cost (USD) a Claude Code session's metrics must count beyond its request events before the gap is reported as an info anomaly: requests whose log records were lost on the way.",
      ),
      min_missing_share: z
        .number()
        .finite()
        .min(0)
        .max(1)
        .describe("…and the share of the session's metrics cost the gap must reach too (0.05: 5%)."),
      // At most an hour: a log record that far behind the metric export that counted it was lost,
      // not delayed, and each minute of waiting keeps more of a session's calls apart.
      grace_minutes: z
        .number()
        .finite()
        .min(0)
        .max(60)
        .describe(
          'Minutes after a metrics interval ended before it is compared with the request events: their log records are batched every 5 s and may arrive after the metric export.',
        ),
    },
    { enabled: true, min_impact_usd: 0.5, min_missing_share: 0.05, grace_minutes: 2 },
  ),
} as const;

export type DetectorKindName = keyof typeof DETECTOR_SETTINGS;
export type DetectorSettings = { [K in DetectorKindName]: (typeof DETECTOR_SETTINGS)[K]['defaults'] };
export const DETECTOR_KINDS = Object.keys(DETECTOR_SETTINGS) as DetectorKindName[];

export const DetectorMatch = z
  .object({
    team: Id.optional().meta({ description: 'The team from teams[].', examples: ['research'] }),
    developer: z
      .string()
      .optional()
      .meta({ description: "The developer's email.", examples: ['alice@acme.com'] }),
  })
  .strict()
  .refine((m) => m.team !== undefined || m.developer !== undefined, { message: 'a match needs team or developer' })
  .describe('Who the override is for: a team, a developer, or a developer in a team.');

const HHMM = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, { message: 'expected a time of day such as 09:00' });
const Weekday = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
const IsoDate = z.iso.date({ message: 'expected a date such as 2026-12-24' });

const calendarFields = {
  working_hours: z
    .object({
      start: HHMM.meta({ description: 'When the working day starts, local time.', examples: ['09:00'] }),
      end: HHMM.meta({ description: 'When it ends.', examples: ['18:00'] }),
    })
    .strict()
    .describe('The working day, in the local time zone.'),
  working_days: z
    .array(Weekday)
    .min(1)
    .meta({ description: 'The working days.', examples: [['mon', 'tue', 'wed', 'thu', 'fri']] }),
  holidays: z.array(IsoDate).meta({
    description: 'Days off (local dates): treated like weekends, and a lull there is not a baseline.',
    examples: [['2026-12-24']],
  }),
};

/** When people work, in a team's time zone: off-hours and weekends are judged against this. */
export const CalendarConfig = z
  .object({
    working_hours: calendarFields.working_hours
      .default({ start: '09:00', end: '18:00' })
      .describe('The working day, in the local time zone.'),
    working_days: calendarFields.working_days.default(['mon', 'tue', 'wed', 'thu', 'fri']).describe('The working days.'),
    holidays: calendarFields.holidays.default([]).describe('Days off (local dates): treated like weekends.'),
  })
  .strict();
/** A team's own calendar: only the fields it sets replace the org's (no defaults here on purpose). */
export const CalendarOverride = z.object(calendarFields).partial().strict();
export type CalendarConfig = z.infer<typeof CalendarConfig>;

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
// A time of day with no offset means a different instant in every zone, so it is refused.
const INSTANT_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * A bound of a planned change: a local date (midnight at its start, in the team's time zone, or
 * the org's without a team) or an instant with its offset.
 */
export const PlannedBound = z.string().superRefine((text, ctx) => {
  const valid = DATE_RE.test(text) ? IsoDate.safeParse(text).success : INSTANT_RE.test(text) && !Number.isNaN(Date.parse(text));
  if (!valid)
    ctx.addIssue({
      code: 'custom',
      message: `expected a date such as 2026-10-24 or an instant with its offset such as 2026-10-24T18:00:00+02:00, not ${JSON.stringify(text)} (a time without Z or an offset is ambiguous)`,
    });
});

/** True for a bound written as a date, false for an instant. */
export const isDateBound = (bound: string): boolean => bound.length === 10;

/**
 * A change people planned (a migration week, a load test): matching anomalies are kept at info
 * from `from` (inclusive) until `to` (exclusive: the first day, or the instant, the change is
 * over). A week of migration Monday to Friday is `from: 2026-10-19, to: 2026-10-24`.
 */
export const PlannedChange = z
  .object({
    team: Id.optional().describe("The team it is for (the org's zone and every team without one)."),
    from: PlannedBound.describe(
      "When the change starts (inclusive): a date, from local midnight in the team's time zone (the org's without a team), or an instant with its offset, e.g. 2026-10-19 or 2026-10-19T14:00:00+02:00.",
    ),
    to: PlannedBound.describe(
      'When the change is over (exclusive): a date is the first day no longer covered (from its local midnight), so a Monday-to-Friday week ends `to:` the Saturday; or an instant with its offset, e.g. 2026-10-24 or 2026-10-23T18:00:00+02:00.',
    ),
    kinds: z
      .array(z.enum(DETECTOR_KINDS as [DetectorKindName, ...DetectorKindName[]]))
      .min(1)
      .meta({ description: 'The anomaly kinds kept at info meanwhile.', examples: [['spend_spike', 'model_mix_drift']] }),
    note: z
      .string()
      .min(1)
      .meta({ description: 'Why: shown with every anomaly it keeps at info.', examples: ['migration to Opus 4.5'] }),
  })
  .strict()
  .refine(
    (p) => isDateBound(p.from) !== isDateBound(p.to) || (isDateBound(p.from) ? p.from <= p.to : Date.parse(p.from) < Date.parse(p.to)),
    { message: 'from must be before to', path: ['to'], ...readsFields('from', 'to') },
  );
export type PlannedChange = z.infer<typeof PlannedChange>;

const SECOND_MS = 1_000;
const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/** A duration setting between two bounds, named in the message when it is outside them. */
const boundedDuration = (min: number, max: number) =>
  Duration.refine((ms) => ms >= min && ms <= max, { message: `must be from ${formatDuration(min)} to ${formatDuration(max)}` });

/**
 * Late usage (older than the watermark minus `allowed_lateness`: an import, a poller catching up)
 * is judged by the backtest path over the stored events, and what it finds is stored as historical
 * anomalies, never paged. Late events come in batches over minutes (an import posts thousands of
 * requests), so their spans are gathered per org and judged once they stop coming.
 */
export const BackfillConfig = z
  .object({
    quiet: boundedDuration(SECOND_MS, 60 * MINUTE_MS)
      .default(30 * SECOND_MS)
      .describe('A backfill window is judged once no late event has come for it for this long (an import finished).'),
    max_wait: boundedDuration(MINUTE_MS, DAY_MS)
      .default(10 * MINUTE_MS)
      .describe('…or this long after its first late event, even while more keep coming, so a steady trickle is judged too.'),
    warmup: boundedDuration(0, 90 * DAY_MS)
      .default(14 * DAY_MS)
      .describe(
        'Stored history replayed before a window so baselines are warm, as backtest --warmup: longer finds more spend spikes and drifts, and costs a replay of that much history per window.',
      ),
  })
  .strict()
  .refine((b) => b.max_wait >= b.quiet, {
    message: 'must not be shorter than quiet',
    path: ['max_wait'],
    ...readsFields('quiet', 'max_wait'),
  });
export type BackfillConfig = z.infer<typeof BackfillConfig>;

const S = DETECTOR_SETTINGS;

/** What each detector finds: the description editors show for `detectors.<kind>`. */
const KIND_DESCRIPTION: Record<DetectorKindName, string> = {
  session_cost: "One session's cumulative cost past a cap.",
  runaway_session: 'An agent running for hours with no new human prompt.',
  context_bloat: 'A session whose calls carry ever more context, each costing many times its first turns.',
  model_mix_drift: 'The premium share of spend rising against the trailing weeks.',
  spend_spike: 'An hour of spend far above the same hour of the week.',
  budget_forecast: "A team's month-end projection past its budget.",
  new_spender: 'Spend by an identity, key, tool or provider nobody has seen.',
  cache_efficiency_drop: 'The cache-read share of input tokens falling below its baseline.',
  lost_events: 'A Claude Code session whose cost metrics count more than its request events (log records lost on the way).',
};

/** One override: a match and, per detector, the settings it changes. */
export const DetectorOverride = z
  .object({
    match: DetectorMatch,
    session_cost: S.session_cost.override.optional().describe(`Changes to detectors.session_cost: only the fields given.`),
    runaway_session: S.runaway_session.override.optional().describe(`Changes to detectors.runaway_session: only the fields given.`),
    context_bloat: S.context_bloat.override.optional().describe(`Changes to detectors.context_bloat: only the fields given.`),
    model_mix_drift: S.model_mix_drift.override.optional().describe(`Changes to detectors.model_mix_drift: only the fields given.`),
    spend_spike: S.spend_spike.override.optional().describe(`Changes to detectors.spend_spike: only the fields given.`),
    budget_forecast: S.budget_forecast.override.optional().describe(`Changes to detectors.budget_forecast: only the fields given.`),
    new_spender: S.new_spender.override.optional().describe(`Changes to detectors.new_spender: only the fields given.`),
    cache_efficiency_drop: S.cache_efficiency_drop.override
      .optional()
      .describe(`Changes to detectors.cache_efficiency_drop: only the fields given.`),
    lost_events: S.lost_events.override.optional().describe(`Changes to detectors.lost_events: only the fields given.`),
  })
  .strict();
export type DetectorOverride = z.infer<typeof DetectorOverride>;

export const DetectorsConfig = z
  .object({
    session_cost: S.session_cost.full.prefault({}).describe(KIND_DESCRIPTION.session_cost),
    runaway_session: S.runaway_session.full.prefault({}).describe(KIND_DESCRIPTION.runaway_session),
    context_bloat: S.context_bloat.full.prefault({}).describe(KIND_DESCRIPTION.context_bloat),
    model_mix_drift: S.model_mix_drift.full.prefault({}).describe(KIND_DESCRIPTION.model_mix_drift),
    spend_spike: S.spend_spike.full.prefault({}).describe(KIND_DESCRIPTION.spend_spike),
    budget_forecast: S.budget_forecast.full.prefault({}).describe(KIND_DESCRIPTION.budget_forecast),
    new_spender: S.new_spender.full.prefault({}).describe(KIND_DESCRIPTION.new_spender),
    cache_efficiency_drop: S.cache_efficiency_drop.full.prefault({}).describe(KIND_DESCRIPTION.cache_efficiency_drop),
    lost_events: S.lost_events.full.prefault({}).describe(KIND_DESCRIPTION.lost_events),
    allowed_lateness: Duration.default(600_000).meta({
      description:
        'Events older than the watermark minus this are late: counted and judged by the backfill runner, never merged into windows that already closed.',
      examples: ['10m'],
    }),
    backfill: BackfillConfig.prefault({}).describe('How late usage (an import, a poller catching up) is judged.'),
    overrides: z
      .array(DetectorOverride)
      .default([])
      .describe('Per team or developer: changes only the fields it names, applied in file order.'),
    planned_changes: z
      .array(PlannedChange)
      .default([])
      .describe('Planned changes (a migration week): matching anomalies are kept at info from `from` until `to`.'),
  })
  .strict();
export type DetectorsConfig = z.infer<typeof DetectorsConfig>;
