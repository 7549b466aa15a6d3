import { SEVERITY_RANK } from '@burnrate/schemas';
import type { Anomaly, EvidencePoint, Severity, UsageEvent } from '@burnrate/schemas';
import { hoursUntilAcknowledgement } from './calendar.ts';
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
import { formatDuration, formatUsd, roundMoney, shortId } from './format.ts';
import { adoptOwner, evictIdleSessions, ownerOf, sessionCount, sessionKey, type SessionOwner } from './session-map.ts';

/**
 * context_bloat: every turn of an agent re-sends its whole context, so a session whose context
 * keeps growing pays more per call until it is reset.
 *
 * Per request in a session, input = input + cache-read + cache-write tokens. A call is bloated when
 * - its input exceeds `max_input_tokens_per_call`, or
 * - it costs at least `cost_per_turn_factor` × the mean of the session's first `baseline_turns`
 *   calls of the same model, with at least twice their input. Same model, because a cheap side
 *   call (a title, a quota check on a small model) would otherwise make every main call look 50x;
 *   twice the input, because a call that writes a long file costs more without any bloat.
 * Impact = Σ over bloated calls of (cost − the baseline mean): what the bloated calls cost above
 * what the session's first turns did. Dollar gate: warning once impact ≥ `min_impact_usd`;
 * critical once impact ≥ CRITICAL_IMPACT_FACTOR × `min_impact_usd`, or when one call costs more
 * than the session's whole first hour (the context-bloat story).
 *
 * A stretch of bloat ends when a call on the stretch's model sends less than half the peak input
 * (a /compact or /clear). Before the episode opens, a stretch that ended under the gate is
 * forgotten: scattered heavy calls between normal ones do not add up forever.
 *
 * Episode: one per session. id = hash(kind, org, session, first bloated call of the stretch that
 * opened it), so it stays the same for the session's life. A compaction does not resolve it: an
 * agent that compacts and bloats again is the same problem, and a page per compaction was dozens
 * of $5 warnings for one session. Once open, every later stretch of the session adds its impact
 * (and its calls) to the episode; new versions only by episode.ts's rules (escalation, and while
 * critical when impact doubles). Resolves when the session has made no call for `cool_down_hours`
 * (the session ended or went quiet; seen by `advance`); a session that comes back after that
 * starts a new episode. Late events are accepted for sessions still tracked; they never create a
 * session.
 */

export interface ContextBloatSettings {
  enabled: boolean;
  min_impact_usd: number;
  max_input_tokens_per_call: number;
  cost_per_turn_factor: number;
  baseline_turns: number;
  cool_down_hours: number;
}

export type ContextBloatConfig = DetectorEnv<ContextBloatSettings>;

/** First calls of one model in a session: [count, total cost, total input tokens]. */
type Baseline = [n: number, cost: number, input: number];

export interface BloatSession extends SessionOwner {
  first: number;
  last: number;
  /** Spend in the session's first hour: the design's yardstick for a single bloated call. */
  firstHour: number;
  /** Per model, at most MAX_MODELS. */
  models: Record<string, Baseline>;
  /**
   * The current stretch of bloat: start (null when none), peak input and model; impact and
   * bloated calls are the stretch's until the episode opens, then the episode's (all its stretches).
   */
  since: number | null;
  impact: number;
  bloated: number;
  peak: number;
  model: string;
  /** The last few calls as a ring of flat triples [at, cost, input]. */
  tail: number[];
  tailNext: number;
  episode: Episode | null;
}

export interface ContextBloatState {
  sessions: Record<string, BloatSession>;
  open: string[];
}

const KIND = 'context_bloat';
const HOUR_MS = 3_600_000;
const CRITICAL_IMPACT_FACTOR = 5;
const MAX_MODELS = 4;
const TAIL = 5;
const NONE: readonly Anomaly[] = Object.freeze([]);

export const contextBloat: Detector<ContextBloatState, ContextBloatConfig> = {
  kind: KIND,
  late: 'accept',

  initialState: () => ({ sessions: {}, open: [] }),

  step(state, event, cfg, ctx): StepResult<ContextBloatState> {
    if (event.session_id === undefined || event.session_id === '' || event.granularity !== 'request') return { state, anomalies: NONE };
    const at = ctx.occurredAt ?? Date.parse(event.occurred_at);
    const key = sessionKey(event.org, event.session_id);
    let s = state.sessions[key];
    if (s === undefined) {
      if (ctx.late === true) return { state, anomalies: NONE };
      s = newSession(event, at);
      state.sessions[key] = s;
    } else {
      adoptOwner(s, event);
    }
    if (at > s.last) s.last = at;
    if (at < s.first) s.first = at;
    const cost = event.cost_usd;
    const input = event.input_tokens + event.cache_read_tokens + event.cache_write_tokens;
    if (at < s.first + HOUR_MS) s.firstHour += cost;
    pushTail(s, at, cost, input);

    const settings = cfg.settingsFor({ team: s.team, developer: s.developer });
    let base = s.models[event.model];
    if (base === undefined && Object.keys(s.models).length < MAX_MODELS) {
      base = [0, 0, 0];
      s.models[event.model] = base;
    }
    let inBaseline = false;
    if (base !== undefined && base[0] < settings.baseline_turns) {
      base[0] += 1;
      base[1] += cost;
      base[2] += input;
      inBaseline = true;
    }
    const meanCost = base === undefined || base[0] === 0 ? 0 : base[1] / base[0];
    const meanInput = base === undefined || base[0] === 0 ? 0 : base[2] / base[0];
    const bloated =
      input > settings.max_input_tokens_per_call ||
      (!inBaseline && meanCost > 0 && cost >= settings.cost_per_turn_factor * meanCost && input >= 2 * meanInput);
    if (cfg.score !== undefined && settings.enabled && !inBaseline && meanCost > 0) {
      scoreCall(cfg.score, s, event.model, at, cost, meanCost, bloated, settings);
    }

    if (!bloated) {
      if (s.since !== null && s.model === event.model && input < s.peak / 2) {
        // The context was reset (compacted or cleared): the stretch is over, the episode is not.
        s.since = null;
        s.peak = 0;
        if (s.episode?.status !== 'open') endStretch(s);
      }
      return { state, anomalies: NONE };
    }

    if (s.since === null) {
      s.since = at;
      s.model = event.model;
    }
    s.impact += Math.max(0, cost - meanCost);
    s.bloated += 1;
    if (input > s.peak) s.peak = input;
    if (!settings.enabled || s.impact < settings.min_impact_usd) return { state, anomalies: NONE };

    const overFirstHour = at >= s.first + HOUR_MS && s.firstHour > 0 && cost > s.firstHour;
    const crossed: Severity = s.impact >= CRITICAL_IMPACT_FACTOR * settings.min_impact_usd || overFirstHour ? 'critical' : 'warning';
    const severity = plannedSeverity(crossed, cfg.plannedChange(s.team, at));
    const ep = s.episode;
    if (ep === null || ep.status === 'resolved') {
      s.episode = openEpisode(KIND, [s.org, s.session], s.since, severity, s.impact, {
        at: s.since,
        label: 'first bloated call',
        value: input,
        unit: 'tokens',
      });
      state.open.push(key);
    } else {
      const rises = SEVERITY_RANK[severity] > SEVERITY_RANK[ep.severity];
      const label = rises ? (overFirstHour ? 'one call cost more than the first hour' : `${severity}: impact`) : 'impact doubled';
      if (updateEpisode(ep, severity, s.impact, {}, { at, label, value: rises && overFirstHour ? cost : s.impact, unit: 'usd' }) === null) {
        return { state, anomalies: NONE };
      }
    }
    return { state, anomalies: [toAnomaly(s, at, event.occurred_at, cost, input, meanCost, settings, cfg)] };
  },

  advance(state, watermark, cfg): StepResult<ContextBloatState> {
    if (state.open.length === 0) return { state, anomalies: NONE };
    let out: Anomaly[] | undefined;
    for (const key of [...state.open]) {
      const s = state.sessions[key];
      if (s === undefined) continue;
      const coolDown = cfg.settingsFor({ team: s.team, developer: s.developer }).cool_down_hours * HOUR_MS;
      if (watermark - s.last < coolDown) continue;
      const resolved = resolve(state, key, s, watermark, iso(watermark), `made no call for ${formatDuration(watermark - s.last)}`, cfg);
      if (resolved.length > 0) (out ??= []).push(...resolved);
      s.since = null;
      s.peak = 0;
      endStretch(s);
    }
    return { state, anomalies: out ?? NONE };
  },

  evict: (state, idleBeforeMs) => evictIdleSessions(state, idleBeforeMs),

  size: (state) => sessionCount(state),
};

function newSession(e: UsageEvent, at: number): BloatSession {
  return {
    ...ownerOf(e),
    first: at,
    last: at,
    firstHour: 0,
    models: {},
    since: null,
    impact: 0,
    bloated: 0,
    peak: 0,
    model: e.model,
    tail: [],
    tailNext: 0,
    episode: null,
  };
}

/** Forgets what the last stretch (or the closed episode) added up. */
function endStretch(s: BloatSession): void {
  s.impact = 0;
  s.bloated = 0;
}

function pushTail(s: BloatSession, at: number, cost: number, input: number): void {
  if (s.tail.length < TAIL * 3) {
    s.tail.push(at, cost, input);
  } else {
    s.tail[s.tailNext * 3] = at;
    s.tail[s.tailNext * 3 + 1] = cost;
    s.tail[s.tailNext * 3 + 2] = input;
    s.tailNext = (s.tailNext + 1) % TAIL;
  }
}

/**
 * A call's cost against its session's first turns, with the stretch's impact once this call is
 * counted, for a backtest's scores. `bloated` also holds for a call over the token limit per call
 * whatever its cost ratio.
 */
function scoreCall(
  sink: ScoreSink,
  s: BloatSession,
  model: string,
  at: number,
  cost: number,
  meanCost: number,
  bloated: boolean,
  settings: ContextBloatSettings,
): void {
  const impact = s.impact + (bloated ? Math.max(0, cost - meanCost) : 0);
  sink({
    kind: KIND,
    subject: { org: s.org, team: s.team, developer: s.developer, session: s.session, model },
    at,
    score: cost / meanCost,
    threshold: settings.cost_per_turn_factor,
    unit: 'ratio',
    severity:
      !bloated || impact < settings.min_impact_usd
        ? null
        : impact >= CRITICAL_IMPACT_FACTOR * settings.min_impact_usd
          ? 'critical'
          : 'warning',
    impact_usd: impact,
    min_impact_usd: settings.min_impact_usd,
  });
}

function resolve(
  state: ContextBloatState,
  key: string,
  s: BloatSession,
  at: number,
  detectedAt: string,
  why: string,
  cfg: ContextBloatConfig,
): readonly Anomaly[] {
  state.open = state.open.filter((k) => k !== key);
  const ep = s.episode;
  if (ep === null || !resolveEpisode(ep, { at, label: `resolved: ${why}`, value: s.impact, unit: 'usd' })) return NONE;
  const settings = cfg.settingsFor({ team: s.team, developer: s.developer });
  if (!settings.enabled) return NONE;
  const base = s.models[s.model];
  const mean = base === undefined || base[0] === 0 ? 0 : base[1] / base[0];
  return [toAnomaly(s, at, detectedAt, Number.NaN, Number.NaN, mean, settings, cfg, why)];
}

function toAnomaly(
  s: BloatSession,
  at: number,
  detectedAt: string,
  cost: number,
  input: number,
  meanCost: number,
  settings: ContextBloatSettings,
  cfg: ContextBloatConfig,
  resolvedBecause?: string,
): Anomaly {
  const ep = s.episode as Episode;
  const since = ep.start;
  const hours = Math.max(0.25, (s.last - since) / HOUR_MS);
  const cal = cfg.calendarFor(s.team);
  const projected = resolvedBecause === undefined ? roundMoney((s.impact / hours) * hoursUntilAcknowledgement(cal, at)) : 0;
  const evidence: EvidencePoint[] = [
    ...markEvidence(ep),
    { at: iso(s.first), label: 'mean cost of the first turns', value: roundMoney(meanCost), unit: 'usd' },
  ];
  const n = s.tail.length / 3;
  for (let i = 0; i < n; i++) {
    const j = ((s.tailNext + i) % n) * 3;
    evidence.push({ at: iso(s.tail[j] as number), label: 'call cost', value: roundMoney(s.tail[j + 1] as number), unit: 'usd' });
    evidence.push({ at: iso(s.tail[j] as number), label: 'call input', value: s.tail[j + 2] as number, unit: 'tokens' });
  }
  const who = s.email ?? s.developer;
  const planned = ep.severity === 'info' ? cfg.plannedChange(s.team, at) : undefined;
  const factor = meanCost > 0 && Number.isFinite(cost) ? cost / meanCost : Number.NaN;
  const summary =
    resolvedBecause === undefined
      ? `Each call in session ${shortId(s.session)} of ${who} now sends ${kTokens(input)} tokens of context and costs ${formatUsd(cost)}` +
        (Number.isFinite(factor) ? `, ${factor.toFixed(1)}x its first turns (${formatUsd(meanCost)})` : '') +
        `; ${s.bloated} such calls cost ${formatUsd(s.impact)} more than the first turns would have.` +
        (input > settings.max_input_tokens_per_call
          ? ` That is above the ${kTokens(settings.max_input_tokens_per_call)}-token limit per call.`
          : '') +
        (planned === undefined ? '' : ` Kept at info: planned change "${planned}".`)
      : `Session ${shortId(s.session)} of ${who} ${resolvedBecause}, so this episode closes; its ${s.bloated} bloated calls cost ${formatUsd(s.impact)} more than its first turns would have.`;
  const advice =
    resolvedBecause === undefined
      ? 'Reset the context: /compact to summarise it or /clear to start over, or start a new session for the next task. Every turn re-sends the whole context, so each call costs more until it is reset.'
      : 'Nothing to do now. If the session grows again, compact it earlier (/compact) or split the work into shorter sessions.';
  return {
    ...episodeFields(ep),
    kind: KIND,
    subject: { org: s.org, team: s.team, developer: s.developer, session: s.session, model: s.model },
    window: { start: iso(since), end: iso(Math.max(s.last, since)) },
    observed: { value: roundMoney(Number.isFinite(cost) ? cost : s.impact / Math.max(1, s.bloated) + meanCost), unit: 'usd/call' },
    expected: { value: roundMoney(meanCost), unit: 'usd/call' },
    impact_usd: roundMoney(s.impact),
    projected_usd: projected,
    evidence: sortedEvidence(evidence),
    summary,
    advice,
    detected_at: detectedAt,
  };
}

const kTokens = (n: number): string => (n >= 1000 ? `${Math.round(n / 1000)}k` : String(n));
