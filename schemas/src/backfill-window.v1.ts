import { z } from 'zod';
import { Instant } from './common.ts';

/**
 * Usage that live detection judged too late (older than a stage-A partition's watermark minus
 * `detectors.allowed_lateness`), on `usage.backfill.v1` (key org): one message per org, stage-A
 * partition and batch that held late events. The backfill runner coalesces them into windows and
 * runs the backtest path over the stored events of each, so late usage is judged, as historical
 * anomalies, instead of silently not at all.
 */
export const BackfillWindow = z
  .object({
    org: z.string().min(1),
    /** The earliest occurred_at of the late events. */
    from: Instant,
    /** The latest occurred_at of the late events. */
    to: Instant,
    /** How many late events the message stands for. */
    events: z.number().int().positive(),
    /** `topic:partition` of usage.events.v1 the events were read from. */
    source: z.string().min(1),
    /**
     * The last of them in that partition's order: once the store holds it, the store holds every
     * late event before it, as the sink writes a partition in order. The runner replays only then.
     */
    last_event: z.object({ event_id: z.string().min(1), occurred_at: Instant }).strict(),
    /** The partition's watermark when the events came: how far live detection had moved on. */
    watermark: Instant,
  })
  .strict()
  .refine((w) => w.from <= w.to, { message: 'from must not be after to', path: ['to'] });
export type BackfillWindow = z.infer<typeof BackfillWindow>;
