import type { UsageEvent } from '@burnrate/schemas';
import { parseInstant } from '../time.ts';

/**
 * Hourly buckets in event time, bounded.
 *
 * A bucket for hour H stays open until the watermark passes H + 1 h + allowed lateness; then it is
 * closed for good. An event whose hour is already closed is late: it is counted and reported,
 * never merged, because the detectors already judged that hour (merging it would change a baseline
 * behind an alert that was raised, and a replay would only match if lateness happened identically).
 *
 * Two forms:
 * - flat `open` arrays of `stride` numbers per bucket ([hour, field…], ascending by hour), used
 *   inside per-key detector states where objects of doubles would cost several times the memory;
 * - `HourBucket` objects, the rollup unit of team scope (stage B), built by `HourRollup`.
 */

export const HOUR_MS = 3_600_000;

/** Start of the UTC hour containing `ms`. Whole-hour zones share UTC hours; others are assigned by the hour's start. */
export function hourOf(ms: number): number {
  // Division, not %: on epoch milliseconds (beyond int32) % is a floating-point remainder call,
  // several times dearer, and this runs a few times per event. Exact: ms < 2^53.
  return Math.floor(ms / HOUR_MS) * HOUR_MS;
}

/**
 * Start of the UTC hour of the event: from the time the engine parsed once for every detector
 * (`StepContext.occurredAt`) when it is given, else parsed here. Parsing is the dearest part of
 * bucketing an event, and every bucket detector asks for the same event in turn.
 */
export function stepHour(e: UsageEvent, occurredAt: number | undefined): number {
  if (occurredAt === undefined) return eventHour(e);
  if (occurredAt !== lastStepAt) {
    lastStepAt = occurredAt;
    lastStepHour = hourOf(occurredAt);
  }
  return lastStepHour;
}

// The last instant asked about and its hour (a pure memo: each bucket detector asks in turn).
let lastStepAt = Number.NaN;
let lastStepHour = 0;

/**
 * Tokens weighted by their price relative to fresh input with the ratios vendors share (cache
 * read 0.1×, cache write 1.25×, output 5×): spend divided by them is a price per token that does
 * not move with the cache hit rate or the output share, only with the models used.
 */
export function weightedTokens(input: number, cacheRead: number, cacheWrite: number, output: number): number {
  return input + 0.1 * cacheRead + 1.25 * cacheWrite + 5 * output;
}

// The last event asked about and its hour: every bucket detector asks for the same event in turn,
// and parsing is the dearest part of it. Keyed by identity (events are never mutated), so it
// is a pure memo.
let lastEvent: UsageEvent | null = null;
let lastEventHour = 0;

/** Start of the UTC hour of the event's `occurred_at`. */
export function eventHour(e: UsageEvent): number {
  if (e !== lastEvent) {
    lastEventHour = hourOf(parseInstant(e.occurred_at));
    lastEvent = e;
  }
  return lastEventHour;
}

/** When a bucket of `hour` closes. */
export function closesAt(hour: number, latenessMs: number): number {
  return hour + HOUR_MS + latenessMs;
}

/** The hour is closed at this watermark: anything for it now is late. */
export function isClosedHour(hour: number, watermark: number, latenessMs: number): boolean {
  return closesAt(hour, latenessMs) <= watermark;
}

/**
 * Whether hours after `closed` (a closed hour, or 0 before any) have closed by `watermark`: the
 * per-event test before `lastClosedHour`, in plain arithmetic.
 */
export function closesAfter(closed: number, watermark: number, latenessMs: number): boolean {
  return watermark - latenessMs >= closed + 2 * HOUR_MS;
}

/** The newest hour that is closed at `watermark` (every hour ≤ it is closed). */
export function lastClosedHour(watermark: number, latenessMs: number): number {
  return hourOf(watermark - latenessMs) - HOUR_MS;
}

/** Index of the bucket for `hour` in `open` (flat, `stride` numbers a bucket, field 0 = hour, ascending), or -1. */
export function bucketIndex(open: readonly number[], stride: number, hour: number): number {
  for (let i = open.length - stride; i >= 0; i -= stride) {
    const h = open[i] as number;
    if (h === hour) return i;
    if (h < hour) return -1;
  }
  return -1;
}

/**
 * `open` with a zeroed bucket for `hour`: the same array when it has one, else a new array of
 * exactly the right length with the bucket in hour order. Per-key arrays are built exact on
 * purpose: an array grown by push/splice keeps spare capacity, which at 100k keys is most of the
 * memory budget. Open buckets per key are few (the current hour, plus the previous one while it
 * is within lateness), so the scans are short.
 */
export function withBucket(open: number[], stride: number, hour: number): number[] {
  if (bucketIndex(open, stride, hour) >= 0) return open;
  let at = open.length;
  while (at > 0 && (open[at - stride] as number) > hour) at -= stride;
  const out = new Array<number>(open.length + stride);
  for (let i = 0; i < at; i++) out[i] = open[i] as number;
  out[at] = hour;
  for (let f = 1; f < stride; f++) out[at + f] = 0;
  for (let i = at; i < open.length; i++) out[i + stride] = open[i] as number;
  return out;
}

/** `open` without its first `count` buckets, as a new exact-length array. */
export function withoutOldest(open: readonly number[], stride: number, count: number): number[] {
  return open.slice(count * stride);
}

/** Number of leading buckets of `open` that are closed at `watermark` (they are the oldest). */
export function closedBucketCount(open: readonly number[], stride: number, watermark: number, latenessMs: number): number {
  let k = 0;
  for (let i = 0; i < open.length; i += stride) {
    if (!isClosedHour(open[i] as number, watermark, latenessMs)) break;
    k++;
  }
  return k;
}

/**
 * One hour of spend of a team (or team×model, or developer) as rolled up for team scope.
 * Rollups may arrive as several partial buckets for the same key and hour (one per stage-A
 * instance, or deltas sent before the hour closes); consumers add them up.
 */
export interface HourBucket {
  org: string;
  team: string;
  /**
   * The developer (or API key) whose spend this is. Team detectors add buckets up regardless;
   * model_mix_drift needs it for its breadth test (how many developers moved, each against their
   * own habit). A producer that leaves it out makes the whole team one unit: the fast signal
   * then never sees two developers move and only the weekly signal remains.
   */
  developer?: string;
  model?: string;
  /** Epoch ms of the hour's start (UTC). */
  hour: number;
  cost_usd: number;
  cost_premium_usd: number;
  events: number;
  /**
   * Events on a premium-tier model: the counts behind model_mix_drift's significance test.
   * Optional so a producer that does not know it can still send buckets; then the test estimates
   * it from the premium share of spend.
   */
  premium_events?: number;
  input_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  /**
   * The developer's spend in the hour above its own usual, when that is a spike of its own, as
   * stage A last judged it (usage.rollups.v1's developer_spike_usd): not a delta, the latest
   * value, so merged by taking the larger. spend_spike leaves a team spike that is mostly this to
   * the developer's alert. Absent: unknown, taken as 0.
   */
  developer_spike_usd?: number;
}

/** The event as a one-event bucket delta of its team × developer × model. */
export function bucketOfEvent(e: UsageEvent, hour: number): HourBucket {
  const premium = e.tier === 'premium';
  return {
    org: e.org,
    team: e.team,
    developer: e.developer,
    model: e.model,
    hour,
    cost_usd: e.cost_usd,
    cost_premium_usd: premium ? e.cost_usd : 0,
    events: 1,
    premium_events: premium ? 1 : 0,
    input_tokens: e.input_tokens,
    cache_read_tokens: e.cache_read_tokens,
    cache_write_tokens: e.cache_write_tokens,
    output_tokens: e.output_tokens,
  };
}

/** Adds `from` into `into` (same key and hour). */
export function mergeBucket(into: HourBucket, from: HourBucket): HourBucket {
  into.cost_usd += from.cost_usd;
  into.cost_premium_usd += from.cost_premium_usd;
  into.events += from.events;
  into.premium_events = premiumEvents(into) + premiumEvents(from);
  into.input_tokens += from.input_tokens;
  into.cache_read_tokens += from.cache_read_tokens;
  into.cache_write_tokens += from.cache_write_tokens;
  into.output_tokens += from.output_tokens;
  if (from.developer_spike_usd !== undefined && from.developer_spike_usd > (into.developer_spike_usd ?? 0)) {
    into.developer_spike_usd = from.developer_spike_usd;
  }
  return into;
}

/** Premium events of a bucket, estimated from the premium share of spend when the producer did not count them. */
export function premiumEvents(b: HourBucket): number {
  if (b.premium_events !== undefined) return b.premium_events;
  return b.cost_usd > 0 ? Math.round((b.events * b.cost_premium_usd) / b.cost_usd) : 0;
}

/**
 * Open team × developer × model hour buckets built from events: what stage A sends to stage B
 * (usage.rollups.v1, key org:team). Plain JSON state, snapshotted with the engine's.
 */
export interface HourRollup {
  /** Keyed by `org \u001f team \u001f developer \u001f model \u001f hour`. */
  open: Record<string, HourBucket>;
  /** Events that arrived after their hour had closed: counted, not merged. */
  late: number;
}

export function createHourRollup(): HourRollup {
  return { open: {}, late: 0 };
}

/** Adds the event to its open bucket; returns false (and counts it) when its hour is already closed. */
export function rollupEvent(r: HourRollup, e: UsageEvent, watermark: number, latenessMs: number): boolean {
  const hour = eventHour(e);
  if (isClosedHour(hour, watermark, latenessMs)) {
    r.late += 1;
    return false;
  }
  const key = `${e.org}\u001f${e.team}\u001f${e.developer}\u001f${e.model}\u001f${hour}`;
  const b = r.open[key];
  if (b === undefined) r.open[key] = bucketOfEvent(e, hour);
  else mergeBucket(b, bucketOfEvent(e, hour));
  return true;
}

/** Removes and returns every bucket closed at `watermark`, by hour then key, so output order is deterministic. */
export function takeClosedBuckets(r: HourRollup, watermark: number, latenessMs: number): HourBucket[] {
  const closed: [string, HourBucket][] = [];
  for (const [key, b] of Object.entries(r.open)) {
    if (isClosedHour(b.hour, watermark, latenessMs)) closed.push([key, b]);
  }
  closed.sort(([ka, a], [kb, b]) => a.hour - b.hour || (ka < kb ? -1 : ka > kb ? 1 : 0));
  for (const [key] of closed) delete r.open[key];
  return closed.map(([, b]) => b);
}
