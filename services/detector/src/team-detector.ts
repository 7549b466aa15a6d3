import type { ConsumedMessage, Producer, SubscribeOptions } from '@burnrate/bus';
import { systemClock } from '@burnrate/core';
import type { Clock, Config, ConfigSource, Logger } from '@burnrate/core';
import { createTeamEngine } from '@burnrate/detection';
import type { TEAM_DETECTORS, TeamEngine, TeamEngineOptions, TeamEngineSnapshot } from '@burnrate/detection';
import type { Anomaly } from '@burnrate/schemas';
import { isSpendCorrection, safeParseTeamInput, TOPICS, type TeamInput } from '@burnrate/schemas';
import { anomalyMessage, configResolver } from './detector.ts';
import { decodeMessage } from './decode-message.ts';
import { createPartitionedConsumer } from './partitioned.ts';
import { type AnomalyCount, createAnomalyTally, type TrackedState, trackedOf } from './detector-tally.ts';
import type { Outbox } from './partition-output.ts';
import type { SnapshotHealth } from './snapshot-health.ts';
import type { SnapshotStore } from './snapshots.ts';

export const TEAM_DETECTOR_GROUP_ID = 'burnrate-team-detector';

const INPUT_TOPIC = TOPICS.usageRollups.name;
const OUTPUT_TOPIC = TOPICS.anomalies.name;
const INPUT_EVENTS_TOPIC = TOPICS.usageEvents.name;

export interface TeamDetectorDeps {
  /** Read per rollup, so a reload takes effect on the next one without losing state. */
  config: ConfigSource;
  producer: Producer;
  snapshots: SnapshotStore;
  log: Logger;
  /** Minimum wall time between two snapshots of a partition (and so between commits). Default 1000. */
  snapshotEveryMs?: number;
  /** Longest time between two snapshots of a partition whose snapshots are costly (see PartitionedConsumerDeps). Default 30 s. */
  maxSnapshotEveryMs?: number;
  clock?: Clock;
  /** Engine tuning (idle horizon, sweep interval); the defaults suit production. */
  engine?: Omit<TeamEngineOptions<typeof TEAM_DETECTORS>, 'detectors'>;
  /** Largest snapshot part in bytes (the store's limit applies too); default 8 MiB. */
  snapshotPartBytes?: number;
}

export interface TeamDetectorStats {
  /** Rollups decoded and given to the team engine. */
  processed: number;
  /** Messages that were not a valid UsageRollup or SpendCorrection. */
  invalid: number;
  /** Days of the providers' reports given to the budget forecast (SpendCorrection). */
  corrections: number;
  /** Rollups the engine already had (same or later seq from the same source): redeliveries and re-sends. */
  stale: number;
  /** Rollups for an hour already closed at the watermark: counted, not merged, logged per batch. */
  late: number;
  /** Rollups whose source had restarted its totals (see TeamEngineStats.regressed). */
  regressed: number;
  /** Rollups a detector threw on (a bug); skipped so one cannot stop a partition. */
  failed: number;
  /** Anomaly versions published to anomalies.v1 (re-publications after a crash included). */
  published: number;
  /** Anomaly versions raised, by kind, severity and status (re-raised after a crash included). */
  anomalies: AnomalyCount[];
  snapshots: number;
}

export interface TeamDetectorService {
  /** Pass to `bus.subscribe`. */
  readonly subscribeOptions: SubscribeOptions;
  /** Publishes what is pending and snapshots every partition still held. Call after the subscription stopped. */
  stop(): Promise<void>;
  stats(): TeamDetectorStats;
  /** How its partitions' snapshots are going (failures, the last error, the last save). */
  snapshotHealth(): SnapshotHealth;
  /** Keys tracked and the oldest watermark, over the partitions held now. */
  tracked(): TrackedState;
}

interface PartitionState {
  engine: TeamEngine;
  /** Late rollups in the batch in progress, logged once at its end. */
  late: number;
}

/**
 * The rollup sources stage B should expect: every partition of usage.events.v1, each a stage-A
 * partition. Given as `engine.expectedSources`, a cold start waits for each to speak (or be idle
 * for the engine's idleSourceMs) before it closes hours.
 */
export function rollupSources(usagePartitions: number): string[] {
  return Array.from({ length: usagePartitions }, (_, p) => `${INPUT_EVENTS_TOPIC}:${String(p)}`);
}

/**
 * Stage B: consumes usage.rollups.v1 (key org:team, so a team's rollups from every stage-A
 * partition meet here), runs the team engine per partition (team and team×model spend spikes,
 * model mix, cache efficiency, budget forecast) and publishes anomalies.v1. Snapshots, commits
 * and the publish-before-snapshot order are stage A's (createPartitionedConsumer); the engine's
 * merge by (source, seq) makes whatever stage A re-sends after its own restarts harmless.
 */
export function createTeamDetector(deps: TeamDetectorDeps): TeamDetectorService {
  const log = deps.log.child({ component: 'team-detector' });
  const resolveConfig = configResolver(deps.config);
  const currentConfig = (): Config => deps.config.current();
  const engineOptions: Omit<TeamEngineOptions<typeof TEAM_DETECTORS>, 'detectors'> = {
    allowedLatenessMs: () => currentConfig().detectors.allowed_lateness,
    ...deps.engine,
  };
  const stats = { processed: 0, invalid: 0, corrections: 0, stale: 0, late: 0, regressed: 0, failed: 0 };
  const raised = createAnomalyTally();

  // Every rollup goes through here: the hand-written twin of UsageRollup.safeParse, same answers.
  const inputSchema = { safeParse: safeParseTeamInput };
  const decode = (m: ConsumedMessage): TeamInput | undefined => decodeMessage(m, inputSchema, 'rollup', log);

  /** Each anomaly onto anomalies.v1, counted for /metrics. */
  const publish = (anomalies: readonly Anomaly[], out: Outbox): void => {
    for (const a of anomalies) {
      const message = anomalyMessage(a, log);
      if (message === undefined) continue;
      out.push(OUTPUT_TOPIC, message);
      raised.note(a);
    }
  };

  const newState = (): PartitionState => ({ engine: createTeamEngine(resolveConfig, engineOptions), late: 0 });
  const clock = deps.clock ?? systemClock;

  const consumer = createPartitionedConsumer<PartitionState>(
    {
      groupId: TEAM_DETECTOR_GROUP_ID,
      topic: INPUT_TOPIC,
      producer: deps.producer,
      snapshots: deps.snapshots,
      log,
      clock,
      snapshotEveryMs: deps.snapshotEveryMs ?? 1000,
      ...(deps.maxSnapshotEveryMs !== undefined ? { maxSnapshotEveryMs: deps.maxSnapshotEveryMs } : {}),
      ...(deps.snapshotPartBytes !== undefined ? { snapshotPartBytes: deps.snapshotPartBytes } : {}),
      name: 'team detector',
    },
    {
      create: newState,
      restore(_partition, value) {
        const state = newState();
        // The value was just decoded for this restore: the engine takes it without a copy.
        state.engine.restore(value as TeamEngineSnapshot, { owned: true });
        return state;
      },
      snapshot: (state) => state.engine.snapshotView(),
      describe: (state) => ({ ...state.engine.stats() }),

      apply(state, m, out) {
        const rollup = decode(m);
        if (rollup === undefined) {
          stats.invalid += 1;
          return;
        }
        if (isSpendCorrection(rollup)) {
          stats.corrections += 1;
          try {
            publish(state.engine.correct(rollup), out);
          } catch (err) {
            stats.failed += 1;
            log.error(
              { err, partition: m.partition, offset: m.offset, team: rollup.team, day: rollup.day },
              'a team detector failed on a report correction; skipped',
            );
          }
          return;
        }
        stats.processed += 1;
        try {
          // When it was received: a stage-A partition that went quiet stops holding team time back.
          const result = state.engine.process(rollup, { receivedAt: clock.now().getTime() });
          if (result.stale) stats.stale += 1;
          if (result.late) state.late += 1;
          if (result.regressed) {
            stats.regressed += 1;
            log.warn(
              { source: rollup.source, seq: rollup.seq, team: rollup.team, hour: rollup.hour },
              'rollup totals went down: its source restarted them',
            );
          }
          publish(result.anomalies, out);
        } catch (err) {
          stats.failed += 1;
          log.error(
            { err, partition: m.partition, offset: m.offset, source: rollup.source },
            'a team detector failed on a rollup; skipped',
          );
        }
      },

      endBatch(state, _out, partition) {
        if (state.late === 0) return;
        stats.late += state.late;
        log.warn(
          {
            partition,
            late: state.late,
            watermark: state.engine.stats().watermark,
            allowedLatenessMs: currentConfig().detectors.allowed_lateness,
          },
          'late rollups in batch: their hour had closed (their stage-A partition was idle, or further behind than stage B holds for)',
        );
        state.late = 0;
      },
    },
  );

  return {
    subscribeOptions: consumer.subscribeOptions,
    stop: () => consumer.stop(),
    stats: () => ({ ...stats, published: consumer.sent(OUTPUT_TOPIC), anomalies: raised.counts(), snapshots: consumer.snapshots() }),
    snapshotHealth: () => consumer.snapshotHealth(),
    tracked: () => trackedOf(consumer.states().map((state) => state.engine.stats())),
  };
}
