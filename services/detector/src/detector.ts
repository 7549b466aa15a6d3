import type { ConsumedMessage, OutgoingMessage, Producer, SubscribeOptions } from '@burnrate/bus';
import { partitionKey } from '@burnrate/bus';
import { detectorSettings, findTeam, plannedSpans, receiversOf, systemClock, teamCalendar, teamTimezone } from '@burnrate/core';
import type { Clock, Config, ConfigSource, DetectorKindName, DetectorSettings, Logger } from '@burnrate/core';
import {
  addToRollup,
  compileCalendar,
  createDetectionEngine,
  createRollupState,
  DEFAULT_MAX_CLOCK_SKEW_MS,
  developerSpikesOf,
  localMidnight,
  restoreRollupState,
  rollupSize,
  takeRollups,
} from '@burnrate/detection';
import type {
  DETECTORS,
  DetectionEngine,
  DeveloperSpikeOf,
  DetectorConfigs,
  DetectorEnv,
  EngineOptions,
  EngineSnapshot,
  RollupState,
  TeamDetectorConfigs,
  WorkCalendar,
} from '@burnrate/detection';
import {
  Anomaly,
  safeParseUsageEvent,
  safeParseUsageRollup,
  TOPICS,
  type UsageEvent,
  type UsageRollup,
  usageRollupKey,
} from '@burnrate/schemas';
import { decodeMessage } from './decode-message.ts';
import { LateSpans } from './late-spans.ts';
import { createLostEventsTally, type LostEventsHealth } from './lost-events-tally.ts';
import { createPartitionedConsumer } from './partitioned.ts';
import type { SnapshotHealth } from './snapshot-health.ts';
import { type AnomalyCount, createAnomalyTally, type TrackedState, trackedOf } from './detector-tally.ts';
import type { SnapshotStore } from './snapshots.ts';

export const DETECTOR_GROUP_ID = 'burnrate-detector';

const INPUT_TOPIC = TOPICS.usageEvents.name;
const OUTPUT_TOPIC = TOPICS.anomalies.name;
const ROLLUP_TOPIC = TOPICS.usageRollups.name;
const BACKFILL_TOPIC = TOPICS.usageBackfill.name;

export interface DetectorDeps {
  /** Read per event, so a reload takes effect on the next one without losing state. */
  config: ConfigSource;
  producer: Producer;
  snapshots: SnapshotStore;
  log: Logger;
  /** Minimum wall time between two snapshots of a partition (and so between commits). Default 1000. */
  snapshotEveryMs?: number;
  /** Longest time between two snapshots of a partition whose snapshots are costly (see PartitionedConsumerDeps). Default 30 s. */
  maxSnapshotEveryMs?: number;
  clock?: Clock;
  /** Engine tuning (idle horizon, dedupe capacity…); the defaults suit production. */
  engine?: Omit<EngineOptions<typeof DETECTORS>, 'detectors'>;
  /** Largest snapshot part in bytes (the store's limit applies too); default 8 MiB. Tests set it small to get many parts. */
  snapshotPartBytes?: number;
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
   * Their spans go to usage.backfill.v1, for the backfill runner to judge.
   */
  late: number;
  /**
   * Report buckets (usage and cost APIs) of a provider whose request-level events this partition
   * already judges: stored and reconciled, not judged again (LIVE_SILENCE_MS in @burnrate/detection).
   */
  superseded: number;
  /** Events a detector threw on (a bug); skipped so one event cannot stop a partition. */
  failed: number;
  /** Anomaly versions published to anomalies.v1 (re-publications after a crash included). */
  published: number;
  /** Anomaly versions raised, by kind, severity and status (re-raised after a crash included). */
  anomalies: AnomalyCount[];
  /** Rollups published to usage.rollups.v1 for stage B (re-publications after a crash included). */
  rollups: number;
  /** Spans of late events published to usage.backfill.v1 (one per org and batch that had any). */
  backfillWindows: number;
  snapshots: number;
}

export interface DetectorService {
  /** Pass to `bus.subscribe`. */
  readonly subscribeOptions: SubscribeOptions;
  /** Publishes what is pending and snapshots every partition still held. Call after the subscription stopped. */
  stop(): Promise<void>;
  stats(): DetectorStats;
  /** How its partitions' snapshots are going (failures, the last error, the last save). */
  snapshotHealth(): SnapshotHealth;
  /** Keys tracked and the oldest watermark, over the partitions held now. */
  tracked(): TrackedState;
  /** Claude Code sessions whose metrics counted more than their request events, since start (lost_events anomalies published). */
  lostEvents(): LostEventsHealth;
}

/** A stage-A partition: the engine, and the team totals it sends to stage B. Saved together with one offset. */
interface PartitionState {
  engine: DetectionEngine;
  /** The engine's developer spikes, sent with the rollups (developer_spike_usd). */
  spikes: DeveloperSpikeOf;
  rollups: RollupState;
  /** `usage.events.v1:<partition>`: the rollups' source. */
  source: string;
  /** Late events in the batch in progress, logged once at its end. */
  late: number;
  /** Their spans per org, published to usage.backfill.v1 at the batch's end. */
  lateSpans: LateSpans;
}

/** What a stage-A snapshot holds. Format 1 was the engine snapshot alone (before rollups). */
interface PartitionSnapshot {
  format: 2;
  engine: EngineSnapshot;
  rollups: RollupState;
}

/**
 * Stage A: consumes usage.events.v1, runs the detection engine per partition (session,
 * developer and developer×model scope) and publishes anomalies.v1 (key = anomaly id). Each
 * partition also keeps the running totals of every team×model×hour it counts and, at the end of
 * each batch, publishes the changed ones to usage.rollups.v1 (key org:team) for stage B, the team
 * detector (team-detector.ts): a team's developers are spread over partitions, so team scope is
 * judged where the rollups meet.
 *
 * Anomalies and rollups are published before the snapshot that includes them, then the offset is
 * committed (see createPartitionedConsumer). The rollup totals are in the snapshot, so a restart
 * continues them exactly and re-sends only messages stage B already has (same seq).
 */
export function createDetector(deps: DetectorDeps): DetectorService {
  const log = deps.log.child({ component: 'detector' });
  const clock = deps.clock ?? systemClock;
  const resolveConfig = configResolver(deps.config);
  const currentConfig = (): Config => deps.config.current();
  const engineOptions: Omit<EngineOptions<typeof DETECTORS>, 'detectors'> = {
    allowedLatenessMs: () => currentConfig().detectors.allowed_lateness,
    ...deps.engine,
  };
  const maxClockSkewMs = engineOptions.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS;
  const stats = { processed: 0, invalid: 0, duplicates: 0, late: 0, superseded: 0, failed: 0 };
  const lostEvents = createLostEventsTally();
  const raised = createAnomalyTally();

  // Every event goes through here: the hand-written twin of UsageEvent.safeParse, same answers.
  const eventSchema = { safeParse: safeParseUsageEvent };
  const decode = (m: ConsumedMessage): UsageEvent | undefined => decodeMessage(m, eventSchema, 'usage event', log);

  const spikeConfig = () => resolveConfig().spend_spike;
  const newState = (partition: number): PartitionState => {
    const engine = createDetectionEngine(resolveConfig, engineOptions);
    return {
      engine,
      spikes: developerSpikesOf(engine, spikeConfig),
      rollups: createRollupState(),
      source: partitionKey({ topic: INPUT_TOPIC, partition }),
      late: 0,
      lateSpans: new LateSpans(),
    };
  };

  const consumer = createPartitionedConsumer<PartitionState>(
    {
      groupId: DETECTOR_GROUP_ID,
      topic: INPUT_TOPIC,
      producer: deps.producer,
      snapshots: deps.snapshots,
      log,
      clock,
      snapshotEveryMs: deps.snapshotEveryMs ?? 1000,
      ...(deps.maxSnapshotEveryMs !== undefined ? { maxSnapshotEveryMs: deps.maxSnapshotEveryMs } : {}),
      ...(deps.snapshotPartBytes !== undefined ? { snapshotPartBytes: deps.snapshotPartBytes } : {}),
      name: 'detector',
    },
    {
      create: newState,
      restore(partition, value) {
        const saved = value as PartitionSnapshot | EngineSnapshot;
        const state = newState(partition);
        // The value was just decoded for this restore: the engine takes it without a copy.
        if (saved.format === 2) {
          state.engine.restore(saved.engine, { owned: true });
          state.rollups = restoreRollupState(saved.rollups);
        } else {
          // A snapshot from before rollups: stage B has never heard of this partition, so totals start from here.
          state.engine.restore(saved, { owned: true });
        }
        return state;
      },
      snapshot: (state) => ({ format: 2, engine: state.engine.snapshotView(), rollups: state.rollups }) satisfies PartitionSnapshot,
      describe: (state) => ({ ...state.engine.stats(), rollupHours: rollupSize(state.rollups) }),

      apply(state, m, out) {
        const event = decode(m);
        if (event === undefined) {
          stats.invalid += 1;
          return;
        }
        stats.processed += 1;
        try {
          const result = state.engine.process(event);
          if (result.duplicate) stats.duplicates += 1;
          else if (result.superseded) stats.superseded += 1;
          else if (result.late) {
            state.late += 1;
            state.lateSpans.note(event);
          } else addToRollup(state.rollups, event, Number(m.offset), maxClockSkewMs, state.spikes);
          for (const a of result.anomalies) {
            const message = anomalyMessage(a, log);
            if (message === undefined) continue;
            out.push(OUTPUT_TOPIC, message);
            raised.note(a);
            lostEvents.note(a);
          }
        } catch (err) {
          stats.failed += 1;
          log.error({ err, partition: m.partition, offset: m.offset, eventId: event.event_id }, 'a detector failed on an event; skipped');
        }
      },

      endBatch(state, out, partition) {
        const lateness = currentConfig().detectors.allowed_lateness;
        if (state.late > 0) {
          stats.late += state.late;
          const { watermark, lateDropped } = state.engine.stats();
          log.warn(
            { partition, late: state.late, watermark, allowedLatenessMs: lateness, lateDropped },
            'late events in batch: older than the watermark minus the allowed lateness; windowed detectors did not take them, the backfill runner will judge them',
          );
          // A late event is older than the watermark, so there is one.
          if (watermark !== null)
            for (const message of state.lateSpans.take(state.source, watermark, log)) out.push(BACKFILL_TOPIC, message);
          state.late = 0;
        }
        for (const r of takeRollups(state.rollups, state.source, lateness)) {
          const message = rollupMessage(r, log);
          if (message !== undefined) out.push(ROLLUP_TOPIC, message);
        }
      },
    },
  );

  return {
    subscribeOptions: consumer.subscribeOptions,
    stop: () => consumer.stop(),
    stats: () => ({
      ...stats,
      published: consumer.sent(OUTPUT_TOPIC),
      anomalies: raised.counts(),
      rollups: consumer.sent(ROLLUP_TOPIC),
      backfillWindows: consumer.sent(BACKFILL_TOPIC),
      snapshots: consumer.snapshots(),
    }),
    snapshotHealth: () => consumer.snapshotHealth(),
    tracked: () => trackedOf(consumer.states().map((state) => state.engine.stats())),
    lostEvents: () => lostEvents.health(),
  };
}

/** The anomaly as an anomalies.v1 message, or undefined (logged) when it breaks the contract: a detector bug must not stop a partition. */
export function anomalyMessage(a: Anomaly, log: Logger): OutgoingMessage | undefined {
  const checked = Anomaly.safeParse(a);
  if (!checked.success) {
    log.error(
      { anomalyId: a.id, kind: a.kind, issues: checked.error.issues.slice(0, 5) },
      'detector produced an invalid anomaly; not published',
    );
    return undefined;
  }
  return { key: checked.data.id, value: JSON.stringify(checked.data) };
}

function rollupMessage(r: UsageRollup, log: Logger): OutgoingMessage | undefined {
  const checked = safeParseUsageRollup(r);
  if (!checked.success) {
    log.error(
      { source: r.source, seq: r.seq, issues: checked.error.issues.slice(0, 5) },
      'detector produced an invalid rollup; not published',
    );
    return undefined;
  }
  return { key: usageRollupKey(checked.data), value: JSON.stringify(checked.data) };
}

/**
 * Detector configs of both stages (DETECTORS and TEAM_DETECTORS) from the Burnrate config. Settings are memoised per team and developer, calendars and planned changes per
 * team, because detectors ask for them per event. Subjects that resolve alike share one settings
 * object and one compiled calendar: stage B tracks every team of the org, most of them on the
 * org's defaults, and a copy per team was a large part of its memory per team.
 */
export function detectorConfigs(config: Config): DetectorConfigs & TeamDetectorConfigs {
  const calendars = new Map<string, WorkCalendar>();
  const compiledCalendars = new Map<string, WorkCalendar>();
  const calendarFor = (team: string): WorkCalendar => {
    let cal = calendars.get(team);
    if (cal === undefined) {
      // A team with an on-call receiver is looked at within its response time, nights and weekends included.
      const oncallResponseMs = receiversOf(findTeam(config, team)?.oncall).length > 0 ? config.routes.oncall_response : undefined;
      const spec = teamCalendar(config, team);
      const zone = teamTimezone(config, team);
      // Its memos are of the zone and working week alone, so teams with the same ones can share it.
      const same = JSON.stringify([spec, zone, oncallResponseMs ?? null]);
      cal = compiledCalendars.get(same);
      if (cal === undefined) {
        cal = compileCalendar(spec, zone, { oncallResponseMs });
        compiledCalendars.set(same, cal);
      }
      calendars.set(team, cal);
    }
    return cal;
  };

  const envOf = <K extends DetectorKindName>(kind: K): DetectorEnv<DetectorSettings[K]> => {
    const byTeam = new Map<string, DetectorSettings[K]>();
    const byDeveloper = new Map<string, Map<string, DetectorSettings[K]>>();
    /** Resolved settings by their JSON: subjects whose overrides come to the same settings share them. */
    const distinct = new Map<string, DetectorSettings[K]>();
    const resolve = (team: string, developer: string | undefined): DetectorSettings[K] => {
      const s = detectorSettings(config, kind, { team, developer });
      const same = JSON.stringify(s);
      const known = distinct.get(same);
      if (known !== undefined) return known;
      distinct.set(same, s);
      return s;
    };
    // Per team: the planned changes of this kind as instants, so an event costs a few comparisons.
    const planned = new Map<string, readonly { from: number; to: number; note: string }[]>();
    // The last developer's answer: each detector asks per event, and events come in runs of one developer.
    let lastTeam = '';
    let lastDeveloper = '';
    let lastSettings: DetectorSettings[K] | undefined;
    return {
      settingsFor({ team, developer }) {
        if (developer === lastDeveloper && team === lastTeam && lastSettings !== undefined) return lastSettings;
        if (developer === undefined) {
          let s = byTeam.get(team);
          if (s === undefined) {
            s = resolve(team, undefined);
            byTeam.set(team, s);
          }
          return s;
        }
        let devs = byDeveloper.get(team);
        if (devs === undefined) {
          devs = new Map();
          byDeveloper.set(team, devs);
        }
        let s = devs.get(developer);
        if (s === undefined) {
          s = resolve(team, developer);
          devs.set(developer, s);
        }
        lastTeam = team;
        lastDeveloper = developer;
        lastSettings = s;
        return s;
      },
      calendarFor,
      plannedChange(team, atMs) {
        if (config.detectors.planned_changes.length === 0) return undefined;
        let spans = planned.get(team);
        if (spans === undefined) {
          const cal = calendarFor(team);
          const found = plannedSpans(config, kind, team, (date) => localMidnight(cal, date));
          spans = found.length === 0 ? NO_SPANS : found;
          planned.set(team, spans);
        }
        // [from, to): `to` is the first day (or the instant) the change is over.
        for (const p of spans) if (atMs >= p.from && atMs < p.to) return p.note;
        return undefined;
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
    lost_events: envOf('lost_events'),
    // Team scope reads the same settings; settingsFor({ team }) takes only team-level overrides.
    spend_spike_team: spendSpike,
    model_mix_drift_team: modelMixDrift,
    cache_efficiency_drop_team: cacheEfficiencyDrop,
    budget_forecast: { ...envOf('budget_forecast'), budgetFor: (team) => findTeam(config, team)?.budget?.monthly_usd },
  };
}

const NO_SPANS: readonly { from: number; to: number; note: string }[] = Object.freeze([]);

/** `detectorConfigs` of the current config, rebuilt only when the config object changes (a reload). */
export function configResolver(config: ConfigSource): () => DetectorConfigs & TeamDetectorConfigs {
  const current = (): Config => config.current();
  let seen: Config | undefined;
  let resolved: (DetectorConfigs & TeamDetectorConfigs) | undefined;
  return () => {
    const c = current();
    if (c !== seen || resolved === undefined) {
      seen = c;
      resolved = detectorConfigs(c);
    }
    return resolved;
  };
}
