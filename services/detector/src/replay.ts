import type { Config } from '@burnrate/core';
import { createDetectionEngine } from '@burnrate/detection';
import { UsageEvent } from '@burnrate/schemas';
import type { Anomaly } from '@burnrate/schemas';
import { detectorConfigs } from './detector.ts';

export interface ReplayStats {
  /** Events given, invalid ones included. */
  events: number;
  /** Events whose event_id had been seen recently: not counted again, as live. */
  duplicates: number;
  /** Events older than the watermark minus the allowed lateness, as live. */
  late: number;
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
}

/**
 * Runs events through exactly the engine and detector configs the live detector runs, in the
 * order given: ingestion order is part of the semantics (lateness, dedupe, which version an
 * episode is at), so the caller sorts, never this function. Same events and config give the same
 * anomalies. One engine sees every event, as one detector instance over one partition would.
 */
export async function replay(
  events: Iterable<UsageEvent> | AsyncIterable<UsageEvent>,
  config: Config,
  options: ReplayOptions = {},
): Promise<ReplayResult> {
  const configs = detectorConfigs(config);
  const lateness = options.lateness ?? config.detectors.allowed_lateness;
  const engine = createDetectionEngine(() => configs, { allowedLatenessMs: lateness });
  const anomalies: Anomaly[] = [];
  const stats: ReplayStats = { events: 0, duplicates: 0, late: 0, invalid: 0 };
  for await (const input of events) {
    stats.events += 1;
    const parsed = UsageEvent.safeParse(input);
    if (!parsed.success) {
      stats.invalid += 1;
      continue;
    }
    const result = engine.process(parsed.data);
    if (result.duplicate) stats.duplicates += 1;
    if (result.late) stats.late += 1;
    for (const a of result.anomalies) anomalies.push(a);
  }
  return { anomalies, stats };
}
