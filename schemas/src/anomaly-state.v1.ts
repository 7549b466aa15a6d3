import { z } from 'zod';
import { Instant } from './common.ts';

export const AnomalyStateAction = z.enum(['acknowledged', 'snoozed', 'unacknowledged', 'resolved']);
export const AnomalyStateChannel = z.enum(['slack', 'email', 'api', 'cli', 'console', 'system']);
// Why a human closed it; later scores each rule's precision.
export const AnomalyStateReason = z.enum(['expected', 'real', 'noise']);

/** A human (or system) decision about an anomaly, on `anomaly-state.v1` (key = anomaly id). */
export const AnomalyState = z
  .object({
    anomaly_id: z.string().min(1),
    action: AnomalyStateAction,
    by: z.string().min(1),
    channel: AnomalyStateChannel,
    at: Instant,
    snoozed_until: Instant.optional(),
    reason: AnomalyStateReason.optional(),
    note: z.string().max(2000).optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.action === 'snoozed' && !s.snoozed_until) {
      ctx.addIssue({ code: 'custom', path: ['snoozed_until'], message: 'a snooze needs snoozed_until' });
    }
  });
export type AnomalyState = z.infer<typeof AnomalyState>;
