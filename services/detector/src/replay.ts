import type { Config } from '@burnrate/core';
import {
  addToRollup,
  createDetectionEngine,
  createRollupState,
  createTeamEngine,
  DEFAULT_MAX_CLOCK_SKEW_MS,
  developerSpikesOf,
  type ScoreSink,
  takeRollups,
  withScoreSink,
} from '@burnrate/detection';
import { safeParseUsageEvent, TOPICS } from '@burnrate/schemas';
import type { Anomaly, UsageEvent } from '@burnrate/schemas';
import { detectorConfigs } from './detector.ts';

export type { ScorePoint, ScoreSink, ScoreUnit } from '@burnrate/detection';

export interface ReplayStats {
  /** Events given, invalid ones included. */
  events: number;
  /** Events whose event_id had been seen recently: not counted again, as live. */
  duplicates: number;
  /** Events older than the watermark minus the allowed lateness, as live. */
  late: number;
  /** Report buckets a live feed of their provider covers: not judged, as live (LIVE_SILENCE_MS). */
  superseded: number;
  /** Inputs that are not a valid UsageEvent (live, they would be skipped the same way). */
  invalid: number;
}

export interface ReplayResult {
  /** Every anomaly version, in emission order. */
  anomalies: Anomaly[];
  stats: ReplayStats;
}

export interface ReplayOptions {
  /** Allowed lateness in ms; default config.detectors.allowed_lateness. */
  lateness?: number;
  /** Told every score a detector of either stage compares with its threshold, in evaluation order (see ScorePoint). */
  score?: ScoreSink;
}

/**
 * Runs events through exactly the code the live detector runs, in the order given: ingestion
 * order is part of the semantics (lateness, dedupe, which version an episode is at), so the
 * caller sorts, never this function. Same events and config give the same anomalies.
 *
 * As one stage-A partition (usage.events.v1:0, offsets = input positions) whose every batch is
 * one event: the engine steps it, its team totals go out as rollups, and the team engine
 * (stage B) takes them at once; team detectors judge what came at one event time when time moves
 * past it, as live. Anomalies come out per input: stage A's, then stage B's.
 */
export async function replay(
  events: Iterable<UsageEvent> | AsyncIterable<UsageEvent>,
  config: Config,
  options: ReplayOptions = {},
): Promise<ReplayResult> {
  const configs = options.score === undefined ? detectorConfigs(config) : withScoreSink(detectorConfigs(config), options.score);
  const lateness = options.lateness ?? config.detectors.allowed_lateness;
  const engine = createDetectionEngine(() => configs, { allowedLatenessMs: lateness });
  const team = createTeamEngine(() => configs, { allowedLatenessMs: lateness });
  const rollups = createRollupState();
  const spikes = developerSpikesOf(engine, () => configs.spend_spike);
  const source = `${TOPICS.usageEvents.name}:0`;
  const anomalies: Anomaly[] = [];
  const stats: ReplayStats = { events: 0, duplicates: 0, late: 0, superseded: 0, invalid: 0 };
  for await (const input of events) {
    const offset = stats.events;
    stats.events += 1;
    const parsed = safeParseUsageEvent(input);
    if (!parsed.success) {
      stats.invalid += 1;
      continue;
    }
    const result = engine.process(parsed.data);
    for (const a of result.anomalies) anomalies.push(a);
    if (result.duplicate) {
      stats.duplicates += 1;
    } else if (result.superseded) {
      stats.superseded += 1;
    } else if (result.late) {
      stats.late += 1;
    } else if (addToRollup(rollups, parsed.data, offset, DEFAULT_MAX_CLOCK_SKEW_MS, spikes)) {
      for (const r of takeRollups(rollups, source, lateness)) {
        for (const a of team.process(r).anomalies) anomalies.push(a);
      }
    }
  }
  // Live, the next rollup at a later time would step what came at the last one.
  for (const a of team.flush()) anomalies.push(a);
  return { anomalies, stats };
}
