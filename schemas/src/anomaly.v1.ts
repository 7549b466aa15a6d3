import { z } from 'zod';
import { Instant, Severity } from './common.ts';

export const AnomalyKind = z.enum([
  'session_cost',
  'runaway_session',
  'context_bloat',
  'model_mix_drift',
  'spend_spike',
  'budget_forecast',
  'new_spender',
  'cache_efficiency_drop',
  'lost_events',
]);
export type AnomalyKind = z.infer<typeof AnomalyKind>;

export const AnomalyStatus = z.enum(['open', 'resolved']);

export const Subject = z
  .object({
    org: z.string().min(1),
    team: z.string().min(1),
    developer: z.string().optional(),
    session: z.string().optional(),
    model: z.string().optional(),
  })
  .strict();
export type Subject = z.infer<typeof Subject>;

/** A measured value with its unit, e.g. { value: 31.2, unit: 'usd' }. */
export const Measure = z.object({ value: z.number().finite(), unit: z.string().min(1) }).strict();
export type Measure = z.infer<typeof Measure>;

export const EvidencePoint = z.object({ at: Instant, label: z.string(), value: z.number().finite(), unit: z.string() }).strict();
export type EvidencePoint = z.infer<typeof EvidencePoint>;

/**
 * An anomaly episode on `anomalies.v1` (key = id). The id is deterministic (kind + subject +
 * episode start), so replays produce the same id; `version` grows as the episode escalates or
 * resolves, and consumers keep the highest version.
 */
export const Anomaly = z
  .object({
    id: z.string().min(1),
    version: z.number().int().positive(),
    kind: AnomalyKind,
    severity: Severity,
    status: AnomalyStatus,
    subject: Subject,
    window: z.object({ start: Instant, end: Instant }).strict(),
    observed: Measure,
    expected: Measure,
    // Spend above expected so far.
    impact_usd: z.number().finite().nonnegative(),
    // What it will cost by the next business-hours acknowledgement if it goes on.
    projected_usd: z.number().finite().nonnegative(),
    evidence: z.array(EvidencePoint).max(50),
    summary: z.string().min(1),
    advice: z.string().min(1),
    detected_at: Instant,
    /**
     * Found by a backfill, not by live detection: the backtest path judged events that arrived
     * after live detection had moved past their time (an import, a poller catching up). Stored and
     * listed like any anomaly, never routed or paged. Absent on live anomalies, and on every
     * anomaly published before backfills were judged.
     */
    historical: z.literal(true).optional(),
  })
  .strict();
export type Anomaly = z.infer<typeof Anomaly>;
