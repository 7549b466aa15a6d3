import type { Anomaly, AnomalyKind, SpendCorrection, UsageEvent } from '@burnrate/schemas';
import type { Detector, StepContext, StepResult } from '../detector.ts';
import { bucketOfEvent, stepHour, type HourBucket } from './hourly.ts';

/**
 * A team-scope detector: the same reducer contract as Detector (pure, JSON state, deterministic,
 * bounded), but its input is an hour bucket of a team (or team×model) rather than an event. Its
 * state may keep baselines packed in typed arrays (team keys are many and their baselines large):
 * those serialise as JSON and `upgrade` packs them again on restore.
 *
 * The distributed design: stage A instances roll events up into HourBuckets keyed by team
 * (usage.rollups.v1, key org:team), sending partial buckets (deltas) for the open hour as often as
 * they like; stage B, one consumer per team partition, steps these detectors with every delta.
 * They add deltas up into their own open buckets and close an hour when the watermark passes its
 * end plus the allowed lateness, so several instances' partial sums make one team hour.
 * A delta for an hour already closed is late: counted in the state's `late`, not merged.
 */
export interface BucketDetector<State, Cfg> {
  readonly kind: AnomalyKind;
  initialState(): State;
  step(state: State, bucket: HourBucket, cfg: Cfg, ctx: StepContext): StepResult<State>;
  /** Closes hours the watermark has passed and judges them; call as the watermark advances. */
  advance(state: State, watermark: number, cfg: Cfg, ctx: StepContext): StepResult<State>;
  evict(state: State, idleBeforeMs: number): State;
  /**
   * A team's day as the providers' reports count it (spend-correction.v1.ts): the latest figures
   * of that day replace the earlier ones. Absent: the detector follows the live feed only. Stage B
   * alone is given corrections (the single-instance shortcut has none).
   */
  correct?(state: State, correction: SpendCorrection, cfg: Cfg, ctx: StepContext): StepResult<State>;
  /**
   * The state from its JSON (JSON.parse of a snapshot): a state that keeps numbers in typed
   * arrays (baselines/packed-ring.ts) serialises them as plain JSON and takes them back here.
   * Absent: the parsed state is used as is.
   */
  upgrade?(state: unknown): State;
  size(state: State): number;
}

/**
 * The single-instance shortcut: runs a team-scope detector inside the stage-A engine by turning
 * each event into a one-event bucket delta of its team × developer × model. Correct only while one
 * engine sees every event of the team (embedded mode, a single detector instance); with several
 * instances each would see part of a team, and the rollup topic with a stage-B consumer is the
 * design. Late events never reach it (the engine drops them, `late` is not 'accept').
 *
 * One bucket object is reused for every event (bucket detectors copy numbers out of it and never
 * keep it), so the shortcut allocates nothing per event.
 */
export function overEvents<State, Cfg>(detector: BucketDetector<State, Cfg>): Detector<State, Cfg> {
  const b: HourBucket = bucketOfEvent(PLACEHOLDER, 0);
  return {
    kind: detector.kind,
    initialState: () => detector.initialState(),
    step: (state, e, cfg, ctx) => {
      const premium = e.tier === 'premium';
      b.org = e.org;
      b.team = e.team;
      b.developer = e.developer;
      b.model = e.model;
      b.hour = stepHour(e, ctx.occurredAt);
      b.cost_usd = e.cost_usd;
      b.cost_premium_usd = premium ? e.cost_usd : 0;
      b.events = 1;
      b.premium_events = premium ? 1 : 0;
      b.input_tokens = e.input_tokens;
      b.cache_read_tokens = e.cache_read_tokens;
      b.cache_write_tokens = e.cache_write_tokens;
      b.output_tokens = e.output_tokens;
      return detector.step(state, b, cfg, ctx);
    },
    advance: (state, watermark, cfg, ctx) => detector.advance(state, watermark, cfg, ctx),
    evict: (state, idleBeforeMs) => detector.evict(state, idleBeforeMs),
    upgrade: detector.upgrade?.bind(detector),
    size: (state) => detector.size(state),
  };
}

const PLACEHOLDER = {
  org: '',
  team: '',
  developer: '',
  model: '',
  tier: 'standard',
  cost_usd: 0,
  input_tokens: 0,
  cache_read_tokens: 0,
  cache_write_tokens: 0,
  output_tokens: 0,
} as UsageEvent;

/** Allowed lateness of a step context: the engine always sets it; 10 min (the config default) otherwise. */
export function latenessOf(ctx: StepContext): number {
  return ctx.lateness ?? 600_000;
}

/**
 * Baselines outlive the engine's idle horizon (24 h) by this much: a key idle over a weekend or a
 * week off keeps its history instead of starting warm-up again on Monday. Still bounded: a key is
 * dropped two weeks after its last spend.
 */
export const BASELINE_EXTRA_RETENTION_MS = 13 * 86_400_000;

/**
 * A reusable StepResult: one object per detector variant, refilled on every call, so stepping an
 * event allocates nothing. Callers read `state` and `anomalies` before they step again (the engine
 * does; Detector's contract already has them keep only the returned state), and never hold on to
 * the result object itself.
 */
export function stepResults<S>(): (state: S, anomalies: readonly Anomaly[]) => StepResult<S> {
  const r: StepResult<S> = { state: undefined as S, anomalies: [] };
  return (state, anomalies) => {
    (r as { state: S }).state = state;
    (r as { anomalies: readonly Anomaly[] }).anomalies = anomalies;
    return r;
  };
}
