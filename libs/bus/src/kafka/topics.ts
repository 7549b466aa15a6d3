import { TOPICS } from '@burnrate/schemas';

/**
 * Every Kafka topic Burnrate uses, declared as code. `burnrate topics apply` makes a cluster match
 * these declarations (creates, adds partitions, sets configs); services never create topics, so a
 * misspelt or missing topic fails loudly instead of appearing with broker defaults.
 */

/** Compacted changelog of detector snapshots (key `detector:<topic>:<partition>`), the distributed twin of detector_snapshots_v1. */
export const DETECTOR_STATE_TOPIC = 'detector-state.v1';

export interface TopicDeclaration {
  name: string;
  /** Upper bound on consumers of one group sharing the topic. Can only grow (keys move to other partitions when it does). */
  partitions: number;
  replicationFactor: number;
  /** Topic-level settings; `apply` sets exactly these and resets any other topic override. */
  config: Record<string, string>;
  /** What the topic carries; printed when apply creates it. */
  purpose: string;
}

export interface TopicEnvironment {
  /** 1 for a single dev broker; 3 on a production cluster. */
  replicationFactor: number;
  /** 1 for a single dev broker; 2 with replication 3, so acks=all survives one broker down. */
  minInsyncReplicas: number;
}

const DAY_MS = 86_400_000;

/**
 * The declarations for a cluster. Partition counts are the scaling unit (instances per group);
 * they are the same in every environment so a key maps to the same partition everywhere.
 */
export function declareTopics(env: TopicEnvironment): TopicDeclaration[] {
  const common = { 'min.insync.replicas': String(env.minInsyncReplicas) };
  const rf = env.replicationFactor;
  return [
    {
      name: TOPICS.usageEvents.name,
      partitions: 12,
      replicationFactor: rf,
      // A week of raw events lets a detector rebuilt from scratch replay its baselines' recent
      // window; the store keeps history beyond that.
      config: { ...common, 'cleanup.policy': 'delete', 'retention.ms': String(7 * DAY_MS), 'compression.type': 'producer' },
      purpose: 'normalised usage events, key org:developer',
    },
    {
      name: TOPICS.usageDlq.name,
      partitions: 3,
      replicationFactor: rf,
      config: { ...common, 'cleanup.policy': 'delete', 'retention.ms': String(30 * DAY_MS) },
      purpose: 'rejected input with the reason, key source',
    },
    {
      name: TOPICS.usageRollups.name,
      partitions: 6,
      replicationFactor: rf,
      // Not compacted: the key (org:team) is shared by every developer, model and hour of a team,
      // so compaction would drop totals stage B has not merged yet.
      config: { ...common, 'cleanup.policy': 'delete', 'retention.ms': String(7 * DAY_MS) },
      purpose: 'per team×model×hour running totals from stage A to stage B, key org:team',
    },
    {
      name: TOPICS.usageBackfill.name,
      // Keyed by org: one member of the backfill group gathers every window of an org. A handful
      // of messages per import or poll; kept a week like the events they point at.
      partitions: 3,
      replicationFactor: rf,
      config: { ...common, 'cleanup.policy': 'delete', 'retention.ms': String(7 * DAY_MS) },
      purpose: 'late usage stage A did not judge (org, time span, count), for the backfill runner, key org',
    },
    {
      name: TOPICS.anomalies.name,
      partitions: 6,
      replicationFactor: rf,
      // Keyed by anomaly id: compaction keeps each anomaly's latest version forever. The lag keeps
      // every version for a day, so a notifier that was down still sees v1 before v2.
      config: { ...common, 'cleanup.policy': 'compact', 'min.compaction.lag.ms': String(DAY_MS) },
      purpose: 'anomaly versions, key anomaly id (compacted: latest version per anomaly)',
    },
    {
      name: TOPICS.anomalyState.name,
      partitions: 6,
      replicationFactor: rf,
      config: { ...common, 'cleanup.policy': 'compact', 'min.compaction.lag.ms': String(DAY_MS) },
      purpose: 'acknowledge / snooze / resolve decisions, key anomaly id (compacted)',
    },
    {
      name: DETECTOR_STATE_TOPIC,
      partitions: 6,
      replicationFactor: rf,
      config: {
        ...common,
        'cleanup.policy': 'compact',
        // Only the latest snapshot of a key matters; short segments and a low dirty ratio let the
        // cleaner drop superseded ones (a closed segment is the unit of compaction).
        'segment.ms': String(60 * 60 * 1000),
        'min.cleanable.dirty.ratio': '0.1',
        // A detector state is written as parts of at most 8 MiB of JSON each (a partition of
        // millions of keys is gigabytes): gzip shrinks a part several times, and with its headers
        // any part fits one record with room to spare.
        'max.message.bytes': String(16 * 1024 * 1024),
      },
      purpose:
        'detector snapshots: parts keyed detector:<topic>:<partition>#<slot>.<n>, manifest keyed detector:<topic>:<partition> (compacted changelog)',
    },
  ];
}

/** Reads KAFKA_REPLICATION_FACTOR and KAFKA_MIN_INSYNC_REPLICAS from the given env (defaults: 1 and 1, a single dev broker). */
/** How many partitions `topic` is declared with: what consumer groups scale by, the same in every environment. */
export function declaredPartitions(topic: string): number {
  const declared = declareTopics({ replicationFactor: 1, minInsyncReplicas: 1 }).find((t) => t.name === topic);
  if (declared === undefined) throw new Error(`topic ${topic} is not declared in topics.ts`);
  return declared.partitions;
}

export function topicEnvironment(env: Readonly<Record<string, string | undefined>>): TopicEnvironment {
  const replicationFactor = positiveInteger(env.KAFKA_REPLICATION_FACTOR, 'KAFKA_REPLICATION_FACTOR', 1);
  const minInsyncReplicas = positiveInteger(env.KAFKA_MIN_INSYNC_REPLICAS, 'KAFKA_MIN_INSYNC_REPLICAS', 1);
  if (minInsyncReplicas > replicationFactor) {
    throw new RangeError(
      `KAFKA_MIN_INSYNC_REPLICAS (${minInsyncReplicas}) cannot exceed KAFKA_REPLICATION_FACTOR (${replicationFactor}): every acks=all send would fail`,
    );
  }
  return { replicationFactor, minInsyncReplicas };
}

function positiveInteger(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${name} must be a whole number of at least 1, not ${JSON.stringify(value)}`);
  return n;
}

/** What a cluster has for one topic, as `apply` reads it. */
export interface ExistingTopic {
  name: string;
  partitions: number;
  replicationFactor: number;
  /** Topic-level overrides only (not broker defaults). */
  overrides: Record<string, string>;
}

export type TopicChange =
  | { kind: 'create'; topic: TopicDeclaration }
  | { kind: 'add-partitions'; topic: string; from: number; to: number }
  | {
      kind: 'set-config';
      topic: string;
      /** The complete set of overrides to write (AlterConfigs replaces them all). */
      config: Record<string, string>;
      changed: { name: string; from: string | undefined; to: string | undefined }[];
    };

export interface TopicPlan {
  changes: TopicChange[];
  /** Differences apply cannot fix by itself; printed, never acted on. */
  warnings: string[];
}

/**
 * The changes that make `existing` match `declared`. Pure, so the rules are unit-tested without a
 * broker: missing topics are created; partitions only grow (shrinking is impossible in Kafka);
 * configs are rewritten when any declared value differs or an undeclared override is present;
 * the replication factor is only reported (changing it is a partition reassignment).
 */
export function planTopicChanges(declared: readonly TopicDeclaration[], existing: readonly ExistingTopic[]): TopicPlan {
  const byName = new Map(existing.map((t) => [t.name, t]));
  const changes: TopicChange[] = [];
  const warnings: string[] = [];
  for (const topic of declared) {
    const current = byName.get(topic.name);
    if (current === undefined) {
      changes.push({ kind: 'create', topic });
      continue;
    }
    if (current.partitions < topic.partitions) {
      changes.push({ kind: 'add-partitions', topic: topic.name, from: current.partitions, to: topic.partitions });
    } else if (current.partitions > topic.partitions) {
      warnings.push(
        `${topic.name} has ${current.partitions} partitions, more than the ${topic.partitions} declared; Kafka cannot remove partitions, left as is`,
      );
    }
    if (current.replicationFactor !== topic.replicationFactor) {
      warnings.push(
        `${topic.name} has replication factor ${current.replicationFactor}, not ${topic.replicationFactor}; change it with a partition reassignment (kafka-reassign-partitions), apply does not`,
      );
    }
    const names = new Set([...Object.keys(topic.config), ...Object.keys(current.overrides)]);
    const changed = [...names]
      .sort()
      .map((name) => ({ name, from: current.overrides[name], to: topic.config[name] }))
      .filter((c) => c.from !== c.to);
    if (changed.length > 0) changes.push({ kind: 'set-config', topic: topic.name, config: { ...topic.config }, changed });
  }
  return { changes, warnings };
}

/** One line per change, as `burnrate topics apply` prints them. */
export function describeChange(change: TopicChange): string {
  switch (change.kind) {
    case 'create':
      return `created ${change.topic.name} (${change.topic.purpose}): ${change.topic.partitions} partitions, replication ${change.topic.replicationFactor}, ${Object.entries(
        change.topic.config,
      )
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`;
    case 'add-partitions':
      return `${change.topic}: partitions ${change.from} -> ${change.to}`;
    case 'set-config':
      return `${change.topic}: ${change.changed
        .map((c) => (c.to === undefined ? `${c.name} ${c.from} -> (broker default)` : `${c.name} ${c.from ?? '(default)'} -> ${c.to}`))
        .join(', ')}`;
  }
}
