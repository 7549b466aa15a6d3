import type { Anomaly, EvidencePoint, Subject, UsageEvent } from '@burnrate/schemas';
import type { Detector, DetectorEnv, StepResult } from './detector.ts';
import { episodeFields, iso, markEvidence, openEpisode, sortedEvidence, updateEpisode, type Episode } from './episode.ts';
import { formatUsd, roundMoney, shortId } from './format.ts';
import { adoptOwner, ownerOf, sessionKey, type SessionOwner } from './session-map.ts';
import { parseInstant } from './time.ts';

/**
 * lost_events: Claude Code exports each session twice, as log records (one `api_request` event per
 * call, granularity `request`) and as metrics (`claude_code.cost.usage` per model and export
 * interval, source `claude_code_metrics`). It does not retry a log export that was refused or
 * failed, so when log records are lost on the way (the receiver down or refusing, the network)
 * the metrics still count that spend. A session whose metrics cost more than its request events
 * lost events, and spend detection never saw.
 *
 * Per (org, session): the cost of the metrics intervals compared so far, and the cost of the
 * session's Claude Code request events that occurred before the end of the latest of them (the
 * cut). Timing: an interval ending at T counts the calls completed before T, and their log records
 * arrive a few seconds after it (logs are batched every 5 s, metrics every 60 s). So an interval
 * is compared once the watermark is `grace_minutes` past its end, on `advance` (every minute of
 * event time) or when the next interval of the session arrives. Request events are kept in
 * SLOT_MS slots until the cut passes them, and a slot that starts at or before the cut counts
 * whole: a call logged a few milliseconds after the metric collection that counted it (Claude Code
 * adds to the counter, then emits the record) is compared with it.
 * Counting such a call early only narrows the gap, and the sums are cumulative, so the next
 * comparison corrects it; every compromise in this file (slots counted once they are SETTLED_MS
 * old, merged slots and intervals) errs the same way, so a gap is never made up.
 *
 * The metrics are compared only where the org's Claude Code logs are live (this detector has seen
 * a request event of the org's Claude Code before the interval ended, within the idle horizon):
 * an org that exports metrics alone has nothing to compare them with, and the engine judges
 * them as its reports. A session of a live org that sent metrics and no events at all lost all
 * of them. Like the engine's source precedence, this is what one stage-A partition sees.
 *
 * The metrics reach this detector whether or not the engine supersedes them (`reports: 'accept'`).
 *
 * Episode: one per session, at `info` only: it is about the pipeline, not the spend, and never
 * pages. Opened when the missing cost (metrics − events) reaches both `min_impact_usd` and
 * `min_missing_share` of the metrics' cost; id = hash(kind, org, session, the session's first
 * event), so a replay gives the same one. A new version each time the missing cost doubles. It
 * does not resolve: lost events stay lost; the session is forgotten once idle for the engine's
 * idle horizon. Late events and intervals are accepted for sessions still tracked (sums have no
 * window to close); they never create a session.
 *
 * Fields: observed = the request events' cost, expected = the metrics' cost, impact_usd = the
 * missing cost (spend detection did not see; the reconciliation counts it from the metrics),
 * projected_usd = 0.
 */

export interface LostEventsSettings {
  enabled: boolean;
  /** Missing cost (metrics − events) a session needs before it is reported, in USD. */
  min_impact_usd: number;
  /** …and as a share of the session's metrics cost. */
  min_missing_share: number;
  /** Minutes after a metrics interval ended before it is compared: the logs of its calls may still be on their way. */
  grace_minutes: number;
}

export type LostEventsConfig = DetectorEnv<LostEventsSettings>;

export interface LostSession extends SessionOwner {
  /** Event time of the session's first event, and of its last event or interval end (eviction). */
  first: number;
  last: number;
  /** Models of its metrics, at most MAX_MODELS. */
  models: string[];
  /** Cost of the metrics intervals compared, and of the request events counted against them. */
  metrics: number;
  events: number;
  /** End of the latest metrics interval compared (epoch ms); 0 before the first. */
  cut: number;
  /** Metrics intervals not compared yet, as flat pairs [end, cost]. */
  intervals: number[];
  /** Request events the cut has not passed, as flat pairs [slot start, cost]. */
  slots: number[];
  /** In `pending` (has intervals to compare), so it is listed once. */
  queued: boolean;
  episode: Episode | null;
}

export interface LostEventsState {
  /** Keyed by `org \u001f session_id`. */
  sessions: Record<string, LostSession>;
  /** Keys of sessions with intervals waiting to be compared: what `advance` visits. */
  pending: string[];
  /** Per org, [first, last] event time of its Claude Code request events: its logs are live. */
  orgs: Record<string, [number, number]>;
}

const KIND = 'lost_events';
const TOOL = 'claude-code';
const METRICS_SOURCE = 'claude_code_metrics';
const MINUTE_MS = 60_000;
const SLOT_MS = 15_000;
// A call this much older than the session's newest is in an interval compared already (the
// default grace, a 60 s metrics interval and room to spare): when the slots fill, those are counted
// at once, in one pass. A longer grace_minutes counts them early, which only narrows a gap.
const SETTLED_MS = 5 * MINUTE_MS;
// Six minutes of a busy session's slots; past it (calls out of order) the oldest two are merged.
const MAX_SLOTS = 24;
const MAX_INTERVALS = 16;
const MAX_MODELS = 4;
const NONE: readonly Anomaly[] = Object.freeze([]);

export const lostEvents: Detector<LostEventsState, LostEventsConfig> = {
  kind: KIND,
  late: 'accept',
  reports: 'accept',

  initialState: () => ({ sessions: {}, pending: [], orgs: {} }),

  step(state, event, cfg, ctx): StepResult<LostEventsState> {
    if (event.tool !== TOOL || event.session_id === undefined || event.session_id === '') return { state, anomalies: NONE };
    const request = event.granularity === 'request';
    if (!request && event.source !== METRICS_SOURCE) return { state, anomalies: NONE };
    const at = ctx.occurredAt ?? parseInstant(event.occurred_at);
    if (request) noteLive(state, event.org, at);
    const key = sessionKey(event.org, event.session_id);
    let s = state.sessions[key];
    if (s === undefined) {
      if (ctx.late === true) return { state, anomalies: NONE };
      s = newSession(event, at);
      state.sessions[key] = s;
    } else if (s.episode === null) {
      // An episode keeps the owner it was raised for.
      adoptOwner(s, event);
    }
    if (request) {
      if (at > s.last) s.last = at;
      addEvent(s, at, event.cost_usd);
      return { state, anomalies: NONE };
    }
    const end = event.period_end === undefined ? at : parseInstant(event.period_end);
    if (end > s.last) s.last = end;
    if (!s.models.includes(event.model) && s.models.length < MAX_MODELS) s.models.push(event.model);
    addInterval(state, key, s, end, event.cost_usd);
    const anomaly = compare(state, s, ctx.watermark, cfg);
    return { state, anomalies: anomaly === undefined ? NONE : [anomaly] };
  },

  advance(state, watermark, cfg): StepResult<LostEventsState> {
    const pending = state.pending;
    if (pending.length === 0) return { state, anomalies: NONE };
    let out: Anomaly[] | undefined;
    let kept = 0;
    for (const key of pending) {
      const s = state.sessions[key];
      if (s === undefined) continue;
      const anomaly = compare(state, s, watermark, cfg);
      if (anomaly !== undefined) (out ??= []).push(anomaly);
      if (s.intervals.length > 0) pending[kept++] = key;
      else s.queued = false;
    }
    pending.length = kept;
    return { state, anomalies: out ?? NONE };
  },

  evict(state, idleBeforeMs) {
    for (const key of Object.keys(state.sessions)) {
      if ((state.sessions[key] as LostSession).last < idleBeforeMs) delete state.sessions[key];
    }
    if (state.pending.length > 0) state.pending = state.pending.filter((key) => state.sessions[key] !== undefined);
    for (const org of Object.keys(state.orgs)) {
      if ((state.orgs[org] as [number, number])[1] < idleBeforeMs) delete state.orgs[org];
    }
    return state;
  },

  size: (state) => Object.keys(state.sessions).length,
};

function noteLive(state: LostEventsState, org: string, at: number): void {
  const span = state.orgs[org];
  if (span === undefined) state.orgs[org] = [at, at];
  else if (at > span[1]) span[1] = at;
  else if (at < span[0]) span[0] = at;
}

function newSession(e: UsageEvent, at: number): LostSession {
  return {
    ...ownerOf(e),
    first: at,
    last: at,
    models: [],
    metrics: 0,
    events: 0,
    cut: 0,
    intervals: [],
    slots: [],
    queued: false,
    episode: null,
  };
}

function addEvent(s: LostSession, at: number, cost: number): void {
  const slot = at - (at % SLOT_MS);
  // Its interval was compared already: it counts now (a late log record narrows the gap it left).
  if (slot <= s.cut) {
    s.events += cost;
    return;
  }
  const slots = s.slots;
  for (let i = slots.length - 2; i >= 0; i -= 2) {
    if (slots[i] === slot) {
      slots[i + 1] = (slots[i + 1] as number) + cost;
      return;
    }
  }
  slots.push(slot, cost);
  if (slots.length <= MAX_SLOTS * 2) return;
  countSettled(s, slot - SETTLED_MS);
  // Merged into the earlier of the two: counted sooner, never later than its metrics.
  if (slots.length > MAX_SLOTS * 2) mergeOldest(slots, 'earlier');
}

/** Counts the slots that start before `before` as events, keeping the rest in order. */
function countSettled(s: LostSession, before: number): void {
  const slots = s.slots;
  let kept = 0;
  for (let i = 0; i < slots.length; i += 2) {
    if ((slots[i] as number) < before) {
      s.events += slots[i + 1] as number;
    } else {
      slots[kept++] = slots[i] as number;
      slots[kept++] = slots[i + 1] as number;
    }
  }
  slots.length = kept;
}

function addInterval(state: LostEventsState, key: string, s: LostSession, end: number, cost: number): void {
  const intervals = s.intervals;
  for (let i = 0; i < intervals.length; i += 2) {
    if (intervals[i] === end) {
      intervals[i + 1] = (intervals[i + 1] as number) + cost;
      return;
    }
  }
  intervals.push(end, cost);
  // Merged into the later of the two: compared later, never before its events.
  if (intervals.length > MAX_INTERVALS * 2) mergeOldest(intervals, 'later');
  if (!s.queued) {
    s.queued = true;
    state.pending.push(key);
  }
}

/** Folds the pair with the lowest time into the next lowest, keeping the `earlier` or `later` of the two times. */
function mergeOldest(pairs: number[], keep: 'earlier' | 'later'): void {
  let a = 0;
  for (let i = 2; i < pairs.length; i += 2) if ((pairs[i] as number) < (pairs[a] as number)) a = i;
  let b = a === 0 ? 2 : 0;
  for (let i = 0; i < pairs.length; i += 2) if (i !== a && (pairs[i] as number) < (pairs[b] as number)) b = i;
  pairs[b + 1] = (pairs[b + 1] as number) + (pairs[a + 1] as number);
  if (keep === 'earlier') pairs[b] = pairs[a] as number;
  pairs.splice(a, 2);
}

/** Whether the org's Claude Code logs were live when an interval ending at `end` was exported (see the header). */
const liveAt = (state: LostEventsState, org: string, end: number): boolean => {
  const span = state.orgs[org];
  return span !== undefined && span[0] < end;
};

/**
 * Compares the intervals of `s` that ended `grace_minutes` before the watermark with the events
 * before the latest of them; the anomaly version this makes, if any.
 */
function compare(state: LostEventsState, s: LostSession, watermark: number, cfg: LostEventsConfig): Anomaly | undefined {
  const settings = cfg.settingsFor({ team: s.team, developer: s.developer });
  const horizon = watermark - settings.grace_minutes * MINUTE_MS;
  const intervals = s.intervals;
  let compared = false;
  let kept = 0;
  for (let i = 0; i < intervals.length; i += 2) {
    const end = intervals[i] as number;
    const cost = intervals[i + 1] as number;
    if (end > horizon) {
      intervals[kept++] = end;
      intervals[kept++] = cost;
    } else if (liveAt(state, s.org, end)) {
      s.metrics += cost;
      if (end > s.cut) s.cut = end;
      compared = true;
    }
    // Otherwise the org's logs were not live then: a report with nothing to compare, dropped.
  }
  intervals.length = kept;
  if (!compared) return undefined;

  countSettled(s, s.cut + 1);

  if (!settings.enabled) return undefined;
  const missing = s.metrics - s.events;
  const over = missing > 0 && missing >= settings.min_impact_usd && missing >= settings.min_missing_share * s.metrics;
  cfg.score?.({
    kind: KIND,
    subject: subjectOf(s),
    at: s.cut,
    score: missing,
    threshold: settings.min_impact_usd,
    unit: 'usd',
    severity: over ? 'info' : null,
    impact_usd: missing,
    min_impact_usd: settings.min_impact_usd,
  });
  if (!over) return undefined;
  const mark = { at: s.cut, label: 'missing cost', value: missing, unit: 'usd' };
  const ep = s.episode;
  if (ep === null) {
    s.episode = openEpisode(KIND, [s.org, s.session], s.first, 'info', missing, mark);
  } else if (updateEpisode(ep, 'info', missing, { growAt: 'info' }, mark) === null) {
    return undefined;
  }
  return toAnomaly(s, missing, watermark);
}

const subjectOf = (s: LostSession): Subject => ({
  org: s.org,
  team: s.team,
  developer: s.developer,
  session: s.session,
  ...(s.models.length > 0 ? { model: s.models[0] } : {}),
});

/** `10:02–10:47 UTC`, with the dates when they differ. */
function windowText(from: number, to: number): string {
  const a = iso(from);
  const b = iso(to);
  return a.slice(0, 10) === b.slice(0, 10)
    ? `${a.slice(11, 16)}–${b.slice(11, 16)} UTC on ${a.slice(0, 10)}`
    : `${a.slice(0, 16).replace('T', ' ')} – ${b.slice(0, 16).replace('T', ' ')} UTC`;
}

function toAnomaly(s: LostSession, missing: number, watermark: number): Anomaly {
  const ep = s.episode as Episode;
  const end = Math.max(s.cut, s.first);
  const evidence: EvidencePoint[] = [
    ...markEvidence(ep),
    { at: iso(end), label: 'cost in Claude Code metrics', value: roundMoney(s.metrics), unit: 'usd' },
    { at: iso(end), label: 'cost in request events received', value: roundMoney(s.events), unit: 'usd' },
  ];
  const who = s.email ?? s.developer;
  const models = s.models.length === 0 ? '' : ` (${s.models.join(', ')})`;
  const summary =
    `Claude Code reported ${formatUsd(s.metrics)} for session ${shortId(s.session)} of ${who}${models} from ${windowText(s.first, end)}, ` +
    `but Burnrate received request events for ${formatUsd(s.events)}: ${formatUsd(missing)} of requests were lost on the way ` +
    `(the exporter does not retry a refused export). Detection did not see that spend; the reconciliation counts it from the metrics.`;
  const advice =
    "Check the receiver's uptime and its refusals over that window (/healthz, the ingest log). Put an OpenTelemetry Collector " +
    'with a persistent queue in front of Burnrate, so a refused or failed export is sent again rather than lost.';
  return {
    ...episodeFields(ep),
    kind: KIND,
    subject: subjectOf(s),
    window: { start: iso(s.first), end: iso(end) },
    observed: { value: roundMoney(s.events), unit: 'usd' },
    expected: { value: roundMoney(s.metrics), unit: 'usd' },
    impact_usd: roundMoney(missing),
    projected_usd: 0,
    evidence: sortedEvidence(evidence),
    summary,
    advice,
    detected_at: iso(watermark),
  };
}
