import type { Anomaly, AnomalyKind, UsageEvent } from '@burnrate/schemas';

export interface StepResult<State> {
  state: State;
  anomalies: readonly Anomaly[];
}

/**
 * A detector is a reducer over usage events. The contract every detector keeps:
 *
 * - `step` is deterministic: the same state, event and config give the same result. Time comes
 *   from the event (`occurred_at`), never from a clock.
 * - State is plain JSON data (objects, arrays, finite numbers, strings, booleans, null; no
 *   `undefined`, Map, Set or Date), so `JSON.parse(JSON.stringify(state))` restores it exactly.
 * - `step` owns the state it is given and may update it in place; callers keep only the returned
 *   state. Copying a map of thousands of sessions per event would cost more than the detection.
 * - Memory is bounded: `evict` drops every key whose last event is older than `idleBeforeMs`.
 *   The engine calls it as event time advances, not per event.
 * - Anomaly ids are deterministic (kind + subject + episode start), and a new version of an
 *   episode is emitted only when something a human should hear about changed.
 *
 * Methods (not function properties) on purpose: a registry holds detectors of different state and
 * config types, which method bivariance allows.
 */
export interface Detector<State, Cfg> {
  readonly kind: AnomalyKind;
  initialState(): State;
  step(state: State, event: UsageEvent, cfg: Cfg): StepResult<State>;
  evict(state: State, idleBeforeMs: number): State;
  /** Number of tracked keys, for memory metrics and tests. */
  size(state: State): number;
}

export type AnyDetector = Detector<unknown, unknown>;

export type ConfigOf<D> = D extends Detector<infer _State, infer Cfg> ? Cfg : never;
