import type { Batch, SubscribeOptions } from '@burnrate/bus';
import type { Logger } from '@burnrate/core';
import { type Anomaly, type AnomalyState, type DlqRecord, dlqOrigin, TOPICS, type UsageEvent } from '@burnrate/schemas';
import type { Store } from '@burnrate/store';
import type { z } from 'zod';

export interface SinkDeps {
  store: Pick<Store, 'insertUsageEvents' | 'insertDlq' | 'insertAnomalies' | 'insertAnomalyStates'>;
  log: Logger;
  groupId?: string;
}

export interface SinkCounters {
  written: Record<string, number>;
  invalid: number;
}

const SINK_TOPICS = [TOPICS.usageEvents, TOPICS.usageDlq, TOPICS.anomalies, TOPICS.anomalyState] as const;

/**
 * Copies every topic into the store. The bus commits a batch only after the handler resolved,
 * i.e. after the store acknowledged the insert; a crash in between redelivers the batch and the
 * tables' dedupe keys (event_id, anomaly id+version) absorb the repeat. A message that does not
 * parse is not retried forever: it becomes a DLQ row naming the topic, offset and problem.
 */
export function createSink(deps: SinkDeps): { subscribeOptions: SubscribeOptions; counters: SinkCounters } {
  const log = deps.log.child({ component: 'sink' });
  const counters: SinkCounters = { written: {}, invalid: 0 };

  const handleBatch = async (batch: Batch): Promise<void> => {
    const topic = SINK_TOPICS.find((t) => t.name === batch.topic);
    if (!topic) throw new Error(`sink subscribed to unexpected topic ${batch.topic}`);
    const valid: unknown[] = [];
    const invalid: DlqRecord[] = [];
    for (const m of batch.messages) {
      const parsed = parseMessage(topic.schema, m.value);
      if (parsed.ok) valid.push(parsed.value);
      else {
        invalid.push({
          ...dlqOrigin(m.topic, m.partition, m.offset),
          received_at: new Date(m.timestamp).toISOString(),
          reason: `message at ${m.topic}/${m.partition}@${m.offset} does not match ${m.topic}`,
          issues: parsed.issues,
          raw: m.value,
        });
      }
    }
    if (valid.length > 0) {
      switch (topic.name) {
        case TOPICS.usageEvents.name:
          await deps.store.insertUsageEvents(valid as UsageEvent[]);
          break;
        case TOPICS.usageDlq.name:
          await deps.store.insertDlq(valid as DlqRecord[]);
          break;
        case TOPICS.anomalies.name:
          await deps.store.insertAnomalies(valid as Anomaly[]);
          break;
        case TOPICS.anomalyState.name:
          await deps.store.insertAnomalyStates(valid as AnomalyState[]);
          break;
      }
      counters.written[topic.name] = (counters.written[topic.name] ?? 0) + valid.length;
    }
    if (invalid.length > 0) {
      counters.invalid += invalid.length;
      log.warn(
        { topic: batch.topic, partition: batch.partition, count: invalid.length, first: invalid[0]?.issues },
        'invalid messages sent to the DLQ table',
      );
      await deps.store.insertDlq(invalid);
    }
  };

  return {
    counters,
    subscribeOptions: {
      groupId: deps.groupId ?? 'burnrate-sink',
      topics: SINK_TOPICS.map((t) => t.name),
      maxBatchSize: 50_000,
      handleBatch,
    },
  };
}

type Parsed = { ok: true; value: unknown } | { ok: false; issues: DlqRecord['issues'] };

function parseMessage(schema: z.ZodType, text: string): Parsed {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, issues: [{ path: '(message)', message: `not JSON: ${(err as Error).message}` }] };
  }
  const result = schema.safeParse(json);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, issues: result.error.issues.map((i) => ({ path: i.path.join('.') || '(root)', message: i.message })) };
}
