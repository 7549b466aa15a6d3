import { z } from 'zod';
import { Instant, NonNegative } from './common.ts';
import { isPlainRecord } from './fast-checks.ts';
import { safeParseUsageRollup, UsageRollup } from './usage-rollup.v1.ts';

/**
 * What the providers' reports say one team spent on one UTC day, against what team detection
 * counted for it, on `usage.rollups.v1` beside the rollups (key `org:team`, so it meets the team's
 * rollups in one stage-B consumer).
 *
 * Team detection counts the live feed: request-level events as they happen, and the report
 * buckets of providers nothing sends live. The reports (cost and usage APIs, hours later) are the
 * invoice's truth: per UTC day, org and provider the report of highest precedence counts (the
 * reconciliation's rule). `counted_usd` is the day's spend by that rule, `judged_usd` what team
 * detection counted for the same providers, and the budget forecast adds the difference to the
 * team's month to date.
 *
 * The latest figures of the day: a later message for the same (org, team, day) replaces the
 * earlier one (`as_of` orders them), so resending is harmless.
 */
export const SpendCorrection = z
  .object({
    /** What this correction is of; tells it apart from a UsageRollup on the same topic. */
    correction: z.literal('provider_reports'),
    org: z.string().min(1),
    team: z.string().min(1),
    /** The UTC day, `YYYY-MM-DD`. */
    day: z.iso.date(),
    /** The day's spend with each provider's report in place of its live feed. */
    counted_usd: NonNegative,
    /** What team detection counted for the day (live events, and reports nothing live covers). */
    judged_usd: NonNegative,
    /** The reports that count that day, by name. */
    sources: z.array(z.string().min(1)).max(64),
    /** When the figures were read from the store. */
    as_of: Instant,
  })
  .strict();
export type SpendCorrection = z.infer<typeof SpendCorrection>;

/** What stage B reads from usage.rollups.v1: a developer's rollup, or a day's correction from the reports. */
export const TeamInput = z.union([UsageRollup, SpendCorrection]);
export type TeamInput = z.infer<typeof TeamInput>;

/** A TeamInput that is a correction. */
export const isSpendCorrection = (input: TeamInput): input is SpendCorrection => 'correction' in input;

/**
 * `TeamInput.safeParse`, answering rollups through their fast twin (`safeParseUsageRollup`): a
 * value with a `correction` field is judged as a SpendCorrection, any other as a UsageRollup, so a
 * rejection names the problems of the one it claims to be.
 */
export function safeParseTeamInput(value: unknown): z.ZodSafeParseResult<TeamInput> {
  if (isPlainRecord(value) && 'correction' in value) return SpendCorrection.safeParse(value);
  return safeParseUsageRollup(value);
}
