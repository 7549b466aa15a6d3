import type { Batch, BatchContext, ConsumedMessage, OutgoingMessage, Producer, SubscribeOptions, TopicPartition } from '@burnrate/bus';
import { partitionKey } from '@burnrate/bus';
import { detectorSettings, findTeam, plannedChangeFor, systemClock, teamCalendar, teamTimezone } from '@burnrate/core';
import type { Clock, Config, DetectorKindName, DetectorSettings, Logger } from '@burnrate/core';
import { compileCalendar, createDetectionEngine, localDate } from '@burnrate/detection';
import type {
  DETECTORS,
  DetectionEngine,
  DetectorConfigs,
  DetectorEnv,
  EngineOptions,
  EngineSnapshot,
  WorkCalendar,
} from '@burnrate/detection';
import { Anomaly, TOPICS, UsageEvent } from '@burnrate/schemas';
import { snapshotKey, type SnapshotStore } from './snapshots.ts';

export const DETECTOR_GROUP_ID = 'burnrate-detector';

const INPUT_TOPIC = TOPICS.usageEvents.name;
const OUTPUT_TOPIC = TOPICS.anomalies.name;

export interface DetectorDeps {
  /** The current config; a function lets a reload take effect on the next event without losing state. */
  config: Config | (() => Config);
  producer: Producer;
  snapshots: SnapshotStore;
  log: Logger;
  /** Minimum wall time between two snapshots of a partition (and so between commits). Default 1000. */
  snapshotEveryMs?: number;
  clock?: Clock;
  /** Engine tuning (idle horizon, dedupe capacity…); the defaults suit production. */
  engine?: Omit<EngineOptions<typeof DETECTORS>, 'detectors'>;
}

export interface DetectorStats {
  /** Messages decoded and run through the detectors (duplicates included). */
  processed: number;
  /** Messages that were not a valid UsageEvent. */
  invalid: number;
  /** Events whose event_id had been seen recently; not counted again. */
  duplicates: number;
  /**
   * Events older than the watermark minus config.detectors.allowed_lateness: counted here and
   * logged per batch; windowed detectors never merge them, session detectors may (see each).
   */
  late: number;
  /** Events a detector threw on (a bug); skipped so one event cannot stop a partition. */
  failed: number;
  /** Anomaly versions published to anomalies.v1 (re-publications after a crash included). */
  published: number;
  snapshots: number;
}

export interface DetectorService {
  /** Pass to `bus.subscribe`. */
  readonly subscribeOptions: SubscribeOptions;
  /** Publishes what is pending and snapshots every partition still held. Call after the subscription stopped. */
  stop(): Promise<void>;
  stats(): DetectorStats;
}

interface PartitionState {
  partition: number;
  key: string;
  engine: DetectionEngine;
  /** Last offset the engine state reflects; null when it reflects nothing yet. */
  applied: bigint | null;
  /** Offset of the last saved snapshot. */
  saved: bigint | null;
  /** Anomalies produced but not yet acknowledged by the bus; a snapshot waits until this is empty. */
  pending: OutgoingMessage[];
  lastSavedAt: number;
  /** Serialises batches, revokes and stop on one partition. */
  lock: Promise<unknown>;
}

/**
 * The detector: consumes usage.events.v1, runs the detection engine per partition and publishes
 * anomalies.v1 (key = anomaly id).
 *
 * Exactly-once effect on state, at-least-once on output: each partition's engine state is
 * snapshotted with the last offset it reflects, and only after that snapshot is durable is the
 * offset committed. On assignment the snapshot is restored and consumption starts right after
 * its offset, so events are never counted twice; anything processed after the last snapshot is
 * replayed and re-emits the same anomaly ids and versions, which downstream treats as duplicates.
 * Anomalies are published (and acknowledged) before any snapshot that includes their effect, so a
 * crash can repeat an alert but never lose one.
 */
export function createDetector(deps: DetectorDeps): DetectorService {
  const log = deps.log.child({ component: 'detector' });
  const clock = deps.clock ?? systemClock;
  const snapshotEveryMs = deps.snapshotEveryMs ?? 1000;
  const resolveConfig = configResolver(deps.config);
  const currentConfig = typeof deps.config === 'function' ? deps.config : () => deps.config as Config;
  const engineOptions: Omit<EngineOptions<typeof DETECTORS>, 'detectors'> = {
    allowedLatenessMs: () => currentConfig().detectors.allowed_lateness,
    ...deps.engine,
  };
  const partitions = new Map<number, PartitionState>();
  // onAssigned and a first batch may both ask for a partition; it is loaded once.
  const loading = new Map<number, Promise<PartitionState>>();
  const stats: DetectorStats = { processed: 0, invalid: 0, duplicates: 0, late: 0, failed: 0, published: 0, snapshots: 0 };

  const withLock = <T>(p: PartitionState, fn: () => Promise<T>): Promise<T> => {
    const run = p.lock.then(fn, fn);
    p.lock = run.catch(() => undefined);
    return run;
  };

  const load = async (partition: number): Promise<PartitionState> => {
    const key = snapshotKey(INPUT_TOPIC, partition);
    const p: PartitionState = {
      partition,
      key,
      engine: createDetectionEngine(resolveConfig, engineOptions),
      applied: null,
      saved: null,
      pending: [],
      lastSavedAt: clock.now().getTime(),
      lock: Promise.resolve(),
    };
    const snapshot = await deps.snapshots.load(key);
    if (snapshot !== undefined) {
      try {
        p.engine.restore(JSON.parse(snapshot.state) as EngineSnapshot);
        p.applied = BigInt(snapshot.offset);
        p.saved = p.applied;
      } catch (err) {
        // Better to rebuild session state from new events than to stop detecting altogether.
        log.error({ err, key, offset: snapshot.offset }, 'detector snapshot unreadable; starting this partition with empty state');
        p.engine = createDetectionEngine(resolveConfig, engineOptions);
      }
    }
    partitions.set(partition, p);
    log.info({ partition, offset: p.applied?.toString() ?? null, ...p.engine.stats() }, 'partition state loaded');
    return p;
  };

  const held = async (partition: number): Promise<PartitionState> => {
    const p = partitions.get(partition);
    if (p !== undefined) return p;
    let pending = loading.get(partition);
    if (pending === undefined) {
      pending = load(partition).finally(() => loading.delete(partition));
      loading.set(partition, pending);
    }
    return pending;
  };

  const publishPending = async (p: PartitionState): Promise<void> => {
    if (p.pending.length === 0) return;
    const messages = p.pending;
    await deps.producer.send(OUTPUT_TOPIC, messages);
    p.pending = [];
    stats.published += messages.length;
  };

  const save = async (p: PartitionState): Promise<boolean> => {
    if (p.pending.length > 0 || p.applied === null) return false;
    if (p.applied !== p.saved) {
      const offset = p.applied;
      await deps.snapshots.save({ key: p.key, offset: offset.toString(), state: JSON.stringify(p.engine.snapshot()) });
      p.saved = offset;
      stats.snapshots += 1;
    }
    p.lastSavedAt = clock.now().getTime();
    return true;
  };

  const release = async (p: PartitionState): Promise<void> => {
    try {
      await publishPending(p);
      await save(p);
    } catch (err) {
      // The last snapshot stays behind: the next owner replays from it and re-emits the same versions.
      log.error({ err, partition: p.partition }, 'could not publish and snapshot a partition on release; it will be replayed');
    }
  };

  const decode = (m: ConsumedMessage): UsageEvent | undefined => {
    let json: unknown;
    try {
      json = JSON.parse(m.value);
    } catch {
      log.warn({ partition: m.partition, offset: m.offset, key: m.key }, 'usage event is not JSON; skipped');
      return undefined;
    }
    const parsed = UsageEvent.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
      log.warn({ partition: m.partition, offset: m.offset, key: m.key, issues }, 'usage event failed validation; skipped');
      return undefined;
    }
    return parsed.data;
  };

  const toMessage = (a: Anomaly): OutgoingMessage | undefined => {
    const checked = Anomaly.safeParse(a);
    if (!checked.success) {
      log.error(
        { anomalyId: a.id, kind: a.kind, issues: checked.error.issues.slice(0, 5) },
        'detector produced an invalid anomaly; not published',
      );
      return undefined;
    }
    return { key: checked.data.id, value: JSON.stringify(checked.data) };
  };

  const handleBatch = async (batch: Batch, ctx: BatchContext): Promise<void> => {
    if (batch.topic !== INPUT_TOPIC) return;
    const p = await held(batch.partition);
    await withLock(p, async () => {
      // A send that failed last time goes first, so anomalies leave in the order they were found.
      await publishPending(p);
      let late = 0;
      for (const m of batch.messages) {
        if (ctx.signal.aborted) break;
        const offset = BigInt(m.offset);
        // Already in the restored state: the bus redelivered from before the snapshot's offset.
        if (p.applied !== null && offset <= p.applied) continue;
        const event = decode(m);
        if (event === undefined) {
          stats.invalid += 1;
        } else {
          stats.processed += 1;
          try {
            const result = p.engine.process(event);
            if (result.duplicate) stats.duplicates += 1;
            if (result.late) late += 1;
            for (const a of result.anomalies) {
              const message = toMessage(a);
              if (message !== undefined) p.pending.push(message);
            }
          } catch (err) {
            stats.failed += 1;
            log.error({ err, partition: m.partition, offset: m.offset, eventId: event.event_id }, 'a detector failed on an event; skipped');
          }
        }
        p.applied = offset;
      }
      if (late > 0) {
        stats.late += late;
        const { watermark, lateDropped } = p.engine.stats();
        log.warn(
          { partition: p.partition, late, watermark, allowedLatenessMs: currentConfig().detectors.allowed_lateness, lateDropped },
          'late events in batch: older than the watermark minus the allowed lateness; windowed detectors did not take them',
        );
      }
      await publishPending(p);
      if (clock.now().getTime() - p.lastSavedAt >= snapshotEveryMs && (await save(p)) && p.saved !== null) {
        await ctx.commit(p.saved.toString());
      }
    });
  };

  const subscribeOptions: SubscribeOptions = {
    groupId: DETECTOR_GROUP_ID,
    topics: [INPUT_TOPIC],
    autoCommit: false,
    handleBatch,
    async onAssigned(assigned: readonly TopicPartition[]) {
      const starts: Record<string, string> = {};
      for (const tp of assigned) {
        if (tp.topic !== INPUT_TOPIC) continue;
        const p = await held(tp.partition);
        if (p.applied !== null) starts[partitionKey(tp)] = (p.applied + 1n).toString();
      }
      return starts;
    },
    async onRevoked(revoked: readonly TopicPartition[]) {
      for (const tp of revoked) {
        if (tp.topic !== INPUT_TOPIC) continue;
        const p = partitions.get(tp.partition);
        if (p === undefined) continue;
        await withLock(p, () => release(p));
        partitions.delete(tp.partition);
      }
    },
  };

  return {
    subscribeOptions,
    async stop() {
      for (const p of [...partitions.values()]) {
        await withLock(p, () => release(p));
        partitions.delete(p.partition);
      }
    },
    stats: () => ({ ...stats }),
  };
}

/**
 * Detector configs from the Burnrate config, rebuilt only when the config object changes (a
 * reload). Settings are memoised per team and developer, calendars per team and planned changes
 * per team and local day, because detectors ask for them per event.
 */
export function detectorConfigs(config: Config): DetectorConfigs {
  const calendars = new Map<string, WorkCalendar>();
  const calendarFor = (team: string): WorkCalendar => {
    let cal = calendars.get(team);
    if (cal === undefined) {
      cal = compileCalendar(teamCalendar(config, team), teamTimezone(config, team));
      calendars.set(team, cal);
    }
    return cal;
  };

  const envOf = <K extends DetectorKindName>(kind: K): DetectorEnv<DetectorSettings[K]> => {
    const byTeam = new Map<string, Map<string, DetectorSettings[K]>>();
    const planned = new Map<string, string | null>();
    return {
      settingsFor({ team, developer }) {
        let devs = byTeam.get(team);
        if (devs === undefined) {
          devs = new Map();
          byTeam.set(team, devs);
        }
        const dev = developer ?? '';
        let s = devs.get(dev);
        if (s === undefined) {
          s = detectorSettings(config, kind, { team, developer });
          devs.set(dev, s);
        }
        return s;
      },
      calendarFor,
      plannedChange(team, atMs) {
        if (config.detectors.planned_changes.length === 0) return undefined;
        const day = localDate(calendarFor(team), atMs);
        const key = `${team}\u001f${day}`;
        let note = planned.get(key);
        if (note === undefined) {
          note = plannedChangeFor(config, kind, team, day)?.note ?? null;
          // Bounded: planned changes are looked up per (team, day) seen, a few hundred a year.
          if (planned.size > 10_000) planned.clear();
          planned.set(key, note);
        }
        return note ?? undefined;
      },
    };
  };

  const spendSpike = envOf('spend_spike');
  const modelMixDrift = envOf('model_mix_drift');
  const cacheEfficiencyDrop = envOf('cache_efficiency_drop');
  return {
    session_cost: envOf('session_cost'),
    runaway_session: envOf('runaway_session'),
    context_bloat: envOf('context_bloat'),
    new_spender: envOf('new_spender'),
    spend_spike: spendSpike,
    model_mix_drift: modelMixDrift,
    cache_efficiency_drop: cacheEfficiencyDrop,
    // Team scope reads the same settings; settingsFor({ team }) takes only team-level overrides.
    spend_spike_team: spendSpike,
    model_mix_drift_team: modelMixDrift,
    cache_efficiency_drop_team: cacheEfficiencyDrop,
    budget_forecast: { ...envOf('budget_forecast'), budgetFor: (team) => findTeam(config, team)?.budget?.monthly_usd },
  };
}

function configResolver(config: Config | (() => Config)): () => DetectorConfigs {
  const current = typeof config === 'function' ? config : () => config;
  let seen: Config | undefined;
  let resolved: DetectorConfigs | undefined;
  return () => {
    const c = current();
    if (c !== seen || resolved === undefined) {
      seen = c;
      resolved = detectorConfigs(c);
    }
    return resolved;
  };
}
