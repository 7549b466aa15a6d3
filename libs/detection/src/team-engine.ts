import type { Anomaly, UsageRollup } from '@burnrate/schemas';
import type { BucketDetector } from './buckets/bucket-detector.ts';
import { isClosedHour, lastClosedHour, mergeBucket, type HourBucket } from './buckets/hourly.ts';
import type { StepContext } from './detector.ts';
import { type RestoreOptions, TEAM_DETECTORS, type TeamConfigsOf, type TeamDetectorRegistry } from './engine.ts';
import { createDetectorSlots } from './detector-slots.ts';
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
 */

/** The latest totals one source sent for one hour. */
export interface SourceTotals {
  seq: number;
  cost_usd: number;
  cost_premium_usd: number;
  events: number;
  premium_events: number;
  input_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
}

export interface TeamHour {
  org: string;
  team: string;
  developer: string;
  model: string;
  hour: number;
  /** By source (`topic:partition`). */
  sources: Record<string, SourceTotals>;
}

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

export interface SourceClock {
  watermark: number;
  received: number | null;
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
}

export interface TeamEngine {
  /**
   * Merges the rollup. When it carries a later watermark, first steps the detectors with what
   * arrived at the previous one (anomalies come from that, and from advancing to the new time).
   */
  process(rollup: UsageRollup, options?: RollupOptions): RollupResult;
  /** Steps the detectors with what arrived at the current watermark: the end of a replay. Live, the next later rollup does it. */
  flush(): readonly Anomaly[];
  /** A deep copy of the state, safe to keep while the engine goes on. */
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
  const idleHorizonMs = options.idleHorizonMs ?? DEFAULTS.idleHorizonMs;
  const sweepEveryMs = options.sweepEveryMs ?? DEFAULTS.sweepEveryMs;
  const lateness = options.allowedLatenessMs ?? DEFAULTS.allowedLatenessMs;
  const latenessNow = typeof lateness === 'function' ? lateness : () => lateness;
  const idleSourceMs = options.idleSourceMs ?? DEFAULTS.idleSourceMs;
  const maxHeldBuckets = options.maxHeldBuckets ?? DEFAULTS.maxHeldBuckets;
  const counts = { rollups: 0, stale: 0, late: 0, regressed: 0, forced: 0 };
  const ctx: StepContext = { watermark: 0, lateness: 0 };

  let state = emptyState(registry);
  // `state.detectors` by position; a detector's returned state is written back to both.
  const slots = createDetectorSlots(kinds, resolveConfig, state.detectors);
  const { states, configsNow, set: setState } = slots;
  /**
   * The snapshot's `pending`, held as two arrays (keys, buckets; insertion order) while running:
   * it is emptied at nearly every rollup (each one moves the watermark) and mostly holds one or
   * two buckets, so arrays emptied in place beat an object (a fresh one given a new long key each
   * time made V8 build a hidden class per key) or a Map (a new table per clear). A Map indexes
   * the keys only once there are more than a scan should visit.
   */
  const pendingKeys: string[] = [];
  const pendingBuckets: HourBucket[] = [];
  let pendingIndex: Map<string, number> | null = null;
  /**
   * The hour and pending bucket of the last rollup: rollups in a row mostly carry the same team,
   * developer, model and hour, and the joined key (built, then looked up in `hours`) was the
   * dearest part of a rollup. Cleared when hours are dropped (sweep, restore); `pendingAt` says
   * which flush `bucket` belongs to.
   */
  const last = {
    org: '',
    team: '',
    developer: '',
    model: '',
    hour: Number.NaN,
    key: '',
    h: null as TeamHour | null,
    bucket: null as HourBucket | null,
    pendingAt: -1,
  };
  let flushes = 0;
  /** `state.ahead` while running: by the time the differences arrived at, then by key. */
  let ahead = new Map<number, Map<string, HourBucket>>();
  /** The keys of `ahead`, ascending: time moves forward through them from the front. */
  let dues: number[] = [];
  let held = 0;

  const collect = (into: readonly Anomaly[], more: readonly Anomaly[]): readonly Anomaly[] =>
    more.length === 0 ? into : into === NONE ? [...more] : into.concat(more);

  /** Evicts idle detector keys and drops hours that closed: nothing may change them any more. */
  const sweep = (watermark: number, allowed: number): void => {
    const cutoff = watermark - idleHorizonMs;
    for (let i = 0; i < detectors.length; i++) setState(i, (detectors[i] as AnyBucketDetector).evict(states[i], cutoff));
    const closedThrough = lastClosedHour(watermark, allowed);
    for (const key in state.hours) {
      if ((state.hours[key] as TeamHour).hour <= closedThrough) delete state.hours[key];
    }
    last.h = null;
    state.swept_at = watermark;
  };

  /**
   * Steps every detector with what arrived at the current watermark, merged per key and in key
   * order: the detectors see the same buckets however the team's developers were spread over
   * stage-A partitions and however their rollups interleaved.
   */
  const flushPending = (configs: readonly unknown[], into: readonly Anomaly[]): readonly Anomaly[] => {
    const count = pendingKeys.length;
    if (count === 0) return into;
    flushes += 1;
    let anomalies = into;
    if (count === 1) {
      anomalies = stepBucket(pendingBuckets[0] as HourBucket, configs, anomalies);
    } else {
      const order = pendingKeys.map((_, i) => i);
      order.sort((a, b) =>
        byHourThenKey(pendingKeys[a] as string, pendingBuckets[a] as HourBucket, pendingKeys[b] as string, pendingBuckets[b] as HourBucket),
      );
      for (const i of order) anomalies = stepBucket(pendingBuckets[i] as HourBucket, configs, anomalies);
    }
    clearPending();
    return anomalies;
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

  /** Position of `key` in the pending arrays, or -1. */
  const pendingAt = (key: string): number => {
    if (pendingIndex !== null) return pendingIndex.get(key) ?? -1;
    for (let i = 0; i < pendingKeys.length; i++) if (pendingKeys[i] === key) return i;
    return -1;
  };

  const addToPending = (key: string, bucket: HourBucket): void => {
    pendingKeys.push(key);
    pendingBuckets.push(bucket);
    if (pendingIndex !== null) pendingIndex.set(key, pendingKeys.length - 1);
    else if (pendingKeys.length > PENDING_SCAN) pendingIndex = new Map(pendingKeys.map((k, i) => [k, i]));
  };

  const clearPending = (): void => {
    pendingKeys.length = 0;
    pendingBuckets.length = 0;
    pendingIndex = null;
  };

  /** The open hour of the rollup's key, created when new. */
  const openHour = (r: UsageRollup, hour: number): TeamHour => {
    if (
      last.h !== null &&
      last.hour === hour &&
      last.developer === r.developer &&
      last.model === r.model &&
      last.team === r.team &&
      last.org === r.org
    ) {
      return last.h;
    }
    const key = `${r.org}\u001f${r.team}\u001f${r.developer}\u001f${r.model}\u001f${hour}`;
    let h = state.hours[key];
    if (h === undefined) {
      h = { org: r.org, team: r.team, developer: r.developer, model: r.model, hour, sources: {} };
      state.hours[key] = h;
    }
    last.org = r.org;
    last.team = r.team;
    last.developer = r.developer;
    last.model = r.model;
    last.hour = hour;
    last.key = key;
    last.h = h;
    last.bucket = null;
    return h;
  };

  /** Adds the delta to what waits at this watermark for the last rollup's key. */
  const addPending = (delta: HourBucket): void => {
    if (last.bucket !== null && last.pendingAt === flushes) {
      mergeBucket(last.bucket, delta);
      return;
    }
    const at = pendingAt(last.key);
    if (at < 0) {
      addToPending(last.key, delta);
      last.bucket = delta;
    } else {
      last.bucket = mergeBucket(pendingBuckets[at] as HourBucket, delta);
    }
    last.pendingAt = flushes;
  };

  /** Wall clock of the latest rollup received (the `now` idleness is judged at). */
  let lastReceived: number | undefined;

  const isIdle = (source: SourceClock, now: number | undefined): boolean =>
    now !== undefined && source.received !== null && now - source.received > idleSourceMs;

  /** Records the source's watermark; returns where the engine's watermark should be: the lowest of the live sources. */
  const heardFrom = (name: string, carried: number, receivedAt: number | undefined): number => {
    let sources = state.sources;
    if (sources === undefined || (state.watermark === null && Object.keys(sources).length === 0)) {
      // A cold start: the partitions that have not spoken yet are at the start of time.
      sources = state.sources = {};
      for (const expected of options.expectedSources ?? []) sources[expected] = { watermark: 0, received: receivedAt ?? null };
    }
    const source = sources[name];
    if (source === undefined) sources[name] = { watermark: carried, received: receivedAt ?? null };
    else {
      if (carried > source.watermark) source.watermark = carried;
      if (receivedAt !== undefined) source.received = receivedAt;
    }
    if (receivedAt !== undefined) lastReceived = receivedAt;
    let lowest = Number.POSITIVE_INFINITY;
    for (const n in sources) {
      const s = sources[n] as SourceClock;
      if (s.watermark < lowest && !isIdle(s, receivedAt)) lowest = s.watermark;
    }
    return lowest;
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
    last.bucket = null;
    let taken = 0;
    while (taken < dues.length && (dues[taken] as number) <= target) {
      const due = dues[taken++] as number;
      const byKey = ahead.get(due) as Map<string, HourBucket>;
      ahead.delete(due);
      held -= byKey.size;
      for (const [key, bucket] of byKey) addToPending(key, bucket);
      if (due === target) break;
      anomalies = advanceTo(due, configs, anomalies);
      ctx.watermark = due;
      anomalies = flushPending(configs, anomalies);
    }
    if (taken > 0) dues.splice(0, taken);
    state.watermark = target;
    return anomalies;
  };

  /** Holds a difference that arrived at `due`, ahead of the watermark, merged per key. */
  const holdAhead = (due: number, delta: HourBucket): void => {
    let byKey = ahead.get(due);
    if (byKey === undefined) {
      byKey = new Map();
      ahead.set(due, byKey);
      // Mostly the newest time yet (each source's watermark only grows): a push; else a binary search.
      if (dues.length === 0 || due > (dues[dues.length - 1] as number)) dues.push(due);
      else {
        let lo = 0;
        let hi = dues.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if ((dues[mid] as number) < due) lo = mid + 1;
          else hi = mid;
        }
        dues.splice(lo, 0, due);
      }
    }
    const waiting = byKey.get(last.key);
    if (waiting !== undefined) mergeBucket(waiting, delta);
    else {
      byKey.set(last.key, delta);
      held += 1;
    }
  };

  /** The state with the held buckets as plain records; shares the engine's objects. */
  const view = (): TeamEngineSnapshot => {
    const waiting: Record<string, HourBucket> = {};
    for (let i = 0; i < pendingKeys.length; i++) waiting[pendingKeys[i] as string] = pendingBuckets[i] as HourBucket;
    const later: Record<string, Record<string, HourBucket>> = {};
    for (const [due, byKey] of ahead) later[String(due)] = Object.fromEntries(byKey);
    return { ...state, pending: waiting, ahead: later };
  };

  return {
    process(r, given) {
      counts.rollups += 1;
      const allowed = latenessNow();
      const configs = configsNow();
      ctx.lateness = allowed;

      let anomalies = NONE;
      const carried = parseInstant(r.watermark);
      const target = heardFrom(r.source, carried, given?.receivedAt);
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
      const h = openHour(r, hour);
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
        holdAhead(carried, delta);
        if (held > maxHeldBuckets) {
          counts.forced += 1;
          anomalies = moveTo(dues[0] as number, configs, anomalies);
          anomalies = advanceTo(state.watermark, configs, anomalies);
        }
      } else {
        addPending(delta);
      }
      return anomalies === NONE ? TAKEN : { anomalies, stale: false, late: false, regressed: false };
    },

    flush() {
      if (state.watermark === null) return NONE;
      ctx.lateness = latenessNow();
      const configs = configsNow();
      // The end of the input: every source has said all it will, so time moves to the furthest.
      const furthest = Math.max(state.watermark, dues.at(-1) ?? state.watermark);
      let anomalies = furthest > state.watermark ? moveTo(furthest, configs, NONE) : NONE;
      ctx.watermark = state.watermark;
      anomalies = advanceTo(state.watermark, configs, anomalies);
      return flushPending(configs, anomalies);
    },

    snapshot: () => structuredClone(view()),
    snapshotView: view,

    restore(snapshot, restoreOptions) {
      if ((snapshot as { format?: unknown }).format !== 1) {
        throw new Error(`team engine snapshot format ${String((snapshot as { format?: unknown }).format)} is not supported (expected 1)`);
      }
      const restored = restoreOptions?.owned === true ? snapshot : structuredClone(snapshot);
      const detectorStates: Record<string, unknown> = {};
      for (const kind of kinds) {
        detectorStates[kind] = kind in restored.detectors ? restored.detectors[kind] : (registry[kind] as AnyBucketDetector).initialState();
      }
      clearPending();
      for (const [key, bucket] of Object.entries(restored.pending ?? {})) addToPending(key, bucket);
      ahead = new Map();
      held = 0;
      for (const [due, byKey] of Object.entries(restored.ahead ?? {})) {
        const entries = Object.entries(byKey);
        ahead.set(Number(due), new Map(entries));
        held += entries.length;
      }
      dues = [...ahead.keys()].sort((a, b) => a - b);
      state = { ...restored, pending: {}, ahead: {}, sources: restored.sources ?? {}, detectors: detectorStates };
      slots.adopt(detectorStates);
      last.h = null;
      last.bucket = null;
    },

    stats() {
      const keys: Record<string, number> = {};
      for (let i = 0; i < detectors.length; i++) keys[kinds[i] as string] = (detectors[i] as AnyBucketDetector).size(states[i]);
      const sources = state.sources ?? {};
      let live = 0;
      for (const name in sources) if (!isIdle(sources[name] as SourceClock, lastReceived)) live += 1;
      return {
        watermark: state.watermark === null ? null : new Date(state.watermark).toISOString(),
        hours: Object.keys(state.hours).length,
        keys,
        ...counts,
        sources: Object.keys(sources).length,
        live_sources: live,
        held,
      };
    },
  };
}

// Most rollups produce nothing; shared results keep that path free of allocations.
/** Pending buckets looked up by a scan up to this many; a Map beyond. */
const PENDING_SCAN = 8;
const TAKEN: RollupResult = Object.freeze({ anomalies: NONE, stale: false, late: false, regressed: false });
const STALE: RollupResult = Object.freeze({ anomalies: NONE, stale: true, late: false, regressed: false });
const LATE: RollupResult = Object.freeze({ anomalies: NONE, stale: false, late: true, regressed: false });
const REGRESSED: RollupResult = Object.freeze({ anomalies: NONE, stale: false, late: false, regressed: true });

function totalsOf(r: UsageRollup): SourceTotals {
  return {
    seq: r.seq,
    cost_usd: r.cost_usd,
    cost_premium_usd: r.cost_premium_usd,
    events: r.events,
    premium_events: r.premium_events,
    input_tokens: r.input_tokens,
    cache_read_tokens: r.cache_read_tokens,
    cache_write_tokens: r.cache_write_tokens,
    output_tokens: r.output_tokens,
  };
}

/**
 * What the source counted between `before` and `after`, as a bucket delta; null when a count
 * went down (the source restarted its totals; see TeamEngineStats.regressed).
 */
function difference(r: UsageRollup, hour: number, after: SourceTotals, before: SourceTotals | undefined): HourBucket | null {
  const bucket: HourBucket = {
    org: r.org,
    team: r.team,
    developer: r.developer,
    model: r.model,
    hour,
    cost_usd: after.cost_usd,
    cost_premium_usd: after.cost_premium_usd,
    events: after.events,
    premium_events: after.premium_events,
    input_tokens: after.input_tokens,
    cache_read_tokens: after.cache_read_tokens,
    cache_write_tokens: after.cache_write_tokens,
    output_tokens: after.output_tokens,
  };
  if (before === undefined) return bucket;
  bucket.cost_usd -= before.cost_usd;
  bucket.cost_premium_usd -= before.cost_premium_usd;
  bucket.events -= before.events;
  bucket.premium_events = after.premium_events - before.premium_events;
  bucket.input_tokens -= before.input_tokens;
  bucket.cache_read_tokens -= before.cache_read_tokens;
  bucket.cache_write_tokens -= before.cache_write_tokens;
  bucket.output_tokens -= before.output_tokens;
  if (bucket.events < 0 || bucket.premium_events < 0 || bucket.input_tokens < 0 || bucket.cache_read_tokens < 0) return null;
  if (bucket.cache_write_tokens < 0 || bucket.output_tokens < 0) return null;
  // Sums of the same costs in a longer run can differ from the shorter run by rounding; never below zero.
  if (bucket.cost_usd < 0) bucket.cost_usd = 0;
  if (bucket.cost_premium_usd < 0) bucket.cost_premium_usd = 0;
  return bucket;
}

function byHourThenKey(ka: string, a: HourBucket, kb: string, b: HourBucket): number {
  return a.hour - b.hour || (ka < kb ? -1 : ka > kb ? 1 : 0);
}

function emptyState(registry: TeamDetectorRegistry): TeamEngineSnapshot {
  const detectors: Record<string, unknown> = {};
  for (const kind of Object.keys(registry)) detectors[kind] = (registry[kind] as AnyBucketDetector).initialState();
  return { format: 1, watermark: null, swept_at: null, advanced_at: null, hours: {}, pending: {}, ahead: {}, sources: {}, detectors };
}
