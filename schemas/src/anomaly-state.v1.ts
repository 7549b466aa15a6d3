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

/** Where an anomaly stands with the humans who own it. */
export type LifecycleState = 'open' | 'acknowledged' | 'snoozed' | 'resolved';

export interface AnomalyLifecycle {
  state: LifecycleState;
  /** The decision that set `state`; absent for an anomaly nobody has touched. */
  decision?: AnomalyState;
  /** Who acknowledged it, when nothing since has taken that back (unacknowledged, resolved, a snooze that ended). */
  acknowledged?: { by: string; at: string };
  /** Until when it is snoozed, while it is. */
  snoozed_until?: string;
  /** Why a human resolved it (expected / real / noise). */
  reason?: AnomalyState['reason'];
}

/**
 * The order decisions are taken in, as anomaly_state_v1 picks the latest: `at`, then action, by
 * and channel (byte order) on a tie. The latest decision sorts last.
 */
export const compareDecisions = (a: AnomalyState, b: AnomalyState): number =>
  Date.parse(a.at) - Date.parse(b.at) ||
  (a.action < b.action ? -1 : a.action > b.action ? 1 : 0) ||
  (a.by < b.by ? -1 : a.by > b.by ? 1 : 0) ||
  (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : 0);

/**
 * The lifecycle of one anomaly from its decisions (any order, as anomaly_state_v1 holds them):
 * the latest decision wins. A snooze that has ended leaves the anomaly open (and no longer
 * acknowledged: it asked to be told again). A detector's own resolution is not a decision:
 * callers combine `state` with the anomaly's `status`.
 */
export function lifecycleOf(decisions: readonly AnomalyState[], now: Date): AnomalyLifecycle {
  const ordered = [...decisions].sort(compareDecisions);
  const decision = ordered.at(-1);
  if (!decision) return { state: 'open' };
  let acknowledged: AnomalyLifecycle['acknowledged'];
  for (const d of ordered) {
    if (d.action === 'acknowledged') acknowledged ??= { by: d.by, at: d.at };
    else if (d.action === 'unacknowledged') acknowledged = undefined;
  }
  switch (decision.action) {
    case 'acknowledged':
      return { state: 'acknowledged', decision, acknowledged: acknowledged ?? { by: decision.by, at: decision.at } };
    case 'snoozed':
      if (decision.snoozed_until !== undefined && Date.parse(decision.snoozed_until) > now.getTime())
        return { state: 'snoozed', decision, snoozed_until: decision.snoozed_until, ...(acknowledged ? { acknowledged } : {}) };
      return { state: 'open', decision };
    case 'unacknowledged':
      return { state: 'open', decision };
    case 'resolved':
      return {
        state: 'resolved',
        decision,
        ...(decision.reason ? { reason: decision.reason } : {}),
        ...(acknowledged ? { acknowledged } : {}),
      };
  }
}
