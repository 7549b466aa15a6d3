import { z } from 'zod';

/** An ISO-8601 instant with an explicit offset; normalised to UTC `...Z` on parse. */
export const Instant = z.iso
  .datetime({ offset: true, message: 'expected an ISO-8601 timestamp such as 2026-11-28T14:05:00Z' })
  .transform(toUtcInstant);

/**
 * `s` as Date#toISOString writes it. Most instants already are (every one Burnrate writes):
 * `YYYY-MM-DDTHH:MM:SS.mmmZ` that passed the datetime check (which knows month lengths and leap
 * years) is its own normal form, so it is kept without a Date.
 */
function toUtcInstant(s: string): string {
  if (s.length === 24 && s.charCodeAt(23) === 90 /* Z */ && s.charCodeAt(19) === 46 /* . */ && s.charCodeAt(10) === 84 /* T */) return s;
  return new Date(s).toISOString();
}

export const Severity = z.enum(['info', 'warning', 'critical']);
export type Severity = z.infer<typeof Severity>;

/** Ordering of severities, so code can compare them without string tricks. */
export const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

/** The developer/team value used when an identity is not in the config: itself a signal (shadow AI). */
export const UNATTRIBUTED = 'unattributed';

export const NonNegative = z.number().finite().nonnegative();
export const Count = z.number().int().nonnegative();
