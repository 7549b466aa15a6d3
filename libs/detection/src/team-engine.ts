import type { Anomaly, UsageRollup } from '@burnrate/schemas';
import type { BucketDetector } from './buckets/bucket-detector.ts';
import { isClosedHour, lastClosedHour, mergeBucket, type HourBucket } from './buckets/hourly.ts';
import type { StepContext } from './detector.ts';
import { TEAM_DETECTORS, type TeamConfigsOf, type TeamDetectorRegistry } from './engine.ts';

/**
 * Stage B: the team and team×model detectors over usage.rollups.v1.
 *
 * Rollups are cumulative totals of one (org, team, developer, model, hour) per source partition,
 * ordered by `seq`. The engine keeps, per such key, the latest totals of each source; a
 * rollup with a higher seq than the one held replaces it, and the difference (what that source
 * counted since) is what the team detectors are given. So a redelivered, repeated or overtaken
 * rollup changes nothing, and the sum over sources is what the detectors have seen.
 *
 * Time: the watermark is the highest `watermark` carried by a rollup (each source's event time
 * when it counted its last event). Differences that arrive at one watermark are held and merged
 * per team×developer×model×hour; when a rollup brings a later watermark, they are stepped into the
 * detectors in key order, at the watermark they arrived at. That is what makes the result
 * independent of how a team's developers are spread over stage-A partitions: the detectors
 * evaluate as a bucket grows (a model-mix check at the first spend of an hour, say), so feeding
 * one partition's part of an instant before another's would judge half a team. Then detectors
 * advance when the watermark crosses a minute and close an hour once it passes the hour's end
 * plus the allowed lateness, as inside the stage-A engine. A rollup for a closed hour is late:
 * counted, never merged (the hour was judged). The lateness must therefore also cover how far
 * stage-A partitions run apart in event time.
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
}

export interface TeamEngine {
  /**
   * Merges the rollup. When it carries a later watermark, first steps the detectors with what
   * arrived at the previous one (anomalies come from that, and from advancing to the new time).
   */
  process(rollup: UsageRollup): RollupResult;
  /** Steps the detectors with what arrived at the current watermark: the end of a replay. Live, the next later rollup does it. */
  flush(): readonly Anomaly[];
  snapshot(): TeamEngineSnapshot;
  restore(snapshot: TeamEngineSnapshot): void;
  stats(): TeamEngineStats;
}

const DEFAULTS = { idleHorizonMs: 24 * 3_600_000, sweepEveryMs: 15 * 60_000, allowedLatenessMs: 10 * 60_000 };
const MINUTE_MS = 60_000;
const NONE: readonly Anomaly[] = Object.freeze([]);

type AnyBucketDetector = BucketDetector<unknown, unknown>;

export function createTeamEngine<R extends TeamDetectorRegistry = typeof TEAM_DETECTORS>(
  resolveConfig: () => TeamConfigsOf<R>,
  options: TeamEngineOptions<R> = {},
): TeamEngine {
  const registry: TeamDetectorRegistry = options.detectors ?? TEAM_DETECTORS;
  const kinds = Object.keys(registry);
  const idleHorizonMs = options.idleHorizonMs ?? DEFAULTS.idleHorizonMs;
  const sweepEveryMs = options.sweepEveryMs ?? DEFAULTS.sweepEveryMs;
  const lateness = options.allowedLatenessMs ?? DEFAULTS.allowedLatenessMs;
  const latenessNow = typeof lateness === 'function' ? lateness : () => lateness;
  const counts = { rollups: 0, stale: 0, late: 0, regressed: 0 };
  const ctx: StepContext = { watermark: 0, lateness: 0 };

  let state = emptyState(registry);

  const collect = (into: readonly Anomaly[], more: readonly Anomaly[]): readonly Anomaly[] =>
    more.length === 0 ? into : into === NONE ? [...more] : into.concat(more);

  /** Evicts idle detector keys and drops hours that closed: nothing may change them any more. */
  const sweep = (watermark: number, allowed: number): void => {
    const cutoff = watermark - idleHorizonMs;
    for (const kind of kinds) state.detectors[kind] = (registry[kind] as AnyBucketDetector).evict(state.detectors[kind], cutoff);
    const closedThrough = lastClosedHour(watermark, allowed);
    for (const key of Object.keys(state.hours)) {
      if ((state.hours[key] as TeamHour).hour <= closedThrough) delete state.hours[key];
    }
    state.swept_at = watermark;
  };

  /**
   * Steps every detector with what arrived at the current watermark, merged per key and in key
   * order: the detectors see the same buckets however the team's developers were spread over
   * stage-A partitions and however their rollups interleaved.
   */
  const flushPending = (configs: Record<string, unknown>, into: readonly Anomaly[]): readonly Anomaly[] => {
    const keys = Object.keys(state.pending);
    if (keys.length === 0) return into;
    if (keys.length > 1) keys.sort(byHourThenKey(state.pending));
    let anomalies = into;
    for (const key of keys) {
      const bucket = state.pending[key] as HourBucket;
      for (const kind of kinds) {
        const result = (registry[kind] as AnyBucketDetector).step(state.detectors[kind], bucket, configs[kind], ctx);
        state.detectors[kind] = result.state;
        anomalies = collect(anomalies, result.anomalies);
      }
    }
    state.pending = {};
    return anomalies;
  };

  return {
    process(r) {
      counts.rollups += 1;
      const allowed = latenessNow();
      const configs = resolveConfig() as Record<string, unknown>;
      ctx.lateness = allowed;

      let anomalies = NONE;
      const carried = instant(r.watermark);
      if (state.watermark === null || carried > state.watermark) {
        // Time moves on: what arrived at the old watermark is complete, judge it there first.
        if (state.watermark !== null) anomalies = flushPending(configs, anomalies);
        state.watermark = carried;
      }
      const watermark = state.watermark;
      ctx.watermark = watermark;

      const minute = Math.floor(watermark / MINUTE_MS);
      if (state.advanced_at === null) {
        state.advanced_at = minute;
      } else if (minute > state.advanced_at) {
        state.advanced_at = minute;
        for (const kind of kinds) {
          const result = (registry[kind] as AnyBucketDetector).advance(state.detectors[kind], watermark, configs[kind], ctx);
          state.detectors[kind] = result.state;
          anomalies = collect(anomalies, result.anomalies);
        }
      }
      if (state.swept_at === null) state.swept_at = watermark;
      else if (watermark - state.swept_at >= sweepEveryMs) sweep(watermark, allowed);

      const hour = instant(r.hour);
      if (isClosedHour(hour, watermark, allowed)) {
        counts.late += 1;
        return { anomalies, stale: false, late: true, regressed: false };
      }
      const key = `${r.org}\u001f${r.team}\u001f${r.developer}\u001f${r.model}\u001f${hour}`;
      let h = state.hours[key];
      if (h === undefined) {
        h = { org: r.org, team: r.team, developer: r.developer, model: r.model, hour, sources: {} };
        state.hours[key] = h;
      }
      const before = h.sources[r.source];
      if (before !== undefined && r.seq <= before.seq) {
        counts.stale += 1;
        return { anomalies, stale: true, late: false, regressed: false };
      }
      const after = totalsOf(r);
      h.sources[r.source] = after;
      const delta = difference(r, after, before);
      if (delta === null) {
        counts.regressed += 1;
        return { anomalies, stale: false, late: false, regressed: true };
      }
      const waiting = state.pending[key];
      if (waiting === undefined) state.pending[key] = delta;
      else mergeBucket(waiting, delta);
      return { anomalies, stale: false, late: false, regressed: false };
    },

    flush() {
      if (state.watermark === null) return NONE;
      ctx.watermark = state.watermark;
      ctx.lateness = latenessNow();
      return flushPending(resolveConfig(), NONE);
    },

    snapshot: () => structuredClone(state),

    restore(snapshot) {
      if ((snapshot as { format?: unknown }).format !== 1) {
        throw new Error(`team engine snapshot format ${String((snapshot as { format?: unknown }).format)} is not supported (expected 1)`);
      }
      const restored = structuredClone(snapshot);
      const detectors: Record<string, unknown> = {};
      for (const kind of kinds) {
        detectors[kind] = kind in restored.detectors ? restored.detectors[kind] : (registry[kind] as AnyBucketDetector).initialState();
      }
      state = { ...restored, pending: restored.pending ?? {}, detectors };
    },

    stats() {
      const keys: Record<string, number> = {};
      for (const kind of kinds) keys[kind] = (registry[kind] as AnyBucketDetector).size(state.detectors[kind]);
      return {
        watermark: state.watermark === null ? null : new Date(state.watermark).toISOString(),
        hours: Object.keys(state.hours).length,
        keys,
        ...counts,
      };
    },
  };
}

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
function difference(r: UsageRollup, after: SourceTotals, before: SourceTotals | undefined): HourBucket | null {
  const bucket: HourBucket = {
    org: r.org,
    team: r.team,
    developer: r.developer,
    model: r.model,
    hour: instant(r.hour),
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

// Rollups in a row mostly carry the same hour and watermark text; a pure memo of the last two parsed.
const parsed = { a: '', aMs: 0, b: '', bMs: 0 };
function instant(text: string): number {
  if (text === parsed.a) return parsed.aMs;
  if (text === parsed.b) return parsed.bMs;
  parsed.b = parsed.a;
  parsed.bMs = parsed.aMs;
  parsed.a = text;
  parsed.aMs = Date.parse(text);
  return parsed.aMs;
}

function byHourThenKey(buckets: Record<string, HourBucket>): (a: string, b: string) => number {
  return (a, b) => (buckets[a] as HourBucket).hour - (buckets[b] as HourBucket).hour || (a < b ? -1 : a > b ? 1 : 0);
}

function emptyState(registry: TeamDetectorRegistry): TeamEngineSnapshot {
  const detectors: Record<string, unknown> = {};
  for (const kind of Object.keys(registry)) detectors[kind] = (registry[kind] as AnyBucketDetector).initialState();
  return { format: 1, watermark: null, swept_at: null, advanced_at: null, hours: {}, pending: {}, detectors };
}
