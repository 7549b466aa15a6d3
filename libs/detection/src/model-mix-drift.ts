import { UNATTRIBUTED } from '@burnrate/schemas';
import type { Anomaly, EvidencePoint, Severity, UsageEvent } from '@burnrate/schemas';
import { twoProportionPValue } from './baselines/proportions.ts';
import { BASELINE_EXTRA_RETENTION_MS, latenessOf, type BucketDetector } from './buckets/bucket-detector.ts';
import {
  bucketIndex,
  eventHour,
  HOUR_MS,
  hourOf,
  isClosedHour,
  premiumEvents,
  withBucket,
  withoutOldest,
  type HourBucket,
} from './buckets/hourly.ts';
import { countKeys, deleteKeys, getKey, joinKey, setKey, type Keyed } from './buckets/keyed.ts';
import { dateOfDay, formatLocalHour, localHourOf } from './buckets/local-hour.ts';
import { hoursUntilAcknowledgement } from './calendar.ts';
import type { Detector, DetectorEnv, StepContext, StepResult } from './detector.ts';
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
import { formatUsd, roundMoney } from './format.ts';

/**
 * model_mix_drift: the share of spend going to premium-tier models (UsageEvent.tier) rose well
 * above the key's trailing baseline — a tool's default model switched by a vendor update is the
 * classic cause, and it multiplies cost without anyone choosing it.
 *
 * Per key (developer over events in stage A; team over HourBuckets in stage B, or via
 * `overEvents(teamModelMixDrift)` in one engine) the state keeps:
 * - a ring of the last 7 local days (team zone): cost, premium cost, events, premium events;
 * - the baseline: the same four sums over the days before that, exponentially weighted with a
 *   time constant of `baseline_weeks` (a day leaving the 7-day ring is folded in), so the week
 *   being judged is never part of its own baseline;
 * - team scope only: the open hour buckets, for the fast path.
 *
 * Signals (each needs all three gates):
 * - weekly (both scopes, at most once an hour per key): premium share of spend over the last 7
 *   days vs the baseline, ≥ `min_share_increase_points`; a one-sided two-proportion test on
 *   premium events vs all events (p ≤ `max_p_value`); and the weekly impact — the last 7 days'
 *   spend minus what the same events would have cost at the baseline's premium share — ≥
 *   `min_impact_usd`. Warm-up: 7 days folded into the baseline.
 * - fast (team scope, every 5 minutes of event time while spend arrives): the current hour so far
 *   (with the previous hour when it has under 20 events) against everything before it, same
 *   points and p-value gates, the window's spend at least an average hour's (one developer at
 *   night is not "the team"), and the projected weekly impact (the window's excess ratio × the
 *   team's weekly spend) ≥ `min_impact_usd`. A default model switched at 14:05 is reported
 *   by about 14:30, not a week later. Warm-up: 3 days of history.
 * Severity: warning; critical from 10× `min_impact_usd` a week; info during a planned change.
 *
 * Episode: opens when either signal holds (id = kind, org, scope, subject, time of the first
 * alert); new versions on escalation (and growth while critical); resolves when neither holds and
 * the latest evidence is back within half the points of the baseline: for a team its latest fast
 * window with enough events, for a developer its 7-day share.
 *
 * Fields: observed / expected = premium share of spend now / in the baseline (percent);
 * impact_usd = the weekly excess cost of the mix (projected for the fast path); projected_usd =
 * that excess per hour × hours until the team is likely to look.
 *
 * Config (`ModelMixDriftConfig`, a DetectorEnv): settingsFor({ team, developer? }) →
 * detectors.model_mix_drift with overrides; calendarFor(team) (its zone decides local days);
 * plannedChange(team, atMs) for kind model_mix_drift.
 */

export interface ModelMixDriftSettings {
  enabled: boolean;
  min_impact_usd: number;
  min_share_increase_points: number;
  baseline_weeks: number;
  max_p_value: number;
}

export type ModelMixDriftConfig = DetectorEnv<ModelMixDriftSettings>;

export interface MixEpisode {
  e: Episode;
  /** Weekly excess cost at the last evaluation. */
  impact: number;
}

export interface MixKey {
  team: string;
  /**
   * [first local day, newest local day in the ring, last weekly evaluation (hour ms), last fast
   * evaluation (ms), days folded into the baseline, baseline cost, premium cost, events, premium
   * events, …7 days × (cost, premium cost, events, premium events)].
   */
  v: number[];
  /** Team scope: open hour buckets, flat [hour, cost, premium cost, events, premium events]. Developer scope: null. */
  open: number[] | null;
  ep: MixEpisode | null;
}

export interface ModelMixDriftState {
  /** By org, then developer (developer scope) or team (team scope); see buckets/keyed.ts. */
  keys: Keyed<MixKey>;
  late: number;
}

const KIND = 'model_mix_drift';
const FIRST_DAY = 0;
const NEWEST_DAY = 1;
const WEEKLY_EVAL = 2;
const FAST_EVAL = 3;
const FOLDED = 4;
const BASE = 5;
const RING = 9;
const DAYS = 7;
const FIELDS = 4;
const STRIDE = 1 + FIELDS;
const FAST_EVERY_MS = 5 * 60_000;
const MIN_FAST_EVENTS = 20;
const MIN_WEEKLY_EVENTS = 30;
const MIN_FOLDED_DAYS = 7;
const MIN_FAST_HISTORY_DAYS = 3;
const CRITICAL_IMPACT_FACTOR = 10;
const NONE: readonly Anomaly[] = Object.freeze([]);

type Scope = 'developer' | 'team';

interface Sums {
  cost: number;
  premium: number;
  events: number;
  premiumEvents: number;
}

function newKey(team: string, day: number, scope: Scope): MixKey {
  const v = new Array<number>(RING + DAYS * FIELDS).fill(0);
  v[FIRST_DAY] = day;
  v[NEWEST_DAY] = day;
  return { team, v, open: scope === 'team' ? [] : null, ep: null };
}

/** Moves the ring's newest day to `day`, folding the days that leave it into the baseline. */
function rollTo(v: number[], day: number, decay: number): void {
  const newest = v[NEWEST_DAY] as number;
  if (day <= newest) return;
  // Past a few time constants of empty days the baseline is gone anyway; cap the loop.
  const steps = Math.min(day - newest, 400);
  for (let d = day - steps + 1; d <= day; d++) {
    const slot = RING + (((d % DAYS) + DAYS) % DAYS) * FIELDS;
    // The slot holds day d − 7, which now leaves the last 7 days.
    for (let f = 0; f < FIELDS; f++) {
      v[BASE + f] = (v[BASE + f] as number) * decay + (v[slot + f] as number);
      v[slot + f] = 0;
    }
    v[FOLDED] = Math.min((v[FOLDED] as number) + 1, 10_000);
  }
  v[NEWEST_DAY] = day;
}

function ringSums(v: readonly number[]): Sums {
  const s: Sums = { cost: 0, premium: 0, events: 0, premiumEvents: 0 };
  for (let i = RING; i < RING + DAYS * FIELDS; i += FIELDS) {
    s.cost += v[i] as number;
    s.premium += v[i + 1] as number;
    s.events += v[i + 2] as number;
    s.premiumEvents += v[i + 3] as number;
  }
  return s;
}

const baseSums = (v: readonly number[]): Sums => ({
  cost: v[BASE] as number,
  premium: v[BASE + 1] as number,
  events: v[BASE + 2] as number,
  premiumEvents: v[BASE + 3] as number,
});

const share = (s: Sums): number => (s.cost > 0 ? s.premium / s.cost : 0);

/** What `now`'s events would have cost at the baseline's premium share of events. */
function expectedCost(now: Sums, base: Sums): number {
  const b = base.events > 0 ? base.premiumEvents / base.events : 0;
  const perPremium =
    now.premiumEvents > 0 ? now.premium / now.premiumEvents : base.premiumEvents > 0 ? base.premium / base.premiumEvents : 0;
  const otherEvents = now.events - now.premiumEvents;
  const baseOther = base.events - base.premiumEvents;
  const perOther =
    otherEvents > 0 ? (now.cost - now.premium) / otherEvents : baseOther > 0 ? (base.cost - base.premium) / baseOther : perPremium;
  return now.events * (b * perPremium + (1 - b) * perOther);
}

interface Verdict {
  holds: boolean;
  /** Within half the points of the baseline: evidence that the mix is back to normal. */
  normal: boolean;
  share: number;
  baseShare: number;
  pValue: number;
  /** Weekly excess cost of the mix. */
  impact: number;
}

function verdict(now: Sums, base: Sums, weeklyImpact: number, s: ModelMixDriftSettings): Verdict {
  const sh = share(now);
  const bs = share(base);
  const points = 100 * (sh - bs);
  const pValue = twoProportionPValue(now.premiumEvents, now.events, base.premiumEvents, base.events);
  return {
    holds: s.enabled && points >= s.min_share_increase_points && pValue <= s.max_p_value && weeklyImpact >= s.min_impact_usd,
    normal: points < s.min_share_increase_points / 2,
    share: sh,
    baseShare: bs,
    pValue,
    impact: weeklyImpact,
  };
}

function weeklyVerdict(v: readonly number[], s: ModelMixDriftSettings): Verdict | null {
  const now = ringSums(v);
  const base = baseSums(v);
  if ((v[FOLDED] as number) < MIN_FOLDED_DAYS || now.events < MIN_WEEKLY_EVENTS || base.cost <= 0) return null;
  return verdict(now, base, Math.max(0, now.cost - expectedCost(now, base)), s);
}

interface FastVerdict extends Verdict {
  window: Sums;
  since: number;
}

/** The current hour so far (with the previous hour if it is thin) against everything before it. */
function fastVerdict(k: MixKey, watermark: number, s: ModelMixDriftSettings): FastVerdict | null {
  const open = k.open;
  if (open === null || open.length === 0) return null;
  const window: Sums = { cost: 0, premium: 0, events: 0, premiumEvents: 0 };
  let since = 0;
  for (let i = open.length - STRIDE; i >= 0; i -= STRIDE) {
    const hour = open[i] as number;
    if (window.events >= MIN_FAST_EVENTS || hour < hourOf(watermark) - HOUR_MS) break;
    window.cost += open[i + 1] as number;
    window.premium += open[i + 2] as number;
    window.events += open[i + 3] as number;
    window.premiumEvents += open[i + 4] as number;
    since = hour;
  }
  const v = k.v;
  const historyDays = (v[NEWEST_DAY] as number) - (v[FIRST_DAY] as number);
  if (window.events < MIN_FAST_EVENTS || historyDays < MIN_FAST_HISTORY_DAYS) return null;
  const ring = ringSums(v);
  const base = baseSums(v);
  const before: Sums = {
    cost: base.cost + ring.cost - window.cost,
    premium: base.premium + ring.premium - window.premium,
    events: base.events + ring.events - window.events,
    premiumEvents: base.premiumEvents + ring.premiumEvents - window.premiumEvents,
  };
  if (before.cost <= 0) return null;
  // The team's usual week: the last 7 days (or the history, when shorter) without the window.
  const ringDays = Math.min(DAYS, historyDays + 1);
  const weeklySpend = ((ring.cost - window.cost) * DAYS) / ringDays;
  const averageHour = weeklySpend / (DAYS * 24);
  const expected = expectedCost(window, before);
  const weeklyImpact = expected > 0 ? Math.max(0, (window.cost / expected - 1) * weeklySpend) : 0;
  const verdictNow = verdict(window, before, weeklyImpact, s);
  // One developer at night is not the team's mix: the window must carry an average hour's spend.
  if (window.cost < averageHour) verdictNow.holds = false;
  return { ...verdictNow, window, since };
}

function severityOf(impact: number, s: ModelMixDriftSettings): Severity {
  return impact >= CRITICAL_IMPACT_FACTOR * s.min_impact_usd ? 'critical' : 'warning';
}

function add(
  state: ModelMixDriftState,
  org: string,
  who: string,
  team: string,
  hour: number,
  delta: Sums,
  scope: Scope,
  cfg: ModelMixDriftConfig,
  watermark: number,
): readonly Anomaly[] {
  const cal = cfg.calendarFor(team);
  const day = localHourOf(hour, cal.timeZone).day;
  let k = getKey(state.keys, org, who);
  if (k === undefined) {
    k = newKey(team, day, scope);
    setKey(state.keys, org, who, k);
  } else if (team !== UNATTRIBUTED) {
    k.team = team;
  }
  const v = k.v;
  // Settings are resolved only when needed (a day rolls, an evaluation is due), not per event.
  const settings = (): ModelMixDriftSettings => cfg.settingsFor({ team: k.team, developer: scope === 'developer' ? who : undefined });
  if (day > (v[NEWEST_DAY] as number)) rollTo(v, day, Math.exp(-1 / (7 * settings().baseline_weeks)));
  if (day <= (v[NEWEST_DAY] as number) - DAYS) {
    state.late += 1;
    return NONE;
  }
  const slot = RING + (((day % DAYS) + DAYS) % DAYS) * FIELDS;
  v[slot] = (v[slot] as number) + delta.cost;
  v[slot + 1] = (v[slot + 1] as number) + delta.premium;
  v[slot + 2] = (v[slot + 2] as number) + delta.events;
  v[slot + 3] = (v[slot + 3] as number) + delta.premiumEvents;
  if (k.open !== null) {
    let open = withBucket(k.open, STRIDE, hour);
    // Only the current and the previous hour feed the fast path.
    if (open.length > 2 * STRIDE) open = withoutOldest(open, STRIDE, open.length / STRIDE - 2);
    k.open = open;
    const i = bucketIndex(open, STRIDE, hour);
    if (i >= 0) {
      open[i + 1] = (open[i + 1] as number) + delta.cost;
      open[i + 2] = (open[i + 2] as number) + delta.premium;
      open[i + 3] = (open[i + 3] as number) + delta.events;
      open[i + 4] = (open[i + 4] as number) + delta.premiumEvents;
    }
  }

  const weeklyDue = hour > (v[WEEKLY_EVAL] as number);
  const fastDue = k.open !== null && watermark - (v[FAST_EVAL] as number) >= FAST_EVERY_MS;
  if (!weeklyDue && !fastDue) return NONE;
  if (weeklyDue) v[WEEKLY_EVAL] = hour;
  if (fastDue) v[FAST_EVAL] = watermark;
  const a = evaluate(joinKey(org, who), k, settings(), scope, cfg, watermark);
  return a === null ? NONE : [a];
}

function evaluate(
  key: string,
  k: MixKey,
  s: ModelMixDriftSettings,
  scope: Scope,
  cfg: ModelMixDriftConfig,
  watermark: number,
): Anomaly | null {
  const weekly = weeklyVerdict(k.v, s);
  const fast = k.open === null ? null : fastVerdict(k, watermark, s);
  const firing =
    fast !== null && fast.holds && (weekly === null || !weekly.holds || fast.impact > weekly.impact)
      ? fast
      : weekly !== null && weekly.holds
        ? weekly
        : null;
  const ep = k.ep;
  if (firing !== null) {
    const severity = plannedSeverity(severityOf(firing.impact, s), cfg.plannedChange(k.team, watermark));
    const mark = { at: watermark, label: 'premium share of spend', value: 100 * firing.share, unit: 'percent' };
    if (ep === null) {
      k.ep = { e: openEpisode(KIND, idParts(key, scope), watermark, severity, firing.impact, mark), impact: firing.impact };
      return toAnomaly(key, k, firing, scope, cfg, watermark);
    }
    ep.impact = firing.impact;
    return updateEpisode(ep.e, severity, firing.impact, {}, mark) === null ? null : toAnomaly(key, k, firing, scope, cfg, watermark);
  }
  if (ep === null) return null;
  // Neither signal holds; resolve only on evidence that the mix is back (within half the points):
  // a team's latest fast window (the 7-day share still carries the echo of a short blip for a
  // week), a developer's week. Too little data is not evidence: the first thin minutes of the next
  // hour must not close a fresh episode.
  const back = k.open !== null ? fast : weekly;
  if (back === null || !back.normal) return null;
  resolveEpisode(ep.e, { at: watermark, label: 'premium share of spend, back to usual', value: 100 * back.share, unit: 'percent' });
  ep.impact = back.impact;
  const a = toAnomaly(key, k, back, scope, cfg, watermark);
  k.ep = null;
  return a;
}

function idParts(key: string, scope: Scope): string[] {
  const [org = '', who = ''] = key.split('\u001f');
  return [org, scope, who];
}

function pct(x: number): string {
  return `${Math.round(100 * x)}%`;
}

function toAnomaly(key: string, k: MixKey, v: Verdict | FastVerdict, scope: Scope, cfg: ModelMixDriftConfig, watermark: number): Anomaly {
  const ep = k.ep as MixEpisode;
  const [org = '', who = ''] = key.split('\u001f');
  const cal = cfg.calendarFor(k.team);
  const resolved = ep.e.status === 'resolved';
  const planned = cfg.plannedChange(k.team, watermark);
  const fast = 'window' in v;
  const subjectName = scope === 'developer' ? who : `team ${k.team}`;
  const period = fast ? `since ${formatLocalHour(localHourOf(v.since, cal.timeZone))} (${cal.timeZone})` : 'over the last 7 days';
  const perHour = ep.impact / (7 * 24);

  const evidence: EvidencePoint[] = [...markEvidence(ep.e), ...dailyShares(k.v)];
  evidence.push({
    at: iso(watermark),
    label: `premium share of spend in the baseline (${v.pValue < 0.0001 ? 'p < 0.0001' : `p = ${v.pValue.toFixed(4)}`})`,
    value: roundMoney(100 * v.baseShare),
    unit: 'percent',
  });

  const summary = resolved
    ? `The premium-model share of ${subjectName}'s spend is back to ${pct(v.share)}, near its usual ${pct(v.baseShare)}.`
    : `Premium models took ${pct(v.share)} of ${subjectName}'s spend ${period}, up from ${pct(v.baseShare)} before; at this mix that is about ${formatUsd(ep.impact)} more a week.`;
  const advice =
    (resolved
      ? 'No action needed now.'
      : "Check the tool's default model: a vendor update may have switched it to a premium model. Pin the cheaper model where the premium one is not needed.") +
    (planned === undefined ? '' : ` Planned change: ${planned}.`);

  return {
    ...episodeFields(ep.e),
    kind: KIND,
    subject: { org, team: k.team, ...(scope === 'developer' ? { developer: who } : {}) },
    window: { start: iso(fast ? Math.min(v.since, ep.e.start) : Math.min(dayStartMs(k.v), ep.e.start)), end: iso(watermark) },
    observed: { value: roundMoney(100 * v.share), unit: 'percent' },
    expected: { value: roundMoney(100 * v.baseShare), unit: 'percent' },
    impact_usd: roundMoney(Math.max(0, ep.impact)),
    projected_usd: resolved ? 0 : roundMoney(perHour * hoursUntilAcknowledgement(cal, watermark)),
    evidence: sortedEvidence(evidence),
    summary,
    advice,
    detected_at: iso(watermark),
  };
}

/** UTC midnight of the oldest local day in the ring (close enough for a window start). */
function dayStartMs(v: readonly number[]): number {
  return Math.max(v[FIRST_DAY] as number, (v[NEWEST_DAY] as number) - DAYS + 1) * 86_400_000;
}

/** Premium share of spend by local day over the ring, oldest first. */
function dailyShares(v: readonly number[]): EvidencePoint[] {
  const out: EvidencePoint[] = [];
  const newest = v[NEWEST_DAY] as number;
  for (let d = newest - DAYS + 1; d <= newest; d++) {
    if (d < (v[FIRST_DAY] as number)) continue;
    const slot = RING + (((d % DAYS) + DAYS) % DAYS) * FIELDS;
    const cost = v[slot] as number;
    if (cost <= 0) continue;
    out.push({
      at: `${dateOfDay(d)}T00:00:00.000Z`,
      label: 'premium share of spend that day',
      value: roundMoney((100 * (v[slot + 1] as number)) / cost),
      unit: 'percent',
    });
  }
  return out;
}

function evictIdle(state: ModelMixDriftState, idleBeforeMs: number): ModelMixDriftState {
  // Days, not hours: a key's last spend is somewhere in its newest local day.
  const cutoffDay = Math.floor((idleBeforeMs - BASELINE_EXTRA_RETENTION_MS) / 86_400_000) - 1;
  deleteKeys(state.keys, (k) => (k.v[NEWEST_DAY] as number) < cutoffDay && k.ep === null);
  return state;
}

/** Team scope: evaluates teams whose fast window is due even when no new spend arrives (a quiet team's episode can resolve). */
function advanceTeams(state: ModelMixDriftState, watermark: number, cfg: ModelMixDriftConfig): readonly Anomaly[] {
  let out: Anomaly[] | null = null;
  for (const org in state.keys) {
    const byTeam = state.keys[org] as Record<string, MixKey>;
    for (const team in byTeam) {
      const k = byTeam[team] as MixKey;
      if (k.ep === null || watermark - (k.v[FAST_EVAL] as number) < HOUR_MS) continue;
      k.v[FAST_EVAL] = watermark;
      const a = evaluate(joinKey(org, team), k, cfg.settingsFor({ team: k.team }), 'team', cfg, watermark);
      if (a !== null) (out ??= []).push(a);
    }
  }
  return out ?? NONE;
}

const initialState = (): ModelMixDriftState => ({ keys: {}, late: 0 });

/** Developer keys, over events (stage A): the weekly signal. */
export const modelMixDrift: Detector<ModelMixDriftState, ModelMixDriftConfig> = {
  kind: KIND,
  initialState,

  step(state, event: UsageEvent, cfg, ctx: StepContext): StepResult<ModelMixDriftState> {
    if (event.developer === UNATTRIBUTED || event.cost_usd <= 0) return { state, anomalies: NONE };
    const hour = eventHour(event);
    if (ctx.late === true || isClosedHour(hour, ctx.watermark, latenessOf(ctx))) {
      state.late += 1;
      return { state, anomalies: NONE };
    }
    const premium = event.tier === 'premium';
    const delta: Sums = { cost: event.cost_usd, premium: premium ? event.cost_usd : 0, events: 1, premiumEvents: premium ? 1 : 0 };
    return { state, anomalies: add(state, event.org, event.developer, event.team, hour, delta, 'developer', cfg, ctx.watermark) };
  },

  evict: evictIdle,
  size: (state) => countKeys(state.keys),
};

/** Team keys, over hour buckets (stage B rollups): the weekly and the fast signal. */
export const teamModelMixDrift: BucketDetector<ModelMixDriftState, ModelMixDriftConfig> = {
  kind: KIND,
  initialState,

  step(state, bucket: HourBucket, cfg, ctx) {
    if (bucket.cost_usd <= 0) return { state, anomalies: NONE };
    if (isClosedHour(bucket.hour, ctx.watermark, latenessOf(ctx))) {
      state.late += 1;
      return { state, anomalies: NONE };
    }
    const delta: Sums = {
      cost: bucket.cost_usd,
      premium: bucket.cost_premium_usd,
      events: bucket.events,
      premiumEvents: premiumEvents(bucket),
    };
    return { state, anomalies: add(state, bucket.org, bucket.team, bucket.team, bucket.hour, delta, 'team', cfg, ctx.watermark) };
  },

  advance: (state, watermark, cfg) => ({ state, anomalies: advanceTeams(state, watermark, cfg) }),
  evict: evictIdle,
  size: (state) => countKeys(state.keys),
};
