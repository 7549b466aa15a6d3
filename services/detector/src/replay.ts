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

/**
 * Replays a provider's report bucket where it reached Burnrate live: after its period, not at its
 * start. A daily cost report sorts by occurred_at (its day's midnight) before that day's
 * request-level events; held until the stream passes its period_end, it meets the engine after
 * them, as live, so source precedence (LIVE_SILENCE_MS in @burnrate/detection) supersedes it the
 * same way. Request-level events pass through in the order given; held buckets come out in
 * (period_end, input) order, the rest at the end of the stream.
 */
export async function* reportsAfterTheirPeriod(events: Iterable<UsageEvent> | AsyncIterable<UsageEvent>): AsyncGenerator<UsageEvent> {
  const held: UsageEvent[] = [];
  const endOf = (e: UsageEvent): string => e.period_end ?? e.occurred_at;
  for await (const event of events) {
    while (held.length > 0 && endOf(held[0] as UsageEvent) <= event.occurred_at) yield held.shift() as UsageEvent;
    if (event.granularity === 'request' || event.period_end === undefined) {
      yield event;
      continue;
    }
    // Kept ordered by period end; a report's buckets mostly arrive in that order already.
    let i = held.length;
    while (i > 0 && endOf(held[i - 1] as UsageEvent) > endOf(event)) i -= 1;
    held.splice(i, 0, event);
  }
  yield* held;
}
