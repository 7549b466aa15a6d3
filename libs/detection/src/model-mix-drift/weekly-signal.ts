import { twoProportionPValue } from '../baselines/proportions.ts';
import { NORMAL, PLANNED, type ChangePhase } from '../buckets/planned.ts';
import {
  addToSums,
  BASELINE_SUMS,
  CHANGE_SUMS,
  clearSums,
  copySums,
  countLearntDay,
  decaySums,
  firstDay,
  learntDays,
  newestDay,
  RING_DAYS,
  ringSlot,
  ringSlotOf,
  setNewestDay,
  setSlotPhase,
  SETTLING_DAY_SUMS,
  shareOf,
  slotPhase,
  sumCost,
  sumEvents,
  sumPremium,
  sumPremiumEvents,
  sumTokens,
  type KeyRecord,
} from './mix-key.ts';
import type { ModelMixDriftSettings } from './settings.ts';

/**
 * The weekly signal (developer and team keys; see model-mix-drift.ts): spend by local day in a
 * 7-day ring, the days leaving it folded into an exponentially weighted baseline, and the premium
 * share of the last 7 days judged against that baseline.
 */

const MIN_WEEKLY_EVENTS = 30;
const MIN_LEARNT_DAYS = 7;

/** What one signal says about a key now; the fast signal's verdict extends it. */
export interface Verdict {
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

/**
 * Moves the ring's newest day to `day`, learning the days that leave it. A planned day is dropped
 * and does not age the baseline either: after a migration week the baseline is the weeks before.
 */
export function rollDays(v: KeyRecord, day: number, decay: number, phase: ChangePhase): void {
  const newest = newestDay(v);
  // Past a few time constants of empty days the baseline is gone anyway; cap the loop.
  const steps = Math.min(day - newest, 400);
  for (let d = day - steps + 1; d <= day; d++) {
    const slot = ringSlotOf(d);
    // The slot holds day d − 7, which now leaves the last 7 days.
    const planned = slotPhase(v, slot) === PLANNED;
    const learn = !planned && d - RING_DAYS >= firstDay(v);
    if (!planned) decaySums(v, BASELINE_SUMS, decay, learn ? slot : null);
    clearSums(v, slot);
    setSlotPhase(v, slot, d === day ? phase : NORMAL);
    if (learn) countLearntDay(v);
  }
  setNewestDay(v, day);
}

/** Adds spend to its local day, and to the planned change's sums when the day is in one. */
export function addToDay(
  v: KeyRecord,
  day: number,
  cost: number,
  premium: number,
  events: number,
  premiumCount: number,
  tokens: number,
): void {
  const slot = ringSlotOf(day);
  addToSums(v, slot, cost, premium, events, premiumCount, tokens);
  const phase = slotPhase(v, slot);
  if (phase !== NORMAL) {
    addToSums(v, CHANGE_SUMS, cost, premium, events, premiumCount, tokens);
    if (phase !== PLANNED) addToSums(v, SETTLING_DAY_SUMS, cost, premium, events, premiumCount, tokens);
  }
}

/**
 * A planned change is over: if the settling day kept the change's mix (its share at least half the
 * alert points above the old baseline), that mix is the new baseline; either way the change's sums
 * are cleared. Returns whether it was kept.
 */
export function settleDays(v: KeyRecord, s: ModelMixDriftSettings): boolean {
  const kept =
    sumCost(v, SETTLING_DAY_SUMS) > 0 &&
    100 * (shareOf(v, SETTLING_DAY_SUMS) - shareOf(v, BASELINE_SUMS)) >= s.min_share_increase_points / 2;
  if (kept) copySums(v, CHANGE_SUMS, BASELINE_SUMS);
  clearSums(v, CHANGE_SUMS);
  clearSums(v, SETTLING_DAY_SUMS);
  return kept;
}

export function weeklyVerdict(v: readonly number[], s: ModelMixDriftSettings): Verdict | null {
  if (learntDays(v) < MIN_LEARNT_DAYS || sumCost(v, BASELINE_SUMS) <= 0) return null;
  let cost = 0;
  let premium = 0;
  let events = 0;
  let premiumCount = 0;
  let tokens = 0;
  // Storage order, not day order: floating-point sums depend on their order, and a snapshot
  // restored by this version must judge as the version that wrote it did.
  for (let i = 0; i < RING_DAYS; i++) {
    const slot = ringSlot(i);
    if (slotPhase(v, slot) === PLANNED) continue;
    cost += sumCost(v, slot);
    premium += sumPremium(v, slot);
    events += sumEvents(v, slot);
    premiumCount += sumPremiumEvents(v, slot);
    tokens += sumTokens(v, slot);
  }
  if (events < MIN_WEEKLY_EVENTS || cost <= 0) return null;
  const share = premium / cost;
  const baseShare = shareOf(v, BASELINE_SUMS);
  const points = 100 * (share - baseShare);
  const pValue = twoProportionPValue(premiumCount, events, sumPremiumEvents(v, BASELINE_SUMS), sumEvents(v, BASELINE_SUMS));
  const baseTokens = sumTokens(v, BASELINE_SUMS);
  const price = baseTokens > 0 ? sumCost(v, BASELINE_SUMS) / baseTokens : 0;
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
