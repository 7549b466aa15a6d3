import type { UsageEvent, UsageRollup } from '@burnrate/schemas';
import { HOUR_MS, hourOf, lastClosedHour } from './buckets/hourly.ts';
import type { DetectionEngine } from './engine.ts';
import { developerSpikeUsd, type SpendSpikeConfig, type SpendSpikeState } from './spend-spike.ts';
import { parseInstant } from './time.ts';

/**
 * Stage A's side of team scope: the running totals of each (org, team, developer, model, hour) one source
 * partition has counted, sent as usage.rollups.v1 for the team engine (stage B) to add up across
 * partitions.
 *
 * Totals are cumulative and carry `seq` (the source offset of the last event they include), so
 * resending them is harmless: after a crash the partition replays from its snapshot, rebuilds
 * the same totals at the same offsets and sends the same messages again. Each entry also keeps
 * the watermark as of its last event: stage B judges the hour at that time, so a batch that spans
 * an hour's close still delivers the hour before the close.
 *
 * Plain JSON state, saved in the partition's snapshot with the offset it reflects.
 */
export interface RollupEntry {
  org: string;
  team: string;
  developer: string;
  model: string;
  tier: UsageEvent['tier'];
  hour: number;
  cost_usd: number;
  cost_premium_usd: number;
  events: number;
  premium_events: number;
  input_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  seq: number;
  /** Event-time watermark right after the last event counted. */
  watermark: number;
  /** The developer's spike in the hour right after the last event counted (`DeveloperSpikeOf`). */
  developer_spike_usd: number;
  /** Changed since it was last taken by `takeRollups` (then its key is in `RollupState.changed`). */
  dirty: boolean;
}

export interface RollupState {
  format: 1;
  /** By `org \u001f team \u001f developer \u001f model \u001f hour`. */
  entries: Record<string, RollupEntry>;
  /** Keys of the dirty entries: a batch touches a few of the open hours, so they are not searched for. */
  changed: string[];
  /**
   * Hours before this were closed when rollups were last taken, so sent and dropped; an event for one is not counted (it would restart
   * that hour's totals from zero under a higher seq, and stage B would take it for a drop in spend).
   * Only reachable when the allowed lateness grew since: the engine already calls such events late.
   */
  floor: number | null;
  /** The engine's watermark, followed from the same events (see `eventTime`). */
  watermark: number | null;
  /** Events refused because their hour was already sent and dropped. */
  late: number;
}

/** The engine's default: an event claiming to be further ahead of its ingest time does not move the watermark further. */
export const DEFAULT_MAX_CLOCK_SKEW_MS = 5 * 60_000;

export function createRollupState(): RollupState {
  return { format: 1, entries: {}, changed: [], floor: null, watermark: null, late: 0 };
}

/**
 * The event's time as the engine's watermark takes it: `occurred_at`, but no more than
 * `maxClockSkewMs` past `ingested_at`. Must stay the engine's rule, or the rollups' clock would
 * drift from the detectors' (team-rollup.test.ts checks they agree).
 */
export function eventTime(event: UsageEvent, maxClockSkewMs: number): number {
  return clampedTime(event, parseInstant(event.occurred_at), maxClockSkewMs);
}

function clampedTime(event: UsageEvent, occurred: number, maxClockSkewMs: number): number {
  return event.occurred_at > event.ingested_at ? Math.min(occurred, parseInstant(event.ingested_at) + maxClockSkewMs) : occurred;
}

/**
 * The developer's spend in an open hour above its own usual, when stage A's spend_spike takes it
 * for a spike of that developer; else 0 (spend-spike.ts, `developerSpikeUsd`). Sent with the
 * rollups as developer_spike_usd, so stage B reports a team spike that is one developer's once.
 */
export type DeveloperSpikeOf = (org: string, developer: string, hour: number) => number;

const NO_SPIKE: DeveloperSpikeOf = () => 0;

/**
 * `DeveloperSpikeOf` read from the stage-A engine's spend_spike state as it is now (after the
 * event just processed), with the spend_spike settings `config` gives; 0 for all when the engine
 * runs no spend_spike.
 */
export function developerSpikesOf(engine: Pick<DetectionEngine, 'snapshotView'>, config: () => SpendSpikeConfig): DeveloperSpikeOf {
  return (org, developer, hour) => {
    const state = engine.snapshotView().detectors['spend_spike'] as SpendSpikeState | undefined;
    return state === undefined ? 0 : developerSpikeUsd(state, config(), org, developer, hour);
  };
}

/**
 * Counts an event the engine took as neither duplicate nor late (exactly those move its
 * watermark), `seq` being its offset in the source partition, with the developer's spike in its
 * hour as `developerSpike` tells it right after the engine stepped the event. Returns false when
 * its hour was already sent and dropped.
 */
export function addToRollup(
  state: RollupState,
  event: UsageEvent,
  seq: number,
  maxClockSkewMs = DEFAULT_MAX_CLOCK_SKEW_MS,
  developerSpike: DeveloperSpikeOf = NO_SPIKE,
): boolean {
  const occurred = parseInstant(event.occurred_at);
  const t = clampedTime(event, occurred, maxClockSkewMs);
  if (state.watermark === null || t > state.watermark) state.watermark = t;
  const hour = hourOf(occurred);
  if (state.floor !== null && hour < state.floor) {
    state.late += 1;
    return false;
  }
  const key = `${event.org}\u001f${event.team}\u001f${event.developer}\u001f${event.model}\u001f${hour}`;
  const premium = event.tier === 'premium';
  let e = state.entries[key];
  if (e === undefined) {
    e = {
      org: event.org,
      team: event.team,
      developer: event.developer,
      model: event.model,
      tier: event.tier,
      hour,
      cost_usd: 0,
      cost_premium_usd: 0,
      events: 0,
      premium_events: 0,
      input_tokens: 0,
      cache_read_tokens: 0,
      cache_write_tokens: 0,
      output_tokens: 0,
      seq,
      watermark: state.watermark,
      developer_spike_usd: 0,
      dirty: false,
    };
    state.entries[key] = e;
  }
  if (!e.dirty) {
    e.dirty = true;
    state.changed.push(key);
  }
  e.tier = event.tier;
  e.cost_usd += event.cost_usd;
  e.events += 1;
  if (premium) {
    e.cost_premium_usd += event.cost_usd;
    e.premium_events += 1;
  }
  // Held at the largest exact count: a rollup past it is not a valid message, and stage B would
  // never hear of this hour. Only thousands of events at the schema's cap in one hour get there.
  e.input_tokens = Math.min(e.input_tokens + event.input_tokens, Number.MAX_SAFE_INTEGER);
  e.cache_read_tokens = Math.min(e.cache_read_tokens + event.cache_read_tokens, Number.MAX_SAFE_INTEGER);
  e.cache_write_tokens = Math.min(e.cache_write_tokens + event.cache_write_tokens, Number.MAX_SAFE_INTEGER);
  e.output_tokens = Math.min(e.output_tokens + event.output_tokens, Number.MAX_SAFE_INTEGER);
  e.seq = seq;
  e.watermark = state.watermark;
  e.developer_spike_usd = developerSpike(event.org, event.developer, hour);
  return true;
}

/**
 * The entries changed since the last call, as rollup messages in the order of their last event
 * (so stage B sees time advance as this partition did), marked sent. Then drops every sent entry
 * whose hour is closed at the watermark (`latenessMs` after its end): nothing can change it any
 * more, so memory holds only the open hours.
 */
export function takeRollups(state: RollupState, source: string, latenessMs: number): UsageRollup[] {
  const changed: RollupEntry[] = [];
  for (const key of state.changed) {
    const e = state.entries[key];
    if (e !== undefined && e.dirty) changed.push(e);
  }
  state.changed = [];
  if (changed.length > 1) {
    changed.sort(
      (a, b) =>
        a.seq - b.seq ||
        a.hour - b.hour ||
        compare(a.org, b.org) ||
        compare(a.team, b.team) ||
        compare(a.developer, b.developer) ||
        compare(a.model, b.model),
    );
  }
  const out = changed.map((e) => {
    e.dirty = false;
    return toRollup(e, source);
  });
  if (state.watermark !== null) {
    // Every hour before `open` is closed; look for entries to drop only when that moved.
    const open = lastClosedHour(state.watermark, latenessMs) + HOUR_MS;
    if (state.floor === null || open > state.floor) {
      for (const key of Object.keys(state.entries)) {
        if ((state.entries[key] as RollupEntry).hour < open) delete state.entries[key];
      }
      state.floor = open;
    }
  }
  return out;
}

function toRollup(e: RollupEntry, source: string): UsageRollup {
  return {
    org: e.org,
    team: e.team,
    developer: e.developer,
    model: e.model,
    tier: e.tier,
    hour: isoOf(e.hour),
    cost_usd: e.cost_usd,
    cost_premium_usd: e.cost_premium_usd,
    events: e.events,
    premium_events: e.premium_events,
    input_tokens: e.input_tokens,
    cache_read_tokens: e.cache_read_tokens,
    cache_write_tokens: e.cache_write_tokens,
    output_tokens: e.output_tokens,
    source,
    seq: e.seq,
    watermark: isoOf(e.watermark),
    developer_spike_usd: e.developer_spike_usd,
  };
}

/** Open hours held, for metrics and tests. */
export function rollupSize(state: RollupState): number {
  return Object.keys(state.entries).length;
}

/** Brings a restored state to this shape; anything unreadable starts empty (stage B then sees the totals restart). */
export function restoreRollupState(state: unknown): RollupState {
  const s = state as Partial<RollupState> | null | undefined;
  if (s === null || s === undefined || s.format !== 1 || typeof s.entries !== 'object' || s.entries === null) return createRollupState();
  return {
    format: 1,
    entries: s.entries,
    changed: s.changed ?? [],
    floor: s.floor ?? null,
    watermark: s.watermark ?? null,
    late: s.late ?? 0,
  };
}

// ISO text of an instant, the hour's part memoised: a batch's rollups share their hour, and
// replay formats a watermark per event, where toISOString was a tenth of the replay. Pure.
let memoHour = Number.NaN;
let memoPrefix = '';
function isoOf(ms: number): string {
  const hour = hourOf(ms);
  if (hour !== memoHour) {
    memoPrefix = new Date(hour).toISOString().slice(0, 14); // 2026-11-25T10:
    memoHour = hour;
  }
  const inHour = ms - hour;
  const minutes = Math.floor(inHour / 60_000);
  const seconds = Math.floor((inHour % 60_000) / 1000);
  const millis = inHour % 1000;
  return `${memoPrefix}${minutes < 10 ? '0' : ''}${minutes}:${seconds < 10 ? '0' : ''}${seconds}.${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
