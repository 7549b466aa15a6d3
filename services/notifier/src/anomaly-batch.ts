import type { Batch, ConsumedMessage } from '@burnrate/bus';
import { formatPath } from '@burnrate/core';
import { createHash } from 'node:crypto';
import { Anomaly, type DlqRecord, dlqOrigin, TOPICS } from '@burnrate/schemas';

/** A DLQ row with the bus message it is about (its position, for logs). */
export interface DeadLetter {
  record: DlqRecord;
  message: ConsumedMessage;
}

/** A batch of anomalies.v1 read: the valid anomalies with their messages, and a DLQ row for each message that is not one. */
export interface AnomalyBatch {
  anomalies: Anomaly[];
  /** `messages[i]` carried `anomalies[i]`. */
  messages: ConsumedMessage[];
  rejected: DeadLetter[];
}

export function readAnomalyBatch(batch: Batch, now: Date): AnomalyBatch {
  const out: AnomalyBatch = { anomalies: [], messages: [], rejected: [] };
  for (const m of batch.messages) {
    const dlq = (reason: string, issues: DlqRecord['issues']): DlqRecord => ({
      ...dlqOrigin(m.topic, m.partition, m.offset),
      received_at: now.toISOString(),
      reason,
      issues,
      raw: m.value,
    });
    let json: unknown;
    try {
      json = JSON.parse(m.value);
    } catch (err) {
      out.rejected.push({
        record: dlq(`not JSON: ${(err as Error).message}`, [{ path: '(root)', message: (err as Error).message }]),
        message: m,
      });
      continue;
    }
    const parsed = Anomaly.safeParse(json);
    if (parsed.success) {
      out.anomalies.push(parsed.data);
      out.messages.push(m);
      continue;
    }
    const issues = parsed.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message }));
    out.rejected.push({
      record: dlq(`not a valid ${TOPICS.anomalies.name} Anomaly: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues),
      message: m,
    });
  }
  return out;
}

/**
 * The DLQ row for an anomaly the notifier gave up on a non-retriable error: in practice the store
 * refusing its delivery records. Its id is the notifier's own for that message: the sink, which reads the same topic,
 * may dead-letter the same message for its own reason, and both rows are kept. The anomaly id is
 * quoted as JSON so a lone surrogate in it shows as an escape rather than poisoning the reason.
 */
export function refusedAnomalyDlq(m: ConsumedMessage, anomaly: Anomaly, error: unknown, now: Date): DlqRecord {
  const message = error instanceof Error ? error.message : String(error);
  return {
    dlq_id: createHash('sha256').update(`notifier:${m.topic}:${m.partition}:${m.offset}`).digest('hex').slice(0, 32),
    source: dlqOrigin(m.topic, m.partition, m.offset).source,
    received_at: now.toISOString(),
    reason: `not delivered: handling anomaly ${JSON.stringify(anomaly.id)} v${anomaly.version} at ${m.topic}/${m.partition}@${m.offset} failed for good: ${message.split('\n')[0]}`,
    issues: [{ path: /value of key ([\w.]+)/.exec(message)?.[1] ?? '(record)', message }],
    raw: m.value,
  };
}
