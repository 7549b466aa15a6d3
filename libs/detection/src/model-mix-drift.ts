import { UNATTRIBUTED } from '@burnrate/schemas';
import type { Anomaly, Severity, UsageEvent } from '@burnrate/schemas';
import { latenessOf, stepResults, BASELINE_EXTRA_RETENTION_MS, type BucketDetector } from './buckets/bucket-detector.ts';
import {
  HOUR_MS,
  hourOf,
  isClosedHour,
  lastClosedHour,
  premiumEvents,
  stepHour,
  weightedTokens,
  type HourBucket,
} from './buckets/hourly.ts';
import { countKeys, deleteKeys, forEachKey, getKey, joinKey, setKey, splitKey } from './buckets/keyed.ts';
import { localHourOf } from './buckets/local-hour.ts';
import { changePhase, NORMAL } from './buckets/planned.ts';
import type { WorkCalendar } from './calendar.ts';
import type { Detector, ScoreSink, StepContext, StepResult } from './detector.ts';
import { openEpisode, plannedSeverity, resolveEpisode, updateEpisode } from './episode.ts';
import { toAnomaly } from './model-mix-drift/anomaly-text.ts';
import {
  addToDeveloper,
  ARRIVED,
  FAST_EVERY_MS,
  fastVerdict,
  LATE,
  learnClosedHours,
  settleDevelopers,
  type FastVerdict,
} from './model-mix-drift/fast-team-path.ts';
import {
  developerTable,
  fastJudgedAt,
  lastSpendHour,
  memoHour,
  memoHourDay,
  newestDay,
  newestPhase,
  newKey,
  rememberHourDay,
  RING_DAYS,
  setFastJudgedAt,
  setNewestPhase,
  setWeeklyJudgedHour,
  weeklyJudgedHour,
  type KeyRecord,
  type MixKey,
  type ModelMixDriftState,
  type Scope,
} from './model-mix-drift/mix-key.ts';
import { DAY_MS, KIND, timeConstant, type ModelMixDriftConfig, type ModelMixDriftSettings } from './model-mix-drift/settings.ts';
import { addToDay, rollDays, settleDays, weeklyVerdict, type Verdict } from './model-mix-drift/weekly-signal.ts';

/**
 * model_mix_drift: spend moved to premium-tier models (UsageEvent.tier) well beyond the usual —
 * a tool's default model switched by a vendor update is the classic cause, and it multiplies cost
 * without anyone choosing it.
 *
 * Two signals:
 *
 * - weekly (developer keys over events in stage A; team keys over HourBuckets in stage B): the
 *   premium share of spend over the last 7 local days against a baseline of the days before
 *   (exponentially weighted, time constant `baseline_weeks`; a day leaving the 7-day ring is folded
 *   in, so the week judged is never its own baseline). Holds when the share rose ≥
 *   `min_share_increase_points`, a one-sided two-proportion test on premium events says so (p ≤
 *   `max_p_value`), and the week's excess — its spend minus its weighted tokens at the baseline's
 *   price per token — is ≥ `min_impact_usd`. Judged at most once an hour per key; warm-up: 7 days
 *   in the baseline.
 *
 * - fast (team keys only): a switched default shows within minutes as several developers' new
 *   sessions landing on the premium model at once. The unit is the developer, never the call (one
 *   session's calls all follow its model, and in a quiet hour one session is the team's whole
 *   spend). Over the last FAST_LOOKBACK_HOURS (8: a switched default stays switched, so a
 *   developer who worked at dawn and one who starts at ten are the same evidence), each developer
 *   active in it (their latest active hours) is "on premium" when
 *   premium models took at least half of their spend; each has a habit, the exponentially weighted
 *   share of their past active hours that were on premium (shrunk toward the team's, floored at
 *   5%: anyone may try the premium model). Holds when at least 2 developers are on premium and:
 *     breadth   P(at least that many of the active developers on premium by habit) ≤ max_p_value
 *               (exact Poisson-binomial tail; a power user who is always on premium explains
 *               nothing, two developers who never are explain a lot);
 *     points    the window's premium share of spend ≥ min_share_increase_points above what those
 *               same developers usually put there (so the evening hours of a premium-heavy power
 *               user are compared with that user, not with the team's daytime mix);
 *     dollars   the weekly impact ≥ min_impact_usd: the window's cost over what its weighted tokens
 *               would have cost at each developer's usual price per token, as a ratio, applied to
 *               the team's usual weekly spend (the breadth test is what makes it a team's change).
 *   Evaluated every minute of event time while spend arrives, whenever a developer starts
 *   spending after half an hour without (a session starting), and whenever a developer's hour goes
 *   over to premium (the breadth just changed; the next call may be half an hour away). Warm-up: 3 days of history and 24
 *   developer-hours learnt.
 *
 * Severity: warning; critical from 10× `min_impact_usd` a week.
 *
 * Planned changes (buckets/planned.ts): inside one, and through the settling day after it,
 * anomalies stay at info; days inside one are never learnt and never judged as "the last 7 days".
 * When the change is over the settling day decides what normal is: if the team kept the new mix
 * (its settling-day share is at least half the alert points above the old baseline), the mix of
 * the change and the settling day becomes the baseline — the team chose it, and it ages out like
 * any baseline as new days come in. If the team went back, the old baseline stays and the change
 * left no trace. Either way a planned migration pages nobody, and a drift a week later is still
 * measured against how the team actually works.
 *
 * Episode: opens when either signal holds (id = kind, org, scope, subject, time of the first
 * alert); new versions on escalation (and growth while critical); resolves when neither holds and
 * the latest evidence is back within half the points: for a team its latest fast window, for a
 * developer its 7-day share.
 *
 * Fields: observed / expected = premium share of spend now / usual (percent); impact_usd = the
 * weekly excess cost of the mix; projected_usd = that excess per hour × hours until the team is
 * likely to look.
 *
 * Config (`ModelMixDriftConfig`, a DetectorEnv): settingsFor({ team, developer? }) →
 * detectors.model_mix_drift with overrides; calendarFor(team) (its zone decides local days);
 * plannedChange(team, atMs) for kind model_mix_drift.
 *
 * Parts (model-mix-drift/): mix-key.ts (the state and the layout of its packed records),
 * weekly-signal.ts, fast-team-path.ts, anomaly-text.ts. This file adds spend to a key, rolls its
 * days, settles planned changes, and runs the episode on whichever signal holds.
 */

export type { MixEpisode, MixKey, ModelMixDriftState } from './model-mix-drift/mix-key.ts';
export type { ModelMixDriftConfig, ModelMixDriftSettings } from './model-mix-drift/settings.ts';

/** An episode resolves after the mix has looked normal this long (a night's single haiku call is not "back"). */
const CALM_BEFORE_RESOLVE_MS = HOUR_MS;
const CRITICAL_IMPACT_FACTOR = 10;
const NONE: readonly Anomaly[] = Object.freeze([]);

function severityOf(impact: number, s: ModelMixDriftSettings): Severity {
  return impact >= CRITICAL_IMPACT_FACTOR * s.min_impact_usd ? 'critical' : 'warning';
}

/** The key's local day of an hour, remembered for the last hour asked (most events share it). */
function dayOf(v: KeyRecord, hour: number, cal: WorkCalendar): number {
  const day = localHourOf(hour, cal.timeZone).day;
  rememberHourDay(v, hour, day);
  return day;
}

/**
 * The key of the last spend added, by state: consecutive events mostly come from one session, and
 * the string-keyed lookups are the dearest part of a step. A pure cache outside the state: keys
 * leave a state only in `evictIdle`, which clears it, and a restored state is a new object.
 */
const last: { state: ModelMixDriftState | null; org: string; who: string; key: MixKey | null } = {
  state: null,
  org: '',
  who: '',
  key: null,
};

/**
 * Adds spend to the key of `who` (a developer, or a team with `dev` its developer) and evaluates
 * it when due. Settings and planned changes are looked up only when a day rolls or an evaluation
 * is due, not per event.
 */
function add(
  state: ModelMixDriftState,
  org: string,
  who: string,
  team: string,
  dev: string | null,
  hour: number,
  cost: number,
  premium: number,
  events: number,
  premiumCount: number,
  tokens: number,
  scope: Scope,
  cfg: ModelMixDriftConfig,
  watermark: number,
): readonly Anomaly[] {
  let k = last.state === state && last.who === who && last.org === org ? (last.key as MixKey) : getKey(state.keys, org, who);
  if (k === undefined) {
    const cal = cfg.calendarFor(team);
    const day = localHourOf(hour, cal.timeZone).day;
    k = newKey(team, day, hour, changePhase(cfg, team, cal, hour).phase, scope);
    setKey(state.keys, org, who, k);
  } else if (team !== k.team && team !== UNATTRIBUTED) {
    k.team = team;
  }
  if (last.key !== k) {
    last.state = state;
    last.org = org;
    last.who = who;
    last.key = k;
  }
  const v = k.v;
  const day = hour === memoHour(v) ? memoHourDay(v) : dayOf(v, hour, cfg.calendarFor(k.team));
  let s: ModelMixDriftSettings | null = null;
  let arrived = false;
  if (day > newestDay(v)) {
    s = settingsOf(cfg, k, who, scope);
    rollKey(k, day, hour, s, cfg);
  } else if (day <= newestDay(v) - RING_DAYS) {
    state.late += 1;
    return NONE;
  }
  if (dev !== null) {
    const added = addToDeveloper(k, dev, hour, cost, premium, tokens, cfg, watermark);
    if (added === LATE) {
      state.late += 1;
      return NONE;
    }
    arrived = added === ARRIVED;
  }
  addToDay(v, day, cost, premium, events, premiumCount, tokens);

  const weeklyDue = hour > weeklyJudgedHour(v);
  // Every minute while spend arrives, and at once when a developer starts spending again: a
  // switched default shows as sessions starting on the premium model.
  const fastDue = k.devs !== null && (arrived || watermark - fastJudgedAt(v) >= FAST_EVERY_MS);
  if (!weeklyDue && !fastDue) return NONE;
  if (weeklyDue) setWeeklyJudgedHour(v, hour);
  if (fastDue) setFastJudgedAt(v, watermark);
  const a = evaluate(joinKey(org, who), k, s ?? settingsOf(cfg, k, who, scope), scope, cfg, watermark);
  return a === null ? NONE : [a];
}

/**
 * Moves the key to a later local day: learns the days leaving the ring, and settles a planned
 * change that just ended (the first NORMAL day after its settling day).
 */
function rollKey(k: MixKey, day: number, hour: number, s: ModelMixDriftSettings, cfg: ModelMixDriftConfig): void {
  const v = k.v;
  const cal = cfg.calendarFor(k.team);
  const phase = changePhase(cfg, k.team, cal, hour).phase;
  const ended = newestPhase(v) !== NORMAL && phase === NORMAL;
  rollDays(v, day, Math.exp(-1 / (7 * s.baseline_weeks)), phase);
  setNewestPhase(v, phase);
  if (ended) settleDevelopers(k, settleDays(v, s), hour, s, cal.timeZone);
}

const settingsOf = (cfg: ModelMixDriftConfig, k: MixKey, who: string, scope: Scope): ModelMixDriftSettings =>
  cfg.settingsFor({ team: k.team, developer: scope === 'developer' ? who : undefined });

function evaluate(
  key: string,
  k: MixKey,
  s: ModelMixDriftSettings,
  scope: Scope,
  cfg: ModelMixDriftConfig,
  watermark: number,
): Anomaly | null {
  const weekly = weeklyVerdict(k.v, s);
  const fast = k.devs === null ? null : fastVerdict(k, watermark, s);
  if (cfg.score !== undefined && s.enabled) scoreVerdicts(cfg.score, key, k, scope, s, watermark, weekly, fast);
  const firing: Verdict | FastVerdict | null =
    fast !== null && fast.holds && (weekly === null || !weekly.holds || fast.impact > weekly.impact)
      ? fast
      : weekly !== null && weekly.holds
        ? weekly
        : null;
  const ep = k.ep;
  if (firing !== null) {
    const phase = changePhase(cfg, k.team, cfg.calendarFor(k.team), watermark);
    const severity = plannedSeverity(severityOf(firing.impact, s), phase.note);
    const mark = { at: watermark, label: 'premium share of spend', value: 100 * firing.share, unit: 'percent' };
    if (ep === null) {
      k.ep = { e: openEpisode(KIND, idParts(key, scope), watermark, severity, firing.impact, mark), impact: firing.impact, calm: 0 };
      return toAnomaly(key, k, firing, scope, cfg, watermark, phase);
    }
    ep.impact = firing.impact;
    ep.calm = 0;
    return updateEpisode(ep.e, severity, firing.impact, {}, mark) === null ? null : toAnomaly(key, k, firing, scope, cfg, watermark, phase);
  }
  if (ep === null) return null;
  // Neither signal holds; resolve only on evidence that the mix is back, for an hour: a team's
  // fast windows (the 7-day share still carries the echo of a short blip for a week), a
  // developer's week. No spend in the window is no evidence.
  const back = k.devs !== null ? fast : weekly;
  if (back === null) return null;
  if (back.raised) ep.calm = 0;
  if (!back.normal) return null;
  if (ep.calm === 0) ep.calm = watermark;
  if (watermark - ep.calm < CALM_BEFORE_RESOLVE_MS) return null;
  resolveEpisode(ep.e, { at: watermark, label: 'premium share of spend, back to usual', value: 100 * back.share, unit: 'percent' });
  ep.impact = back.impact;
  const a = toAnomaly(key, k, back, scope, cfg, watermark, changePhase(cfg, k.team, cfg.calendarFor(k.team), watermark));
  k.ep = null;
  return a;
}

/** Each signal's rise in premium share against `min_share_increase_points`, for a backtest's scores. */
function scoreVerdicts(
  sink: ScoreSink,
  key: string,
  k: MixKey,
  scope: Scope,
  s: ModelMixDriftSettings,
  watermark: number,
  ...verdicts: (Verdict | FastVerdict | null)[]
): void {
  const [org, who] = splitKey(key);
  for (const v of verdicts) {
    if (v === null || ('fast' in v && !v.warm)) continue;
    sink({
      kind: KIND,
      subject: { org, team: k.team, ...(scope === 'developer' ? { developer: who } : {}) },
      at: watermark,
      score: 100 * (v.share - v.baseShare),
      threshold: s.min_share_increase_points,
      unit: 'points',
      severity: v.holds ? severityOf(v.impact, s) : null,
      impact_usd: v.impact,
      min_impact_usd: s.min_impact_usd,
    });
  }
}

function idParts(key: string, scope: Scope): string[] {
  const [org, who] = splitKey(key);
  return [org, scope, who];
}

function evictIdle(state: ModelMixDriftState, idleBeforeMs: number): ModelMixDriftState {
  const cutoff = idleBeforeMs - BASELINE_EXTRA_RETENTION_MS;
  // Days, not hours: a key's last spend is somewhere in its newest local day.
  const cutoffDay = Math.floor(cutoff / DAY_MS) - 1;
  if (state.swept === cutoffDay) return state;
  state.swept = cutoffDay;
  if (last.state === state) last.state = null;
  for (const org in state.keys) {
    for (const who in state.keys[org]) {
      const devs = (state.keys[org]?.[who] as MixKey).devs;
      if (devs === null) continue;
      for (const dev of Object.keys(devs)) if (lastSpendHour(devs[dev] as number[]) < cutoff) delete devs[dev];
    }
  }
  deleteKeys(state.keys, (k) => newestDay(k.v) < cutoffDay && k.ep === null);
  return state;
}

/**
 * Team scope, as the watermark moves: learns developer hours once they are closed, and evaluates
 * teams with an open episode hourly even when no spend arrives.
 */
function advanceTeams(state: ModelMixDriftState, watermark: number, cfg: ModelMixDriftConfig, lateness: number): readonly Anomaly[] {
  const through = lastClosedHour(watermark, lateness);
  const learn = through > state.closed;
  if (learn) state.closed = through;
  let out: Anomaly[] | null = null;
  for (const org in state.keys) {
    const byTeam = state.keys[org] as Record<string, MixKey>;
    for (const team in byTeam) {
      const k = byTeam[team] as MixKey;
      if (learn && k.devs !== null) {
        learnClosedHours(k, through, timeConstant(cfg.settingsFor({ team: k.team })), cfg.calendarFor(k.team).timeZone);
      }
      if (k.ep === null || watermark - fastJudgedAt(k.v) < HOUR_MS) continue;
      setFastJudgedAt(k.v, watermark);
      const s = cfg.settingsFor({ team: k.team });
      // A quiet team's day moves on too: its week and its planned-change phase are judged as of now.
      const now = hourOf(watermark);
      const day = dayOf(k.v, now, cfg.calendarFor(k.team));
      if (day > newestDay(k.v)) rollKey(k, day, now, s, cfg);
      const a = evaluate(joinKey(org, team), k, s, 'team', cfg, watermark);
      if (a !== null) (out ??= []).push(a);
    }
  }
  return out ?? NONE;
}

const initialState = (): ModelMixDriftState => ({ keys: {}, closed: 0, swept: 0, late: 0 });
const devResult = stepResults<ModelMixDriftState>();
const teamResult = stepResults<ModelMixDriftState>();

/** Developer keys, over events (stage A): the weekly signal. */
export const modelMixDrift: Detector<ModelMixDriftState, ModelMixDriftConfig> = {
  kind: KIND,
  initialState,

  step(state, event: UsageEvent, cfg, ctx: StepContext): StepResult<ModelMixDriftState> {
    if (event.developer === UNATTRIBUTED || event.cost_usd <= 0) return devResult(state, NONE);
    const hour = stepHour(event, ctx.occurredAt);
    if (ctx.late === true || isClosedHour(hour, ctx.watermark, latenessOf(ctx))) {
      state.late += 1;
      return devResult(state, NONE);
    }
    const premium = event.tier === 'premium';
    const tokens = weightedTokens(event.input_tokens, event.cache_read_tokens, event.cache_write_tokens, event.output_tokens);
    const anomalies = add(
      state,
      event.org,
      event.developer,
      event.team,
      null,
      hour,
      event.cost_usd,
      premium ? event.cost_usd : 0,
      1,
      premium ? 1 : 0,
      tokens,
      'developer',
      cfg,
      ctx.watermark,
    );
    return devResult(state, anomalies);
  },

  evict: evictIdle,
  size: (state) => countKeys(state.keys),
};

/** Team keys, over hour buckets (stage B rollups): the weekly and the fast signal. */
export const teamModelMixDrift: BucketDetector<ModelMixDriftState, ModelMixDriftConfig> = {
  kind: KIND,
  initialState,

  step(state, b: HourBucket, cfg, ctx) {
    if (b.cost_usd <= 0) return teamResult(state, NONE);
    if (isClosedHour(b.hour, ctx.watermark, latenessOf(ctx))) {
      state.late += 1;
      return teamResult(state, NONE);
    }
    const tokens = weightedTokens(b.input_tokens, b.cache_read_tokens, b.cache_write_tokens, b.output_tokens);
    const anomalies = add(
      state,
      b.org,
      b.team,
      b.team,
      b.developer ?? '',
      b.hour,
      b.cost_usd,
      b.cost_premium_usd,
      b.events,
      premiumEvents(b),
      tokens,
      'team',
      cfg,
      ctx.watermark,
    );
    return teamResult(state, anomalies);
  },

  advance: (state, watermark, cfg, ctx) => ({ state, anomalies: advanceTeams(state, watermark, cfg, latenessOf(ctx)) }),
  evict: evictIdle,
  size: (state) => countKeys(state.keys),

  upgrade(restored) {
    // Developer tables come back from JSON as plain objects: made hash tables again (see developerTable).
    const state = restored as ModelMixDriftState;
    forEachKey(state.keys, (k) => {
      if (k.devs !== null) k.devs = developerTable(k.devs);
    });
    return state;
  },
};
