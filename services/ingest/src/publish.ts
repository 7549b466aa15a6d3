import type { Producer } from '@burnrate/bus';
import { BurnrateError } from '@burnrate/core';
import { DlqRecord, TOPICS, type UsageEvent, usageEventKey } from '@burnrate/schemas';
import { sha256Hex } from './event-id.ts';
import type { RecordIssue } from './normalize.ts';

const MAX_REASON_LENGTH = 2000;

/** A rejected record as it goes to usage.dlq.v1: the raw text verbatim, the problems, the reason. */
export function toDlqRecord(input: {
  source: string;
  index?: number;
  issues: readonly RecordIssue[];
  raw: string;
  receivedAt: Date;
}): DlqRecord {
  const summary = input.issues.map((i) => `${i.field}: ${i.message}`).join('; ');
  const reason = summary.length > MAX_REASON_LENGTH ? `${summary.slice(0, MAX_REASON_LENGTH - 1)}…` : summary;
  return DlqRecord.parse({
    // The same bad record sent twice is one DLQ entry, not two.
    dlq_id: `${input.source}:${sha256Hex(`${input.source}\n${input.raw}`)}`,
    source: input.source,
    received_at: input.receivedAt.toISOString(),
    ...(input.index !== undefined ? { index: input.index } : {}),
    reason: reason || 'rejected',
    issues: input.issues.map((i) => ({ path: i.field, message: i.message })),
    raw: input.raw,
  });
}

/**
 * Publishes good events and rejected records, and resolves only when both topics have them
 * durably: a sender is answered 2xx only after that. Both sends are awaited even when one fails,
 * so no rejection goes unhandled; any failure becomes a retriable BUS_UNAVAILABLE (HTTP 503), and
 * a resend is safe because event ids are deterministic.
 */
export async function publishBatch(producer: Producer, events: readonly UsageEvent[], dlq: readonly DlqRecord[]): Promise<void> {
  const sends: Promise<void>[] = [];
  if (events.length > 0) {
    sends.push(
      producer.send(
        TOPICS.usageEvents.name,
        // The event itself rides along: consumers in this process take it instead of parsing the text.
        events.map((e) => ({ key: usageEventKey(e), value: JSON.stringify(e), decoded: e })),
      ),
    );
  }
  if (dlq.length > 0) {
    sends.push(
      producer.send(
        TOPICS.usageDlq.name,
        dlq.map((d) => ({ key: d.source, value: JSON.stringify(d) })),
      ),
    );
  }
  const results = await Promise.allSettled(sends);
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) {
    const cause: unknown = failure.reason;
    throw new BurnrateError('BUS_UNAVAILABLE', `could not publish ${events.length} events and ${dlq.length} rejected records`, {
      cause,
      retriable: true,
      ...(cause instanceof BurnrateError && cause.retryAfterMs !== undefined ? { retryAfterMs: cause.retryAfterMs } : {}),
    });
  }
}
