import { UNATTRIBUTED } from '@burnrate/schemas';
import type { Anomaly, EvidencePoint, Severity, UsageEvent } from '@burnrate/schemas';
import { ABS_DEV_TO_SIGMA, EWMA_FIELDS, updateEwmaAt } from './baselines/ewma.ts';
import {
  createEwmaProfile,
  createRingProfile,
  ewmaExpectation,
  ringExpectation,
  seasonalSlot,
  updateEwmaProfile,
  updateRingProfile,
  type Expectation,
} from './baselines/seasonal.ts';
import { packedRing, packedRingCount, type PackedRing } from './baselines/packed-ring.ts';
import { BASELINE_EXTRA_RETENTION_MS, latenessOf, stepResults, type BucketDetector } from './buckets/bucket-detector.ts';
import {
  bucketIndex,
  HOUR_MS,
  closesAfter,
  hourOf,
  isClosedHour,
  lastClosedHour,
  stepHour,
  withBucket,
  withoutOldest,
  type HourBucket,
} from './buckets/hourly.ts';
import { forEachKey } from './buckets/keyed.ts';
import { formatLocalHour, isHoliday, isOffDay, localHourOf, type LocalHour } from './buckets/local-hour.ts';
import { hoursUntilAcknowledgement, type WorkCalendar } from './calendar.ts';
import type { Detector, DetectorEnv, ScorePoint, StepContext, StepResult } from './detector.ts';
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
import { recurrenceOf, RECURRENCE_GROWTH, rememberOpening, updateLatestImpact } from './recurrence.ts';

/**
 * spend_spike: an hour of spend far above what the key usually spends at that time of day on that
 * kind of day (working day or day off, in the team's calendar and zone).
 *
 * Scopes: `spendSpike` runs over events in stage A for developer and developer×model keys;
 * `teamSpendSpike` runs over HourBuckets (team rollups, stage B) for team and team×model keys.
 * `overEvents(teamSpendSpike)` runs the team scope inside one engine (single-instance shortcut).
 *
 * Each key sums its spend into hourly buckets (bucket closes when the watermark passes the hour's
 * end plus the allowed lateness; later events are counted in `late`, not merged). A closed hour x
 * is judged against the key's seasonal baseline (baselines/seasonal.ts):
 *   developer keys: EWMA mean and absolute deviation per {workday, off-day} × 3-hour block
 *   team keys:      median and MAD of the last 8 values per {workday, off-day} × hour
 *   team×model keys: the same per {workday, off-day} × 3-hour block: one model's part of a
 *                   team's hour is thinner than the whole, a block warms three times as fast
 *                   (a model new to the team is judged after days, not weeks), and a team on
 *                   five models holds five of these (a third of an hourly profile's memory)
 *   score  = (x − centre) / max(σ, scale_floor_share × centre, scale_floor_usd)
 *            (σ = 1.2533·absdev or 1.4826·MAD; defaults 30% and $1)
 *   gate   = developer keys: min(min_impact_usd, max(min_impact_floor_usd, min_impact_share ×
 *            usual day)) (usual day = the slot centres summed over a working day or a day off,
 *            the larger; min_impact_share 0 keeps min_impact_usd): a developer who spends $2 an
 *            hour and suddenly $25 is news, though it is under $50; with the defaults (1, $20)
 *            the gate is a whole usual day's spend above usual in one hour, never under $20.
 *            team keys: min_impact_usd. A team is many developers: a small rise of a whole team
 *            is its ordinary ebb and flow more often than news, and a small team's spike that
 *            one developer makes is told by that developer's key
 *   spike  = warm AND score > min_score AND x − centre ≥ gate
 * Warm-up: the key was first seen min_history_hours ago and the hour's slot has learnt
 * min_slot_weeks weeks of values (a slot takes the hours it covers × the days of its kind a week:
 * a developer's or team×model's working-day block 3 × 5, its day-off block 3 × 2; a team's hour
 * 5 or 2), and at least 3. So a slot is judged only against weeks of its own kind of day: the
 * first weekend of a new series has no weekend to compare with and stays quiet. A spike seen
 * while its slot warms up is not reported but remembered for recurrence (below). Hours a key
 * spent nothing are zero-spend hours of its baseline (a night owl's 3am is not a developer's).
 * Holidays are judged as days off but never learnt: a lull is not a baseline.
 *
 * Episode: opens at the first spiking hour (id = kind, org, scope, subject, hour start). An hour
 * is elevated when it spikes, or, with an episode open, when it stays above the lower band (score
 * > 0.75 min_score and excess ≥ half the gate): hysteresis, so a spike that wavers around the
 * threshold is one episode. Each elevated hour adds its excess to impact_usd; a new version on
 * escalation (critical when the hour's excess is ≥ 5× min_impact_usd, the absolute gate, and the
 * score ≥ 2× min_score), or while critical when the impact doubles (episode.ts). The episode stays
 * open through hours that are not elevated, an idle hour included, until `cool_down_hours` of them
 * in a row (default 3: a lunch break or a meeting between two bursts of an agent is not the end
 * of it); an elevated hour inside the cool-down continues the same episode (its severity may
 * rise). Then it resolves, with a version whose window ends at the end of the last elevated hour
 * + cool_down_hours: the hour that decided it. 0 resolves at the first hour back under the band.
 * A planned change for the team keeps it at 'info'. So does recurrence (recurrence.ts): an episode
 * that opens a whole number of weeks (±2 h, up to 6) after an earlier one of the key and costs at
 * most twice the biggest of them is a weekly schedule, not news, until it outgrows that. Spikes
 * that were not reported (in warm-up, or left to a developer's alert) count as earlier openings:
 * a weekly job first seen in its first weekend is a schedule when it comes back.
 *
 * One spike, one report: a team's hour that spikes because one developer's did would page the
 * team and the developer for one cause. Stage A knows each developer's own baseline, so each
 * rollup it sends carries `developer_spike_usd` (`developerSpikeUsd`: the developer's spend in
 * the hour above its usual, when that is a spike of its own, else 0). A team key keeps the
 * biggest of these per open hour (numbers only: stage B never keys anything by developer); when
 * it is at least `team_dedupe_share` (default 70%) of the team's excess in the hour, the team (or
 * team×model: the developer's spike over all its models is the measure there too) episode is not
 * opened and the developer's alert is the one that pages. An episode already open goes on as
 * usual: the team was spiking before that developer.
 *
 * Fields: observed = the hour's spend, expected = the baseline centre (usd per hour); impact_usd =
 * spend above expected over the episode's elevated hours; projected_usd = this hour's excess ×
 * hours until the team is likely to look (calendar.ts).
 *
 * Config (`SpendSpikeConfig`, a DetectorEnv): settingsFor({ team, developer? }) →
 * detectors.spend_spike with overrides (developer keys pass the developer, team keys only the
 * team); calendarFor(team) → the compiled calendar (its zone decides local hours); plannedChange(team, atMs)
 * for kind spend_spike. Allowed lateness comes from the engine's StepContext.
 */

export interface SpendSpikeSettings {
  enabled: boolean;
  min_impact_usd: number;
  min_score: number;
  min_history_hours: number;
  min_slot_weeks: number;
  cool_down_hours: number;
  scale_floor_usd: number;
  scale_floor_share: number;
  min_impact_share: number;
  min_impact_floor_usd: number;
  team_dedupe_share: number;
}

export type SpendSpikeConfig = DetectorEnv<SpendSpikeSettings>;

export interface SpikeEpisode {
  e: Episode;
  /** Spend above expected over the episode's spiking hours. */
  impact: number;
  /**
   * The episode this one repeats a week or two later (recurrence.ts): its opening hour and impact
   * while this one stays within RECURRENCE_GROWTH of it (reported at info); absent otherwise.
   */
  repeats?: { hour: number; impact: number };
  /**
   * Start of its latest elevated hour: the cool-down counts from it. Absent in an episode restored
   * from a snapshot taken before cool-downs; then it counts from the hour before the first one
   * judged after the restore.
   */
  last?: number;
}

/** One tracked key. Numbers live in flat arrays: an array of doubles costs a fraction of an object of them. */
export interface SpikeKey {
  team: string;
  /** [first hour seen, last hour judged, hour of the last spend, …EWMA profile (developer scope)]. */
  v: number[];
  /** Team scope: the last 8 values per hour slot. Developer scope: null. */
  r: PackedRing | null;
  /** Open hour buckets, flat [hour, cost, …] ascending. */
  open: number[];
  ep: SpikeEpisode | null;
  /** The developer×model (or team×model) keys under this developer (team) key, by model; null until one exists. */
  m: Record<string, SpikeKey> | null;
  /** When its last episodes opened and what they cost, flat [hour, impact, …] (recurrence.ts); null until it spikes. */
  w: number[] | null;
  /**
   * Team scope: the biggest developer spike (`developer_spike_usd`) heard for each open hour, flat
   * [hour, usd, …] ascending; absent or null while none was heard (and on developer keys).
   */
  top?: number[] | null;
}

export interface SpendSpikeState {
  /**
   * By org, then developer (team scope: team); each key holds its ×model keys in `m`. Nested
   * rather than one map of joined ids: looking up a string built per event costs ~0.3 µs
   * (flatten, hash, internalise), looking up the event's own strings a few ns.
   */
  keys: Record<string, Record<string, SpikeKey>>;
  /**
   * Keys with an open bucket or an open episode, as paths [org, who] or [org, who, model] (the
   * event's own strings, already hashed), in the order they became so: the hourly close visits
   * only these, not every key the detector remembers (most are idle at any hour).
   */
  active: string[][];
  /** Every key has been judged through this hour (epoch ms of its start); 0 before the first. */
  closed: number;
  /** Spend that arrived after its hour had closed: counted, never merged. */
  late: number;
  /** Eviction cutoff (an hour) of the last sweep. */
  swept: number;
}

const KIND = 'spend_spike';
const META = 3;
/** The EWMA profile follows META in `v`; META is one EWMA's worth of numbers, so profile slot 0 sits at EWMA index 1. */
const PROFILE_AT = META / 3;
const STRIDE = 2;
/** Developer profile: 8 blocks of 3 hours a day × {workday, off-day}. */
const DEV_SLOTS_PER_DAY = 8;
/** Team profile: 24 hours × {workday, off-day}, 8 values each. */
const TEAM_SLOTS_PER_DAY = 24;
/** Team×model profile: 8 blocks of 3 hours a day × {workday, off-day}, 8 values each. */
const TEAM_MODEL_SLOTS_PER_DAY = 8;
const TEAM_RING = 8;
const ALPHA = 0.05;
/** A slot's median or mean rests on at least this many values, whatever min_slot_weeks says. */
const MIN_SLOT_VALUES = 3;
/** The lower band an open episode holds above: this share of min_score and of the gate. */
const HOLD_SCORE_SHARE = 0.75;
const HOLD_IMPACT_SHARE = 0.5;
const CRITICAL_IMPACT_FACTOR = 5;
const CRITICAL_SCORE_FACTOR = 2;
/** A key idle longer than this is not zero-filled hour by hour: a week of zeros already says "idle" to every slot. */
const MAX_FILL_HOURS = 168;
const NONE: readonly Anomaly[] = Object.freeze([]);

type Scope = 'developer' | 'team';

function newKey(team: string, hour: number, scope: Scope, perModel: boolean): SpikeKey {
  // Built at its final length: an array grown by spread or push keeps spare capacity.
  const v = scope === 'developer' ? createEwmaProfile(DEV_SLOTS_PER_DAY * 2 + PROFILE_AT) : [0, 0, 0];
  v[0] = hour;
  v[1] = hour - HOUR_MS;
  v[2] = hour;
  return {
    team,
    v,
    r: scope === 'team' ? createRingProfile((perModel ? TEAM_MODEL_SLOTS_PER_DAY : TEAM_SLOTS_PER_DAY) * 2, TEAM_RING) : null,
    open: [],
    ep: null,
    m: null,
    w: null,
  };
}

/**
 * Adds spend to the key of `who` and to its ×`model` key; `developerSpike` (team scope) is the
 * bucket's developer_spike_usd, 0 when it carries none.
 */
function addSpend(
  state: SpendSpikeState,
  org: string,
  who: string,
  model: string | undefined,
  team: string,
  hour: number,
  cost: number,
  scope: Scope,
  developerSpike: number,
): void {
  let k: SpikeKey | undefined;
  let km: SpikeKey | undefined;
  if (last.state === state && last.who === who && last.model === model && last.org === org) {
    k = last.key as SpikeKey;
    km = last.modelKey ?? undefined;
  } else {
    let byWho = state.keys[org];
    if (byWho === undefined) {
      byWho = {};
      state.keys[org] = byWho;
    }
    k = byWho[who];
    if (k === undefined) {
      k = newKey(team, hour, scope, false);
      byWho[who] = k;
    }
    if (model !== undefined) {
      k.m ??= {};
      km = k.m[model];
      if (km === undefined) {
        km = newKey(team, hour, scope, true);
        k.m[model] = km;
      }
    }
    last.state = state;
    last.org = org;
    last.who = who;
    last.model = model;
    last.key = k;
    last.modelKey = km ?? null;
  }
  addToKey(state, k, org, who, undefined, team, hour, cost, developerSpike);
  if (km !== undefined) addToKey(state, km, org, who, model, team, hour, cost, developerSpike);
}

/**
 * The keys of the last event added, by state: consecutive events mostly come from one session
 * (same developer and model), and the string-keyed lookups are the dearest part of a step. A pure
 * cache, outside the state: keys leave a state only in `evictIdle`, which clears it, and a
 * restored state is a new object.
 */
const last: {
  state: SpendSpikeState | null;
  org: string;
  who: string;
  model: string | undefined;
  key: SpikeKey | null;
  modelKey: SpikeKey | null;
} = { state: null, org: '', who: '', model: undefined, key: null, modelKey: null };

function addToKey(
  state: SpendSpikeState,
  k: SpikeKey,
  org: string,
  who: string,
  model: string | undefined,
  team: string,
  hour: number,
  cost: number,
  developerSpike: number,
): void {
  if (team !== k.team && team !== UNATTRIBUTED) k.team = team;
  const v = k.v;
  if (hour <= (v[1] as number)) {
    state.late += 1;
    return;
  }
  let open = k.open;
  let i = open.length - STRIDE;
  // Most events land in the newest open hour: no scan, no new array.
  if (i < 0 || open[i] !== hour) {
    if (open.length === 0 && k.ep === null) state.active.push(model === undefined ? [org, who] : [org, who, model]);
    open = withBucket(open, STRIDE, hour);
    k.open = open;
    i = bucketIndex(open, STRIDE, hour);
  }
  open[i + 1] = (open[i + 1] as number) + cost;
  if (hour > (v[2] as number)) v[2] = hour;
  if (developerSpike > 0) noteDeveloperSpike(k, hour, developerSpike);
}

/** Keeps the biggest developer spike heard for the team key's open `hour` (see SpikeKey.top). */
function noteDeveloperSpike(k: SpikeKey, hour: number, usd: number): void {
  let top = k.top ?? [];
  let i = bucketIndex(top, STRIDE, hour);
  if (i < 0) {
    top = withBucket(top, STRIDE, hour);
    k.top = top;
    i = bucketIndex(top, STRIDE, hour);
  }
  if (usd > (top[i + 1] as number)) top[i + 1] = usd;
}

/** The biggest developer spike heard for hour `h` of the team key (0 when none), forgetting the hours through `h`. */
function takeDeveloperSpike(k: SpikeKey, h: number): number {
  const top = k.top;
  if (top === undefined || top === null) return 0;
  let usd = 0;
  let done = 0;
  for (let i = 0; i < top.length && (top[i] as number) <= h; i += STRIDE) {
    if (top[i] === h) usd = top[i + 1] as number;
    done++;
  }
  if (done > 0) k.top = done * STRIDE === top.length ? null : withoutOldest(top, STRIDE, done);
  return usd;
}

function keyOf(state: SpendSpikeState, path: readonly string[]): SpikeKey | undefined {
  const [org = '', who = '', model] = path;
  const k = state.keys[org]?.[who];
  return model === undefined ? k : (k?.m?.[model] ?? undefined);
}

/**
 * Slots a day of a team or team×model ring: its slots cover a working day and a day off. Read
 * from the ring, so one restored from a snapshot keeps the size it was made with.
 */
const ringSlotsPerDay = (r: PackedRing): number => r.slots / 2;

function expectation(k: SpikeKey, local: LocalHour, off: boolean): { slot: number; exp: Expectation } {
  if (k.r !== null) {
    const slot = seasonalSlot(off, local.hour, ringSlotsPerDay(k.r));
    return { slot, exp: ringExpectation(k.r, slot) };
  }
  const slot = seasonalSlot(off, local.hour, DEV_SLOTS_PER_DAY);
  return { slot, exp: ewmaExpectation(k.v, slot + PROFILE_AT) };
}

function learn(k: SpikeKey, slot: number, x: number, clamp: number): void {
  if (k.r !== null) k.r = updateRingProfile(k.r, slot, x);
  else updateEwmaProfile(k.v, slot + PROFILE_AT, x, ALPHA, clamp);
}

/** Folds a zero into EWMA slot `slot` of `v` with the same clamp a judged hour would use. */
function learnZero(v: number[], slot: number, s: SpendSpikeSettings): void {
  const i = slot * EWMA_FIELDS;
  const center = v[i] as number;
  const sigma = Math.max(ABS_DEV_TO_SIGMA * (v[i + 1] as number), s.scale_floor_share * center, s.scale_floor_usd);
  updateEwmaAt(v, i, 0, ALPHA, s.min_score * sigma);
}

/** Values slot `slot` of `k` has learnt, all told (a team ring keeps only its last 8 but counts every one). */
function slotValues(k: SpikeKey, slot: number): number {
  return k.r !== null ? packedRingCount(k.r, slot) : (k.v[(slot + PROFILE_AT) * EWMA_FIELDS + 2] as number);
}

/**
 * Whether the slot has learnt `min_slot_weeks` weeks of values: the hours it covers a day × the
 * days of its kind (working days or days off) in the team's week, and at least MIN_SLOT_VALUES.
 */
function slotWarm(k: SpikeKey, slot: number, off: boolean, cal: WorkCalendar, s: SpendSpikeSettings): boolean {
  let workingDays = 0;
  for (let d = 0; d < 7; d++) if (cal.days[d] === true) workingDays++;
  const hoursPerSlot = 24 / (k.r !== null ? ringSlotsPerDay(k.r) : DEV_SLOTS_PER_DAY);
  const perWeek = hoursPerSlot * (off ? 7 - workingDays : workingDays);
  return slotValues(k, slot) >= Math.max(MIN_SLOT_VALUES, s.min_slot_weeks * perWeek);
}

/** What the key usually spends in a day: its slot centres summed over a working day and over a day off, the larger. */
function usualDay(k: SpikeKey): number {
  let working = 0;
  let off = 0;
  if (k.r !== null) {
    const perDay = ringSlotsPerDay(k.r);
    const hoursPerSlot = 24 / perDay;
    for (let b = 0; b < perDay; b++) {
      working += hoursPerSlot * ringExpectation(k.r, b).center;
      off += hoursPerSlot * ringExpectation(k.r, perDay + b).center;
    }
  } else {
    const hoursPerSlot = 24 / DEV_SLOTS_PER_DAY;
    for (let b = 0; b < DEV_SLOTS_PER_DAY; b++) {
      working += hoursPerSlot * (k.v[(b + PROFILE_AT) * EWMA_FIELDS] as number);
      off += hoursPerSlot * (k.v[(DEV_SLOTS_PER_DAY + b + PROFILE_AT) * EWMA_FIELDS] as number);
    }
  }
  return Math.max(working, off);
}

/** Whether key `k` takes the relative dollar gate: developer keys, when min_impact_share is set. */
const relativeGate = (k: SpikeKey, s: SpendSpikeSettings): boolean => k.r === null && s.min_impact_share > 0;

/** The dollar gate of key `k`: min_impact_usd, or less for a developer whose usual day costs less (min_impact_share). */
function impactGate(k: SpikeKey, s: SpendSpikeSettings): number {
  if (!relativeGate(k, s)) return s.min_impact_usd;
  return Math.min(s.min_impact_usd, Math.max(s.min_impact_floor_usd, s.min_impact_share * usualDay(k)));
}

/** Whether `excess` reaches `share` of the key's dollar gate; the relative gate is worked out only when the absolute one is not met. */
function passesGate(k: SpikeKey, s: SpendSpikeSettings, excess: number, share: number): boolean {
  return excess >= share * s.min_impact_usd || (relativeGate(k, s) && excess >= share * impactGate(k, s));
}

interface Judged {
  x: number;
  exp: Expectation;
  sigma: number;
  score: number;
  excess: number;
}

function judge(x: number, exp: Expectation, s: SpendSpikeSettings): Judged {
  const sigma = Math.max(exp.sigma, s.scale_floor_share * exp.center, s.scale_floor_usd);
  const excess = x - exp.center;
  return { x, exp, sigma, score: excess / sigma, excess };
}

/** Judges every hour of key `k` after the last judged one through `through`, learning as it goes. */
function judgeThrough(
  path: readonly string[],
  k: SpikeKey,
  through: number,
  scope: Scope,
  cfg: SpendSpikeConfig,
  watermark: number,
  out: Anomaly[],
): void {
  let from = (k.v[1] as number) + HOUR_MS;
  if (from > through) return;
  if (through - from >= MAX_FILL_HOURS * HOUR_MS) from = through - (MAX_FILL_HOURS - 1) * HOUR_MS;
  const s = cfg.settingsFor({ team: k.team, developer: scope === 'developer' ? path[1] : undefined });
  const cal = cfg.calendarFor(k.team);
  for (let h = from; h <= through; h += HOUR_MS) {
    let x = 0;
    let done = 0;
    for (let i = 0; i < k.open.length && (k.open[i] as number) <= h; i += STRIDE) {
      if (k.open[i] === h) x += k.open[i + 1] as number;
      done++;
    }
    if (done > 0) k.open = withoutOldest(k.open, STRIDE, done);
    const local = localHourOf(h, cal.timeZone);
    const off = isOffDay(local, cal);
    if (x === 0 && k.ep === null && k.r === null) {
      // An idle hour of a developer key: nothing to judge, only a zero to learn. Most hours of
      // most keys are this, so it allocates nothing.
      if (!isHoliday(local, cal)) learnZero(k.v, seasonalSlot(off, local.hour, DEV_SLOTS_PER_DAY) + PROFILE_AT, s);
      k.v[1] = h;
      continue;
    }
    const { slot, exp } = expectation(k, local, off);
    const j = judge(x, exp, s);
    // Taken for every hour of a team key, so what was heard for an hour it does not judge goes too.
    const developerSpike = k.r === null ? 0 : takeDeveloperSpike(k, h);
    if (x > 0 || k.ep !== null) {
      const history = (h - (k.v[0] as number)) / HOUR_MS + 1;
      // Over the thresholds, before asking whether it may be reported.
      const over = s.enabled && history >= s.min_history_hours && j.score > s.min_score && passesGate(k, s, j.excess, 1);
      const warm = s.enabled && history >= s.min_history_hours && slotWarm(k, slot, off, cal, s);
      const spiking = warm && over;
      const oneDevelopers = spiking && s.team_dedupe_share > 0 && developerSpike >= s.team_dedupe_share * j.excess;
      if (warm) cfg.score?.(scorePoint(path, k, h, j, spiking && !oneDevelopers, s, scope));
      if (k.ep === null && over && !(spiking && !oneDevelopers)) rememberUnreported(k, h, j.excess, s);
      const a = episodeStep(path, k, h, local, j, spiking, oneDevelopers, s, scope, cfg, watermark);
      if (a !== null) out.push(a);
    }
    if (!isHoliday(local, cal)) learn(k, slot, x, s.min_score * j.sigma);
    k.v[1] = h;
  }
}

/**
 * A spike that is not reported (its slot still warming up, or one developer's spike in a team) is
 * still remembered as an opening for recurrence: a weekly job first seen then is a schedule when it
 * comes back, not news. An hour within the cool-down of the last one remembered adds to it, as an
 * episode's hours would.
 */
function rememberUnreported(k: SpikeKey, h: number, excess: number, s: SpendSpikeSettings): void {
  const w = k.w;
  if (w !== null && w.length >= 2 && h - (w[w.length - 2] as number) <= s.cool_down_hours * HOUR_MS) {
    updateLatestImpact(w, (w[w.length - 1] as number) + excess);
    return;
  }
  k.w = rememberOpening(w, h, excess);
}

/**
 * One judged hour of the key's episode (see the header): opens one at a spiking hour unless the
 * spike is one developer's (`oneDevelopers`, team scope), carries it through elevated hours and
 * through the cool-down, and resolves it once cool_down_hours went by with none elevated.
 */
function episodeStep(
  path: readonly string[],
  k: SpikeKey,
  h: number,
  local: LocalHour,
  j: Judged,
  spiking: boolean,
  oneDevelopers: boolean,
  s: SpendSpikeSettings,
  scope: Scope,
  cfg: SpendSpikeConfig,
  watermark: number,
): Anomaly | null {
  const ep = k.ep;
  if (ep === null) {
    if (!spiking || oneDevelopers) return null;
    const earlier = recurrenceOf(k.w, h);
    const repeats = earlier !== undefined && j.excess <= RECURRENCE_GROWTH * earlier.impact ? earlier : undefined;
    const severity = repeats ? 'info' : plannedSeverity(severityOf(j, s), cfg.plannedChange(k.team, h));
    const e = openEpisode(KIND, idParts(path, scope), h, severity, j.excess, {
      at: h,
      label: 'spend in the hour',
      value: j.x,
      unit: 'usd',
    });
    k.ep = repeats ? { e, impact: j.excess, last: h, repeats } : { e, impact: j.excess, last: h };
    k.w = rememberOpening(k.w, h, j.excess);
    return toAnomaly(path, k, h, local, j, scope, cfg, watermark);
  }
  const elevated = spiking || (j.score > HOLD_SCORE_SHARE * s.min_score && passesGate(k, s, j.excess, HOLD_IMPACT_SHARE));
  if (elevated) {
    ep.last = h;
    ep.impact += Math.max(0, j.excess);
    updateLatestImpact(k.w, ep.impact);
    // Outgrowing the episode it repeats makes it news again, for good.
    if (ep.repeats && ep.impact > RECURRENCE_GROWTH * ep.repeats.impact) delete ep.repeats;
    const severity = ep.repeats ? 'info' : plannedSeverity(severityOf(j, s), cfg.plannedChange(k.team, h));
    const change = updateEpisode(ep.e, severity, ep.impact, {}, { at: h, label: 'spend in the hour', value: j.x, unit: 'usd' });
    return change === null ? null : toAnomaly(path, k, h, local, j, scope, cfg, watermark);
  }
  ep.last ??= h - HOUR_MS;
  if (h - ep.last < s.cool_down_hours * HOUR_MS) return null;
  resolveEpisode(ep.e, { at: h, label: 'spend in the hour, back to usual', value: j.x, unit: 'usd' });
  const a = toAnomaly(path, k, h, local, j, scope, cfg, watermark);
  k.ep = null;
  return a;
}

/** The hour's robust score against `min_score` (the condition is score > min_score), for a backtest's scores. */
function scorePoint(
  path: readonly string[],
  k: SpikeKey,
  h: number,
  j: Judged,
  spiking: boolean,
  s: SpendSpikeSettings,
  scope: Scope,
): ScorePoint {
  const [org = '', who = '', model] = path;
  return {
    kind: KIND,
    subject: { org, team: k.team, ...(scope === 'developer' ? { developer: who } : {}), ...(model === undefined ? {} : { model }) },
    at: h,
    score: j.score,
    threshold: s.min_score,
    unit: 'z',
    severity: spiking ? severityOf(j, s) : null,
    impact_usd: j.excess,
    min_impact_usd: impactGate(k, s),
  };
}

function severityOf(j: Judged, s: SpendSpikeSettings): Severity {
  return j.excess >= CRITICAL_IMPACT_FACTOR * s.min_impact_usd && j.score >= CRITICAL_SCORE_FACTOR * s.min_score ? 'critical' : 'warning';
}

function idParts(path: readonly string[], scope: Scope): string[] {
  const [org = '', who = '', model = ''] = path;
  return [org, scope, who, model];
}

function toAnomaly(
  path: readonly string[],
  k: SpikeKey,
  h: number,
  local: LocalHour,
  j: Judged,
  scope: Scope,
  cfg: SpendSpikeConfig,
  watermark: number,
): Anomaly {
  const ep = k.ep as SpikeEpisode;
  const [org = '', who = '', model] = path;
  const cal = cfg.calendarFor(k.team);
  const resolved = ep.e.status === 'resolved';
  const planned = cfg.plannedChange(k.team, h);
  const hoursToLook = hoursUntilAcknowledgement(cal, watermark);
  const subjectName = (scope === 'developer' ? who : `team ${k.team}`) + (model === undefined ? '' : ` on ${model}`);
  const when = `${formatLocalHour(local)} (${cal.timeZone})`;
  const usual =
    j.exp.center >= 0.01 ? `${(j.x / j.exp.center).toFixed(1)}x its usual ${formatUsd(j.exp.center)}` : `against a usual of nearly nothing`;
  const dayKind = isOffDay(local, cal) ? 'day off' : 'working day';

  const evidence: EvidencePoint[] = [
    ...markEvidence(ep.e),
    { at: iso(h), label: `usual spend for this hour on a ${dayKind}`, value: roundMoney(j.exp.center), unit: 'usd' },
  ];
  const repeats = ep.repeats
    ? ` It recurs weekly: the same happened from ${formatLocalHour(localHourOf(ep.repeats.hour, cal.timeZone))} (${formatUsd(ep.repeats.impact)} above usual), so it is reported at info, a schedule rather than news, unless it grows past ${RECURRENCE_GROWTH}x that.`
    : '';
  const backSince = formatLocalHour(localHourOf((ep.last ?? h) + HOUR_MS, cal.timeZone));
  const summary = resolved
    ? `Spend from ${subjectName} is back to usual since ${backSince} (${cal.timeZone}), after ${formatUsd(ep.impact)} above its usual level.`
    : `Spend from ${subjectName} was ${formatUsd(j.x)} in the hour from ${when}, ${usual} for that hour on a ${dayKind}.${repeats}`;
  const advice =
    (resolved
      ? 'No action needed now; if the extra spend was not planned, check what ran in those hours.'
      : `Check for an agent loop or a batch job started around ${formatLocalHour(local)}: the sessions of ${scope === 'developer' ? who : `team ${k.team}`} in that hour${model === undefined ? '' : ` on ${model}`} show it. If it is planned work, nothing to do.`) +
    (planned === undefined ? '' : ` Planned change: ${planned}.`);

  return {
    ...episodeFields(ep.e),
    kind: KIND,
    subject: {
      org,
      team: k.team,
      ...(scope === 'developer' ? { developer: who } : {}),
      ...(model === undefined ? {} : { model }),
    },
    window: { start: iso(ep.e.start), end: iso(h + HOUR_MS) },
    observed: { value: roundMoney(j.x), unit: 'usd/h' },
    expected: { value: roundMoney(j.exp.center), unit: 'usd/h' },
    impact_usd: roundMoney(ep.impact),
    projected_usd: resolved ? 0 : roundMoney(Math.max(0, j.excess) * hoursToLook),
    evidence: sortedEvidence(evidence),
    summary,
    advice,
    detected_at: iso(watermark),
  };
}

/** Judges every active key through the newest closed hour, once per hour of event time. */
function closeAll(state: SpendSpikeState, watermark: number, lateness: number, scope: Scope, cfg: SpendSpikeConfig): readonly Anomaly[] {
  if (!closesAfter(state.closed, watermark, lateness)) return NONE;
  const through = lastClosedHour(watermark, lateness);
  if (through <= state.closed) return NONE;
  state.closed = through;
  const out: Anomaly[] = [];
  const stillActive: string[][] = [];
  for (const path of state.active) {
    const k = keyOf(state, path);
    if (k === undefined) continue;
    judgeThrough(path, k, through, scope, cfg, watermark, out);
    if (k.open.length > 0 || k.ep !== null) stillActive.push(path);
  }
  state.active = stillActive;
  return out.length === 0 ? NONE : out;
}

const idle = (k: SpikeKey, cutoff: number): boolean => (k.v[2] as number) < cutoff && k.open.length === 0 && k.ep === null;

function evictIdle(state: SpendSpikeState, idleBeforeMs: number): SpendSpikeState {
  // Keys are idle by the hour of their last spend: one sweep per cutoff hour finds them (one that
  // still had an open bucket or episode goes at the next, at most an hour later).
  const cutoff = hourOf(idleBeforeMs - BASELINE_EXTRA_RETENTION_MS);
  if (state.swept === cutoff) return state;
  state.swept = cutoff;
  if (last.state === state) last.state = null;
  // for…in and deleting the current key are safe together, and allocate no key arrays: a sweep
  // visits every key every 15 minutes of event time.
  for (const org in state.keys) {
    const byWho = state.keys[org] as Record<string, SpikeKey>;
    let whoLeft = 0;
    for (const who in byWho) {
      const k = byWho[who] as SpikeKey;
      if (k.m !== null) {
        let modelsLeft = 0;
        for (const model in k.m) {
          if (idle(k.m[model] as SpikeKey, cutoff)) delete k.m[model];
          else modelsLeft++;
        }
        if (modelsLeft === 0) k.m = null;
      }
      if (k.m === null && idle(k, cutoff)) delete byWho[who];
      else whoLeft++;
    }
    if (whoLeft === 0) delete state.keys[org];
  }
  return state;
}

function countKeys(state: SpendSpikeState): number {
  let n = 0;
  for (const org in state.keys) {
    const byWho = state.keys[org] as Record<string, SpikeKey>;
    for (const who in byWho) n += 1 + ((byWho[who] as SpikeKey).m === null ? 0 : Object.keys((byWho[who] as SpikeKey).m as object).length);
  }
  return n;
}

/**
 * The developer's spend so far in its open hour `hour` above its own usual for that hour, when
 * that is already a spike its own alert reports (warm, enabled, over min_score and its dollar
 * gate); else 0. Stage A sends it with each rollup (`developer_spike_usd`), right after the event
 * was stepped, so stage B can leave a team spike that is one developer's to that developer's
 * alert. Reads the state, changes nothing; allocates nothing.
 */
export function developerSpikeUsd(state: SpendSpikeState, cfg: SpendSpikeConfig, org: string, developer: string, hour: number): number {
  const k = last.state === state && last.who === developer && last.org === org ? last.key : state.keys[org]?.[developer];
  if (k === null || k === undefined || k.r !== null) return 0;
  const i = bucketIndex(k.open, STRIDE, hour);
  if (i < 0) return 0;
  const cal = cfg.calendarFor(k.team);
  const local = localHourOf(hour, cal.timeZone);
  const off = isOffDay(local, cal);
  const slot = seasonalSlot(off, local.hour, DEV_SLOTS_PER_DAY);
  const at = (slot + PROFILE_AT) * EWMA_FIELDS;
  const center = k.v[at] as number;
  const excess = (k.open[i + 1] as number) - center;
  // Most of an hour's events come before its spend has passed the usual level: no settings looked up.
  if (excess <= 0) return 0;
  const s = cfg.settingsFor({ team: k.team, developer });
  if (!s.enabled || (hour - (k.v[0] as number)) / HOUR_MS + 1 < s.min_history_hours || !slotWarm(k, slot, off, cal, s)) return 0;
  const sigma = Math.max(ABS_DEV_TO_SIGMA * (k.v[at + 1] as number), s.scale_floor_share * center, s.scale_floor_usd);
  return excess / sigma > s.min_score && passesGate(k, s, excess, 1) ? excess : 0;
}

const initialState = (): SpendSpikeState => ({ keys: {}, active: [], closed: 0, late: 0, swept: 0 });
const devResult = stepResults<SpendSpikeState>();
const teamResult = stepResults<SpendSpikeState>();

/** Developer and developer×model keys, over events (stage A). */
export const spendSpike: Detector<SpendSpikeState, SpendSpikeConfig> = {
  kind: KIND,
  initialState,

  step(state, event: UsageEvent, cfg, ctx: StepContext): StepResult<SpendSpikeState> {
    const lateness = latenessOf(ctx);
    const anomalies = closeAll(state, ctx.watermark, lateness, 'developer', cfg);
    if (event.developer === UNATTRIBUTED || event.cost_usd <= 0) return devResult(state, anomalies);
    const hour = stepHour(event, ctx.occurredAt);
    if (ctx.late === true || isClosedHour(hour, ctx.watermark, lateness)) {
      state.late += 1;
      return devResult(state, anomalies);
    }
    addSpend(state, event.org, event.developer, event.model, event.team, hour, event.cost_usd, 'developer', 0);
    return devResult(state, anomalies);
  },

  advance: (state, watermark, cfg, ctx) => ({ state, anomalies: closeAll(state, watermark, latenessOf(ctx), 'developer', cfg) }),
  evict: evictIdle,
  size: countKeys,
};

/** Team and team×model keys, over hour buckets (stage B rollups). */
export const teamSpendSpike: BucketDetector<SpendSpikeState, SpendSpikeConfig> = {
  kind: KIND,
  initialState,

  step(state, bucket: HourBucket, cfg, ctx) {
    const lateness = latenessOf(ctx);
    const anomalies = closeAll(state, ctx.watermark, lateness, 'team', cfg);
    if (bucket.cost_usd <= 0) return teamResult(state, anomalies);
    if (isClosedHour(bucket.hour, ctx.watermark, lateness)) {
      state.late += 1;
      return teamResult(state, anomalies);
    }
    addSpend(
      state,
      bucket.org,
      bucket.team,
      bucket.model,
      bucket.team,
      bucket.hour,
      bucket.cost_usd,
      'team',
      bucket.developer_spike_usd ?? 0,
    );
    return teamResult(state, anomalies);
  },

  advance: (state, watermark, cfg, ctx) => ({ state, anomalies: closeAll(state, watermark, latenessOf(ctx), 'team', cfg) }),
  evict: evictIdle,
  size: countKeys,

  upgrade(restored) {
    // Rings serialise as RobustRings (see PackedRing): packed again here.
    const state = restored as SpendSpikeState;
    forEachKey(state.keys, (k) => {
      if (k.r !== null) k.r = packedRing(k.r);
      for (const model in k.m) {
        const km = k.m[model] as SpikeKey;
        if (km.r !== null) km.r = packedRing(km.r);
      }
    });
    return state;
  },
};
