import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';
import type { Logger } from '@burnrate/core';

export const LOAD_AWARE_ASSIGNER = 'BurnrateLoadAware';

/** A partition and what it weighs: the messages it holds. */
export interface WeightedPartition {
  topic: string;
  partition: number;
  weight: number;
}

/**
 * Spreads partitions over members by load, not by count: heaviest partition first, each to the
 * member with the least load so far (ties: fewer partitions, then member id), the "longest
 * processing time first" rule, within 4/3 of the best split. Keys are skewed (a power user's
 * partition can hold a third of the events), so a round robin can give one member twice the
 * work of another while the instance's other threads idle. Deterministic for equal inputs.
 */
export function assignByLoad(
  memberIds: readonly string[],
  partitions: readonly WeightedPartition[],
): Map<string, Record<string, number[]>> {
  const members = [...memberIds].sort().map((id) => {
    const topics: Record<string, number[]> = {};
    return { id, load: 0, count: 0, topics };
  });
  const heaviestFirst = [...partitions].sort(
    (a, b) => b.weight - a.weight || (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0) || a.partition - b.partition,
  );
  for (const p of heaviestFirst) {
    let best = members[0];
    if (best === undefined) break;
    for (const m of members) if (m.load < best.load || (m.load === best.load && m.count < best.count)) best = m;
    best.load += p.weight;
    best.count += 1;
    (best.topics[p.topic] ??= []).push(p.partition);
  }
  for (const m of members) for (const list of Object.values(m.topics)) list.sort((a, b) => a - b);
  return new Map(members.map((m) => [m.id, m.topics]));
}

/**
 * A kafkajs partition assigner that weighs each partition by the messages it holds (high minus
 * low watermark: its share of the traffic over the retention, and all of a backlog being caught
 * up) and assigns with `assignByLoad`. Every partition also weighs one message, so empty ones
 * still spread evenly. When the offsets cannot be read it weighs partitions equally (a round
 * robin) and says so. Listed before RoundRobin, so a group with older members agrees on that.
 */
export function loadAwareAssigner(log: Logger): PartitionAssigner {
  return ({ cluster }) => ({
    name: LOAD_AWARE_ASSIGNER,
    version: 0,
    async assign({ members, topics }) {
      const partitions: WeightedPartition[] = [];
      for (const topic of topics) {
        const ids = cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId);
        const held = new Map<number, number>();
        try {
          const query = [{ topic, partitions: ids.map((partition) => ({ partition })) }];
          const [high, low] = await Promise.all([
            cluster.fetchTopicsOffset(query.map((q) => ({ ...q, fromBeginning: false }))),
            cluster.fetchTopicsOffset(query.map((q) => ({ ...q, fromBeginning: true }))),
          ]);
          const lowOf = new Map((low[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
          for (const p of high[0]?.partitions ?? []) held.set(p.partition, Math.max(0, Number(p.offset) - (lowOf.get(p.partition) ?? 0)));
        } catch (err) {
          log.warn({ err, topic }, 'could not read partition offsets for the assignment; partitions weigh the same this time');
        }
        for (const partition of ids) partitions.push({ topic, partition, weight: 1 + (held.get(partition) ?? 0) });
      }
      const assignment = assignByLoad(
        members.map((m) => m.memberId),
        partitions,
      );
      log.info(
        { members: members.length, topics, load: Object.fromEntries([...assignment].map(([id, t]) => [id, t])) },
        'partitions assigned by load',
      );
      return [...assignment].map(([memberId, assigned]) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: assigned, userData: Buffer.alloc(0) }),
      }));
    },
    protocol({ topics }) {
      return {
        name: LOAD_AWARE_ASSIGNER,
        metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }),
      };
    },
  });
}
