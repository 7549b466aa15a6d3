import { poissonBinomialTail } from '../baselines/proportions.ts';
import { HOUR_MS, hourOf } from '../buckets/hourly.ts';
import { localHourOf } from '../buckets/local-hour.ts';
import { NORMAL, PLANNED } from '../buckets/planned.ts';
import {
  addToChange,
  addToSlot,
  adoptChangeHabit,
  changeHours,
  clearChange,
  firstDay,
  habitCost,
  habitHours,
  habitLearntAt,
  habitOnPremium,
  habitPremium,
  habitTokens,
  HOUR_SLOTS,
  lastSpendAt,
  lastSpendHour,
  learnHour,
  markSlotLearnt,
  newDeveloper,
  newestDay,
  NEWER_SLOT,
  OLDER_SLOT,
  phaseOfDay,
  RING_DAYS,
  ringSlotOf,
  setHabitLearntAt,
  setLastSpendAt,
  setLastSpendHour,
  shiftSlots,
  slotCost,
  slotHour,
  slotPhase,
  slotPremium,
  slotTokens,
  sumCost,
  type DeveloperRecord,
  type HourSlot,
  type KeyRecord,
  type MixKey,
} from './mix-key.ts';
import { timeConstant, type ModelMixDriftConfig, type ModelMixDriftSettings } from './settings.ts';
import type { Verdict } from './weekly-signal.ts';

/**
 * The fast signal (team keys only; see model-mix-drift.ts): each developer's two latest hours and
 * learnt habit, and the breadth test over the developers active in the last FAST_LOOKBACK_HOURS.
 */

/** How often a team with spend arriving is judged, at most (event time). */
export const FAST_EVERY_MS = 60_000;
const FAST_LOOKBACK_HOURS = 8;
const MIN_FAST_HISTORY_DAYS = 3;
const MIN_FAST_DEV_HOURS = 24;
const MIN_DEVELOPERS_MOVED = 2;
/** A developer with no spend for this long who spends again is starting a session: judge at once. */
const ARRIVAL_GAP_MS = 30 * 60_000;
/** A developer's hour is "on premium" when premium models took at least this share of its spend. */
const ON_PREMIUM_SHARE = 0.5;
/** Pseudo-hours of the team's habit mixed into each developer's: a newcomer is assumed typical. */
const PRIOR_HOURS = 3;
const HABIT_FLOOR = 0.05;
const HABIT_CEILING = 0.95;
/** The team habit before anything was learnt. */
const DEFAULT_HABIT = 0.1;

export interface FastVerdict extends Verdict {
  fast: true;
  /** Enough history to judge (see the header of model-mix-drift.ts): a cold verdict never holds. */
  warm: boolean;
  since: number;
  moved: number;
  active: number;
  /** Spend in the window over what its tokens cost at each developer's usual price. */
  excess: number;
}

/** Learns a developer's hour slot into their habit (or only into the change's sums inside a planned change). */
function learnSlot(v: readonly number[], d: DeveloperRecord, slot: HourSlot, tau: number, tz: string): void {
  const hour = slotHour(d, slot);
  if (hour <= 0) return;
  markSlotLearnt(d, slot, hour);
  const cost = slotCost(d, slot);
  if (cost <= 0) return;
  const premium = slotPremium(d, slot);
  const tokens = slotTokens(d, slot);
  const onPremium = premium >= ON_PREMIUM_SHARE * cost ? 1 : 0;
  const phase = phaseOfDay(v, localHourOf(hour, tz).day);
  const last = habitLearntAt(d);
  // A planned hour teaches nothing and ages nothing (see rollDays).
  if (phase === PLANNED && hour > last && last > 0) setHabitLearntAt(d, hour);
  if (phase !== PLANNED) {
    const decay = last > 0 ? Math.exp(-Math.max(0, hour - last) / tau) : 1;
    learnHour(d, decay, onPremium, cost, premium, tokens);
    if (hour > last) setHabitLearntAt(d, hour);
  }
  if (phase !== NORMAL) addToChange(d, onPremium, cost, premium, tokens);
}

/** Learns every developer hour of the key that closed by `through` and is not learnt yet. */
export function learnClosedHours(k: MixKey, through: number, tau: number, tz: string): void {
  const devs = k.devs as Record<string, DeveloperRecord>;
  for (const dev in devs) {
    const d = devs[dev] as DeveloperRecord;
    for (const slot of HOUR_SLOTS) if (slotHour(d, slot) > 0 && slotHour(d, slot) <= through) learnSlot(k.v, d, slot, tau, tz);
  }
}

/**
 * A planned change is over (see settleDays): the settling day's last hours are learnt first, so
 * they count for the decision's consequences too; then, when the team kept the change's mix, each
 * developer's hours of the change become their habit.
 */
export function settleDevelopers(k: MixKey, kept: boolean, beforeHour: number, s: ModelMixDriftSettings, tz: string): void {
  if (k.devs === null) return;
  const tau = timeConstant(s);
  for (const dev in k.devs) {
    const d = k.devs[dev] as DeveloperRecord;
    const older = slotHour(d, OLDER_SLOT);
    if (older > 0 && older < beforeHour) learnSlot(k.v, d, OLDER_SLOT, tau, tz);
    const newer = slotHour(d, NEWER_SLOT);
    if (newer > 0 && newer < beforeHour) learnSlot(k.v, d, NEWER_SLOT, tau, tz);
    if (kept && changeHours(d) > 0) adoptChangeHabit(d);
    clearChange(d);
  }
}

export const LATE = 0;
export const ADDED = 1;
/**
 * Added, and worth judging now: the developer had no spend within ARRIVAL_GAP_MS (a session
 * starting), or their hour just went over to premium.
 */
export const ARRIVED = 2;
export type Added = typeof LATE | typeof ADDED | typeof ARRIVED;

/** Adds a developer's spend to its hour slot; LATE when that hour was already learnt or is older than both slots. */
export function addToDeveloper(
  k: MixKey,
  dev: string,
  hour: number,
  cost: number,
  premium: number,
  tokens: number,
  cfg: ModelMixDriftConfig,
  watermark: number,
): Added {
  const devs = k.devs as Record<string, DeveloperRecord>;
  let d = devs[dev];
  if (d === undefined) {
    d = newDeveloper();
    devs[dev] = d;
  }
  const newer = slotHour(d, NEWER_SLOT);
  let slot: HourSlot;
  if (hour === newer) slot = NEWER_SLOT;
  else if (hour > Math.abs(newer)) {
    if (slotHour(d, OLDER_SLOT) > 0) {
      learnSlot(k.v, d, OLDER_SLOT, timeConstant(cfg.settingsFor({ team: k.team })), cfg.calendarFor(k.team).timeZone);
    }
    shiftSlots(d, hour);
    slot = NEWER_SLOT;
  } else if (hour === slotHour(d, OLDER_SLOT)) slot = OLDER_SLOT;
  else return LATE;
  const wasOn = slotPremium(d, slot) >= ON_PREMIUM_SHARE * slotCost(d, slot) && slotCost(d, slot) > 0;
  addToSlot(d, slot, cost, premium, tokens);
  if (hour > lastSpendHour(d)) setLastSpendHour(d, hour);
  const seen = lastSpendAt(d);
  if (watermark > seen) setLastSpendAt(d, watermark);
  // A developer whose hour just went over to premium changes the breadth test: judge now, not at
  // the next minute of spend (a human may think for half an hour before the next call).
  const turned = !wasOn && slotPremium(d, slot) >= ON_PREMIUM_SHARE * slotCost(d, slot);
  return turned || seen < watermark - ARRIVAL_GAP_MS ? ARRIVED : ADDED;
}

/** The team's usual weekly spend: the ring's days outside planned changes (the window left out), scaled to 7 days. */
function usualWeeklySpend(v: KeyRecord, windowCost: number): number {
  const newest = newestDay(v);
  const first = Math.max(firstDay(v), newest - RING_DAYS + 1);
  let cost = 0;
  let days = 0;
  for (let d = first; d <= newest; d++) {
    const slot = ringSlotOf(d);
    if (slotPhase(v, slot) === PLANNED) continue;
    cost += sumCost(v, slot);
    days++;
  }
  return days === 0 ? 0 : (Math.max(0, cost - windowCost) * RING_DAYS) / days;
}

/** The breadth test over the developers active in the last FAST_LOOKBACK_HOURS (see the header of model-mix-drift.ts). */
export function fastVerdict(k: MixKey, watermark: number, s: ModelMixDriftSettings): FastVerdict | null {
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
    const d = devs[dev] as DeveloperRecord;
    hours += habitHours(d);
    onPremium += habitOnPremium(d);
    cost += habitCost(d);
    premium += habitPremium(d);
    tokens += habitTokens(d);
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
    const d = devs[dev] as DeveloperRecord;
    let c = 0;
    let q = 0;
    let w = 0;
    for (const slot of HOUR_SLOTS) {
      const hour = Math.abs(slotHour(d, slot));
      if (hour < from) continue;
      c += slotCost(d, slot);
      q += slotPremium(d, slot);
      w += slotTokens(d, slot);
      if (slotCost(d, slot) > 0 && hour < since) since = hour;
    }
    if (c <= 0) continue;
    const n = habitHours(d);
    const ownShare = habitCost(d) > 0 ? habitPremium(d) / habitCost(d) : teamShare;
    const ownPrice = habitTokens(d) > 0 ? habitCost(d) / habitTokens(d) : teamPrice;
    habits.push(Math.min(HABIT_CEILING, Math.max(HABIT_FLOOR, (habitOnPremium(d) + PRIOR_HOURS * teamHabit) / (n + PRIOR_HOURS))));
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
  const warm = newestDay(v) - firstDay(v) >= MIN_FAST_HISTORY_DAYS && hours >= MIN_FAST_DEV_HOURS;
  return {
    fast: true,
    warm,
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
