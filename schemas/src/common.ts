import { z } from 'zod';

/** An ISO-8601 instant with an explicit offset; normalised to UTC `...Z` on parse. */
export const Instant = z.iso
  .datetime({ offset: true, message: 'expected an ISO-8601 timestamp such as 2026-11-28T14:05:00Z' })
  .transform((s) => new Date(s).toISOString());

export const Severity = z.enum(['info', 'warning', 'critical']);
export type Severity = z.infer<typeof Severity>;

/** Ordering of severities, so code can compare them without string tricks. */
export const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

/** The developer/team value used when an identity is not in the config: itself a signal (shadow AI). */
export const UNATTRIBUTED = 'unattributed';

export const NonNegative = z.number().finite().nonnegative();
export const Count = z.number().int().nonnegative();
