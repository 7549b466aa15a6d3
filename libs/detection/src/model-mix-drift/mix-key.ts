import type { Keyed } from '../buckets/keyed.ts';
import { NORMAL, type ChangePhase } from '../buckets/planned.ts';
import type { Episode } from '../episode.ts';

/**
 * model_mix_drift's state, and the one place that knows how its packed records are laid out.
 *
 * A key's numbers and each developer's are flat number arrays, not objects: a key holds 65
 * numbers and a team key a 21-number record per developer, tens of thousands of keys are
 * snapshotted as JSON, and an array of numbers is both the smallest JSON and the smallest heap
 * object for them. The layout IS
 * the snapshot format: a snapshot written by one version is restored by the next, so an offset
 * below never moves. A new field goes at the end, and a key restored without it reads it as
 * `undefined`; give it a default where it is read.
 *
 * Everything else reads and writes them through the accessors here, which V8 inlines: the names say
 * what a number is, the offsets stay in this file.
 */

export type Scope = 'developer' | 'team';

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
   * Flat numbers (see the accessors below): first and newest local day, last weekly and fast
   * evaluation, days learnt, the newest day's planned-change phase, the last hour seen and its
   * local day; then sums of (cost, premium cost, events, premium events, weighted tokens) for the
   * baseline, for the days of a planned change and its settling day, and for the settling day
   * alone; then the 7-day ring, each day those five sums and its phase.
   */
  v: number[];
  /** Team scope: the team's developers by id, each a flat record (see DeveloperRecord). Developer scope: null. */
  devs: Record<string, number[]> | null;
  ep: MixEpisode | null;
}

/** A MixKey's `v`. */
export type KeyRecord = number[];

/**
 * A developer of a team key: two hour slots (older and newer: hour, cost, premium cost, weighted
 * tokens; the hour negated once learnt, kept for the fast window), the learnt habit (active
 * hours, hours on premium, cost, premium cost, weighted tokens, hour last learnt), the same five
 * for the hours of a planned change and its settling day, and the latest hour and watermark of
 * their spend.
 */
export type DeveloperRecord = number[];

export interface ModelMixDriftState {
  /** By org, then developer (developer scope) or team (team scope); see buckets/keyed.ts. */
  keys: Keyed<MixKey>;
  /** Team scope: developer hours are learnt through this closed hour. */
  closed: number;
  /** Local day (UTC days) of the last eviction sweep: keys age in days, so one sweep a day does. */
  swept: number;
  late: number;
}

// ---- the key record ------------------------------------------------------------------------

// Sums of a period, in this order in every block.
const COST = 0;
const PREMIUM = 1;
const EVENTS = 2;
const PREMIUM_EVENTS = 3;
const TOKENS = 4;
const SUMS = 5;

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
export const RING_DAYS = 7;
/** Per ring day: the sums, then the day's phase. */
const RING_STRIDE = SUMS + 1;
const V_LENGTH = V_RING + RING_DAYS * RING_STRIDE;

/** Where a block of five period sums starts in a KeyRecord; only this file makes one. */
export type Sums = number & { readonly __sums: unique symbol };
/** A day of the 7-day ring: its sums, followed by its planned-change phase. */
export type RingSlot = Sums & { readonly __ringSlot: unique symbol };

/** The baseline: days that left the ring, exponentially weighted. */
export const BASELINE_SUMS = V_BASE as Sums;
/** The days of a planned change and its settling day. */
export const CHANGE_SUMS = V_CHANGE as Sums;
/** The settling day alone. */
export const SETTLING_DAY_SUMS = V_SETTLE as Sums;

// Local days since 1970 are small positive integers: an int32 remainder, not a floating-point one.
const mod7 = (day: number): number => (day | 0) % RING_DAYS;
/** The ring slot that holds local day `day` (and held day − 7 before it). */
export const ringSlotOf = (day: number): RingSlot => (V_RING + mod7(day) * RING_STRIDE) as RingSlot;
/** The ring's slots in storage order (not day order), for sums where the day does not matter. */
export const ringSlot = (index: number): RingSlot => (V_RING + index * RING_STRIDE) as RingSlot;

export function newKey(team: string, day: number, hour: number, phase: ChangePhase, scope: Scope): MixKey {
  const v = new Array<number>(V_LENGTH).fill(0);
  v[V_FIRST_DAY] = day;
  v[V_NEWEST_DAY] = day;
  v[V_PHASE] = phase;
  v[V_HOUR] = hour;
  v[V_HOUR_DAY] = day;
  v[ringSlotOf(day) + SUMS] = phase;
  return { team, v, devs: scope === 'team' ? developerTable() : null, ep: null };
}

/**
 * A table of a team key's developers, empty or holding `from`'s. Null-prototype, so V8 keeps it as a hash table from the
 * start: a plain `{}` given developer ids as properties grows a hidden class per team (its ids are
 * its own), a few hundred bytes a team key for nothing.
 */
export function developerTable(from?: Record<string, DeveloperRecord>): Record<string, DeveloperRecord> {
  const table = Object.create(null) as Record<string, DeveloperRecord>;
  if (from !== undefined) Object.assign(table, from);
  return table;
}

/** The local day of the key's first spend. */
export const firstDay = (v: readonly number[]): number => v[V_FIRST_DAY] as number;
/** The newest local day in the ring. */
export const newestDay = (v: readonly number[]): number => v[V_NEWEST_DAY] as number;
export const setNewestDay = (v: KeyRecord, day: number): void => {
  v[V_NEWEST_DAY] = day;
};
/** The hour of the last weekly evaluation. */
export const weeklyJudgedHour = (v: readonly number[]): number => v[V_WEEKLY_EVAL] as number;
export const setWeeklyJudgedHour = (v: KeyRecord, hour: number): void => {
  v[V_WEEKLY_EVAL] = hour;
};
/** The watermark of the last fast evaluation (team keys). */
export const fastJudgedAt = (v: readonly number[]): number => v[V_FAST_EVAL] as number;
export const setFastJudgedAt = (v: KeyRecord, watermark: number): void => {
  v[V_FAST_EVAL] = watermark;
};
/** Days folded into the baseline (the weekly signal's warm-up), capped at 10 000. */
export const learntDays = (v: readonly number[]): number => v[V_LEARNT_DAYS] as number;
export const countLearntDay = (v: KeyRecord): void => {
  v[V_LEARNT_DAYS] = Math.min((v[V_LEARNT_DAYS] as number) + 1, 10_000);
};
/** The planned-change phase of the newest day. */
export const newestPhase = (v: readonly number[]): number => v[V_PHASE] as number;
export const setNewestPhase = (v: KeyRecord, phase: ChangePhase): void => {
  v[V_PHASE] = phase;
};
/** The last hour whose local day was looked up, and that day: most events share their hour. */
export const memoHour = (v: readonly number[]): number => v[V_HOUR] as number;
export const memoHourDay = (v: readonly number[]): number => v[V_HOUR_DAY] as number;
export const rememberHourDay = (v: KeyRecord, hour: number, day: number): void => {
  v[V_HOUR] = hour;
  v[V_HOUR_DAY] = day;
};

export const sumCost = (v: readonly number[], at: Sums): number => v[at + COST] as number;
export const sumPremium = (v: readonly number[], at: Sums): number => v[at + PREMIUM] as number;
export const sumEvents = (v: readonly number[], at: Sums): number => v[at + EVENTS] as number;
export const sumPremiumEvents = (v: readonly number[], at: Sums): number => v[at + PREMIUM_EVENTS] as number;
export const sumTokens = (v: readonly number[], at: Sums): number => v[at + TOKENS] as number;

export function addToSums(
  v: KeyRecord,
  at: Sums,
  cost: number,
  premium: number,
  events: number,
  premiumCount: number,
  tokens: number,
): void {
  v[at + COST] = (v[at + COST] as number) + cost;
  v[at + PREMIUM] = (v[at + PREMIUM] as number) + premium;
  v[at + EVENTS] = (v[at + EVENTS] as number) + events;
  v[at + PREMIUM_EVENTS] = (v[at + PREMIUM_EVENTS] as number) + premiumCount;
  v[at + TOKENS] = (v[at + TOKENS] as number) + tokens;
}

/** Premium cost over cost; 0 without cost. */
export const shareOf = (v: readonly number[], at: Sums): number =>
  (v[at + COST] as number) > 0 ? (v[at + PREMIUM] as number) / (v[at + COST] as number) : 0;

/** `into` = `into` × decay + `learnt` (nothing added when `learnt` is null), sum by sum. */
export function decaySums(v: KeyRecord, into: Sums, decay: number, learnt: Sums | null): void {
  for (let f = 0; f < SUMS; f++) v[into + f] = (v[into + f] as number) * decay + (learnt !== null ? (v[learnt + f] as number) : 0);
}

export function copySums(v: KeyRecord, from: Sums, into: Sums): void {
  for (let f = 0; f < SUMS; f++) v[into + f] = v[from + f] as number;
}

export function clearSums(v: KeyRecord, at: Sums): void {
  for (let f = 0; f < SUMS; f++) v[at + f] = 0;
}

/** The planned-change phase a ring day was added with. */
export const slotPhase = (v: readonly number[], slot: RingSlot): number => v[slot + SUMS] as number;
export const setSlotPhase = (v: KeyRecord, slot: RingSlot, phase: ChangePhase): void => {
  v[slot + SUMS] = phase;
};

/** Phase of a local day in the key's ring (NORMAL outside it). */
export function phaseOfDay(v: readonly number[], day: number): number {
  const newest = v[V_NEWEST_DAY] as number;
  return day <= newest && day > newest - RING_DAYS ? (v[ringSlotOf(day) + SUMS] as number) : NORMAL;
}

// ---- the developer record --------------------------------------------------------------------

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
/** The learnt habit (D_N … D_W) and its planned-change twin (D_CHANGE …): five numbers each. */
const HABIT = 5;

/** One of a developer's two hour slots: hour, cost, premium cost, weighted tokens. */
export type HourSlot = number & { readonly __hourSlot: unique symbol };
export const OLDER_SLOT = D_A as HourSlot;
export const NEWER_SLOT = D_B as HourSlot;
/** Older first. */
export const HOUR_SLOTS: readonly HourSlot[] = [OLDER_SLOT, NEWER_SLOT];

export const newDeveloper = (): DeveloperRecord => new Array<number>(D_LENGTH).fill(0);

/** The slot's hour (epoch ms); negated once learnt, 0 when empty. */
export const slotHour = (d: readonly number[], slot: HourSlot): number => d[slot] as number;
export const markSlotLearnt = (d: DeveloperRecord, slot: HourSlot, hour: number): void => {
  d[slot] = -hour;
};
export const slotCost = (d: readonly number[], slot: HourSlot): number => d[slot + 1] as number;
export const slotPremium = (d: readonly number[], slot: HourSlot): number => d[slot + 2] as number;
export const slotTokens = (d: readonly number[], slot: HourSlot): number => d[slot + 3] as number;

export function addToSlot(d: DeveloperRecord, slot: HourSlot, cost: number, premium: number, tokens: number): void {
  d[slot + 1] = (d[slot + 1] as number) + cost;
  d[slot + 2] = (d[slot + 2] as number) + premium;
  d[slot + 3] = (d[slot + 3] as number) + tokens;
}

/** The newer slot becomes the older one, and the newer one starts `hour` empty. */
export function shiftSlots(d: DeveloperRecord, hour: number): void {
  for (let f = 0; f < 4; f++) {
    d[D_A + f] = d[D_B + f] as number;
    d[D_B + f] = 0;
  }
  d[D_B] = hour;
}

/** The developer's latest hour with spend. */
export const lastSpendHour = (d: readonly number[]): number => d[D_LAST] as number;
export const setLastSpendHour = (d: DeveloperRecord, hour: number): void => {
  d[D_LAST] = hour;
};
/** The watermark when the developer last spent. */
export const lastSpendAt = (d: readonly number[]): number => d[D_SEEN] as number;
export const setLastSpendAt = (d: DeveloperRecord, watermark: number): void => {
  d[D_SEEN] = watermark;
};

/** Active hours learnt (exponentially weighted). */
export const habitHours = (d: readonly number[]): number => d[D_N] as number;
/** Of them, hours on premium. */
export const habitOnPremium = (d: readonly number[]): number => d[D_K] as number;
export const habitCost = (d: readonly number[]): number => d[D_C] as number;
export const habitPremium = (d: readonly number[]): number => d[D_Q] as number;
export const habitTokens = (d: readonly number[]): number => d[D_W] as number;
/** The hour last learnt into the habit (0 before the first). */
export const habitLearntAt = (d: readonly number[]): number => d[D_AT] as number;
export const setHabitLearntAt = (d: DeveloperRecord, hour: number): void => {
  d[D_AT] = hour;
};

/** Ages the habit by `decay` and adds one active hour to it. */
export function learnHour(d: DeveloperRecord, decay: number, onPremium: number, cost: number, premium: number, tokens: number): void {
  d[D_N] = (d[D_N] as number) * decay + 1;
  d[D_K] = (d[D_K] as number) * decay + onPremium;
  d[D_C] = (d[D_C] as number) * decay + cost;
  d[D_Q] = (d[D_Q] as number) * decay + premium;
  d[D_W] = (d[D_W] as number) * decay + tokens;
}

/** Active hours inside a planned change and its settling day. */
export const changeHours = (d: readonly number[]): number => d[D_CHANGE] as number;

export function addToChange(d: DeveloperRecord, onPremium: number, cost: number, premium: number, tokens: number): void {
  d[D_CHANGE] = (d[D_CHANGE] as number) + 1;
  d[D_CHANGE + 1] = (d[D_CHANGE + 1] as number) + onPremium;
  d[D_CHANGE + 2] = (d[D_CHANGE + 2] as number) + cost;
  d[D_CHANGE + 3] = (d[D_CHANGE + 3] as number) + premium;
  d[D_CHANGE + 4] = (d[D_CHANGE + 4] as number) + tokens;
}

/** The change's hours become the habit (the team kept the change's mix). */
export function adoptChangeHabit(d: DeveloperRecord): void {
  for (let f = 0; f < HABIT; f++) d[D_N + f] = d[D_CHANGE + f] as number;
}

export function clearChange(d: DeveloperRecord): void {
  for (let f = 0; f < HABIT; f++) d[D_CHANGE + f] = 0;
}
