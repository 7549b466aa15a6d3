import { SEVERITY_RANK, UNATTRIBUTED } from '@burnrate/schemas';
import type { Anomaly, EvidencePoint, Severity, Subject, UsageEvent } from '@burnrate/schemas';
import { describeAcknowledgement, hoursUnattended, hoursUntilAcknowledgement } from './calendar.ts';
import type { Detector, DetectorEnv, StepResult } from './detector.ts';
import {
  episodeFields,
  iso,
  markEvidence,
  openEpisode,
  plannedSeverity,
  resolveEpisode,
  sortedEvidence,
  updateEpisode,
  type Episode,
} from './episode.ts';
import { formatDuration, formatUsd, formatUsdRate, roundMoney, shortId } from './format.ts';
import { adoptOwner, ownerOf, sessionKey, type SessionOwner } from './session-map.ts';

/**
 * session_cost: the cumulative cost of one session (sum of `cost_usd` by `org` + `session_id`)
 * crosses a soft cap. Events without a session id are not sessions and are ignored here.
 *
 * Episode (see episode.ts): started by the first crossing; the anomaly id is
 * hash(kind, org, session, episode start) where the start is the crossing event's `occurred_at`.
 * Versions:
 * - v1 at the first crossing, `warning` or directly `critical` when one event crosses both caps;
 *   outside working time, a session above the warning cap is critical too when its cost plus its
 *   projection (below) reaches the critical cap: a loop at $40/h on Friday evening is heading for
 *   $2,500 by Monday 09:00, and that is decided on Friday, not when the cap is reached at 02:00 on
 *   Saturday (in working time someone looks within the hour, and the caps decide);
 * - +1 when the severity rises (warning → critical);
 * - +1 while critical each time the session cost reaches `growthFactor` × the cost at the last
 *   version (default 2: $100, $200, $400…), so a runaway session is re-reported a logarithmic
 *   number of times, and a warning is never re-reported only for growing (the critical cap is
 *   its next signal);
 * - resolved when the developer has moved on: an event of the same developer (any session, or
 *   none) at least `moveOnMs` (default 2 h) after the session's last event, the session silent
 *   in between. The spending stopped, which is the only way a cumulative cost "returns to
 *   normal"; two hours outlast a lunch break, so a developer who pauses is not told the incident
 *   is over and then paged again, and a weekend loop never goes silent, so it stays open.
 *   Judged in the developer's own event time rather than the partition watermark on purpose: the
 *   watermark jumps when anyone's event arrives after a gap (a backfill, another developer's
 *   morning), which says nothing about this session. With `idleResolveMs` set, a session silent
 *   that long by the watermark also resolves (off by default; runaway_session and context_bloat
 *   judge quiet by the watermark because their condition is a state, not a sum).
 *   If the session later resumes, it starts over from the cost at resolution: a new episode needs
 *   another `warning_usd` of new spend, not one more cent on top of an old total.
 *   A developer who never returns leaves the episode open until the session is evicted.
 * Relative caps (`relative`, on by default): a team whose ordinary sessions cost more than the
 * configured caps (Opus all day) would be paged for every long afternoon, so each session is also
 * judged against its own team's finished sessions:
 * - learning: a session is finished when its episode resolves or when `evict` drops it, whichever
 *   comes first, and is counted once (`counted`), at its cost then, in the histogram of its
 *   `org + team` (`teams`): 4 log-scale buckets per doubling from $0.10 (±9% per bucket) up to
 *   $26k, the last one open, the first everything below $0.10. Counts decay with a half-life of
 *   14 days of event time (each finished session is weighted by 2^(-age / 14 d) against the latest
 *   one), so a team that moves to a dearer model is judged by its new habits within weeks, and a
 *   team of any size keeps 73 numbers. A team with no finished session for 60 days is dropped.
 *   Unattributed sessions teach nothing: they have no team whose habits they could show.
 * - the caps: once the team has `relative_min_sessions` finished sessions, usual = its
 *   `relative_quantile` session cost (interpolated within the bucket), and
 *     warning = max(warning_usd, relative_factor × usual),
 *     critical = critical_usd × warning / warning_usd,
 *   so the team's caps are the configured ones scaled by one ratio (≥ 1): critical keeps its
 *   configured multiple of warning (4× by default), stays at or above warning whenever the
 *   configured caps are, and a loop needs the same relative overshoot on every team. A zero
 *   `warning_usd` (warn on every session) is kept as written. The caps are computed when a session
 *   without an open episode passes the configured caps (never below them, so every other event
 *   costs nothing new), from the quantile memoised per team until its next finished session; an
 *   episode keeps the caps it opened with, so its versions share one base.
 * - the projection keeps the configured warning cap as its gate: a weekend loop on a heavy team
 *   burns a few dollars an hour like its ordinary sessions, and waiting until it passes the team's
 *   warning cap would page on Saturday instead of Friday evening; what it must be projected to
 *   reach is the team's critical cap.
 * A stage-A partition holds some of a team's developers (usage.events.v1 is keyed by developer),
 * so each partition learns from the sessions it sees: a partition holding one developer of a team
 * judges that developer against their own sessions, and stays on the configured caps until it has
 * seen `relative_min_sessions` of them.
 *
 * A planned change covering session_cost keeps the severity at 'info'.
 * Nothing else makes a version, so a replay of the same events in the same order gives the same
 * ids and versions.
 *
 * Late events (older than watermark − allowed lateness) are accepted for sessions still tracked:
 * a sum has no window to close and dropping the cost would under-report; a late event never
 * creates a session, since it may belong to one already evicted.
 *
 * Fields: observed = session cost (since the last resolution); expected = the cap crossed (the
 * warning cap when only the projection made it critical), the team's when relative caps applied;
 * impact_usd = cost above the warning cap (the same base for every version so it only grows);
 * projected_usd = the additional spend expected before someone acts: the session's burn
 * rate over its last hour × hours until someone is likely to act (1 h in working time, else the
 * next working-hours start of the team, or its on-call response time; calendar.ts
 * hoursUntilAcknowledgement); 0 on resolution.
 */

export type SessionCostSettings = SessionCostThresholds & { enabled: boolean } & (RelativeCapSettings | { relative?: false });

/** Judging a session against its team's finished sessions too (see the header). */
export interface RelativeCapSettings {
  relative: true;
  /** The team's usual session cost is this quantile of its finished sessions (0.5–0.999). */
  relative_quantile: number;
  /** The warning cap is this multiple of the usual cost, when that is above `warning_usd`. */
  relative_factor: number;
  /** Finished sessions the team needs before its own caps apply. */
  relative_min_sessions: number;
}

export interface SessionCostDetectorConfig extends DetectorEnv<SessionCostSettings> {
  /** A critical episode gets a new version each time the cost reaches this multiple of the last reported cost; <= 1 disables. Default 2. */
  growthFactor?: number;
  /** Silence of a session before a later event of its developer resolves its episode. Default 2 h. */
  moveOnMs?: number;
  /** When set, a session silent this long by the watermark resolves too (see the header). Default off. */
  idleResolveMs?: number;
}

export interface SessionState extends SessionOwner {
  /** Earliest and latest `occurred_at` seen (epoch ms): out-of-order events widen the window. */
  first: number;
  last: number;
  cost: number;
  /** Session cost when its last episode resolved: a new episode counts only what was spent after. */
  base: number;
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
  /** The current or last episode; a resolved one stays until the next crossing replaces it. */
  episode: Episode | null;
  /** The team's caps the episode opened with, or null when the configured caps applied. */
  caps: TeamCaps | null;
  /** Already counted in its team's finished sessions (at resolution): eviction does not count it again. */
  counted: boolean;
}

/** Caps raised from a team's usual session cost, and what they came from (for the summary). */
export interface TeamCaps extends SessionCostThresholds {
  usual_usd: number;
  factor: number;
  quantile: number;
}

/** A team's finished session costs as decayed counts on a log scale (see the header). */
export interface TeamSessions {
  /** [0]: below $0.10; [i]: from $0.10 × 2^((i − 1) / 4) to the next bucket's start; the last is open. */
  counts: number[];
  /** Sum of `counts`. */
  weight: number;
  /** Finished sessions counted, not decayed: the `relative_min_sessions` gate. */
  sessions: number;
  /** Event time (epoch ms) the counts are decayed to: the latest finished session's last event. */
  at: number;
  /** The last quantile asked for and its cost, until the next finished session changes the counts. */
  memo: [quantile: number, usd: number] | null;
}

export interface SessionCostState {
  /** Keyed by `org \u001f session_id`; the separator cannot occur in either and never forms a prototype name. */
  sessions: Record<string, SessionState>;
  /** Keys of sessions with an open episode, by `org \u001f developer`: a developer's next event looks only at these. */
  open: Record<string, string[]>;
  /** Number of developers in `open`, so the per-event check costs nothing when it is empty. */
  openCount: number;
  /** Finished sessions by `org \u001f team`, for relative caps. */
  teams: Record<string, TeamSessions>;
}

export interface SessionCostThresholds {
  warning_usd: number;
  critical_usd: number;
}

const KIND = 'session_cost';
const RATE_SLOT_MS = 5 * 60_000;
const RATE_SLOTS = 12;
const HOUR_MS = 3_600_000;
const MOVE_ON_MS = 2 * HOUR_MS;
// A session younger than this is rated over this much time, so one expensive first call is not
// extrapolated as if the session had been burning at that pace for an hour.
const MIN_RATE_WINDOW_MS = 15 * 60_000;
const TAIL_TURNS = 5;
const DAY_MS = 24 * HOUR_MS;
// Relative caps (see the header): the histogram's buckets and how fast its counts fade.
const BUCKET_FLOOR_USD = 0.1;
const BUCKETS_PER_DOUBLING = 4;
const BUCKETS = 1 + 18 * BUCKETS_PER_DOUBLING;
const HALF_LIFE_MS = 14 * DAY_MS;
const TEAM_IDLE_MS = 60 * DAY_MS;
// Decayed counts this small are noise; zeroing them keeps the snapshot short.
const NEGLIGIBLE = 1e-6;
const NONE: readonly Anomaly[] = Object.freeze([]);

export const sessionCost: Detector<SessionCostState, SessionCostDetectorConfig> = {
  kind: KIND,
  late: 'accept',

  initialState: () => ({ sessions: {}, open: {}, openCount: 0, teams: {} }),

  step(state, event, cfg, ctx): StepResult<SessionCostState> {
    const at = ctx.occurredAt ?? Date.parse(event.occurred_at);
    const resolved = hasOpen(state) ? movedOn(state, event, at, cfg) : undefined;
    if (event.session_id === undefined || event.session_id === '') return { state, anomalies: resolved ?? NONE };
    const key = sessionKey(event.org, event.session_id);
    let s = state.sessions[key];
    const quiet = { state, anomalies: resolved ?? NONE };
    if (s === undefined) {
      if (ctx.late === true) return quiet;
      s = newSession(event, at);
      state.sessions[key] = s;
    } else if (s.episode?.status !== 'open') {
      // An open episode keeps the owner it was raised for.
      adoptOwner(s, event);
    }
    accumulate(s, event, at);

    const settings = cfg.settingsFor({ team: s.team, developer: s.developer });
    if (!settings.enabled) return quiet;
    const spent = s.cost - s.base;
    // A team's caps are never below the configured ones, so a session under them is quiet whatever its team spends.
    if (spent <= 0 || spent < Math.min(settings.warning_usd, settings.critical_usd)) {
      if (cfg.score) {
        const threshold = (capsOfTeam(state, s, settings) ?? settings).warning_usd;
        cfg.score({ kind: KIND, subject: subjectOf(s), at, score: spent, threshold, unit: 'usd', severity: null });
      }
      return quiet;
    }
    const ep = s.episode;
    // An open episode keeps the caps it opened with; a new one takes the team's as they are now.
    const teamCaps = ep !== null && ep.status === 'open' ? s.caps : capsOfTeam(state, s, settings);
    const caps = teamCaps ?? settings;
    const capped = severityOf(spent, caps);
    cfg.score?.({ kind: KIND, subject: subjectOf(s), at, score: spent, threshold: caps.warning_usd, unit: 'usd', severity: capped });
    // Only sessions past the configured warning cap and below the critical one pay for the
    // projection: a sum over 12 slots and, out of hours, two comparisons against the calendar's
    // remembered off-hours stretch.
    const crossed =
      capped !== 'critical' && spent + burnRate(s) * hoursUnattended(cfg.calendarFor(s.team), at) >= caps.critical_usd
        ? 'critical'
        : capped;
    if (crossed === null) return quiet;
    const severity = plannedSeverity(crossed, cfg.plannedChange(s.team, at));

    if (ep === null || ep.status === 'resolved') {
      s.caps = teamCaps;
      s.episode = openEpisode(KIND, [s.org, s.session], at, severity, spent, {
        at,
        label: crossingLabel(crossed, capped),
        value: spent,
        unit: 'usd',
      });
      const dev = `${s.org}\u001f${s.developer}`;
      const keys = state.open[dev];
      if (keys === undefined) {
        state.open[dev] = [key];
        state.openCount += 1;
      } else {
        keys.push(key);
      }
    } else {
      const rises = SEVERITY_RANK[severity] > SEVERITY_RANK[ep.severity];
      const label = rises ? crossingLabel(crossed, capped) : `cumulative cost after growing ${(spent / ep.reported).toFixed(1)}x`;
      const change = updateEpisode(ep, severity, spent, { growthFactor: cfg.growthFactor ?? 2 }, { at, label, value: spent, unit: 'usd' });
      if (change === null) return quiet;
    }
    const anomaly = toAnomaly(s, at, event.occurred_at, settings, cfg);
    return { state, anomalies: resolved === undefined ? [anomaly] : [...resolved, anomaly] };
  },

  advance(state, watermark, cfg): StepResult<SessionCostState> {
    const idle = cfg.idleResolveMs;
    if (idle === undefined) return { state, anomalies: NONE };
    let anomalies: Anomaly[] | undefined;
    for (const dev of Object.keys(state.open)) {
      for (const key of [...(state.open[dev] as string[])]) {
        const s = state.sessions[key];
        if (s !== undefined && watermark - s.last >= idle) {
          const a = resolve(state, dev, key, s, watermark, iso(watermark), cfg);
          if (a !== undefined) (anomalies ??= []).push(a);
        }
      }
    }
    return { state, anomalies: anomalies ?? NONE };
  },

  evict(state, idleBeforeMs) {
    for (const key of Object.keys(state.sessions)) {
      const s = state.sessions[key];
      if (s === undefined || s.last >= idleBeforeMs) continue;
      if (!s.counted) countFinished(state, s);
      delete state.sessions[key];
    }
    for (const key of Object.keys(state.teams)) {
      if ((state.teams[key] as TeamSessions).at < idleBeforeMs - TEAM_IDLE_MS) delete state.teams[key];
    }
    for (const dev of Object.keys(state.open)) {
      const live = (state.open[dev] as string[]).filter((key) => state.sessions[key] !== undefined);
      if (live.length === 0) {
        delete state.open[dev];
        state.openCount -= 1;
      } else {
        state.open[dev] = live;
      }
    }
    return state;
  },

  upgrade(restored) {
    // Snapshots from before episodes could resolve (no `base`, no `open` index, episodes without
    // status) or before relative caps (no `teams`, sessions without `caps` and `counted`: their
    // open episodes go on with the configured caps, and they count when they finish).
    const state = restored as Partial<SessionCostState> & { sessions: Record<string, SessionState> };
    if (state.open !== undefined && typeof state.openCount === 'number' && state.teams !== undefined) return state as SessionCostState;
    const upgraded: SessionCostState = { sessions: state.sessions, open: {}, openCount: 0, teams: state.teams ?? {} };
    for (const [key, s] of Object.entries(state.sessions)) {
      s.base ??= 0;
      s.caps ??= null;
      s.counted ??= false;
      // Fields this version added may be missing from an old snapshot: read them as optional.
      const ep = s.episode as { status?: Episode['status']; marks: { unit?: string }[] } | null;
      if (ep === null) continue;
      ep.status ??= 'open';
      for (const m of ep.marks) m.unit ??= 'usd';
      if (ep.status !== 'open') continue;
      const dev = `${s.org}\u001f${s.developer}`;
      const keys = upgraded.open[dev];
      if (keys === undefined) {
        upgraded.open[dev] = [key];
        upgraded.openCount += 1;
      } else {
        keys.push(key);
      }
    }
    return upgraded;
  },

  size: (state) => Object.keys(state.sessions).length,
};

// for…in over a map of thousands of developers would collect its keys on every event.
const hasOpen = (state: SessionCostState): boolean => state.openCount > 0;

/** Resolves the open episodes of the event's developer whose session has been silent for moveOnMs before this event. */
function movedOn(state: SessionCostState, e: UsageEvent, at: number, cfg: SessionCostDetectorConfig): Anomaly[] | undefined {
  const dev = `${e.org}\u001f${e.developer}`;
  const keys = state.open[dev];
  if (keys === undefined) return undefined;
  const moveOn = cfg.moveOnMs ?? MOVE_ON_MS;
  let out: Anomaly[] | undefined;
  for (const key of [...keys]) {
    const s = state.sessions[key];
    // The session itself resuming after the silence counts too: that spell of spending was over.
    if (s === undefined || at - s.last < moveOn) continue;
    const a = resolve(state, dev, key, s, at, e.occurred_at, cfg);
    if (a !== undefined) (out ??= []).push(a);
  }
  return out;
}

function resolve(
  state: SessionCostState,
  dev: string,
  key: string,
  s: SessionState,
  at: number,
  detectedAt: string,
  cfg: SessionCostDetectorConfig,
): Anomaly | undefined {
  const before = state.open[dev];
  if (before !== undefined) {
    const keys = before.filter((k) => k !== key);
    if (keys.length === 0) {
      delete state.open[dev];
      state.openCount -= 1;
    } else {
      state.open[dev] = keys;
    }
  }
  if (
    s.episode === null ||
    !resolveEpisode(s.episode, { at, label: 'silent since the last call', value: (at - s.last) / HOUR_MS, unit: 'h' })
  ) {
    return undefined;
  }
  const settings = cfg.settingsFor({ team: s.team, developer: s.developer });
  const anomaly = settings.enabled ? toAnomaly(s, at, detectedAt, settings, cfg) : undefined;
  s.base = s.cost;
  // The spending that made the episode is over: the session counts now rather than a day later at eviction.
  if (!s.counted) countFinished(state, s);
  return anomaly;
}

/** Adds a finished session's cost to its team's histogram, decayed to the later of the two times. */
function countFinished(state: SessionCostState, s: SessionState): void {
  s.counted = true;
  if (s.team === UNATTRIBUTED) return;
  const key = `${s.org}\u001f${s.team}`;
  const team = state.teams[key];
  if (team === undefined) {
    const counts = new Array<number>(BUCKETS).fill(0);
    counts[bucketOf(s.cost)] = 1;
    state.teams[key] = { counts, weight: 1, sessions: 1, at: s.last, memo: null };
    return;
  }
  let weight = 1;
  if (s.last > team.at) {
    const fade = 2 ** ((team.at - s.last) / HALF_LIFE_MS);
    team.weight = 0;
    for (let i = 0; i < BUCKETS; i++) {
      const c = (team.counts[i] as number) * fade;
      team.counts[i] = c < NEGLIGIBLE ? 0 : c;
      team.weight += team.counts[i] as number;
    }
    team.at = s.last;
  } else {
    // Sessions finish out of order (eviction walks sessions by creation): an older one weighs less.
    weight = 2 ** ((s.last - team.at) / HALF_LIFE_MS);
  }
  const b = bucketOf(s.cost);
  team.counts[b] = (team.counts[b] as number) + weight;
  team.weight += weight;
  team.sessions += 1;
  team.memo = null;
}

function bucketOf(cost: number): number {
  if (!(cost >= BUCKET_FLOOR_USD)) return 0;
  return Math.min(BUCKETS - 1, 1 + Math.floor(Math.log2(cost / BUCKET_FLOOR_USD) * BUCKETS_PER_DOUBLING));
}

/** The cost below which `quantile` of the team's decayed sessions fall, log-interpolated within its bucket. */
function quantileOf(team: TeamSessions, quantile: number): number {
  const target = quantile * team.weight;
  let below = 0;
  for (let i = 0; i < BUCKETS; i++) {
    const c = team.counts[i] as number;
    if (c > 0 && below + c >= target) {
      const within = (target - below) / c;
      if (i === 0) return BUCKET_FLOOR_USD * within;
      const start = BUCKET_FLOOR_USD * 2 ** ((i - 1) / BUCKETS_PER_DOUBLING);
      return i === BUCKETS - 1 ? start : start * 2 ** (within / BUCKETS_PER_DOUBLING);
    }
    below += c;
  }
  return 0;
}

/**
 * The team's caps for a session that passed the configured ones, or null when the configured caps
 * apply (relative caps off, too few finished sessions, or the team's usual cost too low to raise them).
 */
function capsOfTeam(state: SessionCostState, s: SessionState, settings: SessionCostSettings): TeamCaps | null {
  if (settings.relative !== true || settings.warning_usd <= 0 || s.team === UNATTRIBUTED) return null;
  const team = state.teams[`${s.org}\u001f${s.team}`];
  if (team === undefined || team.sessions < settings.relative_min_sessions) return null;
  const q = settings.relative_quantile;
  let usual: number;
  if (team.memo !== null && team.memo[0] === q) {
    usual = team.memo[1];
  } else {
    usual = quantileOf(team, q);
    team.memo = [q, usual];
  }
  const warning = settings.relative_factor * usual;
  if (warning <= settings.warning_usd) return null;
  const scale = warning / settings.warning_usd;
  return {
    warning_usd: roundMoney(warning),
    critical_usd: roundMoney(settings.critical_usd * scale),
    usual_usd: roundMoney(usual),
    factor: settings.relative_factor,
    quantile: q,
  };
}

function newSession(e: UsageEvent, at: number): SessionState {
  return {
    ...ownerOf(e),
    first: at,
    last: at,
    cost: 0,
    base: 0,
    turns: 0,
    models: {},
    rate: new Array<number>(RATE_SLOTS).fill(0),
    slot: Math.floor(at / RATE_SLOT_MS),
    tail: [],
    tailNext: 0,
    episode: null,
    caps: null,
    counted: false,
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

const subjectOf = (s: SessionState): Subject => ({ org: s.org, team: s.team, developer: s.developer, session: s.session });

function severityOf(cost: number, t: SessionCostThresholds): 'warning' | 'critical' | null {
  // A zero cap with a zero-cost session is not a crossing: nothing has been spent.
  if (cost <= 0) return null;
  if (cost >= t.critical_usd) return 'critical';
  if (cost >= t.warning_usd) return 'warning';
  return null;
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

function crossingLabel(crossed: Severity, capped: Severity | null): string {
  return crossed === capped ? `cumulative cost at ${crossed} crossing` : `cumulative cost when its projection reached the critical cap`;
}

function capOf(severity: Severity, t: SessionCostThresholds): number {
  return severity === 'critical' ? t.critical_usd : t.warning_usd;
}

/**
 * "the $25 warning cap for payments", or for a team's own caps what they come from: "the $64
 * warning cap for ledger, 2× what ledger's sessions usually reach ($32; 95% of them cost less)".
 */
function capText(severity: Severity, t: SessionCostThresholds, caps: TeamCaps | null, team: string): string {
  const cap = `the ${formatUsd(capOf(severity, t))} ${severity} cap for ${team}`;
  if (caps === null) return cap;
  const whose = team.endsWith('s') ? `${team}'` : `${team}'s`;
  const usual = `${caps.factor}× what ${whose} sessions usually reach (${formatUsd(caps.usual_usd)}; ${Math.round(caps.quantile * 1000) / 10}% of them cost less)`;
  if (severity !== 'critical') return `${cap}, ${usual}`;
  const ratio = Math.round((caps.critical_usd / caps.warning_usd) * 10) / 10;
  return `${cap}, ${ratio}× its ${formatUsd(caps.warning_usd)} warning cap, which is ${usual}`;
}

function toAnomaly(
  s: SessionState,
  at: number,
  detectedAt: string,
  settings: SessionCostSettings,
  cfg: SessionCostDetectorConfig,
): Anomaly {
  const ep = s.episode as Episode;
  const t: SessionCostThresholds = s.caps ?? settings;
  const resolved = ep.status === 'resolved';
  const spent = s.cost - s.base;
  // The cap actually crossed is the measure, whatever raised the severity: a planned change keeps it
  // at info, a projection can make it critical below the critical cap, or below a team's own
  // warning cap (null: the session passed only the configured one).
  const crossed = severityOf(ep.severity === 'info' ? ep.reported : spent, t);
  const capSeverity = crossed ?? 'warning';
  const cap = capOf(capSeverity, t);
  const rate = burnRate(s);
  const cal = cfg.calendarFor(s.team);
  const horizonHours = hoursUntilAcknowledgement(cal, at);
  const projected = resolved ? 0 : roundMoney(rate * horizonHours);
  const byProjection = ep.severity === 'critical' && capSeverity !== 'critical';
  const model = topModel(s.models);

  const evidence: EvidencePoint[] = [
    ...markEvidence(ep),
    ...lastTurns(s).map(([when, cost]) => ({ at: iso(when), label: 'turn cost', value: roundMoney(cost), unit: 'usd' })),
    { at: iso(s.last), label: 'burn rate over the last hour', value: roundMoney(rate), unit: 'usd/h' },
  ];

  const who = s.email ?? s.developer;
  const planned = ep.severity === 'info' ? cfg.plannedChange(s.team, ep.start) : undefined;
  let summary: string;
  let advice: string;
  if (resolved) {
    summary = `Session ${shortId(s.session)} of ${who} stopped spending after ${formatUsd(spent)} in ${formatDuration(s.last - s.first)}; it has been silent since ${iso(s.last).slice(11, 16)} UTC.`;
    advice = 'Nothing to do unless the session resumes; if this spend was not expected, review what the agent was doing before it stopped.';
  } else {
    const spentText = `Session ${shortId(s.session)} of ${who} has cost ${formatUsd(spent)} in ${formatDuration(s.last - s.first)}`;
    summary =
      (crossed === null
        ? `${spentText}, below ${capText('warning', t, s.caps, s.team)}, but at this rate it reaches ${formatUsd(spent + projected)}, past its ${formatUsd(t.critical_usd)} critical cap, before anyone is likely to act.`
        : `${spentText}, above ${capText(capSeverity, t, s.caps, s.team)}.` +
          (byProjection
            ? ` Critical because at this rate it reaches ${formatUsd(spent + projected)}, past the ${formatUsd(t.critical_usd)} critical cap, before anyone is likely to act.`
            : '')) + (planned === undefined ? '' : ` Kept at info: planned change "${planned}".`);
    const projection =
      projected >= 0.01
        ? ` At its last-hour rate of ${formatUsdRate(rate)} it would cost about ${formatUsd(projected)} more ${describeAcknowledgement(cal, at)}.`
        : '';
    advice =
      ep.severity === 'critical'
        ? `Check whether an agent is looping (a failing test retried, the same tool call repeated, context growing every turn); reset the context (/clear) or end the session.${projection}`
        : `This session is above the usual per-session spend. If the agent is retrying the same step or its context keeps growing, reset the context (/clear) or start a fresh session.${projection}`;
  }

  return {
    ...episodeFields(ep),
    kind: KIND,
    subject: {
      org: s.org,
      team: s.team,
      developer: s.developer,
      session: s.session,
      ...(model === undefined ? {} : { model }),
    },
    window: { start: iso(s.first), end: iso(s.last) },
    observed: { value: roundMoney(spent), unit: 'usd' },
    expected: { value: cap, unit: 'usd' },
    impact_usd: roundMoney(Math.max(0, spent - Math.min(t.warning_usd, t.critical_usd))),
    projected_usd: projected,
    evidence: sortedEvidence(evidence),
    summary,
    advice,
    detected_at: detectedAt,
  };
}
