import { createHash } from 'node:crypto';
import { z } from 'zod';
import { Instant } from './common.ts';

/** One problem with a rejected record: where (a dotted path inside the record) and why. */
export const DlqIssue = z.object({ path: z.string(), message: z.string() });
export type DlqIssue = z.infer<typeof DlqIssue>;

/**
 * A record that could not become a UsageEvent, on `usage.dlq.v1` (key = source).
 * The raw record is kept verbatim so it can be fixed and replayed; nothing is dropped.
 */
export const DlqRecord = z
  .object({
    dlq_id: z.string().min(1),
    source: z.string().min(1),
    received_at: Instant,
    // Position of the record in the request body, when it came in a batch.
    index: z.number().int().nonnegative().optional(),
    reason: z.string().min(1),
    issues: z.array(DlqIssue),
    raw: z.string(),
  })
  .strict();
export type DlqRecord = z.infer<typeof DlqRecord>;

/**
 * `dlq_id` and `source` of a bus message that failed validation: derived from where it sits, so
 * every consumer group that rejects the same message (the sink and the notifier both read
 * anomalies.v1) writes the same DLQ row, which the store keeps once.
 */
export function dlqOrigin(topic: string, partition: number, offset: string): { dlq_id: string; source: string } {
  return { dlq_id: createHash('sha256').update(`${topic}:${partition}:${offset}`).digest('hex').slice(0, 32), source: `topic:${topic}` };
}
