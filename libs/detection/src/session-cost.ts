import { SEVERITY_RANK, UNATTRIBUTED } from '@burnrate/schemas';
import type { Anomaly, EvidencePoint, UsageEvent } from '@burnrate/schemas';
import { hoursUntilAcknowledgement } from './business-hours.ts';
import type { Detector, StepResult } from './detector.ts';
import { formatDuration, formatUsd, roundMoney, shortId } from './format.ts';
import { anomalyId } from './hash.ts';

/**
 * session_cost: the cumulative cost of one session (sum of `cost_usd` by `org` + `session_id`)
 * crosses a soft cap. Events without a session id are not sessions and are ignored here.
 *
 * Episode: a session has at most one, started by its first crossing; the anomaly id is
 * hash(kind, org, session, episode start) where the start is the crossing event's `occurred_at`.
 * Versions:
 * - v1 at the first crossing, `warning` or directly `critical` when one event crosses both caps;
 * - +1 when the severity rises (warning → critical);
 * - +1 while critical each time the session cost reaches `growthFactor` × the cost at the last
 *   version (default 2: $100, $200, $400…), so a runaway session is re-reported a logarithmic
 *   number of times, and a warning is never re-reported only for growing (the critical cap is
 *   its next signal).
 * Nothing else makes a version, so a replay of the same events in the same order gives the same
 * ids and versions. Sums do not depend on order; versions depend only on the order in which caps
 * are crossed in processing order. The episode stays open: a session's cost never goes down, so
 * it is left to humans (or the notifier) to close.
 *
 * Fields: observed = session cost; expected = the cap of the current severity; impact_usd = session
 * cost above the warning cap (what the session spent beyond a normal session's budget, the same
 * base for every version so it only grows); projected_usd = the additional spend expected before
 * someone acts: the session's burn rate over its last hour × hours until the next business-hours
 * acknowledgement in the team's zone (see hoursUntilAcknowledgement).
 */

export interface SessionCostThresholds {
  warning_usd: number;
  critical_usd: number;
}

export interface SessionCostDetectorConfig {
  /** Caps for a subject; the detector service resolves them with @burnrate/core `sessionCostThresholds`. */
  thresholdsFor(subject: { org: string; team: string; developer: string }): SessionCostThresholds;
  /** IANA zone of a team, for the acknowledgement horizon of projections. */
  timeZoneFor(team: string): string;
  /** A critical episode gets a new version each time the cost reaches this multiple of the last reported cost; <= 1 disables. Default 2. */
  growthFactor?: number;
}

type EpisodeSeverity = 'warning' | 'critical';

interface Mark {
  at: number;
  label: string;
  value: number;
}

interface Episode {
  id: string;
  start: number;
  version: number;
  severity: EpisodeSeverity;
  /** Session cost when the last version was emitted; the base of growth updates. */
  reported: number;
  marks: Mark[];
}

export interface SessionState {
  org: string;
  team: string;
  developer: string;
  email: string | null;
  session: string;
  /** Earliest and latest `occurred_at` seen (epoch ms): out-of-order events widen the window. */
  first: number;
  last: number;
  cost: number;
  turns: number;
  /** Cost by raw model name; a session uses a handful. */
  models: Record<string, number>;
  /** Cost per RATE_SLOT_MS slot over the last hour, indexed by slot number modulo RATE_SLOTS. */
  rate: number[];
  /** Slot number (epoch ms / RATE_SLOT_MS) of the newest slot in `rate`. */
  slot: number;
  /** The last few turns as a ring of flat pairs [occurred_at ms, cost, …]: evidence of what each turn costs now. */
  tail: number[];
  /** Pair index the next turn overwrites once the ring is full. */
  tailNext: number;
  episode: Episode | null;
}

export interface SessionCostState {
  /** Keyed by `org \u001f session_id`; the separator cannot occur in either and never forms a prototype name. */
  sessions: Record<string, SessionState>;
}

const KIND = 'session_cost';
const RATE_SLOT_MS = 5 * 60_000;
const RATE_SLOTS = 12;
const HOUR_MS = 3_600_000;
// A session younger than this is rated over this much time, so one expensive first call is not
// extrapolated as if the session had been burning at that pace for an hour.
const MIN_RATE_WINDOW_MS = 15 * 60_000;
const TAIL_TURNS = 5;
const MAX_MARKS = 8;
const NONE: readonly Anomaly[] = Object.freeze([]);

export const sessionCost: Detector<SessionCostState, SessionCostDetectorConfig> = {
  kind: KIND,

  initialState: () => ({ sessions: {} }),

  step(state, event, cfg): StepResult<SessionCostState> {
    if (event.session_id === undefined || event.session_id === '') return { state, anomalies: NONE };
    const at = Date.parse(event.occurred_at);
    const key = `${event.org}\u001f${event.session_id}`;
    let s = state.sessions[key];
    if (s === undefined) {
      s = newSession(event, at);
      state.sessions[key] = s;
    } else if (s.team === UNATTRIBUTED && event.team !== UNATTRIBUTED) {
      // A session first seen before attribution (e.g. an OTel event without email) takes the owner once known.
      s.team = event.team;
      s.developer = event.developer;
      s.email = event.developer_email ?? s.email;
    }
    accumulate(s, event, at);

    const thresholds = cfg.thresholdsFor({ org: s.org, team: s.team, developer: s.developer });
    const severity = severityOf(s.cost, thresholds);
    if (severity === null) return { state, anomalies: NONE };

    const growth = cfg.growthFactor ?? 2;
    const ep = s.episode;
    if (ep === null) {
      const episode: Episode = {
        id: anomalyId(KIND, [s.org, s.session, new Date(at).toISOString()]),
        start: at,
        version: 1,
        severity,
        reported: s.cost,
        marks: [],
      };
      s.episode = episode;
      addMark(episode, { at, label: `cumulative cost at ${severity} crossing`, value: s.cost });
    } else if (SEVERITY_RANK[severity] > SEVERITY_RANK[ep.severity]) {
      ep.version += 1;
      ep.severity = severity;
      ep.reported = s.cost;
      addMark(ep, { at, label: `cumulative cost at ${severity} crossing`, value: s.cost });
    } else if (ep.severity === 'critical' && growth > 1 && s.cost >= ep.reported * growth) {
      const factor = s.cost / ep.reported;
      ep.version += 1;
      ep.reported = s.cost;
      addMark(ep, { at, label: `cumulative cost after growing ${factor.toFixed(1)}x`, value: s.cost });
    } else {
      return { state, anomalies: NONE };
    }
    return { state, anomalies: [toAnomaly(s, event, at, thresholds, cfg)] };
  },

  evict(state, idleBeforeMs) {
    for (const key of Object.keys(state.sessions)) {
      const s = state.sessions[key];
      if (s !== undefined && s.last < idleBeforeMs) delete state.sessions[key];
    }
    return state;
  },

  size: (state) => Object.keys(state.sessions).length,
};

function newSession(e: UsageEvent, at: number): SessionState {
  return {
    org: e.org,
    team: e.team,
    developer: e.developer,
    email: e.developer_email ?? null,
    session: e.session_id ?? '',
    first: at,
    last: at,
    cost: 0,
    turns: 0,
    models: {},
    rate: new Array<number>(RATE_SLOTS).fill(0),
    slot: Math.floor(at / RATE_SLOT_MS),
    tail: [],
    tailNext: 0,
    episode: null,
  };
}

function accumulate(s: SessionState, e: UsageEvent, at: number): void {
  const cost = e.cost_usd;
  s.cost += cost;
  s.turns += 1;
  if (at < s.first) s.first = at;
  if (at > s.last) s.last = at;
  s.models[e.model] = (s.models[e.model] ?? 0) + cost;

  const slot = Math.floor(at / RATE_SLOT_MS);
  if (slot > s.slot) {
    const cleared = Math.min(slot - s.slot, RATE_SLOTS);
    for (let i = 1; i <= cleared; i++) s.rate[(s.slot + i) % RATE_SLOTS] = 0;
    s.slot = slot;
  }
  // Slots older than the last hour no longer count towards the burn rate.
  if (slot > s.slot - RATE_SLOTS) s.rate[slot % RATE_SLOTS] = (s.rate[slot % RATE_SLOTS] ?? 0) + cost;

  if (s.tail.length < TAIL_TURNS * 2) {
    s.tail.push(at, cost);
  } else {
    s.tail[s.tailNext * 2] = at;
    s.tail[s.tailNext * 2 + 1] = cost;
    s.tailNext = (s.tailNext + 1) % TAIL_TURNS;
  }
}

function severityOf(cost: number, t: SessionCostThresholds): EpisodeSeverity | null {
  // A zero cap with a zero-cost session is not a crossing: nothing has been spent.
  if (cost <= 0) return null;
  if (cost >= t.critical_usd) return 'critical';
  if (cost >= t.warning_usd) return 'warning';
  return null;
}

function addMark(ep: Episode, mark: Mark): void {
  ep.marks.push(mark);
  // Keep the first crossing and the most recent updates.
  if (ep.marks.length > MAX_MARKS) ep.marks.splice(1, 1);
}

/** Burn rate in USD per hour over the session's last hour (or its whole life if shorter). */
function burnRate(s: SessionState): number {
  let recent = 0;
  for (const c of s.rate) recent += c;
  const window = Math.min(HOUR_MS, Math.max(MIN_RATE_WINDOW_MS, s.last - s.first));
  return recent / (window / HOUR_MS);
}

/** The ring of recent turns, oldest first. */
function lastTurns(s: SessionState): [number, number][] {
  const pairs = s.tail.length / 2;
  const out: [number, number][] = [];
  for (let i = 0; i < pairs; i++) {
    const j = ((s.tailNext + i) % pairs) * 2;
    out.push([s.tail[j] as number, s.tail[j + 1] as number]);
  }
  return out;
}

function topModel(models: Record<string, number>): string | undefined {
  let best: string | undefined;
  let bestCost = -1;
  // Ties go to the name that sorts first, so the answer does not depend on insertion order.
  for (const [model, cost] of Object.entries(models)) {
    if (cost > bestCost || (cost === bestCost && best !== undefined && model < best)) {
      best = model;
      bestCost = cost;
    }
  }
  return best;
}

function toAnomaly(s: SessionState, e: UsageEvent, at: number, t: SessionCostThresholds, cfg: SessionCostDetectorConfig): Anomaly {
  const ep = s.episode as Episode;
  const cap = ep.severity === 'critical' ? t.critical_usd : t.warning_usd;
  const rate = burnRate(s);
  const timeZone = cfg.timeZoneFor(s.team);
  const horizonHours = hoursUntilAcknowledgement(at, timeZone);
  const projected = roundMoney(rate * horizonHours);
  const model = topModel(s.models);

  const evidence: EvidencePoint[] = [
    ...ep.marks.map((m) => ({ at: iso(m.at), label: m.label, value: roundMoney(m.value), unit: 'usd' })),
    ...lastTurns(s).map(([when, cost]) => ({ at: iso(when), label: 'turn cost', value: roundMoney(cost), unit: 'usd' })),
    { at: iso(s.last), label: 'burn rate over the last hour', value: roundMoney(rate), unit: 'usd/h' },
  ];
  evidence.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));

  const who = s.email ?? s.developer;
  const summary =
    `Session ${shortId(s.session)} of ${who} has cost ${formatUsd(s.cost)} in ${formatDuration(s.last - s.first)}, ` +
    `above the ${formatUsd(cap)} ${ep.severity} cap for ${s.team}.`;

  const projection =
    projected >= 0.01
      ? ` At its last-hour rate of ${formatUsd(rate)}/h it would cost about ${formatUsd(projected)} more in the next ${formatHours(horizonHours)}, before the team is likely to look at it (${timeZone} business hours).`
      : '';
  const advice =
    ep.severity === 'critical'
      ? `Check whether an agent is looping (a failing test retried, the same tool call repeated, context growing every turn); reset the context (/clear) or end the session.${projection}`
      : `This session is above the usual per-session spend. If the agent is retrying the same step or its context keeps growing, reset the context (/clear) or start a fresh session.${projection}`;

  return {
    id: ep.id,
    version: ep.version,
    kind: KIND,
    severity: ep.severity,
    status: 'open',
    subject: {
      org: s.org,
      team: s.team,
      developer: s.developer,
      session: s.session,
      ...(model === undefined ? {} : { model }),
    },
    window: { start: iso(s.first), end: iso(s.last) },
    observed: { value: roundMoney(s.cost), unit: 'usd' },
    expected: { value: cap, unit: 'usd' },
    impact_usd: roundMoney(Math.max(0, s.cost - Math.min(t.warning_usd, t.critical_usd))),
    projected_usd: projected,
    evidence,
    summary,
    advice,
    detected_at: e.occurred_at,
  };
}

const iso = (ms: number): string => new Date(ms).toISOString();

function formatHours(hours: number): string {
  return hours >= 1 ? `${Math.round(hours * 10) / 10}h` : `${Math.round(hours * 60)}m`;
}
