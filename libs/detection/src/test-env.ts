import { compileCalendar, DEFAULT_CALENDAR, type CalendarSpec, type WorkCalendar } from './calendar.ts';
import type { Anomaly, UsageEvent } from '@burnrate/schemas';
import type { Detector, DetectorEnv, SettingsSubject, StepContext } from './detector.ts';
import { createDetectionEngine, type DetectorRegistry, type EngineOptions } from './engine.ts';
import type { LostEventsSettings } from './lost-events.ts';
import type { SpendSpikeSettings } from './spend-spike.ts';

/** spend_spike's settings with burnrate.yaml's defaults (libs/core's DETECTOR_SETTINGS). */
export const SPEND_SPIKE_DEFAULTS: SpendSpikeSettings = {
  enabled: true,
  min_impact_usd: 50,
  min_score: 3.5,
  min_history_hours: 72,
  min_slot_weeks: 2,
  cool_down_hours: 3,
  scale_floor_usd: 1,
  scale_floor_share: 0.3,
  min_impact_share: 1,
  min_impact_floor_usd: 20,
  team_dedupe_share: 0.7,
};

/** lost_events' settings with burnrate.yaml's defaults. */
export const LOST_EVENTS_DEFAULTS: LostEventsSettings = { enabled: true, min_impact_usd: 0.5, min_missing_share: 0.05, grace_minutes: 2 };

/**
 * A DetectorEnv for this package's tests: fixed settings (or per team), one calendar per zone,
 * planned changes as [team, first day, last day] on UTC dates, both included: a shorthand for
 * tables of days. (burnrate.yaml's `to` is exclusive and local; services/detector implements it.)
 * Only tests import this file.
 */
export function testEnv<S extends { enabled: boolean }>(
  settings: S | ((subject: SettingsSubject) => S),
  options: { timeZone?: string; calendar?: CalendarSpec; planned?: readonly [team: string, from: string, to: string, note: string][] } = {},
): DetectorEnv<S> {
  const cal: WorkCalendar = compileCalendar(options.calendar ?? DEFAULT_CALENDAR, options.timeZone ?? 'Europe/Berlin');
  return {
    settingsFor: typeof settings === 'function' ? settings : () => settings,
    calendarFor: () => cal,
    plannedChange(team, atMs) {
      const day = new Date(atMs).toISOString().slice(0, 10);
      return options.planned?.find(([t, from, to]) => t === team && from <= day && day <= to)?.[3];
    },
  };
}

/** A step context at an event's own time, as the engine gives it for in-order events. */
export const ctxAt = (watermark: number | string, late = false): StepContext => ({
  watermark: typeof watermark === 'string' ? Date.parse(watermark) : watermark,
  late,
  lateness: 600_000,
});

/**
 * Runs one detector through the real engine (dedupe, lateness, advance, sweeps), so a table of
 * events tests what production does. Returns every anomaly version in emission order.
 */
export function runThroughEngine<S, C>(
  detector: Detector<S, C>,
  cfg: C,
  events: readonly UsageEvent[],
  options: EngineOptions<DetectorRegistry> = {},
): Anomaly[] {
  const engine = createDetectionEngine(() => ({ d: cfg }), { ...options, detectors: { d: detector } });
  return events.flatMap((e) => engine.process(e).anomalies);
}

/**
 * Runs one detector directly, as the engine would for in-order events: the watermark follows
 * event time, and `advance` is called whenever it crosses a minute boundary. Returns every
 * anomaly version and the final state (to continue from, or to snapshot).
 */
export function runDetector<S, C>(
  detector: Detector<S, C>,
  c: C,
  events: readonly UsageEvent[],
  state = detector.initialState(),
): { out: Anomaly[]; state: S } {
  const out: Anomaly[] = [];
  let wm = 0;
  let minute = 0;
  for (const e of events) {
    wm = Math.max(wm, Date.parse(e.occurred_at));
    const ctx = { watermark: wm, lateness: 600_000 };
    if (detector.advance !== undefined && Math.floor(wm / 60_000) > minute) {
      minute = Math.floor(wm / 60_000);
      const r = detector.advance(state, wm, c, ctx);
      state = r.state;
      out.push(...r.anomalies);
    }
    const r = detector.step(state, e, c, ctx);
    state = r.state;
    out.push(...r.anomalies);
  }
  return { out, state };
}
