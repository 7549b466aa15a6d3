import { UNATTRIBUTED } from '@burnrate/schemas';
import type { Anomaly, EvidencePoint, Severity, UsageEvent } from '@burnrate/schemas';
import { poissonBinomialTail, twoProportionPValue } from './baselines/proportions.ts';
import { BASELINE_EXTRA_RETENTION_MS, latenessOf, stepResults, type BucketDetector } from './buckets/bucket-detector.ts';
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
import { countKeys, deleteKeys, getKey, joinKey, setKey, splitKey, type Keyed } from './buckets/keyed.ts';
import { dateOfDay, formatLocalHour, localHourOf } from './buckets/local-hour.ts';
import { changePhase, NORMAL, PLANNED, plannedAdvice, type ChangePhase, type PhaseAt } from './buckets/planned.ts';
import { hoursUntilAcknowledgement, type WorkCalendar } from './calendar.ts';
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
  /** Watermark since which every evaluation with evidence found the mix back to usual; 0 while it does not. */
  calm: number;
}

export interface MixKey {
  team: string;
  /**
   * Flat numbers (see the V_* offsets): first and newest local day, last weekly and fast
   * evaluation, days learnt, the newest day's planned-change phase, the last hour seen and its
   * local day; then sums of (cost, premium cost, events, premium events, weighted tokens) for the
   * baseline, for the days of a planned change and its settling day, and for the settling day
   * alone; then the 7-day ring, each day those five sums and its phase.
   */
  v: number[];
  /** Team scope: the team's developers by id, each a flat record (the D_* offsets). Developer scope: null. */
  devs: Record<string, number[]> | null;
  ep: MixEpisode | null;
}

export interface ModelMixDriftState {
  /** By org, then developer (developer scope) or team (team scope); see buckets/keyed.ts. */
  keys: Keyed<MixKey>;
  /** Team scope: developer hours are learnt through this closed hour. */
  closed: number;
  /** Local day (UTC days) of the last eviction sweep: keys age in days, so one sweep a day does. */
  swept: number;
  late: number;
}

const KIND = 'model_mix_drift';
const DAY_MS = 24 * HOUR_MS;

// Sums of a period.
const COST = 0;
const PREMIUM = 1;
const EVENTS = 2;
const PREMIUM_EVENTS = 3;
const TOKENS = 4;
const SUMS = 5;

// MixKey.v
const V_FIRST_DAY = 0;
const V_NEWEST_DAY = 1;
const V_WEEKLY_EVAL = 2;
const V_FAST_EVAL = 3;
const V_LEARNT_DAYS = 4;
const V_PHASE = 5;
const V_HOUR = 6;
const V_HOUR_DAY = 7;
const V_BASE = 8;
const V_CHANGE = V_BASE + SUMS;
const V_SETTLE = V_CHANGE + SUMS;
const V_RING = V_SETTLE + SUMS;
const RING_DAYS = 7;
/** Per ring day: the sums, then the day's phase. */
const RING_STRIDE = SUMS + 1;
const V_LENGTH = V_RING + RING_DAYS * RING_STRIDE;

// A developer of a team key: two hour slots (older A, newer B: [hour, cost, premium cost, weighted
// tokens]; hour negated once learnt, kept for the fast window), the learnt habit (active hours,
// hours on premium, cost, premium cost, weighted tokens, hour last learnt), the same five for the
// hours of a planned change and its settling day, and the watermark of their latest spend.
const D_LAST = 0;
const D_A = 1;
const D_B = 5;
const D_N = 9;
const D_K = 10;
const D_C = 11;
const D_Q = 12;
const D_W = 13;
const D_AT = 14;
const D_CHANGE = 15;
const D_SEEN = 20;
const D_LENGTH = 21;

const FAST_EVERY_MS = 60_000;
const FAST_LOOKBACK_HOURS = 8;
const MIN_WEEKLY_EVENTS = 30;
const MIN_LEARNT_DAYS = 7;
const MIN_FAST_HISTORY_DAYS = 3;
const MIN_FAST_DEV_HOURS = 24;
const MIN_DEVELOPERS_MOVED = 2;
/** A developer with no spend for this long who spends again is starting a session: judge at once. */
const ARRIVAL_GAP_MS = 30 * 60_000;
/** An episode resolves after the mix has looked normal this long (a night's single haiku call is not "back"). */
const CALM_BEFORE_RESOLVE_MS = HOUR_MS;
/** A developer's hour is "on premium" when premium models took at least this share of its spend. */
const ON_PREMIUM_SHARE = 0.5;
/** Pseudo-hours of the team's habit mixed into each developer's: a newcomer is assumed typical. */
const PRIOR_HOURS = 3;
const HABIT_FLOOR = 0.05;
const HABIT_CEILING = 0.95;
/** The team habit before anything was learnt. */
const DEFAULT_HABIT = 0.1;
const CRITICAL_IMPACT_FACTOR = 10;
const NONE: readonly Anomaly[] = Object.freeze([]);

type Scope = 'developer' | 'team';

// Local days since 1970 are small positive integers: an int32 remainder, not a floating-point one.
const mod7 = (day: number): number => (day | 0) % RING_DAYS;
const ringAt = (day: number): number => V_RING + mod7(day) * RING_STRIDE;

function newKey(team: string, day: number, hour: number, phase: ChangePhase, scope: Scope): MixKey {
  const v = new Array<number>(V_LENGTH).fill(0);
  v[V_FIRST_DAY] = day;
  v[V_NEWEST_DAY] = day;
  v[V_PHASE] = phase;
  v[V_HOUR] = hour;
  v[V_HOUR_DAY] = day;
  v[ringAt(day) + SUMS] = phase;
  return { team, v, devs: scope === 'team' ? {} : null, ep: null };
}

function addSums(v: number[], at: number, cost: number, premium: number, events: number, premiumCount: number, tokens: number): void {
  v[at + COST] = (v[at + COST] as number) + cost;
  v[at + PREMIUM] = (v[at + PREMIUM] as number) + premium;
  v[at + EVENTS] = (v[at + EVENTS] as number) + events;
  v[at + PREMIUM_EVENTS] = (v[at + PREMIUM_EVENTS] as number) + premiumCount;
  v[at + TOKENS] = (v[at + TOKENS] as number) + tokens;
}

const shareAt = (v: readonly number[], at: number): number =>
  (v[at + COST] as number) > 0 ? (v[at + PREMIUM] as number) / (v[at + COST] as number) : 0;

/**
 * Moves the ring's newest day to `day`, learning the days that leave it. A planned day is dropped
 * and does not age the baseline either: after a migration week the baseline is the weeks before.
 */
function rollTo(v: number[], day: number, decay: number, phase: ChangePhase): void {
  const newest = v[V_NEWEST_DAY] as number;
  // Past a few time constants of empty days the baseline is gone anyway; cap the loop.
  const steps = Math.min(day - newest, 400);
  for (let d = day - steps + 1; d <= day; d++) {
    const slot = ringAt(d);
    // The slot holds day d − 7, which now leaves the last 7 days.
    const planned = (v[slot + SUMS] as number) === PLANNED;
    const learn = !planned && d - RING_DAYS >= (v[V_FIRST_DAY] as number);
    for (let f = 0; f < SUMS; f++) {
      if (!planned) v[V_BASE + f] = (v[V_BASE + f] as number) * decay + (learn ? (v[slot + f] as number) : 0);
      v[slot + f] = 0;
    }
    v[slot + SUMS] = d === day ? phase : NORMAL;
    if (learn) v[V_LEARNT_DAYS] = Math.min((v[V_LEARNT_DAYS] as number) + 1, 10_000);
  }
  v[V_NEWEST_DAY] = day;
}

/** Phase of a local day in the key's ring (NORMAL outside it). */
function phaseOfDay(v: readonly number[], day: number): number {
  const newest = v[V_NEWEST_DAY] as number;
  return day <= newest && day > newest - RING_DAYS ? (v[ringAt(day) + SUMS] as number) : NORMAL;
}

/**
 * A planned change is over (the first NORMAL day after its settling day): if the settling day
 * kept the change's mix, that mix is the new baseline; either way the change's sums are cleared.
 */
function settle(k: MixKey, s: ModelMixDriftSettings, beforeHour: number, tz: string): void {
  const v = k.v;
  const kept = (v[V_SETTLE + COST] as number) > 0 && 100 * (shareAt(v, V_SETTLE) - shareAt(v, V_BASE)) >= s.min_share_increase_points / 2;
  if (kept) for (let f = 0; f < SUMS; f++) v[V_BASE + f] = v[V_CHANGE + f] as number;
  for (let f = 0; f < 2 * SUMS; f++) v[V_CHANGE + f] = 0;
  if (k.devs === null) return;
  const tau = timeConstant(s);
  for (const dev in k.devs) {
    const d = k.devs[dev] as number[];
    // The settling day's last hours first, so they count for the decision's consequences too.
    if ((d[D_A] as number) > 0 && (d[D_A] as number) < beforeHour) learnSlot(v, d, D_A, tau, tz);
    if ((d[D_B] as number) > 0 && (d[D_B] as number) < beforeHour) learnSlot(v, d, D_B, tau, tz);
    if (kept && (d[D_CHANGE] as number) > 0) {
      for (let f = 0; f < 5; f++) d[D_N + f] = d[D_CHANGE + f] as number;
    }
    for (let f = 0; f < 5; f++) d[D_CHANGE + f] = 0;
  }
}

const timeConstant = (s: ModelMixDriftSettings): number => 7 * s.baseline_weeks * DAY_MS;

/** Learns a developer's hour slot into their habit (or only into the change's sums inside a planned change). */
function learnSlot(v: readonly number[], d: number[], at: number, tau: number, tz: string): void {
  const hour = d[at] as number;
  if (hour <= 0) return;
  d[at] = -hour;
  const cost = d[at + 1] as number;
  if (cost <= 0) return;
  const premium = d[at + 2] as number;
  const tokens = d[at + 3] as number;
  const onPremium = premium >= ON_PREMIUM_SHARE * cost ? 1 : 0;
  const phase = phaseOfDay(v, localHourOf(hour, tz).day);
  const last = d[D_AT] as number;
  // A planned hour teaches nothing and ages nothing (see rollTo).
  if (phase === PLANNED && hour > last && last > 0) d[D_AT] = hour;
  if (phase !== PLANNED) {
    const decay = last > 0 ? Math.exp(-Math.max(0, hour - last) / tau) : 1;
    d[D_N] = (d[D_N] as number) * decay + 1;
    d[D_K] = (d[D_K] as number) * decay + onPremium;
    d[D_C] = (d[D_C] as number) * decay + cost;
    d[D_Q] = (d[D_Q] as number) * decay + premium;
    d[D_W] = (d[D_W] as number) * decay + tokens;
    if (hour > last) d[D_AT] = hour;
  }
  if (phase !== NORMAL) {
    d[D_CHANGE] = (d[D_CHANGE] as number) + 1;
    d[D_CHANGE + 1] = (d[D_CHANGE + 1] as number) + onPremium;
    d[D_CHANGE + 2] = (d[D_CHANGE + 2] as number) + cost;
    d[D_CHANGE + 3] = (d[D_CHANGE + 3] as number) + premium;
    d[D_CHANGE + 4] = (d[D_CHANGE + 4] as number) + tokens;
  }
}

const LATE = 0;
const ADDED = 1;
/**
 * Added, and worth judging now: the developer had no spend within ARRIVAL_GAP_MS (a session
 * starting), or their hour just went over to premium.
 */
const ARRIVED = 2;

/** Adds a developer's spend to its hour slot; LATE when that hour was already learnt or is older than both slots. */
function addToDeveloper(
  k: MixKey,
  dev: string,
  hour: number,
  cost: number,
  premium: number,
  tokens: number,
  cfg: ModelMixDriftConfig,
  watermark: number,
): number {
  const devs = k.devs as Record<string, number[]>;
  let d = devs[dev];
  if (d === undefined) {
    d = new Array<number>(D_LENGTH).fill(0);
    devs[dev] = d;
  }
  const newer = d[D_B] as number;
  let at: number;
  if (hour === newer) at = D_B;
  else if (hour > Math.abs(newer)) {
    if ((d[D_A] as number) > 0) learnSlot(k.v, d, D_A, timeConstant(cfg.settingsFor({ team: k.team })), cfg.calendarFor(k.team).timeZone);
    for (let f = 0; f < 4; f++) {
      d[D_A + f] = d[D_B + f] as number;
      d[D_B + f] = 0;
    }
    d[D_B] = hour;
    at = D_B;
  } else if (hour === d[D_A]) at = D_A;
  else return LATE;
  const wasOn = (d[at + 2] as number) >= ON_PREMIUM_SHARE * (d[at + 1] as number) && (d[at + 1] as number) > 0;
  d[at + 1] = (d[at + 1] as number) + cost;
  d[at + 2] = (d[at + 2] as number) + premium;
  d[at + 3] = (d[at + 3] as number) + tokens;
  if (hour > (d[D_LAST] as number)) d[D_LAST] = hour;
  const seen = d[D_SEEN] as number;
  if (watermark > seen) d[D_SEEN] = watermark;
  // A developer whose hour just went over to premium changes the breadth test: judge now, not at
  // the next minute of spend (a human may think for half an hour before the next call).
  const turned = !wasOn && (d[at + 2] as number) >= ON_PREMIUM_SHARE * (d[at + 1] as number);
  return turned || seen < watermark - ARRIVAL_GAP_MS ? ARRIVED : ADDED;
}

interface Verdict {
  holds: boolean;
  /** Within half the points of the usual, on enough data: evidence that the mix is back to normal. */
  normal: boolean;
  /** At least half the points above the usual: evidence that it is not back yet. */
  raised: boolean;
  share: number;
  baseShare: number;
  pValue: number;
  /** Weekly excess cost of the mix. */
  impact: number;
}

interface FastVerdict extends Verdict {
  fast: true;
  since: number;
  moved: number;
  active: number;
  /** Spend in the window over what its tokens cost at each developer's usual price. */
  excess: number;
}

type AnyVerdict = Verdict | FastVerdict;

function weeklyVerdict(v: readonly number[], s: ModelMixDriftSettings): Verdict | null {
  if ((v[V_LEARNT_DAYS] as number) < MIN_LEARNT_DAYS || (v[V_BASE + COST] as number) <= 0) return null;
  let cost = 0;
  let premium = 0;
  let events = 0;
  let premiumCount = 0;
  let tokens = 0;
  for (let i = V_RING; i < V_LENGTH; i += RING_STRIDE) {
    if ((v[i + SUMS] as number) === PLANNED) continue;
    cost += v[i + COST] as number;
    premium += v[i + PREMIUM] as number;
    events += v[i + EVENTS] as number;
    premiumCount += v[i + PREMIUM_EVENTS] as number;
    tokens += v[i + TOKENS] as number;
  }
  if (events < MIN_WEEKLY_EVENTS || cost <= 0) return null;
  const share = premium / cost;
  const baseShare = shareAt(v, V_BASE);
  const points = 100 * (share - baseShare);
  const pValue = twoProportionPValue(premiumCount, events, v[V_BASE + PREMIUM_EVENTS] as number, v[V_BASE + EVENTS] as number);
  const baseTokens = v[V_BASE + TOKENS] as number;
  const price = baseTokens > 0 ? (v[V_BASE + COST] as number) / baseTokens : 0;
  const impact = price > 0 ? Math.max(0, cost - tokens * price) : 0;
  return {
    holds: s.enabled && points >= s.min_share_increase_points && pValue <= s.max_p_value && impact >= s.min_impact_usd,
    normal: points < s.min_share_increase_points / 2,
    raised: points >= s.min_share_increase_points / 2,
    share,
    baseShare,
    pValue,
    impact,
  };
}

/** The team's usual weekly spend: the ring's days outside planned changes (the window left out), scaled to 7 days. */
function usualWeeklySpend(v: readonly number[], windowCost: number): number {
  const newest = v[V_NEWEST_DAY] as number;
  const first = Math.max(v[V_FIRST_DAY] as number, newest - RING_DAYS + 1);
  let cost = 0;
  let days = 0;
  for (let d = first; d <= newest; d++) {
    const at = ringAt(d);
    if ((v[at + SUMS] as number) === PLANNED) continue;
    cost += v[at + COST] as number;
    days++;
  }
  return days === 0 ? 0 : (Math.max(0, cost - windowCost) * RING_DAYS) / days;
}

/** The breadth test over the developers active in the last FAST_LOOKBACK_HOURS (see the header). */
function fastVerdict(k: MixKey, watermark: number, s: ModelMixDriftSettings): FastVerdict | null {
  const devs = k.devs;
  if (devs === null) return null;
  const v = k.v;
  const from = hourOf(watermark) - (FAST_LOOKBACK_HOURS - 1) * HOUR_MS;
  let hours = 0;
  let onPremium = 0;
  let cost = 0;
  let premium = 0;
  let tokens = 0;
  for (const dev in devs) {
    const d = devs[dev] as number[];
    hours += d[D_N] as number;
    onPremium += d[D_K] as number;
    cost += d[D_C] as number;
    premium += d[D_Q] as number;
    tokens += d[D_W] as number;
  }
  const teamHabit = hours > 0 ? onPremium / hours : DEFAULT_HABIT;
  const teamShare = cost > 0 ? premium / cost : 0;
  const teamPrice = tokens > 0 ? cost / tokens : 0;

  const habits: number[] = [];
  let moved = 0;
  let since = hourOf(watermark);
  let wCost = 0;
  let wPremium = 0;
  let usualPremium = 0;
  let usualCost = 0;
  for (const dev in devs) {
    const d = devs[dev] as number[];
    let c = 0;
    let q = 0;
    let w = 0;
    for (const at of SLOTS) {
      const hour = Math.abs(d[at] as number);
      if (hour < from) continue;
      c += d[at + 1] as number;
      q += d[at + 2] as number;
      w += d[at + 3] as number;
      if ((d[at + 1] as number) > 0 && hour < since) since = hour;
    }
    if (c <= 0) continue;
    const n = d[D_N] as number;
    const ownShare = (d[D_C] as number) > 0 ? (d[D_Q] as number) / (d[D_C] as number) : teamShare;
    const ownPrice = (d[D_W] as number) > 0 ? (d[D_C] as number) / (d[D_W] as number) : teamPrice;
    habits.push(Math.min(HABIT_CEILING, Math.max(HABIT_FLOOR, ((d[D_K] as number) + PRIOR_HOURS * teamHabit) / (n + PRIOR_HOURS))));
    usualPremium += (c * (n * ownShare + PRIOR_HOURS * teamShare)) / (n + PRIOR_HOURS);
    usualCost += (w * (n * ownPrice + PRIOR_HOURS * teamPrice)) / (n + PRIOR_HOURS);
    if (q >= ON_PREMIUM_SHARE * c) moved++;
    wCost += c;
    wPremium += q;
  }
  if (habits.length === 0) return null;
  const share = wPremium / wCost;
  const baseShare = usualPremium / wCost;
  const points = 100 * (share - baseShare);
  const pValue = poissonBinomialTail(habits, moved);
  const ratio = usualCost > 0 ? wCost / usualCost : 1;
  const impact = Math.max(0, ratio - 1) * usualWeeklySpend(v, wCost);
  const warm = (v[V_NEWEST_DAY] as number) - (v[V_FIRST_DAY] as number) >= MIN_FAST_HISTORY_DAYS && hours >= MIN_FAST_DEV_HOURS;
  return {
    fast: true,
    holds:
      s.enabled &&
      warm &&
      moved >= MIN_DEVELOPERS_MOVED &&
      pValue <= s.max_p_value &&
      points >= s.min_share_increase_points &&
      impact >= s.min_impact_usd,
    // One developer's hour is no evidence either way that the team is back.
    normal: habits.length >= MIN_DEVELOPERS_MOVED && points < s.min_share_increase_points / 2,
    raised: points >= s.min_share_increase_points / 2,
    share,
    baseShare,
    pValue,
    impact,
    since,
    moved,
    active: habits.length,
    excess: usualCost > 0 ? Math.max(0, wCost - usualCost) : 0,
  };
}

const SLOTS = [D_A, D_B] as const;

function severityOf(impact: number, s: ModelMixDriftSettings): Severity {
  return impact >= CRITICAL_IMPACT_FACTOR * s.min_impact_usd ? 'critical' : 'warning';
}

/** The key's local day of an hour, remembered for the last hour asked (most events share it). */
function dayOf(v: number[], hour: number, cal: WorkCalendar): number {
  const day = localHourOf(hour, cal.timeZone).day;
  v[V_HOUR] = hour;
  v[V_HOUR_DAY] = day;
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
  const day = hour === v[V_HOUR] ? (v[V_HOUR_DAY] as number) : dayOf(v, hour, cfg.calendarFor(k.team));
  let s: ModelMixDriftSettings | null = null;
  let arrived = false;
  if (day > (v[V_NEWEST_DAY] as number)) {
    s = settingsOf(cfg, k, who, scope);
    rollKey(k, day, hour, s, cfg);
  } else if (day <= (v[V_NEWEST_DAY] as number) - RING_DAYS) {
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
  const slot = ringAt(day);
  addSums(v, slot, cost, premium, events, premiumCount, tokens);
  const phase = v[slot + SUMS] as number;
  if (phase !== NORMAL) {
    addSums(v, V_CHANGE, cost, premium, events, premiumCount, tokens);
    if (phase !== PLANNED) addSums(v, V_SETTLE, cost, premium, events, premiumCount, tokens);
  }

  const weeklyDue = hour > (v[V_WEEKLY_EVAL] as number);
  // Every minute while spend arrives, and at once when a developer starts spending again: a
  // switched default shows as sessions starting on the premium model.
  const fastDue = k.devs !== null && (arrived || watermark - (v[V_FAST_EVAL] as number) >= FAST_EVERY_MS);
  if (!weeklyDue && !fastDue) return NONE;
  if (weeklyDue) v[V_WEEKLY_EVAL] = hour;
  if (fastDue) v[V_FAST_EVAL] = watermark;
  const a = evaluate(joinKey(org, who), k, s ?? settingsOf(cfg, k, who, scope), scope, cfg, watermark);
  return a === null ? NONE : [a];
}

/** Moves the key to a later local day: learns the days leaving the ring, and settles a planned change that just ended. */
function rollKey(k: MixKey, day: number, hour: number, s: ModelMixDriftSettings, cfg: ModelMixDriftConfig): void {
  const v = k.v;
  const cal = cfg.calendarFor(k.team);
  const phase = changePhase(cfg, k.team, cal, hour).phase;
  const ended = (v[V_PHASE] as number) !== NORMAL && phase === NORMAL;
  rollTo(v, day, Math.exp(-1 / (7 * s.baseline_weeks)), phase);
  v[V_PHASE] = phase;
  if (ended) settle(k, s, hour, cal.timeZone);
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
  const firing: AnyVerdict | null =
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

function idParts(key: string, scope: Scope): string[] {
  const [org, who] = splitKey(key);
  return [org, scope, who];
}

const pct = (x: number): string => `${Math.round(100 * x)}%`;

function toAnomaly(
  key: string,
  k: MixKey,
  v: AnyVerdict,
  scope: Scope,
  cfg: ModelMixDriftConfig,
  watermark: number,
  phase: PhaseAt,
): Anomaly {
  const ep = k.ep as MixEpisode;
  const [org, who] = splitKey(key);
  const cal = cfg.calendarFor(k.team);
  const resolved = ep.e.status === 'resolved';
  const subjectName = scope === 'developer' ? who : `team ${k.team}`;
  const perHour = ep.impact / (7 * 24);

  const evidence: EvidencePoint[] = [...markEvidence(ep.e), ...dailyShares(k.v)];
  evidence.push({
    at: iso(watermark),
    label: `usual premium share of spend (${v.pValue < 0.0001 ? 'p < 0.0001' : `p = ${v.pValue.toFixed(4)}`})`,
    value: roundMoney(100 * v.baseShare),
    unit: 'percent',
  });
  let summary: string;
  if ('fast' in v) {
    evidence.push(
      { at: iso(watermark), label: 'developers active in the window', value: v.active, unit: 'developers' },
      { at: iso(watermark), label: 'of them mostly on premium models', value: v.moved, unit: 'developers' },
      { at: iso(watermark), label: 'spend above their usual price per token', value: roundMoney(v.excess), unit: 'usd' },
    );
    const since = `${formatLocalHour(localHourOf(v.since, cal.timeZone))} (${cal.timeZone})`;
    summary = resolved
      ? `The premium-model share of ${subjectName}'s spend is back to ${pct(v.share)}, near the usual ${pct(v.baseShare)} for the developers active.`
      : `${v.moved} of ${v.active} developers of ${subjectName} active since ${since} moved to premium models: ${pct(v.share)} of their spend, where ${pct(v.baseShare)} is usual for them. At this mix that is about ${formatUsd(ep.impact)} more a week (${formatUsd(v.excess)} extra so far).`;
  } else {
    summary = resolved
      ? `The premium-model share of ${subjectName}'s spend is back to ${pct(v.share)}, near its usual ${pct(v.baseShare)}.`
      : `Premium models took ${pct(v.share)} of ${subjectName}'s spend over the last 7 days, up from ${pct(v.baseShare)} before; at this mix that is about ${formatUsd(ep.impact)} more a week.`;
  }
  const advice =
    (resolved
      ? 'No action needed now.'
      : "Check the tool's default model: a vendor update may have switched it to a premium model. Pin the cheaper model where the premium one is not needed.") +
    plannedAdvice(phase);
  const start = 'fast' in v ? v.since : dayStartMs(k.v);

  return {
    ...episodeFields(ep.e),
    kind: KIND,
    subject: { org, team: k.team, ...(scope === 'developer' ? { developer: who } : {}) },
    window: { start: iso(Math.min(start, ep.e.start)), end: iso(watermark) },
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
  return Math.max(v[V_FIRST_DAY] as number, (v[V_NEWEST_DAY] as number) - RING_DAYS + 1) * DAY_MS;
}

/** Premium share of spend by local day over the ring, oldest first. */
function dailyShares(v: readonly number[]): EvidencePoint[] {
  const out: EvidencePoint[] = [];
  const newest = v[V_NEWEST_DAY] as number;
  for (let d = newest - RING_DAYS + 1; d <= newest; d++) {
    if (d < (v[V_FIRST_DAY] as number)) continue;
    const at = ringAt(d);
    const cost = v[at + COST] as number;
    if (cost <= 0) continue;
    out.push({
      at: `${dateOfDay(d)}T00:00:00.000Z`,
      label: (v[at + SUMS] as number) === PLANNED ? 'premium share of spend that day (planned change)' : 'premium share of spend that day',
      value: roundMoney((100 * (v[at + PREMIUM] as number)) / cost),
      unit: 'percent',
    });
  }
  return out;
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
      for (const dev of Object.keys(devs)) if (((devs[dev] as number[])[D_LAST] as number) < cutoff) delete devs[dev];
    }
  }
  deleteKeys(state.keys, (k) => (k.v[V_NEWEST_DAY] as number) < cutoffDay && k.ep === null);
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
        const s = cfg.settingsFor({ team: k.team });
        const tau = timeConstant(s);
        const tz = cfg.calendarFor(k.team).timeZone;
        for (const dev in k.devs) {
          const d = k.devs[dev] as number[];
          for (const at of SLOTS) if ((d[at] as number) > 0 && (d[at] as number) <= through) learnSlot(k.v, d, at, tau, tz);
        }
      }
      if (k.ep === null || watermark - (k.v[V_FAST_EVAL] as number) < HOUR_MS) continue;
      k.v[V_FAST_EVAL] = watermark;
      const s = cfg.settingsFor({ team: k.team });
      // A quiet team's day moves on too: its week and its planned-change phase are judged as of now.
      const now = hourOf(watermark);
      const day = dayOf(k.v, now, cfg.calendarFor(k.team));
      if (day > (k.v[V_NEWEST_DAY] as number)) rollKey(k, day, now, s, cfg);
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
};
