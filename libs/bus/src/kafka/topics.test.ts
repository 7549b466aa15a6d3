import { describe, expect, it } from 'vitest';
import { TOPIC_NAMES } from '@burnrate/schemas';
import { declareTopics, describeChange, DETECTOR_STATE_TOPIC, type ExistingTopic, planTopicChanges, topicEnvironment } from './topics.ts';

const dev = declareTopics({ replicationFactor: 1, minInsyncReplicas: 1 });
const byName = (name: string) => dev.find((t) => t.name === name)!;
const asExisting = (overrides: Partial<ExistingTopic> = {}) =>
  dev.map((t): ExistingTopic => ({
    name: t.name,
    partitions: t.partitions,
    replicationFactor: t.replicationFactor,
    overrides: { ...t.config },
    ...overrides,
  }));

describe('topic declarations', () => {
  it('declare every topic of the schemas registry plus the detector changelog, once each', () => {
    expect(dev.map((t) => t.name).sort()).toEqual([...TOPIC_NAMES, DETECTOR_STATE_TOPIC].sort());
  });

  it('compact the keyed state topics and never the ones whose key is shared by unrelated records', () => {
    expect(byName('anomalies.v1').config['cleanup.policy']).toBe('compact');
    expect(byName('anomaly-state.v1').config['cleanup.policy']).toBe('compact');
    expect(byName(DETECTOR_STATE_TOPIC).config['cleanup.policy']).toBe('compact');
    expect(byName('usage.events.v1').config['cleanup.policy']).toBe('delete');
    // org:team carries every developer, model and hour of a team: compaction would lose totals.
    expect(byName('usage.rollups.v1').config['cleanup.policy']).toBe('delete');
    expect(byName('usage.events.v1').config['retention.ms']).toBe(String(7 * 86_400_000));
  });

  it('take replication and min.insync.replicas from the environment, defaulting to a single broker', () => {
    expect(topicEnvironment({})).toEqual({ replicationFactor: 1, minInsyncReplicas: 1 });
    const prod = declareTopics(topicEnvironment({ KAFKA_REPLICATION_FACTOR: '3', KAFKA_MIN_INSYNC_REPLICAS: '2' }));
    for (const t of prod) {
      expect(t.replicationFactor).toBe(3);
      expect(t.config['min.insync.replicas']).toBe('2');
    }
    // Partition counts do not depend on the environment: a key must land on the same partition everywhere.
    expect(prod.map((t) => t.partitions)).toEqual(dev.map((t) => t.partitions));
  });

  it('reject settings that would make every acks=all send fail, naming the variables', () => {
    expect(() => topicEnvironment({ KAFKA_MIN_INSYNC_REPLICAS: '2' })).toThrow(
      /KAFKA_MIN_INSYNC_REPLICAS \(2\) cannot exceed KAFKA_REPLICATION_FACTOR \(1\)/,
    );
    expect(() => topicEnvironment({ KAFKA_REPLICATION_FACTOR: 'three' })).toThrow(
      /KAFKA_REPLICATION_FACTOR must be a whole number.*"three"/,
    );
    expect(() => topicEnvironment({ KAFKA_REPLICATION_FACTOR: '0' })).toThrow(/at least 1/);
  });
});

describe('planTopicChanges', () => {
  it('creates every topic on an empty cluster', () => {
    const plan = planTopicChanges(dev, []);
    expect(plan.changes.map((c) => c.kind)).toEqual(dev.map(() => 'create'));
    expect(plan.warnings).toEqual([]);
    expect(describeChange(plan.changes[0]!)).toMatch(
      /^created usage\.events\.v1 .*12 partitions, replication 1, .*retention\.ms=604800000/,
    );
  });

  it('changes nothing when the cluster matches (idempotent)', () => {
    expect(planTopicChanges(dev, asExisting())).toEqual({ changes: [], warnings: [] });
  });

  it('adds partitions but never removes them', () => {
    const existing = asExisting().map((t) =>
      t.name === 'usage.events.v1' ? { ...t, partitions: 6 } : t.name === 'anomalies.v1' ? { ...t, partitions: 12 } : t,
    );
    const plan = planTopicChanges(dev, existing);
    expect(plan.changes).toEqual([{ kind: 'add-partitions', topic: 'usage.events.v1', from: 6, to: 12 }]);
    expect(describeChange(plan.changes[0]!)).toBe('usage.events.v1: partitions 6 -> 12');
    expect(plan.warnings).toEqual([
      expect.stringMatching(/^anomalies\.v1 has 12 partitions, more than the 6 declared; Kafka cannot remove partitions/),
    ]);
  });

  it('rewrites configs that drifted, resetting undeclared overrides, with the full set to write', () => {
    const existing = asExisting().map((t) =>
      t.name === 'anomalies.v1'
        ? {
            ...t,
            overrides: {
              'cleanup.policy': 'delete',
              'min.insync.replicas': '1',
              'min.compaction.lag.ms': '86400000',
              'retention.ms': '1000',
            },
          }
        : t,
    );
    const plan = planTopicChanges(dev, existing);
    expect(plan.changes).toEqual([
      {
        kind: 'set-config',
        topic: 'anomalies.v1',
        config: byName('anomalies.v1').config,
        changed: [
          { name: 'cleanup.policy', from: 'delete', to: 'compact' },
          { name: 'retention.ms', from: '1000', to: undefined },
        ],
      },
    ]);
    expect(describeChange(plan.changes[0]!)).toBe('anomalies.v1: cleanup.policy delete -> compact, retention.ms 1000 -> (broker default)');
  });

  it('reports a different replication factor instead of acting on it', () => {
    const plan = planTopicChanges(declareTopics({ replicationFactor: 3, minInsyncReplicas: 1 }), asExisting());
    expect(plan.changes).toEqual([]);
    expect(plan.warnings).toHaveLength(dev.length);
    expect(plan.warnings[0]).toMatch(/^usage\.events\.v1 has replication factor 1, not 3; .*reassign/);
  });
});
