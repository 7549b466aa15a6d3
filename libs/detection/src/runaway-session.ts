import { SEVERITY_RANK } from '@burnrate/schemas';
import type { Anomaly, EvidencePoint, Severity } from '@burnrate/schemas';
import { describeAcknowledgement, hoursUnattended, hoursUntilAcknowledgement, isOffHours, type WorkCalendar } from './calendar.ts';
import type { Detector, DetectorEnv, ScoreSink, StepResult } from './detector.ts';
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
import { hash53 } from './hash.ts';
import { adoptOwner, evictIdleSessions, ownerOf, sessionCount, sessionKey, type SessionOwner } from './session-map.ts';

/**
 * runaway_session: an agent keeps working for hours with no human turn.
 *
 * The human-turn signal is `prompt_id`: Claude Code gives every user prompt a new `prompt.id`
 * (ingest maps it to UsageEvent.prompt_id) and every API request the agent makes for that prompt,
 * its subagents' included, carries the same id. So within a session, an event with a prompt id
 * not seen before is a human turn, and events with the current prompt id are the agent's own
 * turns. Bucketed (non-request) events and events without a session are skipped.
 *
 * Sessions whose events carry no prompt id (provider APIs, gateways, Cursor, scripts) are judged
 * by cadence instead, and only they: a session that has shown a prompt id is judged by prompt ids
 * from then on, and its events without one are ignored as before. An agent calls the model
 * steadily, seconds apart, for as long as it works; a human reads, thinks and types between turns.
 * So without prompt ids:
 *   - a gap of CADENCE_BREAK_MS (5 min) or more between requests may be a human turn: it ends the
 *     stretch (and resolves its episode), and the next request starts a new one;
 *   - a gap of PAUSE_MS (60 s) or more is a pause; a stretch is judged only while at most
 *     MAX_PAUSE_SHARE (1 in 10) of its gaps are pauses: an agent waiting on the odd long tool call
 *     stays a loop, a person who answers every few minutes does not;
 *   - the hours limit, off-hours factor, critical rules and dollar gate are the same as with
 *     prompt ids.
 * UsageEvent carries no tool-call count, so the tool-call ratio is not part of the signal.
 * Such sessions are now tracked (a session's state, as with prompt ids); each of their requests
 * costs what one with a prompt id does, plus a subtraction and two comparisons.
 *
 * The unattended stretch starts at the last human turn, or when a session resumes after being
 * quiet for QUIET_MS (30 min of event time: the agent had stopped, whatever it does next is a new
 * stretch). It fires when the stretch reaches `max_hours_without_human`, multiplied by
 * `off_hours_factor` when the call happens outside the team's working time (evenings, weekends,
 * holidays in its calendar and zone), and becomes critical past `critical_factor` × that limit,
 * or, outside working time, as soon as the stretch's spend plus its projection (below) reaches
 * `critical_projected_usd`: a loop found at 21:00 on a Friday costs the whole weekend unless
 * someone stops it, so it is critical then, not at 03:00 when the hours limit is tripled.
 * Dollar gate: only when the stretch has cost at least `min_impact_usd`.
 *
 * Episode: id = hash(kind, org, session, stretch start). New versions on escalation, and while
 * critical each time the stretch's spend doubles. Resolves (a version with status 'resolved') at
 * the next human turn, or when the session has been quiet for QUIET_MS (seen by `advance`).
 *
 * Late events are accepted for sessions still tracked (their cost counts towards the stretch if
 * they fall inside it); a late event never creates a session.
 *
 * Fields: observed = hours without a human turn; expected = the limit that applied; impact_usd =
 * spend since the last human turn (all of it unattended); projected_usd = the stretch's average
 * burn rate × hours until someone on the team is likely to act: 1 h in working time, else until the
 * team's next working-hours start, or its on-call response time (calendar.ts
 * hoursUntilAcknowledgement).
 */

export interface RunawaySessionSettings {
  enabled: boolean;
  min_impact_usd: number;
  max_hours_without_human: number;
  off_hours_factor: number;
  critical_factor: number;
  /** Critical when the stretch's spend plus its projection reaches this; absent, only the hours decide. */
  critical_projected_usd?: number;
}

export type RunawaySessionConfig = DetectorEnv<RunawaySessionSettings>;

export interface RunawaySession extends SessionOwner {
  /** hash53 of the current prompt id, and of the one before (a straggler of it is not a new turn). */
  prompt: number;
  previous: number;
  /** Time of the last human turn (the first event of the current prompt). */
  human: number;
  /** Start of the current unattended stretch: the human turn, or a resumption after a quiet spell. */
  since: number;
  last: number;
  /** Spend and calls since `since`. */
  cost: number;
  calls: number;
  /** Sessions without prompt ids: gaps of PAUSE_MS or more since `since` (absent in older snapshots, which hold none). */
  pauses?: number;
  episode: Episode | null;
}

export interface RunawaySessionState {
  /** Keyed by `org \u001f session_id`. */
  sessions: Record<string, RunawaySession>;
  /** Keys of sessions with an open episode, for `advance`. */
  open: string[];
}

const KIND = 'runaway_session';
const HOUR_MS = 3_600_000;
export const RUNAWAY_QUIET_MS = 30 * 60_000;
/** `prompt` of a session whose events carry no prompt id: judged by cadence (see the header). */
const NO_PROMPT = -1;
export const CADENCE_BREAK_MS = 5 * 60_000;
export const PAUSE_MS = 60_000;
export const MAX_PAUSE_SHARE = 0.1;
const NONE: readonly Anomaly[] = Object.freeze([]);

export const runawaySession: Detector<RunawaySessionState, RunawaySessionConfig> = {
  kind: KIND,
  late: 'accept',

  initialState: () => ({ sessions: {}, open: [] }),

  step(state, event, cfg, ctx): StepResult<RunawaySessionState> {
    if (event.session_id === undefined || event.granularity !== 'request') return { state, anomalies: NONE };
    const at = ctx.occurredAt ?? Date.parse(event.occurred_at);
    const key = sessionKey(event.org, event.session_id);
    const prompt = event.prompt_id === undefined ? NO_PROMPT : promptHash(event.prompt_id);
    let s = state.sessions[key];
    if (s === undefined) {
      if (ctx.late === true) return { state, anomalies: NONE };
      s = {
        ...ownerOf(event),
        prompt,
        previous: prompt,
        human: at,
        since: at,
        last: at,
        cost: event.cost_usd,
        calls: 1,
        pauses: 0,
        episode: null,
      };
      state.sessions[key] = s;
      return { state, anomalies: NONE };
    }
    adoptOwner(s, event);
    if (prompt === NO_PROMPT) {
      // A session with prompt ids is judged by them; one without is judged by its cadence.
      return s.prompt === NO_PROMPT ? cadenceStep(state, key, s, at, event.cost_usd, event.occurred_at, cfg) : { state, anomalies: NONE };
    }

    let out: Anomaly[] | undefined;
    if (prompt !== s.prompt && prompt !== s.previous && at >= s.human) {
      // A human turn: whatever the agent did before it was attended to.
      if (s.episode?.status === 'open') out = resolve(state, key, s, at, event.occurred_at, 'a human prompt arrived', cfg);
      s.previous = s.prompt;
      s.prompt = prompt;
      s.human = at;
      startStretch(s, at, event.cost_usd);
      return { state, anomalies: out ?? NONE };
    }
    if (at - s.last >= RUNAWAY_QUIET_MS) {
      // Resumed after a quiet spell (advance resolves the episode first when the engine runs it).
      if (s.episode?.status === 'open')
        out = resolve(state, key, s, s.last + RUNAWAY_QUIET_MS, event.occurred_at, 'the session went quiet', cfg);
      startStretch(s, at, event.cost_usd);
      return { state, anomalies: out ?? NONE };
    }
    if (at >= s.since) {
      s.cost += event.cost_usd;
      s.calls += 1;
    }
    if (at > s.last) s.last = at;
    return { state, anomalies: judge(state, key, s, at, event.occurred_at, cfg) };
  },

  advance(state, watermark, cfg): StepResult<RunawaySessionState> {
    if (state.open.length === 0) return { state, anomalies: NONE };
    let out: Anomaly[] | undefined;
    for (const key of [...state.open]) {
      const s = state.sessions[key];
      if (s === undefined || watermark - s.last < RUNAWAY_QUIET_MS) continue;
      const resolved = resolve(state, key, s, watermark, iso(watermark), 'the session went quiet', cfg);
      if (resolved !== undefined) (out ??= []).push(...resolved);
    }
    return { state, anomalies: out ?? NONE };
  },

  evict: (state, idleBeforeMs) => evictIdleSessions(state, idleBeforeMs),

  size: (state) => sessionCount(state),
};

let lastPromptId = '';
let lastPromptHash = hash53('');

/** hash53 of a prompt id, remembered for the last one: a prompt's calls mostly arrive in a row. */
function promptHash(promptId: string): number {
  if (promptId !== lastPromptId) {
    lastPromptId = promptId;
    lastPromptHash = hash53(promptId);
  }
  return lastPromptHash;
}

/** Whether the stretch has run past its limit: opens, escalates or re-reports its episode. */
function judge(
  state: RunawaySessionState,
  key: string,
  s: RunawaySession,
  at: number,
  occurredAt: string,
  cfg: RunawaySessionConfig,
): readonly Anomaly[] {
  const settings = cfg.settingsFor({ team: s.team, developer: s.developer });
  const stretch = at - s.since;
  const base = settings.max_hours_without_human * HOUR_MS;
  if (cfg.score !== undefined && settings.enabled) scoreStretch(cfg.score, s, at, base, settings, cfg.calendarFor(s.team));
  // The cheapest test first: most calls are nowhere near even the off-hours limit.
  if (!settings.enabled || stretch < base * Math.min(1, settings.off_hours_factor) || s.cost < settings.min_impact_usd) {
    return NONE;
  }
  // Without prompt ids, only a steady cadence stands for an agent working alone.
  if (s.prompt === NO_PROMPT && (s.pauses ?? 0) > (s.calls - 1) * MAX_PAUSE_SHARE) return NONE;
  const cal = cfg.calendarFor(s.team);
  const offHours = isOffHours(cal, at);
  const limit = offHours ? base * settings.off_hours_factor : base;
  if (stretch < limit) return NONE;
  const crossed: Severity =
    stretch >= limit * settings.critical_factor || projectedTotal(s, cal, at) >= (settings.critical_projected_usd ?? Infinity)
      ? 'critical'
      : 'warning';
  const severity = plannedSeverity(crossed, cfg.plannedChange(s.team, at));

  const ep = s.episode;
  if (ep === null || ep.status === 'resolved') {
    s.episode = openEpisode(KIND, [s.org, s.session], s.since, severity, s.cost, {
      at: s.since,
      label:
        s.prompt === NO_PROMPT
          ? 'steady requests began (no prompt ids: judged by cadence)'
          : s.since === s.human
            ? 'last human prompt'
            : 'agent resumed without a human prompt',
      value: 0,
      unit: 'usd',
    });
    state.open.push(key);
  } else {
    const rises = SEVERITY_RANK[severity] > SEVERITY_RANK[ep.severity];
    const change = updateEpisode(
      ep,
      severity,
      s.cost,
      {},
      {
        at,
        label: rises
          ? `${severity}: ${formatDuration(stretch)} ${s.prompt === NO_PROMPT ? 'of steady requests' : 'without a human prompt'}`
          : `spend since the ${s.prompt === NO_PROMPT ? 'steady requests began' : 'last human prompt'} doubled`,
        value: s.cost,
        unit: 'usd',
      },
    );
    if (change === null) return NONE;
  }
  return [toAnomaly(s, at, occurredAt, limit, offHours, settings, cfg)];
}

/** The stretch against the limit that applies at `at`, as `judge` weighs it, for a backtest's scores. */
function scoreStretch(
  sink: ScoreSink,
  s: RunawaySession,
  at: number,
  base: number,
  settings: RunawaySessionSettings,
  cal: WorkCalendar,
): void {
  // A cadence session with many pauses has a person in it: it is not judged at all.
  if (s.prompt === NO_PROMPT && (s.pauses ?? 0) > (s.calls - 1) * MAX_PAUSE_SHARE) return;
  const stretch = at - s.since;
  const limit = isOffHours(cal, at) ? base * settings.off_hours_factor : base;
  const over = stretch >= limit && s.cost >= settings.min_impact_usd;
  sink({
    kind: KIND,
    subject: { org: s.org, team: s.team, developer: s.developer, session: s.session },
    at,
    score: stretch / HOUR_MS,
    threshold: limit / HOUR_MS,
    unit: 'hours',
    severity: !over ? null : stretch >= limit * settings.critical_factor ? 'critical' : 'warning',
    impact_usd: s.cost,
    min_impact_usd: settings.min_impact_usd,
  });
}

/**
 * A request of a session without prompt ids (see the header): a long gap ends the stretch, a
 * shorter one counts as a pause, and the stretch is judged like one with prompt ids.
 */
function cadenceStep(
  state: RunawaySessionState,
  key: string,
  s: RunawaySession,
  at: number,
  cost: number,
  occurredAt: string,
  cfg: RunawaySessionConfig,
): StepResult<RunawaySessionState> {
  if (at <= s.last) {
    // Out of order: its cost counts if it falls inside the stretch; its gap says nothing.
    if (at >= s.since) {
      s.cost += cost;
      s.calls += 1;
    }
    return { state, anomalies: NONE };
  }
  const gap = at - s.last;
  if (gap >= CADENCE_BREAK_MS) {
    let out: Anomaly[] | undefined;
    if (s.episode?.status === 'open') {
      const why =
        gap >= RUNAWAY_QUIET_MS ? 'the session went quiet' : `the session paused for ${formatDuration(gap)}, long enough for a human turn`;
      out = resolve(state, key, s, Math.min(at, s.last + RUNAWAY_QUIET_MS), occurredAt, why, cfg);
    }
    s.human = at;
    startStretch(s, at, cost);
    return { state, anomalies: out ?? NONE };
  }
  if (gap >= PAUSE_MS) s.pauses = (s.pauses ?? 0) + 1;
  s.cost += cost;
  s.calls += 1;
  s.last = at;
  return { state, anomalies: judge(state, key, s, at, occurredAt, cfg) };
}

/** Rate of the stretch, rated over at least 15 min so its first calls are not extrapolated. */
const stretchRate = (s: RunawaySession): number => s.cost / Math.max((s.last - s.since) / HOUR_MS, 0.25);

/** Outside working time, the stretch's spend plus what it would add at its rate until someone is likely to act; 0 in it. */
function projectedTotal(s: RunawaySession, cal: WorkCalendar, at: number): number {
  const hours = hoursUnattended(cal, at);
  return hours === 0 ? 0 : s.cost + stretchRate(s) * hours;
}

function startStretch(s: RunawaySession, at: number, cost: number): void {
  s.since = at;
  s.last = Math.max(s.last, at);
  s.cost = cost;
  s.calls = 1;
  s.pauses = 0;
}

/** Closes the session's open episode; the anomaly is returned unless the detector is disabled for it. */
function resolve(
  state: RunawaySessionState,
  key: string,
  s: RunawaySession,
  at: number,
  detectedAt: string,
  why: string,
  cfg: RunawaySessionConfig,
): Anomaly[] | undefined {
  const ep = s.episode;
  state.open = state.open.filter((k) => k !== key);
  if (ep === null || !resolveEpisode(ep, { at, label: `resolved: ${why}`, value: s.cost, unit: 'usd' })) return undefined;
  const settings = cfg.settingsFor({ team: s.team, developer: s.developer });
  if (!settings.enabled) return undefined;
  const base = settings.max_hours_without_human * HOUR_MS;
  return [toAnomaly(s, at, detectedAt, base, false, settings, cfg, why)];
}

function toAnomaly(
  s: RunawaySession,
  at: number,
  detectedAt: string,
  limit: number,
  offHours: boolean,
  settings: RunawaySessionSettings,
  cfg: RunawaySessionConfig,
  resolvedBecause?: string,
): Anomaly {
  const ep = s.episode as Episode;
  const stretch = Math.max(0, s.last - s.since);
  const hours = stretch / HOUR_MS;
  const rate = stretchRate(s);
  const cal = cfg.calendarFor(s.team);
  const horizon = hoursUntilAcknowledgement(cal, at);
  const projected = resolvedBecause === undefined ? roundMoney(rate * horizon) : 0;
  const who = s.email ?? s.developer;
  const cadence = s.prompt === NO_PROMPT;
  const evidence: EvidencePoint[] = [
    ...markEvidence(ep),
    {
      at: iso(s.last),
      label: cadence ? 'calls since the steady requests began' : 'agent calls since the last human prompt',
      value: s.calls,
      unit: 'calls',
    },
    { at: iso(s.last), label: 'average burn rate of the stretch', value: roundMoney(rate), unit: 'usd/h' },
  ];
  const planned = ep.severity === 'info' ? cfg.plannedChange(s.team, at) : undefined;
  const limitText = `${formatDuration(limit)}${offHours ? ` (halved${settings.off_hours_factor === 0.5 ? '' : ` ×${settings.off_hours_factor}`} outside ${s.team}'s working hours, ${cal.timeZone})` : ''}`;
  const unattended = cadence
    ? `with requests every ${formatGap(stretch / Math.max(1, s.calls - 1))} on average and no pause of ${formatDuration(CADENCE_BREAK_MS)} ` +
      `(the session carries no prompt ids, so its cadence stands for them)`
    : 'without a human prompt';
  const summary =
    resolvedBecause === undefined
      ? `An agent in session ${shortId(s.session)} of ${who} has run for ${formatDuration(stretch)} ${unattended}, ` +
        `past the ${limitText} limit, and spent ${formatUsd(s.cost)} in that time.` +
        (ep.severity === 'critical' && stretch < limit * settings.critical_factor
          ? ` Critical because at this rate it reaches ${formatUsd(s.cost + projected)} before anyone is likely to act.`
          : '') +
        (planned === undefined ? '' : ` Kept at info: planned change "${planned}".`)
      : `The unattended run of session ${shortId(s.session)} of ${who} is over (${resolvedBecause}) after ${formatDuration(stretch)} and ${formatUsd(s.cost)}.`;
  const advice =
    resolvedBecause === undefined
      ? `Look at what the agent is doing: a failing test retried or a tool call repeated can run all night. Interrupt it (Esc in Claude Code) or end the session; ` +
        `if it is meant to run unattended, give it a turn limit. At ${formatUsdRate(rate)} it would cost about ${formatUsd(projected)} more ${describeAcknowledgement(cal, at)}.`
      : 'Nothing to do now; if the run was not intended, check why the agent kept going without a prompt.';
  return {
    ...episodeFields(ep),
    kind: KIND,
    subject: { org: s.org, team: s.team, developer: s.developer, session: s.session },
    window: { start: iso(s.since), end: iso(Math.max(s.last, s.since)) },
    observed: { value: roundMoney(hours), unit: 'h' },
    expected: { value: roundMoney(limit / HOUR_MS), unit: 'h' },
    impact_usd: roundMoney(s.cost),
    projected_usd: projected,
    evidence: sortedEvidence(evidence),
    summary,
    advice,
    detected_at: detectedAt,
  };
}

/** An average gap between requests: seconds under a minute, where formatDuration says 0m. */
const formatGap = (ms: number): string => (ms < 60_000 ? `${Math.round(ms / 1000)}s` : formatDuration(ms));
