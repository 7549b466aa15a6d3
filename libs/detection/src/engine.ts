import { usageEventKey } from '@burnrate/schemas';
import type { Anomaly, UsageEvent } from '@burnrate/schemas';
import type { AnyDetector, ConfigOf } from './detector.ts';
import { hash53 } from './hash.ts';
import { sessionCost } from './session-cost.ts';

/**
 * Every detector the engine runs, keyed by its kind. Adding a detector here adds its config to
 * `DetectorConfigs`, so every caller of `createDetectionEngine` is told by the compiler to supply it.
 * Order is the order anomalies of one event come out in.
 */
export const DETECTORS = {
  session_cost: sessionCost,
} as const;

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
  /** Recent event ids remembered per `org:developer` to drop redeliveries. Default 256. */
  dedupeCapacity?: number;
  /** An event claiming to be further ahead of its `ingested_at` than this does not move the watermark. Default 5 min. */
  maxClockSkewMs?: number;
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
  seen: Record<string, DedupeRing>;
  detectors: Record<string, unknown>;
}

export interface ProcessResult {
  anomalies: readonly Anomaly[];
  /** The event id was already processed recently; nothing was counted. */
  duplicate: boolean;
}

export interface EngineStats {
  watermark: string | null;
  dedupeKeys: number;
  /** Tracked keys per detector kind. */
  keys: Record<string, number>;
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
  dedupeCapacity: 256,
  maxClockSkewMs: 5 * 60_000,
};

const NONE: readonly Anomaly[] = Object.freeze([]);
// Most events produce nothing; sharing these results keeps the hot path free of allocations.
const QUIET: ProcessResult = Object.freeze({ anomalies: NONE, duplicate: false });
const DUPLICATE: ProcessResult = Object.freeze({ anomalies: NONE, duplicate: true });

/**
 * Runs every detector over each event and keeps their states in one snapshot-able object.
 * `resolveConfig` is called once per event, so a config reload takes effect on the next event
 * without losing state; return the same object while the config is unchanged.
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

  let state = emptyState(registry);
  // Lookup index over each ring, derived from state and rebuilt lazily after a restore.
  let index = new Map<string, Set<number>>();

  const seenBefore = (key: string, id: number): boolean => {
    let ring = state.seen[key];
    if (ring === undefined) {
      ring = { ids: [], next: 0, last: 0 };
      state.seen[key] = ring;
    }
    let set = index.get(key);
    if (set === undefined) {
      set = new Set(ring.ids);
      index.set(key, set);
    }
    if (set.has(id)) return true;
    if (ring.ids.length < capacity) {
      ring.ids.push(id);
    } else {
      const old = ring.ids[ring.next];
      if (old !== undefined) set.delete(old);
      ring.ids[ring.next] = id;
      ring.next = (ring.next + 1) % capacity;
    }
    set.add(id);
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
        index.delete(key);
      }
    }
    state.swept_at = watermark;
  };

  return {
    process(event) {
      const key = usageEventKey(event);
      if (seenBefore(key, hash53(event.event_id))) return DUPLICATE;

      // A producer with a clock far in the future must not advance event time for everyone and
      // evict every live session. Instants are normalised ISO text in UTC, so they compare as
      // strings and ingested_at is only parsed for the rare event that claims to be ahead of it.
      const occurred = Date.parse(event.occurred_at);
      const eventTime = event.occurred_at > event.ingested_at ? Math.min(occurred, Date.parse(event.ingested_at) + maxSkewMs) : occurred;
      if (state.watermark === null || eventTime > state.watermark) state.watermark = eventTime;
      const watermark = state.watermark;
      (state.seen[key] as DedupeRing).last = watermark;
      if (state.swept_at === null) state.swept_at = watermark;
      else if (watermark - state.swept_at >= sweepEveryMs) sweep(watermark);

      const configs = resolveConfig() as Record<string, unknown>;
      let anomalies = NONE;
      for (const kind of kinds) {
        const detector = registry[kind] as AnyDetector;
        const result = detector.step(state.detectors[kind], event, configs[kind]);
        state.detectors[kind] = result.state;
        if (result.anomalies.length > 0) anomalies = anomalies === NONE ? [...result.anomalies] : anomalies.concat(result.anomalies);
      }
      return anomalies === NONE ? QUIET : { anomalies, duplicate: false };
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
        detectors[kind] = kind in restored.detectors ? restored.detectors[kind] : (registry[kind] as AnyDetector).initialState();
      }
      state = { ...restored, detectors };
      index = new Map();
    },

    stats() {
      const keys: Record<string, number> = {};
      for (const kind of kinds) keys[kind] = (registry[kind] as AnyDetector).size(state.detectors[kind]);
      return {
        watermark: state.watermark === null ? null : new Date(state.watermark).toISOString(),
        dedupeKeys: Object.keys(state.seen).length,
        keys,
      };
    },
  };
}

function emptyState(registry: DetectorRegistry): EngineSnapshot {
  const detectors: Record<string, unknown> = {};
  for (const kind of Object.keys(registry)) detectors[kind] = (registry[kind] as AnyDetector).initialState();
  return { format: 1, watermark: null, swept_at: null, seen: {}, detectors };
}
