import { createHash } from 'node:crypto';
import { z } from 'zod';
import { Instant } from './common.ts';
import { UsageEvent } from './usage-event.v1.ts';

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

// A field named by a rejected record is whatever the sender wrote (an unknown key, an attribute's
// name), so metrics keep only the fields a usage event has: a bounded set of label values.
const KNOWN_FIELDS = new Set([...Object.keys(UsageEvent.shape), '(record)', '(message)', '(root)']);

/**
 * The field a DLQ record's first problem names, as a metric label: `attributes.team.id` →
 * `attributes`, `tokens[2]` → `tokens`; a field no usage event has → `other`.
 */
export function dlqField(record: Pick<DlqRecord, 'issues'>): string {
  const path = record.issues[0]?.path ?? '(record)';
  const top = /^[^.[]+/.exec(path)?.[0] ?? path;
  return KNOWN_FIELDS.has(top) ? top : 'other';
}

/** Why a record is in the DLQ, as the metrics count it. */
export type DlqReason =
  /** Ingest could not make a usage event of it. */
  | 'invalid_record'
  /** Its event_id was already accepted with other content. */
  | 'conflict'
  /** A bus message that does not match its topic's schema. */
  | 'invalid_message'
  /** The store refused the row. */
  | 'store_refused';

/** DLQ records counted by source, reason and field (see dlqField), as the processes that write them keep it. */
export interface DlqCount {
  source: string;
  reason: DlqReason;
  field: string;
  count: number;
}

/** Adds one record to `counts` (keyed by source, reason and field). */
export function countDlq(counts: Map<string, DlqCount>, record: Pick<DlqRecord, 'source' | 'issues'>, reason: DlqReason): void {
  const field = dlqField(record);
  const key = `${record.source}\n${reason}\n${field}`;
  const entry = counts.get(key) ?? { source: record.source, reason, field, count: 0 };
  entry.count += 1;
  counts.set(key, entry);
}
