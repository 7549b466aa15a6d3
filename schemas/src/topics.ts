import type { z } from 'zod';
import { Anomaly } from './anomaly.v1.ts';
import { AnomalyState } from './anomaly-state.v1.ts';
import { BackfillWindow } from './backfill-window.v1.ts';
import { DlqRecord } from './dlq.v1.ts';
import { UsageEvent } from './usage-event.v1.ts';
import { TeamInput } from './spend-correction.v1.ts';

/**
 * Every topic Burnrate produces, with its schema and what its key is. Names are
 * `<domain>.<event>.v<N>`; a breaking change is a new version and a new entry here.
 */
export const TOPICS = {
  usageEvents: { name: 'usage.events.v1', schema: UsageEvent, key: 'org:developer' },
  usageDlq: { name: 'usage.dlq.v1', schema: DlqRecord, key: 'source' },
  anomalies: { name: 'anomalies.v1', schema: Anomaly, key: 'anomaly id' },
  anomalyState: { name: 'anomaly-state.v1', schema: AnomalyState, key: 'anomaly id' },
  usageRollups: { name: 'usage.rollups.v1', schema: TeamInput, key: 'org:team' },
  usageBackfill: { name: 'usage.backfill.v1', schema: BackfillWindow, key: 'org' },
} as const satisfies Record<string, { name: string; schema: z.ZodType; key: string }>;

export type TopicId = keyof typeof TOPICS;
export type TopicName = (typeof TOPICS)[TopicId]['name'];
export const TOPIC_NAMES: readonly TopicName[] = Object.values(TOPICS).map((t) => t.name);

/** Kafka-style key for a usage event: events of one developer stay in order on one partition. */
export const usageEventKey = (e: { org: string; developer: string }): string => `${e.org}:${e.developer}`;
