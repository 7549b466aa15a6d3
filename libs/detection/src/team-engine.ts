import type { Anomaly, SpendCorrection, UsageRollup } from '@burnrate/schemas';
import type { BucketDetector } from './buckets/bucket-detector.ts';
import { isClosedHour, lastClosedHour, mergeBucket, type HourBucket } from './buckets/hourly.ts';
import type { StepContext } from './detector.ts';
import { type RestoreOptions, TEAM_DETECTORS, type TeamConfigsOf, type TeamDetectorRegistry } from './engine.ts';
import { createDetectorSlots } from './detector-slots.ts';
import { createHeldAhead } from './team-engine/held-ahead.ts';
import { createOpenHours, type TeamHour } from './team-engine/open-hours.ts';
import { createPendingBuckets } from './team-engine/pending-buckets.ts';
import { createSourceClocks, type SourceClock } from './team-engine/source-clocks.ts';
import { difference, totalsOf } from './team-engine/source-totals.ts';
import { parseInstant } from './time.ts';

/**
 * Stage B: the team and team×model detectors over usage.rollups.v1.
 *
 * Rollups are cumulative totals of one (org, team, developer, model, hour) per source partition,
 * ordered by `seq`. The engine keeps, per such key, the latest totals of each source; a
 * rollup with a higher seq than the one held replaces it, and the difference (what that source
 * counted since) is what the team detectors are given. So a redelivered, repeated or overtaken
 * rollup changes nothing, and the sum over sources is what the detectors have seen.
 *
 * Time: each source (stage-A partition) has its own watermark, the latest `watermark` its rollups
 * carried (its event time when it counted its last event). The engine's watermark is the lowest of
 * the sources that are not idle, as Flink combines input watermarks: a difference is stepped into
 * the detectors only once every live source has reached the time it arrived at, so a partition
 * catching up a backlog behind the others (a restart, a slow instance) holds team time back
 * instead of seeing its hours closed under it. Differences that arrive at one time are held and
 * merged per team×developer×model×hour; when the watermark moves past that time they are stepped
 * in key order, at the time they arrived at. That is what makes the result independent of how a
 * team's developers are spread over stage-A partitions: the detectors evaluate as a bucket grows
 * (a model-mix check at the first spend of an hour, say), so feeding one partition's part of an
 * instant before another's would judge half a team. Detectors advance when the watermark crosses a
 * minute and close an hour once it passes the hour's end plus the allowed lateness, as inside the
 * stage-A engine. A rollup for a closed hour is late: counted, never merged (the hour was judged).
 *
 * Idle sources: a partition whose developers stopped working sends nothing and would hold team
 * time back for ever. When the caller says when each rollup was received (`receivedAt`, wall
 * clock), a source that sent nothing for `idleSourceMs` no longer holds the watermark back, as
 * Flink's idleness and Kafka Streams' max.task.idle.ms do; its next rollup makes it count again
 * (what it brings for hours closed meanwhile is late). Without `receivedAt` (a replay, one source)
 * no source is ever idle. Differences from sources ahead of the watermark wait, at most
 * `maxHeldBuckets` of them: past that the watermark moves to the oldest of them, so memory stays
 * bounded when one source falls far behind (counted in `forced`).
 *
 * Memory: per open team×developer×model hour, the latest totals of its source (a developer's
 * events all reach one stage-A partition); hours are dropped once closed, and detector
 * keys idle for the idle horizon are evicted. State is plain JSON, snapshotted with the offset.
 *
 * Parts (team-engine/): source-clocks.ts (the watermark made from the sources'), source-totals.ts
 * (a rollup's difference from what its source sent before), open-hours.ts, pending-buckets.ts
 * (what arrived at the watermark) and held-ahead.ts (what arrived ahead of it). This file moves
 * time and steps the detectors.
 */

export type { SourceClock } from './team-engine/source-clocks.ts';
export type { SourceTotals } from './team-engine/source-totals.ts';
export type { TeamHour } from './team-engine/open-hours.ts';

export interface TeamEngineSnapshot {
  format: 1;
  watermark: number | null;
  swept_at: number | null;
  /** Minute (epoch ms / 60 000) of the watermark when detectors were last advanced. */
  advanced_at: number | null;
  /** Open hours by `org \u001f team \u001f developer \u001f model \u001f hour`. */
  hours: Record<string, TeamHour>;
  /** What arrived at the current watermark, not yet given to the detectors, by the same key. */
  pending: Record<string, HourBucket>;
  /** What arrived from sources ahead of the watermark: by the time it arrived at (epoch ms), then by the same key. */
  ahead?: Record<string, Record<string, HourBucket>>;
  /** Each source's watermark and when its last rollup was received (wall clock; null if never said). */
  sources?: Record<string, SourceClock>;
  detectors: Record<string, unknown>;
}

export interface TeamEngineOptions<R extends TeamDetectorRegistry> {
  /** Detectors to run; default TEAM_DETECTORS. */
  detectors?: R;
  /** Keys with no spend for this long in event time are evicted (detectors may keep baselines longer). Default 24 h. */
  idleHorizonMs?: number;
  /** How far event time advances between eviction sweeps. Default 15 min. */
  sweepEveryMs?: number;
  /** Allowed lateness (ms), or a function read per rollup so a reload applies. Default 10 min. */
  allowedLatenessMs?: number | (() => number);
  /** A source that sent nothing for this long (wall clock, `receivedAt`) no longer holds the watermark back. Default 30 s. */
  idleSourceMs?: number;
  /** Differences held for sources ahead of the watermark, at most. Default 100 000. */
  maxHeldBuckets?: number;
  /**
   * Sources known to exist (every partition of usage.events.v1): before one is heard from it holds
   * the watermark at the start, until it speaks or is idle (`receivedAt` needed), so a cold start
   * does not close hours under the partitions that have not sent their first rollup yet.
   */
  expectedSources?: readonly string[];
}

export interface RollupOptions {
  /** When the rollup was received (epoch ms, wall clock): lets a source that went quiet be idle. */
  receivedAt?: number;
}

export interface RollupResult {
  anomalies: readonly Anomaly[];
  /** The source's totals for that hour were already at this seq or later: nothing changed. */
  stale: boolean;
  /** The hour was closed at the watermark: counted, not merged. */
  late: boolean;
  /** The source's totals went down at a higher seq (see TeamEngineStats.regressed). */
  regressed: boolean;
}

export interface TeamEngineStats {
  watermark: string | null;
  /** Open team×developer×model hours held. */
  hours: number;
  keys: Record<string, number>;
  rollups: number;
  stale: number;
  late: number;
  /**
   * Rollups whose totals were below the source's previous ones at a higher seq: the source
   * partition lost its state (an unreadable snapshot) and counts that hour again from zero.
   * The drop is not fed back; that hour's spend up to the loss is kept.
   */
  regressed: number;
  /** Sources heard from, and how many of them hold the watermark back now (not idle). */
  sources: number;
  live_sources: number;
  /** Differences waiting for the watermark to reach the time they arrived at. */
  held: number;
  /** Times the watermark was moved past a source that fell behind by more than maxHeldBuckets. */
  forced: number;
  /** Corrections from the providers' reports given to the detectors. */
  corrections: number;
}

export interface TeamEngine {
  /**
   * Merges the rollup. When it carries a later watermark, first steps the detectors with what
   * arrived at the previous one (anomalies come from that, and from advancing to the new time).
   */
  process(rollup: UsageRollup, options?: RollupOptions): RollupResult;
  /**
   * A team's day as the providers' reports count it, given to the detectors that take corrections
   * (the budget forecast) at the current watermark. Its anomalies come back at once.
   */
  correct(correction: SpendCorrection): readonly Anomaly[];
  /** Steps the detectors with what arrived at the current watermark: the end of a replay. Live, the next later rollup does it. */
  flush(): readonly Anomaly[];
  /** A deep copy of the state as plain JSON data (what JSON.parse of a saved snapshot gives), safe to keep while the engine goes on. */
  snapshot(): TeamEngineSnapshot;
  /** The state as a snapshot sharing the engine's objects: serialise it (JSON.stringify) before the engine's next call. */
  snapshotView(): Readonly<TeamEngineSnapshot>;
  /** Replaces the state; `owned` as for the stage-A engine (the snapshot becomes the state, no copy). */
  restore(snapshot: TeamEngineSnapshot, options?: RestoreOptions): void;
  stats(): TeamEngineStats;
}

const DEFAULTS = {
  idleHorizonMs: 24 * 3_600_000,
  sweepEveryMs: 15 * 60_000,
  allowedLatenessMs: 10 * 60_000,
  idleSourceMs: 30_000,
  maxHeldBuckets: 100_000,
};
const MINUTE_MS = 60_000;
const NONE: readonly Anomaly[] = Object.freeze([]);

type AnyBucketDetector = BucketDetector<unknown, unknown>;

export function createTeamEngine<R extends TeamDetectorRegistry = typeof TEAM_DETECTORS>(
  resolveConfig: () => TeamConfigsOf<R>,
  options: TeamEngineOptions<R> = {},
): TeamEngine {
  const registry: TeamDetectorRegistry = options.detectors ?? TEAM_DETECTORS;
  const kinds = Object.keys(registry);
  // By position in `kinds`, as in the stage-A engine: arrays per step, not lookups by kind name.
  const detectors = kinds.map((k) => registry[k] as AnyBucketDetector);
  const correcting = detectors.flatMap((d, i) => (d.correct === undefined ? [] : [i]));
  const idleHorizonMs = options.idleHorizonMs ?? DEFAULTS.idleHorizonMs;
  const sweepEveryMs = options.sweepEveryMs ?? DEFAULTS.sweepEveryMs;
  const lateness = options.allowedLatenessMs ?? DEFAULTS.allowedLatenessMs;
  const latenessNow = typeof lateness === 'function' ? lateness : () => lateness;
  const maxHeldBuckets = options.maxHeldBuckets ?? DEFAULTS.maxHeldBuckets;
  const counts = { rollups: 0, stale: 0, late: 0, regressed: 0, forced: 0, corrections: 0 };
  const ctx: StepContext = { watermark: 0, lateness: 0 };

  let state = emptyState(registry);
  // `state.detectors` by position; a detector's returned state is written back to both.
  const slots = createDetectorSlots(kinds, resolveConfig, state.detectors);
  const { states, configsNow, set: setState } = slots;
  const clocks = createSourceClocks(options.idleSourceMs ?? DEFAULTS.idleSourceMs, options.expectedSources ?? []);
  const hours = createOpenHours(state.hours);
  // `state.pending` and `state.ahead` while running; written into the snapshot by view().
  const pending = createPendingBuckets();
  const ahead = createHeldAhead();
  /** The pending bucket of the last rollup's key, and the generation of `pending` it was held in. */
  const lastPending = { key: '', bucket: null as HourBucket | null, generation: -1 };

  const collect = (into: readonly Anomaly[], more: readonly Anomaly[]): readonly Anomaly[] =>
    more.length === 0 ? into : into === NONE ? [...more] : into.concat(more);

  /** Evicts idle detector keys and drops hours that closed: nothing may change them any more. */
  const sweep = (watermark: number, allowed: number): void => {
    const cutoff = watermark - idleHorizonMs;
    for (let i = 0; i < detectors.length; i++) setState(i, (detectors[i] as AnyBucketDetector).evict(states[i], cutoff));
    hours.dropClosed(lastClosedHour(watermark, allowed));
    state.swept_at = watermark;
  };

  const stepBucket = (bucket: HourBucket, configs: readonly unknown[], into: readonly Anomaly[]): readonly Anomaly[] => {
    let anomalies = into;
    for (let i = 0; i < detectors.length; i++) {
      const result = (detectors[i] as AnyBucketDetector).step(states[i], bucket, configs[i], ctx);
      setState(i, result.state);
      anomalies = collect(anomalies, result.anomalies);
    }
    return anomalies;
  };

  /**
   * Steps every detector with what arrived at the current watermark, merged per key and in key
   * order: the detectors see the same buckets however the team's developers were spread over
   * stage-A partitions and however their rollups interleaved.
   */
  const flushPending = (configs: readonly unknown[], into: readonly Anomaly[]): readonly Anomaly[] => {
    const count = pending.size();
    if (count === 0) return into;
    let anomalies = into;
    if (count === 1) anomalies = stepBucket(pending.bucketAt(0), configs, anomalies);
    else for (const i of pending.stepOrder()) anomalies = stepBucket(pending.bucketAt(i), configs, anomalies);
    pending.clear();
    return anomalies;
  };

  /** Adds the delta to what waits at this watermark for the last rollup's key. */
  const addPending = (delta: HourBucket): void => {
    const key = hours.lastKey();
    if (lastPending.bucket !== null && lastPending.key === key && lastPending.generation === pending.generation()) {
      mergeBucket(lastPending.bucket, delta);
      return;
    }
    lastPending.bucket = pending.merge(key, delta);
    lastPending.key = key;
    lastPending.generation = pending.generation();
  };

  /** Detectors advance when the watermark crosses a minute. */
  const advanceTo = (watermark: number, configs: readonly unknown[], into: readonly Anomaly[]): readonly Anomaly[] => {
    const minute = Math.floor(watermark / MINUTE_MS);
    if (state.advanced_at === null) {
      state.advanced_at = minute;
      return into;
    }
    if (minute <= state.advanced_at) return into;
    state.advanced_at = minute;
    ctx.watermark = watermark;
    let anomalies = into;
    for (let i = 0; i < detectors.length; i++) {
      const result = (detectors[i] as AnyBucketDetector).advance(states[i], watermark, configs[i], ctx);
      setState(i, result.state);
      anomalies = collect(anomalies, result.anomalies);
    }
    return anomalies;
  };

  /**
   * Time moves on to `target`: what arrived at the old watermark is complete, judged there first;
   * then what arrived ahead of it, time by time, each at its own time; what arrived at `target`
   * itself waits for the rest of that instant.
   */
  const moveTo = (target: number, configs: readonly unknown[], into: readonly Anomaly[]): readonly Anomaly[] => {
    ctx.watermark = state.watermark as number;
    let anomalies = flushPending(configs, into);
    lastPending.bucket = null;
    for (let due = ahead.firstDue(); due !== undefined && due <= target; due = ahead.firstDue()) {
      for (const [key, bucket] of ahead.takeFirst()) pending.add(key, bucket);
      if (due === target) break;
      anomalies = advanceTo(due, configs, anomalies);
      ctx.watermark = due;
      anomalies = flushPending(configs, anomalies);
    }
    state.watermark = target;
    return anomalies;
  };

  /** The state with the held buckets as plain records; shares the engine's objects. */
  const view = (): TeamEngineSnapshot => ({ ...state, pending: pending.toRecord(), ahead: ahead.toRecord() });

  return {
    process(r, given) {
      counts.rollups += 1;
      const allowed = latenessNow();
      const configs = configsNow();
      ctx.lateness = allowed;

      let anomalies = NONE;
      const carried = parseInstant(r.watermark);
      const target = clocks.heardFrom(state, r.source, carried, given?.receivedAt);
      if (state.watermark === null) state.watermark = target;
      else if (target > state.watermark) anomalies = moveTo(target, configs, anomalies);
      const watermark = state.watermark;
      ctx.watermark = watermark;
      anomalies = advanceTo(watermark, configs, anomalies);
      if (state.swept_at === null) state.swept_at = watermark;
      else if (watermark - state.swept_at >= sweepEveryMs) sweep(watermark, allowed);

      const hour = parseInstant(r.hour);
      if (isClosedHour(hour, watermark, allowed)) {
        counts.late += 1;
        return anomalies === NONE ? LATE : { anomalies, stale: false, late: true, regressed: false };
      }
      const h = hours.open(r, hour);
      const before = h.sources[r.source];
      if (before !== undefined && r.seq <= before.seq) {
        counts.stale += 1;
        return anomalies === NONE ? STALE : { anomalies, stale: true, late: false, regressed: false };
      }
      const after = totalsOf(r);
      h.sources[r.source] = after;
      const delta = difference(r, hour, after, before);
      if (delta === null) {
        counts.regressed += 1;
        return anomalies === NONE ? REGRESSED : { anomalies, stale: false, late: false, regressed: true };
      }
      if (carried > watermark) {
        // Its source is ahead of the others: it waits until they reach the time it arrived at.
        ahead.hold(carried, hours.lastKey(), delta);
        if (ahead.size() > maxHeldBuckets) {
          counts.forced += 1;
          anomalies = moveTo(ahead.firstDue() as number, configs, anomalies);
          anomalies = advanceTo(state.watermark, configs, anomalies);
        }
      } else {
        addPending(delta);
      }
      return anomalies === NONE ? TAKEN : { anomalies, stale: false, late: false, regressed: false };
    },

    correct(c) {
      counts.corrections += 1;
      const configs = configsNow();
      ctx.lateness = latenessNow();
      // Before the first rollup there is no time yet: the detector keeps the figures for later.
      ctx.watermark = state.watermark ?? 0;
      let anomalies = NONE;
      for (const i of correcting) {
        const result = ((detectors[i] as AnyBucketDetector).correct as NonNullable<AnyBucketDetector['correct']>)(
          states[i],
          c,
          configs[i],
          ctx,
        );
        setState(i, result.state);
        anomalies = collect(anomalies, result.anomalies);
      }
      return anomalies;
    },

    flush() {
      if (state.watermark === null) return NONE;
      ctx.lateness = latenessNow();
      const configs = configsNow();
      // The end of the input: every source has said all it will, so time moves to the furthest.
      const furthest = Math.max(state.watermark, ahead.lastDue() ?? state.watermark);
      let anomalies = furthest > state.watermark ? moveTo(furthest, configs, NONE) : NONE;
      ctx.watermark = state.watermark;
      anomalies = advanceTo(state.watermark, configs, anomalies);
      return flushPending(configs, anomalies);
    },

    snapshot: () => jsonCopy(view()),
    snapshotView: view,

    restore(snapshot, restoreOptions) {
      if ((snapshot as { format?: unknown }).format !== 1) {
        throw new Error(`team engine snapshot format ${String((snapshot as { format?: unknown }).format)} is not supported (expected 1)`);
      }
      const restored = restoreOptions?.owned === true ? snapshot : jsonCopy(snapshot);
      const detectorStates: Record<string, unknown> = {};
      for (const kind of kinds) {
        const detector = registry[kind] as AnyBucketDetector;
        if (!(kind in restored.detectors)) detectorStates[kind] = detector.initialState();
        else detectorStates[kind] = detector.upgrade === undefined ? restored.detectors[kind] : detector.upgrade(restored.detectors[kind]);
      }
      pending.clear();
      for (const [key, bucket] of Object.entries(restored.pending ?? {})) pending.add(key, bucket);
      ahead.restore(restored.ahead ?? {});
      state = { ...restored, pending: {}, ahead: {}, sources: restored.sources ?? {}, detectors: detectorStates };
      slots.adopt(detectorStates);
      hours.adopt(state.hours);
      lastPending.bucket = null;
    },

    stats() {
      const keys: Record<string, number> = {};
      for (let i = 0; i < detectors.length; i++) keys[kinds[i] as string] = (detectors[i] as AnyBucketDetector).size(states[i]);
      const sources = state.sources ?? {};
      return {
        watermark: state.watermark === null ? null : new Date(state.watermark).toISOString(),
        hours: Object.keys(state.hours).length,
        keys,
        ...counts,
        sources: Object.keys(sources).length,
        live_sources: clocks.live(sources),
        held: ahead.size(),
      };
    },
  };
}

// Most rollups produce nothing; shared results keep that path free of allocations.
const TAKEN: RollupResult = Object.freeze({ anomalies: NONE, stale: false, late: false, regressed: false });
const STALE: RollupResult = Object.freeze({ anomalies: NONE, stale: true, late: false, regressed: false });
const LATE: RollupResult = Object.freeze({ anomalies: NONE, stale: false, late: true, regressed: false });
const REGRESSED: RollupResult = Object.freeze({ anomalies: NONE, stale: false, late: false, regressed: true });

/**
 * A deep copy as the snapshot's JSON would restore it: detectors keep some baselines in typed
 * arrays that serialise as plain JSON (see BucketDetector.upgrade), which a structured clone
 * would copy as typed arrays without their toJSON.
 */
const jsonCopy = (snapshot: TeamEngineSnapshot): TeamEngineSnapshot => JSON.parse(JSON.stringify(snapshot)) as TeamEngineSnapshot;

function emptyState(registry: TeamDetectorRegistry): TeamEngineSnapshot {
  const detectors: Record<string, unknown> = {};
  for (const kind of Object.keys(registry)) detectors[kind] = (registry[kind] as AnyBucketDetector).initialState();
  return { format: 1, watermark: null, swept_at: null, advanced_at: null, hours: {}, pending: {}, ahead: {}, sources: {}, detectors };
}
