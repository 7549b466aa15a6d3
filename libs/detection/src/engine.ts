import { usageEventKey } from '@burnrate/schemas';
import type { Anomaly, UsageEvent } from '@burnrate/schemas';
import type { AnyDetector, ConfigOf, StepContext } from './detector.ts';
import { hash53 } from './hash.ts';
import { createDetectorSlots } from './detector-slots.ts';
import { parseInstant } from './time.ts';
import type { BucketDetector } from './buckets/bucket-detector.ts';
import { budgetForecast } from './budget-forecast.ts';
import { cacheEfficiencyDrop, teamCacheEfficiencyDrop } from './cache-efficiency-drop.ts';
import { contextBloat } from './context-bloat.ts';
import { lostEvents } from './lost-events.ts';
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
  lost_events: lostEvents,
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
  /**
   * How far event time advances between eviction sweeps. Default 1 h: a sweep visits every key of
   * every detector, so a key idle past the horizon lingers up to this much longer in exchange for
   * a sweep cost spread over an hour of events (every 15 min it was a tenth of the pure path).
   */
  sweepEveryMs?: number;
  /** Recent event ids remembered per `org:developer` to drop redeliveries. Default 64 (see DEFAULT_DEDUPE_CAPACITY). */
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
  /** Where the next id goes once `ids` is full (the oldest); 0 while it is filling. */
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
  /**
   * Live coverage by `org \u001f provider`: [first, last] event time of its request-level events
   * (see LIVE_SILENCE_MS); absent in older snapshots, which start without it.
   */
  live?: Record<string, [number, number]>;
  detectors: Record<string, unknown>;
}

export interface RestoreOptions {
  /** The snapshot becomes the engine's state as it is, without a copy; the caller must not use it afterwards. */
  owned?: boolean;
}

export interface ProcessResult {
  anomalies: readonly Anomaly[];
  /** The event id was already processed recently; nothing was counted. */
  duplicate: boolean;
  /** The event was older than watermark − allowed lateness (see EngineOptions.allowedLatenessMs). */
  late: boolean;
  /**
   * A report bucket (granularity other than `request`) of a provider whose request-level events
   * this engine already judges: kept out of detection and rollups, so the same spend is not
   * judged twice (see `coveredByLive`). Stored and reconciled like any other event. Its
   * anomalies, if any, are those of the detectors that compare reports with the live feed.
   */
  superseded: boolean;
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
  /** Report buckets left out of detection because live events of their provider cover them. */
  superseded: number;
}

export interface DetectionEngine {
  process(event: UsageEvent): ProcessResult;
  /** A deep copy of the state, safe to keep while the engine goes on. */
  snapshot(): EngineSnapshot;
  /**
   * The state itself as a snapshot, not a copy: serialise it (JSON.stringify) before the engine's
   * next call. Saves the deep copy, which on a large partition costs as much as the serialising.
   */
  snapshotView(): Readonly<EngineSnapshot>;
  /**
   * Replaces the state; detectors missing from the snapshot (added since) start empty. The
   * snapshot is copied unless `owned` says the caller gives it up (a value just parsed from a
   * saved snapshot): a large state is then not held twice while it is restored.
   */
  restore(snapshot: EngineSnapshot, options?: RestoreOptions): void;
  stats(): EngineStats;
}

/**
 * Event ids remembered per developer. The copies the ring is there to catch are re-sends of what
 * was just published: a client retrying a POST /v1/events batch after a 400 or a 503, an OTLP
 * exporter retrying its last export. They arrive seconds to minutes after the originals, and a
 * copy is caught while fewer than this many new ids of its developer came in between: 64 covers
 * a retried export of one developer's tool (a few seconds of calls) and a per-request client's
 * retries with room to spare. A re-sent batch holding more of one developer's events is counted
 * again by the detectors (the store still keeps one row per event_id). 64 ids of 8 bytes keep a
 * full ring, key included, under the 1 KB per tracked key of DESIGN.md; 128 did not (1.4 KB).
 */
export const DEFAULT_DEDUPE_CAPACITY = 64;

const DEFAULTS = {
  idleHorizonMs: 24 * 3_600_000,
  sweepEveryMs: 60 * 60_000,
  dedupeCapacity: DEFAULT_DEDUPE_CAPACITY,
  maxClockSkewMs: 5 * 60_000,
  allowedLatenessMs: 10 * 60_000,
};

const MINUTE_MS = 60_000;

/**
 * Source precedence, per org and provider: request-level events (Claude Code's OTLP, LiteLLM,
 * POST /v1/events per call, imported transcripts) arrive within seconds and feed detection; a
 * provider's report buckets (usage and cost APIs, hours later) count the same spend again. A
 * bucket is therefore superseded (not judged) when this engine has seen request-level events of
 * its provider and org that began before the bucket ended and were not silent for longer than
 * this before it started: a live feed that stopped a week ago is taken as gone, and the reports
 * are judged again. An org with admin keys only, or a provider nothing emits live for, is judged
 * from its reports. Either way every event is stored, and the reconciliation view compares both.
 */
export const LIVE_SILENCE_MS = 7 * 24 * 3_600_000;

const NONE: readonly Anomaly[] = Object.freeze([]);
// Most events produce nothing; sharing these results keeps the hot path free of allocations.
const QUIET: ProcessResult = Object.freeze({ anomalies: NONE, duplicate: false, late: false, superseded: false });
const QUIET_LATE: ProcessResult = Object.freeze({ anomalies: NONE, duplicate: false, late: true, superseded: false });
const DUPLICATE: ProcessResult = Object.freeze({ anomalies: NONE, duplicate: true, late: false, superseded: false });
const SUPERSEDED: ProcessResult = Object.freeze({ anomalies: NONE, duplicate: false, late: false, superseded: true });

/**
 * Runs every detector over each event and keeps their states in one snapshot-able object.
 * `resolveConfig` is called once per event, so a config reload takes effect on the next event
 * without losing state; return the same object while the config is unchanged.
 *
 * Per event, in order: dedupe (a redelivered id is dropped); source precedence (a report bucket
 * a live feed of its provider covers is superseded, LIVE_SILENCE_MS, and only the detectors that
 * accept reports step it); lateness (an event older than
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
  // By position in `kinds`: per event the engine walks arrays, not the registry, configs and
  // states by kind name (a keyed lookup per detector, three times an event, was a tenth of it).
  const detectors = kinds.map((k) => registry[k] as AnyDetector);
  const acceptsLate = detectors.map((d) => d.late === 'accept');
  const acceptingReports = detectors.flatMap((d, i) => (d.reports === 'accept' ? [i] : []));
  const advancing = detectors.flatMap((d, i) => (d.advance === undefined ? [] : [i]));
  const idleHorizonMs = options.idleHorizonMs ?? DEFAULTS.idleHorizonMs;
  const sweepEveryMs = options.sweepEveryMs ?? DEFAULTS.sweepEveryMs;
  const capacity = Math.max(1, options.dedupeCapacity ?? DEFAULTS.dedupeCapacity);
  const maxSkewMs = options.maxClockSkewMs ?? DEFAULTS.maxClockSkewMs;
  const lateness = options.allowedLatenessMs ?? DEFAULTS.allowedLatenessMs;
  const latenessNow = typeof lateness === 'function' ? lateness : () => lateness;
  // Counters of this instance (not state: a restore does not rewind what this process did).
  const counts = {
    events: 0,
    duplicates: 0,
    late: 0,
    superseded: 0,
    lateDropped: Object.fromEntries(kinds.map((k) => [k, 0])) as Record<string, number>,
  };
  // One context reused for every call; detectors read it and never keep it.
  const ctx: StepContext = { watermark: 0, late: false, lateness: 0, occurredAt: 0 };

  let state = emptyState(registry);
  // `state.detectors` by position; a detector's returned state is written back to both.
  const slots = createDetectorSlots(kinds, resolveConfig, state.detectors);
  const { states, configsNow, set: setState } = slots;

  // Rings by org, then developer: the event's own strings are looked up (their hashes are cached
  // on them), where `state.seen` would need `org:developer` built and internalised per event.
  // Holds the same ring objects as `state.seen`; emptied on every sweep and restore and refilled
  // on the next event of each developer.
  let rings = new Map<string, Map<string, DedupeRing>>();
  // The last developer's ring: consecutive events mostly come from one session.
  let lastRing: DedupeRing | null = null;
  let lastOrg = '';
  let lastDeveloper = '';

  const ringOf = (event: UsageEvent): DedupeRing => {
    if (lastRing !== null && event.developer === lastDeveloper && event.org === lastOrg) return lastRing;
    let byDeveloper = rings.get(event.org);
    if (byDeveloper === undefined) {
      byDeveloper = new Map();
      rings.set(event.org, byDeveloper);
    }
    let ring = byDeveloper.get(event.developer);
    if (ring === undefined) {
      const key = usageEventKey(event);
      ring = state.seen[key];
      if (ring === undefined) {
        ring = { ids: [], next: 0, last: 0 };
        state.seen[key] = ring;
      }
      byDeveloper.set(event.developer, ring);
    }
    lastRing = ring;
    lastOrg = event.org;
    lastDeveloper = event.developer;
    return ring;
  };

  const forgetRings = (): void => {
    rings = new Map();
    lastRing = null;
    lastLive = null;
  };

  // The last request-level event's coverage entry: consecutive events mostly share org and provider.
  let lastLive: [number, number] | null = null;
  let lastLiveOrg = '';
  let lastLiveProvider = '';

  const noteLive = (event: UsageEvent, occurred: number): void => {
    let span = lastLive;
    if (span === null || event.org !== lastLiveOrg || event.provider !== lastLiveProvider) {
      const live = (state.live ??= {});
      const key = `${event.org}\u001f${event.provider}`;
      const known = live[key];
      span = known ?? [occurred, occurred];
      if (known === undefined) live[key] = span;
      lastLive = span;
      lastLiveOrg = event.org;
      lastLiveProvider = event.provider;
    }
    if (occurred < span[0]) span[0] = occurred;
    if (occurred > span[1]) span[1] = occurred;
  };

  /** Whether a report bucket falls in a live feed of its provider (LIVE_SILENCE_MS). */
  const coveredByLive = (event: UsageEvent, occurred: number): boolean => {
    const span = state.live?.[`${event.org}\u001f${event.provider}`];
    if (span === undefined) return false;
    const start = event.period_start === undefined ? occurred : parseInstant(event.period_start);
    const end = event.period_end === undefined ? occurred : parseInstant(event.period_end);
    return span[0] < end && start <= span[1] + LIVE_SILENCE_MS;
  };

  // A linear scan of the ring: a duplicate is usually among the newest ids, and a scan of a few
  // dozen doubles costs less than keeping a Set per developer (which tripled memory per key).
  const seenBefore = (ring: DedupeRing, id: number): boolean => {
    const ids = ring.ids;
    for (let i = ids.length - 1; i >= 0; i--) if (ids[i] === id) return true;
    if (ids.length < capacity - 1) {
      ids.push(id);
    } else if (ids.length === capacity - 1) {
      // Filled by push, the array keeps spare room (up to half again); the full ring is built exact.
      const full = new Array<number>(capacity);
      for (let i = 0; i < ids.length; i++) full[i] = ids[i] as number;
      full[ids.length] = id;
      ring.ids = full;
    } else {
      ids[ring.next] = id;
      ring.next = (ring.next + 1) % capacity;
    }
    return false;
  };

  const sweep = (watermark: number): void => {
    const cutoff = watermark - idleHorizonMs;
    for (let i = 0; i < detectors.length; i++) setState(i, (detectors[i] as AnyDetector).evict(states[i], cutoff));
    // for…in tolerates deleting the key being visited and allocates no key array.
    for (const key in state.seen) {
      if ((state.seen[key] as DedupeRing).last < cutoff) delete state.seen[key];
    }
    forgetRings();
    state.swept_at = watermark;
  };

  /** A late event: never moves the watermark, never reaches windowed state; open sessions may take it. */
  const processLate = (event: UsageEvent, configs: readonly unknown[], occurred: number): ProcessResult => {
    counts.late += 1;
    ctx.occurredAt = occurred;
    ctx.watermark = state.watermark as number;
    ctx.late = true;
    let anomalies = NONE;
    for (let i = 0; i < detectors.length; i++) {
      if (!acceptsLate[i]) {
        const kind = kinds[i] as string;
        counts.lateDropped[kind] = (counts.lateDropped[kind] ?? 0) + 1;
        continue;
      }
      const result = (detectors[i] as AnyDetector).step(states[i], event, configs[i], ctx);
      setState(i, result.state);
      if (result.anomalies.length > 0) anomalies = anomalies === NONE ? [...result.anomalies] : anomalies.concat(result.anomalies);
    }
    return anomalies === NONE ? QUIET_LATE : { anomalies, duplicate: false, late: true, superseded: false };
  };

  /**
   * A superseded report bucket, shown to the detectors that compare reports with the live feed
   * (`reports: 'accept'`). It neither moves the watermark nor advances anyone: its spend is
   * already counted by the live events it is compared with.
   */
  const processReport = (event: UsageEvent, occurred: number): ProcessResult => {
    const configs = configsNow();
    const allowed = latenessNow();
    // A live feed covers it, so the engine has seen a request-level event and has a watermark.
    const watermark = state.watermark ?? occurred;
    const late = occurred < watermark - allowed;
    ctx.watermark = watermark;
    ctx.lateness = allowed;
    ctx.late = late;
    ctx.occurredAt = occurred;
    let anomalies = NONE;
    for (const i of acceptingReports) {
      if (late && !acceptsLate[i]) continue;
      const result = (detectors[i] as AnyDetector).step(states[i], event, configs[i], ctx);
      setState(i, result.state);
      if (result.anomalies.length > 0) anomalies = anomalies === NONE ? [...result.anomalies] : anomalies.concat(result.anomalies);
    }
    return anomalies === NONE ? SUPERSEDED : { anomalies, duplicate: false, late: false, superseded: true };
  };

  return {
    process(event) {
      counts.events += 1;
      const ring = ringOf(event);
      if (seenBefore(ring, hash53(event.event_id))) {
        counts.duplicates += 1;
        return DUPLICATE;
      }

      // A producer with a clock far in the future must not advance event time for everyone and
      // evict every live session. Instants are normalised ISO text in UTC, so they compare as
      // strings and ingested_at is only parsed for the rare event that claims to be ahead of it.
      const occurred = parseInstant(event.occurred_at);
      if (event.granularity === 'request') noteLive(event, occurred);
      else if (coveredByLive(event, occurred)) {
        counts.superseded += 1;
        ring.last = state.watermark ?? occurred;
        return acceptingReports.length === 0 ? SUPERSEDED : processReport(event, occurred);
      }
      const eventTime = event.occurred_at > event.ingested_at ? Math.min(occurred, parseInstant(event.ingested_at) + maxSkewMs) : occurred;
      const allowed = latenessNow();
      const configs = configsNow();
      ctx.lateness = allowed;

      if (state.watermark !== null && eventTime < state.watermark - allowed) {
        ring.last = state.watermark;
        return processLate(event, configs, occurred);
      }

      if (state.watermark === null || eventTime > state.watermark) state.watermark = eventTime;
      const watermark = state.watermark;
      ring.last = watermark;
      ctx.watermark = watermark;
      ctx.late = false;
      ctx.occurredAt = occurred;

      let anomalies = NONE;
      const minute = Math.floor(watermark / MINUTE_MS);
      if (state.advanced_at === undefined || state.advanced_at === null) {
        state.advanced_at = minute;
      } else if (minute > state.advanced_at) {
        state.advanced_at = minute;
        for (const i of advancing) {
          const result = (detectors[i] as AnyDetector).advance?.(states[i], watermark, configs[i], ctx);
          if (result === undefined) continue;
          setState(i, result.state);
          if (result.anomalies.length > 0) anomalies = anomalies === NONE ? [...result.anomalies] : anomalies.concat(result.anomalies);
        }
      }
      if (state.swept_at === null) state.swept_at = watermark;
      else if (watermark - state.swept_at >= sweepEveryMs) sweep(watermark);

      for (let i = 0; i < detectors.length; i++) {
        const result = (detectors[i] as AnyDetector).step(states[i], event, configs[i], ctx);
        setState(i, result.state);
        if (result.anomalies.length > 0) anomalies = anomalies === NONE ? [...result.anomalies] : anomalies.concat(result.anomalies);
      }
      return anomalies === NONE ? QUIET : { anomalies, duplicate: false, late: false, superseded: false };
    },

    snapshot: () => structuredClone(state),
    snapshotView: () => state,

    restore(snapshot, restoreOptions) {
      if ((snapshot as { format?: unknown }).format !== 1) {
        throw new Error(`detection snapshot format ${String((snapshot as { format?: unknown }).format)} is not supported (expected 1)`);
      }
      const restored = restoreOptions?.owned === true ? snapshot : structuredClone(snapshot);
      const detectorStates: Record<string, unknown> = {};
      // Kinds no longer registered are dropped; new kinds start from their initial state.
      for (const kind of kinds) {
        const detector = registry[kind] as AnyDetector;
        if (!(kind in restored.detectors)) detectorStates[kind] = detector.initialState();
        else detectorStates[kind] = detector.upgrade === undefined ? restored.detectors[kind] : detector.upgrade(restored.detectors[kind]);
      }
      // Rings saved with another capacity (128 before it was 64) keep their newest ids.
      for (const key in restored.seen) restored.seen[key] = fitRing(restored.seen[key] as DedupeRing, capacity);
      state = { ...restored, advanced_at: restored.advanced_at ?? null, detectors: detectorStates };
      slots.adopt(detectorStates);
      forgetRings();
    },

    stats() {
      const keys: Record<string, number> = {};
      for (let i = 0; i < detectors.length; i++) keys[kinds[i] as string] = (detectors[i] as AnyDetector).size(states[i]);
      return {
        watermark: state.watermark === null ? null : new Date(state.watermark).toISOString(),
        dedupeKeys: Object.keys(state.seen).length,
        keys,
        events: counts.events,
        duplicates: counts.duplicates,
        late: counts.late,
        lateDropped: { ...counts.lateDropped },
        superseded: counts.superseded,
      };
    },
  };
}

/**
 * The ring with at most `capacity` of its ids, the newest, oldest first (so `next` = 0 is where
 * the next id goes once it is full). Unchanged when it already fits and has not wrapped.
 */
function fitRing(ring: DedupeRing, capacity: number): DedupeRing {
  const { ids, next } = ring;
  if (ids.length <= capacity && next === 0) return ring;
  const ordered = next === 0 ? ids : [...ids.slice(next), ...ids.slice(0, next)];
  return { ids: ordered.length > capacity ? ordered.slice(ordered.length - capacity) : ordered, next: 0, last: ring.last };
}

function emptyState(registry: DetectorRegistry): EngineSnapshot {
  const detectors: Record<string, unknown> = {};
  for (const kind of Object.keys(registry)) detectors[kind] = (registry[kind] as AnyDetector).initialState();
  return { format: 1, watermark: null, swept_at: null, advanced_at: null, seen: {}, detectors };
}
