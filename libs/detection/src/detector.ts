import type { Anomaly, AnomalyKind, Severity, Subject, UsageEvent } from '@burnrate/schemas';
import type { WorkCalendar } from './calendar.ts';

export interface StepResult<State> {
  state: State;
  anomalies: readonly Anomaly[];
}

/**
 * What the engine knows besides the event. Reused between calls: read it, never keep it.
 */
export interface StepContext {
  /** The engine's event-time watermark (epoch ms): the highest event time seen, clamped by ingest time. */
  watermark: number;
  /**
   * The event is older than `watermark - lateness`. Only detectors that declare `late: 'accept'`
   * are ever given one; windows and buckets that may have closed must not take it.
   */
  late?: boolean;
  /** Allowed lateness (ms): a bucket ending before `watermark - lateness` can no longer change. */
  lateness?: number;
  /** The stepped event's `occurred_at` as epoch ms (parsed once by the engine for every detector). */
  occurredAt?: number;
}

/**
 * A detector is a reducer over usage events. The contract every detector keeps:
 *
 * - `step` is deterministic: the same state, event and config give the same result. Time comes
 *   from the event (`occurred_at`) or the watermark, never from a clock.
 * - State is plain JSON data (objects, arrays, finite numbers, strings, booleans, null; no
 *   `undefined`, Map, Set or Date), so `JSON.parse(JSON.stringify(state))` restores it exactly.
 * - `step` owns the state it is given and may update it in place; callers keep only the returned
 *   state. Copying a map of thousands of sessions per event would cost more than the detection.
 * - Memory is bounded: `evict` drops every key whose last event is older than `idleBeforeMs`.
 *   The engine calls it as event time advances, not per event.
 * - Anomaly ids are deterministic (kind + subject + episode start), and a new version of an
 *   episode is emitted only when something a human should hear about changed (see episode.ts).
 * - A detector disabled for a subject (`enabled: false` in its settings) emits nothing for it.
 *
 * Methods (not function properties) on purpose: a registry holds detectors of different state and
 * config types, which method bivariance allows.
 */
export interface Detector<State, Cfg> {
  readonly kind: AnomalyKind;
  /**
   * What the engine does with a late event (older than watermark − allowed lateness): 'drop'
   * (default) counts it and never shows it to this detector; 'accept' steps it with `ctx.late`
   * set, for detectors whose state has no closed windows (a session still open can take it).
   */
  readonly late?: 'drop' | 'accept';
  /**
   * What the engine does with a superseded report bucket (a provider's report of spend a live
   * feed of its org already carries, see LIVE_SILENCE_MS): 'drop' (default) keeps it from this
   * detector; 'accept' steps it before the engine answers `superseded`, for detectors that compare
   * the two feeds rather than judge the spend. It does not move the watermark and is never
   * advanced for; a late one follows `late` as any event does. Detectors that do not accept reports
   * cost nothing on that path.
   */
  readonly reports?: 'drop' | 'accept';
  initialState(): State;
  step(state: State, event: UsageEvent, cfg: Cfg, ctx: StepContext): StepResult<State>;
  /**
   * Called when the watermark crosses a minute boundary (once per crossing, however many minutes
   * it jumped), before the event that moved it is stepped: closes buckets, resolves episodes that
   * went quiet, fires time-based signals. Anomalies it returns carry `detected_at` = the watermark.
   */
  advance?(state: State, watermark: number, cfg: Cfg, ctx: StepContext): StepResult<State>;
  evict(state: State, idleBeforeMs: number): State;
  /**
   * Brings a state restored from an older snapshot up to this version's shape (fields added since
   * get their neutral value). Absent: the restored state is used as is.
   */
  upgrade?(state: unknown): State;
  /** Number of tracked keys, for memory metrics and tests. */
  size(state: State): number;
}

export type AnyDetector = Detector<unknown, unknown>;

export type ConfigOf<D> = D extends Detector<infer _State, infer Cfg> ? Cfg : never;

/** Who settings are resolved for: the team, and the developer when the subject is one. */
export interface SettingsSubject {
  team: string;
  developer?: string | undefined;
}

/**
 * The config most detectors take, built by the detector service from burnrate.yaml (defaults, then
 * per-team and per-developer overrides). Functions rather than data so the service can memoise per
 * subject and this package stays free of the config library.
 */
export interface DetectorEnv<Settings extends { enabled: boolean }> {
  settingsFor(subject: SettingsSubject): Settings;
  /** The team's working calendar in its time zone. */
  calendarFor(team: string): WorkCalendar;
  /** The note of a planned change covering this detector for `team` at `atMs` (its local date): anomalies stay at 'info'. */
  plannedChange(team: string, atMs: number): string | undefined;
  /**
   * Told each score the detector compares with its threshold (see ScorePoint). Undefined live:
   * detectors call it as `cfg.score?.(…)`, so the point is never built and the live path pays one
   * property read. A backtest sets it (withScoreSink) to show how close a miss was.
   */
  score?: ScoreSink;
}

/**
 * What a score is measured in: `usd` (a cost against a dollar cap), `z` (a robust z-score against
 * its band), `ratio` (a multiple or share, e.g. projected spend / budget), `points` (percentage
 * points of a share), `hours` (a duration against a time limit).
 */
export type ScoreUnit = 'usd' | 'z' | 'ratio' | 'points' | 'hours';

/**
 * One evaluation of a detector's condition: the score it computed and the threshold it compared it
 * with, for a subject at a time. Reported where the detector evaluates, whether or not anything
 * fires: per event for session kinds, per key and hour for hourly ones, per evaluation for the
 * rest. Only evaluations the detector trusts are reported (a key still warming up is not).
 */
export interface ScorePoint {
  kind: AnomalyKind;
  /** Who the score is about, as an anomaly's subject would name it. */
  subject: Subject;
  /** When (epoch ms): the event's time, the start of the hour judged, or the watermark. */
  at: number;
  score: number;
  /** Where the score starts to count: the warning threshold (the condition holds at `score ≥ threshold`, or `>` where the detector says so). */
  threshold: number;
  unit: ScoreUnit;
  /**
   * The severity the detector's thresholds give this evaluation (score, and its dollar gate when
   * it has one), before planned changes and episode rules; null below them.
   */
  severity: Severity | null;
  /** The dollar amount the detector's dollar gate compares, when it has one, and that gate. */
  impact_usd?: number;
  min_impact_usd?: number;
}

export type ScoreSink = (point: ScorePoint) => void;

/** The configs with `sink` set on each (a copy; the configs given are left as they are). */
export function withScoreSink<C extends Record<string, object>>(configs: C, sink: ScoreSink): C {
  const out: Record<string, object> = {};
  for (const [name, cfg] of Object.entries(configs)) out[name] = { ...cfg, score: sink };
  return out as C;
}
