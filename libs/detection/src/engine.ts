import { usageEventKey } from '@burnrate/schemas';
import type { Anomaly, UsageEvent } from '@burnrate/schemas';
import type { AnyDetector, ConfigOf, StepContext } from './detector.ts';
import { hash53 } from './hash.ts';
import type { BucketDetector } from './buckets/bucket-detector.ts';
import { budgetForecast } from './budget-forecast.ts';
import { cacheEfficiencyDrop, teamCacheEfficiencyDrop } from './cache-efficiency-drop.ts';
import { contextBloat } from './context-bloat.ts';
import { modelMixDrift, teamModelMixDrift } from './model-mix-drift.ts';
import { newSpender } from './new-spender.ts';
import { runawaySession } from './runaway-session.ts';
import { sessionCost } from './session-cost.ts';
import { spendSpike, teamSpendSpike } from './spend-spike.ts';

/**
 * Stage A: every detector the engine runs over usage events, keyed by a unique name (its kind).
 * Their keys (session, developer, developer×model) live wholly in one `org:developer` partition,
 * so each stage-A instance judges them alone. Adding a detector here adds its config to
 * `DetectorConfigs`, so every caller of `createDetectionEngine` is told by the compiler to supply
 * it. Order is the order anomalies of one event come out in. The names are the keys of the
 * snapshot's `detectors`.
 */
export const DETECTORS = {
  session_cost: sessionCost,
  runaway_session: runawaySession,
  context_bloat: contextBloat,
  new_spender: newSpender,
  spend_spike: spendSpike,
  model_mix_drift: modelMixDrift,
  cache_efficiency_drop: cacheEfficiencyDrop,
} as const;

/**
 * Stage B: team and team×model scope, stepped over hour buckets by the team engine
 * (team-engine.ts), fed by usage.rollups.v1 (key org:team). A team's developers are spread over
 * stage-A partitions, so no stage-A instance sees all of a team; the rollups bring its hours
 * together. Named `<kind>_team` where the kind also has a developer scope in stage A; the names
 * are the keys of the team engine's snapshot and of `TeamDetectorConfigs`.
 */
export const TEAM_DETECTORS = {
  spend_spike_team: teamSpendSpike,
  model_mix_drift_team: teamModelMixDrift,
  cache_efficiency_drop_team: teamCacheEfficiencyDrop,
  budget_forecast: budgetForecast,
} as const;

export type TeamDetectorRegistry = Readonly<Record<string, BucketDetector<unknown, unknown>>>;

export type TeamConfigsOf<R> = { [K in keyof R]: R[K] extends BucketDetector<infer _State, infer Cfg> ? Cfg : never };

export type TeamDetectorConfigs = TeamConfigsOf<typeof TEAM_DETECTORS>;

export type DetectorRegistry = Readonly<Record<string, AnyDetector>>;

export type ConfigsOf<R> = { [K in keyof R]: ConfigOf<R[K]> };

export type DetectorConfigs = ConfigsOf<typeof DETECTORS>;

export interface EngineOptions<R extends DetectorRegistry> {
  /** Detectors to run; default DETECTORS. */
  detectors?: R;
  /** Keys (sessions, developers) with no event for this long in event time are forgotten. Default 24 h. */
  idleHorizonMs?: number;
  /** How far event time advances between eviction sweeps. Default 15 min. */
  sweepEveryMs?: number;
  /** Recent event ids remembered per `org:developer` to drop redeliveries. Default 128. */
  dedupeCapacity?: number;
  /** An event claiming to be further ahead of its `ingested_at` than this does not move the watermark. Default 5 min. */
  maxClockSkewMs?: number;
  /**
   * Allowed lateness (ms), or a function read per event so a config reload applies: an event older
   * than watermark − lateness is late (counted, and only given to detectors that accept late
   * events). Default 10 min, config.detectors.allowed_lateness's default.
   */
  allowedLatenessMs?: number | (() => number);
}

/** Recent event ids (as hash53) of one `org:developer`: a ring, oldest overwritten first. */
export interface DedupeRing {
  ids: number[];
  next: number;
  /** Watermark when the key last saw an event; the key is evicted on it. */
  last: number;
}

/**
 * Everything the engine knows, as plain JSON data (see Detector for the rules). Saved with the
 * bus offset it reflects; `format` changes when an old snapshot could not be read as is.
 */
export interface EngineSnapshot {
  format: 1;
  /** Highest event time seen (epoch ms), clamped by ingested_at; null before the first event. */
  watermark: number | null;
  /** Watermark at the last eviction sweep. */
  swept_at: number | null;
  /** Minute (epoch ms / 60 000) of the watermark when detectors were last advanced; absent in older snapshots. */
  advanced_at?: number | null;
  seen: Record<string, DedupeRing>;
  detectors: Record<string, unknown>;
}

export interface ProcessResult {
  anomalies: readonly Anomaly[];
  /** The event id was already processed recently; nothing was counted. */
  duplicate: boolean;
  /** The event was older than watermark − allowed lateness (see EngineOptions.allowedLatenessMs). */
  late: boolean;
}

export interface EngineStats {
  watermark: string | null;
  dedupeKeys: number;
  /** Tracked keys per detector kind. */
  keys: Record<string, number>;
  /** Events processed by this engine instance since it was created (duplicates and late ones included). */
  events: number;
  duplicates: number;
  /** Late events since this engine instance was created. */
  late: number;
  /** Late events per detector kind that did not take them ('drop'); the others merged them into open sessions. */
  lateDropped: Record<string, number>;
}

export interface DetectionEngine {
  process(event: UsageEvent): ProcessResult;
  /** A deep copy of the state, safe to serialise while the engine goes on. */
  snapshot(): EngineSnapshot;
  /** Replaces the state; detectors missing from the snapshot (added since) start empty. */
  restore(snapshot: EngineSnapshot): void;
  stats(): EngineStats;
}

const DEFAULTS = {
  idleHorizonMs: 24 * 3_600_000,
  sweepEveryMs: 15 * 60_000,
  dedupeCapacity: 128,
  maxClockSkewMs: 5 * 60_000,
  allowedLatenessMs: 10 * 60_000,
};

const MINUTE_MS = 60_000;

const NONE: readonly Anomaly[] = Object.freeze([]);
// Most events produce nothing; sharing these results keeps the hot path free of allocations.
const QUIET: ProcessResult = Object.freeze({ anomalies: NONE, duplicate: false, late: false });
const QUIET_LATE: ProcessResult = Object.freeze({ anomalies: NONE, duplicate: false, late: true });
const DUPLICATE: ProcessResult = Object.freeze({ anomalies: NONE, duplicate: true, late: false });

/**
 * Runs every detector over each event and keeps their states in one snapshot-able object.
 * `resolveConfig` is called once per event, so a config reload takes effect on the next event
 * without losing state; return the same object while the config is unchanged.
 *
 * Per event, in order: dedupe (a redelivered id is dropped); lateness (an event older than
 * watermark − allowed lateness is late: counted, and only stepped by detectors that accept late
 * events); the watermark moves; when it crossed a minute boundary every detector with `advance`
 * is advanced (once, however far it jumped); an eviction sweep every `sweepEveryMs` of event
 * time; then every detector steps the event. Anomalies come out in that order.
 */
export function createDetectionEngine<R extends DetectorRegistry = typeof DETECTORS>(
  resolveConfig: () => ConfigsOf<R>,
  options: EngineOptions<R> = {},
): DetectionEngine {
  const registry: DetectorRegistry = options.detectors ?? DETECTORS;
  const kinds = Object.keys(registry);
  const idleHorizonMs = options.idleHorizonMs ?? DEFAULTS.idleHorizonMs;
  const sweepEveryMs = options.sweepEveryMs ?? DEFAULTS.sweepEveryMs;
  const capacity = Math.max(1, options.dedupeCapacity ?? DEFAULTS.dedupeCapacity);
  const maxSkewMs = options.maxClockSkewMs ?? DEFAULTS.maxClockSkewMs;
  const lateness = options.allowedLatenessMs ?? DEFAULTS.allowedLatenessMs;
  const latenessNow = typeof lateness === 'function' ? lateness : () => lateness;
  const advancing = kinds.filter((k) => (registry[k] as AnyDetector).advance !== undefined);
  const acceptingLate = kinds.filter((k) => (registry[k] as AnyDetector).late === 'accept');
  // Counters of this instance (not state: a restore does not rewind what this process did).
  const counts = { events: 0, duplicates: 0, late: 0, lateDropped: Object.fromEntries(kinds.map((k) => [k, 0])) as Record<string, number> };
  // One context reused for every call; detectors read it and never keep it.
  const ctx: StepContext = { watermark: 0, late: false, lateness: 0, occurredAt: 0 };

  let state = emptyState(registry);

  // A linear scan of the ring: a duplicate is usually among the newest ids, and a scan of a few
  // hundred doubles costs less than keeping a Set per developer (which tripled memory per key).
  const seenBefore = (key: string, id: number): boolean => {
    let ring = state.seen[key];
    if (ring === undefined) {
      ring = { ids: [id], next: 0, last: 0 };
      state.seen[key] = ring;
      return false;
    }
    const ids = ring.ids;
    for (let i = ids.length - 1; i >= 0; i--) if (ids[i] === id) return true;
    if (ids.length < capacity) {
      ids.push(id);
    } else {
      ids[ring.next] = id;
      ring.next = (ring.next + 1) % capacity;
    }
    return false;
  };

  const sweep = (watermark: number): void => {
    const cutoff = watermark - idleHorizonMs;
    for (const kind of kinds) {
      const detector = registry[kind] as AnyDetector;
      state.detectors[kind] = detector.evict(state.detectors[kind], cutoff);
    }
    for (const key of Object.keys(state.seen)) {
      const ring = state.seen[key];
      if (ring !== undefined && ring.last < cutoff) {
        delete state.seen[key];
      }
    }
    state.swept_at = watermark;
  };

  /** A late event: never moves the watermark, never reaches windowed state; open sessions may take it. */
  const processLate = (event: UsageEvent, configs: Record<string, unknown>, occurred: number): ProcessResult => {
    counts.late += 1;
    ctx.occurredAt = occurred;
    ctx.watermark = state.watermark as number;
    ctx.late = true;
    let anomalies = NONE;
    for (const kind of kinds) {
      if (!acceptingLate.includes(kind)) {
        counts.lateDropped[kind] = (counts.lateDropped[kind] ?? 0) + 1;
        continue;
      }
      const detector = registry[kind] as AnyDetector;
      const result = detector.step(state.detectors[kind], event, configs[kind], ctx);
      state.detectors[kind] = result.state;
      if (result.anomalies.length > 0) anomalies = anomalies === NONE ? [...result.anomalies] : anomalies.concat(result.anomalies);
    }
    return anomalies === NONE ? QUIET_LATE : { anomalies, duplicate: false, late: true };
  };

  return {
    process(event) {
      counts.events += 1;
      const key = usageEventKey(event);
      if (seenBefore(key, hash53(event.event_id))) {
        counts.duplicates += 1;
        return DUPLICATE;
      }

      // A producer with a clock far in the future must not advance event time for everyone and
      // evict every live session. Instants are normalised ISO text in UTC, so they compare as
      // strings and ingested_at is only parsed for the rare event that claims to be ahead of it.
      const occurred = Date.parse(event.occurred_at);
      const eventTime = event.occurred_at > event.ingested_at ? Math.min(occurred, Date.parse(event.ingested_at) + maxSkewMs) : occurred;
      const allowed = latenessNow();
      const configs = resolveConfig() as Record<string, unknown>;
      ctx.lateness = allowed;

      if (state.watermark !== null && eventTime < state.watermark - allowed) {
        (state.seen[key] as DedupeRing).last = state.watermark;
        return processLate(event, configs, occurred);
      }

      if (state.watermark === null || eventTime > state.watermark) state.watermark = eventTime;
      const watermark = state.watermark;
      (state.seen[key] as DedupeRing).last = watermark;
      ctx.watermark = watermark;
      ctx.late = false;
      ctx.occurredAt = occurred;

      let anomalies = NONE;
      const minute = Math.floor(watermark / MINUTE_MS);
      if (state.advanced_at === undefined || state.advanced_at === null) {
        state.advanced_at = minute;
      } else if (minute > state.advanced_at) {
        state.advanced_at = minute;
        for (const kind of advancing) {
          const detector = registry[kind] as AnyDetector;
          const result = (detector.advance as NonNullable<AnyDetector['advance']>)(state.detectors[kind], watermark, configs[kind], ctx);
          state.detectors[kind] = result.state;
          if (result.anomalies.length > 0) anomalies = anomalies === NONE ? [...result.anomalies] : anomalies.concat(result.anomalies);
        }
      }
      if (state.swept_at === null) state.swept_at = watermark;
      else if (watermark - state.swept_at >= sweepEveryMs) sweep(watermark);

      for (const kind of kinds) {
        const detector = registry[kind] as AnyDetector;
        const result = detector.step(state.detectors[kind], event, configs[kind], ctx);
        state.detectors[kind] = result.state;
        if (result.anomalies.length > 0) anomalies = anomalies === NONE ? [...result.anomalies] : anomalies.concat(result.anomalies);
      }
      return anomalies === NONE ? QUIET : { anomalies, duplicate: false, late: false };
    },

    snapshot: () => structuredClone(state),

    restore(snapshot) {
      if ((snapshot as { format?: unknown }).format !== 1) {
        throw new Error(`detection snapshot format ${String((snapshot as { format?: unknown }).format)} is not supported (expected 1)`);
      }
      const restored = structuredClone(snapshot);
      const detectors: Record<string, unknown> = {};
      // Kinds no longer registered are dropped; new kinds start from their initial state.
      for (const kind of kinds) {
        const detector = registry[kind] as AnyDetector;
        if (!(kind in restored.detectors)) detectors[kind] = detector.initialState();
        else detectors[kind] = detector.upgrade === undefined ? restored.detectors[kind] : detector.upgrade(restored.detectors[kind]);
      }
      state = { ...restored, advanced_at: restored.advanced_at ?? null, detectors };
    },

    stats() {
      const keys: Record<string, number> = {};
      for (const kind of kinds) keys[kind] = (registry[kind] as AnyDetector).size(state.detectors[kind]);
      return {
        watermark: state.watermark === null ? null : new Date(state.watermark).toISOString(),
        dedupeKeys: Object.keys(state.seen).length,
        keys,
        events: counts.events,
        duplicates: counts.duplicates,
        late: counts.late,
        lateDropped: { ...counts.lateDropped },
      };
    },
  };
}

function emptyState(registry: DetectorRegistry): EngineSnapshot {
  const detectors: Record<string, unknown> = {};
  for (const kind of Object.keys(registry)) detectors[kind] = (registry[kind] as AnyDetector).initialState();
  return { format: 1, watermark: null, swept_at: null, advanced_at: null, seen: {}, detectors };
}
