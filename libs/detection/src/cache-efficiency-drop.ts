import { UNATTRIBUTED } from '@burnrate/schemas';
import type { Anomaly, EvidencePoint, UsageEvent } from '@burnrate/schemas';
import { BASELINE_EXTRA_RETENTION_MS, latenessOf, stepResults, type BucketDetector } from './buckets/bucket-detector.ts';
import { seasonalSlot } from './baselines/seasonal.ts';
import {
  createShareProfile,
  learnShare,
  profileLearntAt,
  profileShare,
  profileWeeks,
  shareProfile,
  skipShareHour,
  type ShareProfile,
} from './baselines/share-profile.ts';
import {
  bucketIndex,
  HOUR_MS,
  isClosedHour,
  closesAfter,
  hourOf,
  lastClosedHour,
  stepHour,
  weightedTokens,
  withBucket,
  withoutOldest,
  type HourBucket,
} from './buckets/hourly.ts';
import { countKeys, deleteKeys, forEachKey, getKey, setKey, type Keyed } from './buckets/keyed.ts';
import { formatHourOnDay, formatLocalHour, isOffDay, localHourOf } from './buckets/local-hour.ts';
import { changePhase, PLANNED, plannedAdvice, type PhaseAt } from './buckets/planned.ts';
import { hoursUntilAcknowledgement } from './calendar.ts';
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

/**
 * cache_efficiency_drop: the share of input tokens served from the prompt cache fell well below
 * the key's baseline — a discount lever lost (cache reads cost about a tenth of fresh input), often
 * to a tool or SDK update, a prompt prefix that now varies (a timestamp at the top), or a proxy
 * that drops cache_control.
 *
 * Scopes: `cacheEfficiencyDrop` over events for developer keys (stage A); `teamCacheEfficiencyDrop`
 * over HourBuckets for team keys (stage B, or `overEvents(...)` in one engine).
 *
 * Input = input_tokens + cache_read_tokens + cache_write_tokens; share = cache reads / input.
 * Developer scope leaves batch requests (`is_batch`) out: a batch job is priced and cached apart,
 * and a developer's uncached batch run is not their interactive caching breaking. Hours are closed
 * like spend_spike's (watermark past the hour's end + allowed lateness; later spend is counted as
 * late). An hour with under 20k input tokens says nothing and is skipped.
 * The baseline is the token-weighted share over the past, each hour's tokens decaying with a time
 * constant of `baseline_days` (so it is the share of the last week or so, and a lasting change is
 * absorbed over days rather than alerting forever). Warm-up: min(baseline_days, 3) days of history.
 *
 * Developer keys keep one baseline per provider × model family (at most MAX_FAMILIES a developer,
 * each ≤ 1 KB): a developer's Claude Code sessions and their gpt-5 runs cache nothing alike, and
 * judging one against the other's share calls a switch of model a broken cache. A family new to
 * the developer starts its own baseline and warms up; a provider or model without a prompt cache
 * learns a share near 0 and so can never fall `min_drop_points` under it. A family past the
 * fourth is not tracked until one of the others has been idle long enough to be evicted. The
 * family slots are a small array per developer, found by the event's own provider and family
 * strings (no key is built per event).
 *
 * Team keys keep one baseline per team, per local hour × {working day, day off} (48 slots): a
 * team's hours mix different sources — a nightly batch job that never caches much is the team's
 * whole 02:00, and its usual 19% is not a drop from the daytime 70%. A slot is warm once it has
 * values from `min_season_weeks` distinct local weeks (Monday to Sunday), not after a count of
 * hours: a new team's first weekend, even a long one with holidays, is never judged against its
 * own first days. Team keys are not split by provider × family: usage.rollups.v1 carries the raw
 * model only (no provider, family or is_batch), and a season per family would multiply the team
 * key's memory; the season already separates a team's recurring batch hours.
 *
 * A closed hour is low when its share is ≥ `min_drop_points` under the baseline. Its extra cost
 * is the input that would have been cache reads at the baseline share, paid at the full input
 * price: (baseline share − share) × input × 0.9 × price per input token, the price estimated from
 * the hour's own cost and tokens with Anthropic's ratios (cache read 0.1×, cache write 1.25×,
 * output 5× input). Consecutive low hours (hours between half and the full drop keep the run
 * going) form a run; when the run's extra cost reaches `min_impact_usd` the episode opens, with
 * its start at the first low hour ("caching broke after 14:00 on Tue"). Each further low hour
 * adds to impact_usd; new versions on escalation (critical from 10× the gate) and growth while
 * critical. It resolves after `cool_down_hours` judged hours in a row back within half the points
 * of the baseline (also when the baseline has absorbed a lasting change over days: the text then
 * says caching may still be broken). Hours with too little input to say are skipped and neither
 * count nor break the run of normal hours. A low hour before that continues the same episode: a
 * cache that comes back for an hour or two and breaks again (or a team's night hours whose own
 * baseline is low) is one problem, not a page each time. A run that never reached the gate is
 * forgotten at the first normal hour.
 *
 * Planned changes (buckets/planned.ts), judged at the hour being judged: inside one and on the
 * settling day after it, anomalies stay at info, and hours inside one are never learnt. A cache
 * share that stays low after the settling day does page: unlike a model choice, a lost cache
 * discount is rarely what anyone planned to keep.
 *
 * Fields: observed / expected = cache-read share now / baseline (percent); impact_usd = extra
 * cost of uncached input since the break; projected_usd = the last low hour's extra cost × hours
 * until the team is likely to look.
 *
 * Config (`CacheEfficiencyDropConfig`, a DetectorEnv): settingsFor({ team, developer? }) →
 * detectors.cache_efficiency_drop with overrides; calendarFor(team) (zone for local times in
 * the text); plannedChange(team, atMs) for kind cache_efficiency_drop.
 */

export interface CacheEfficiencyDropSettings {
  enabled: boolean;
  min_impact_usd: number;
  min_drop_points: number;
  baseline_days: number;
  cool_down_hours: number;
  min_season_weeks: number;
}

export type CacheEfficiencyDropConfig = DetectorEnv<CacheEfficiencyDropSettings>;

export interface CacheEpisode {
  e: Episode;
  /** Extra cost of the last low hour, the base of projections. */
  rate: number;
  /** Baseline share when the episode opened: a resolution while still under it is a new normal, not a fix. */
  baseShare: number;
}

export interface CacheKey {
  team: string;
  /**
   * [first hour seen, last hour judged, hour of the last spend, baseline cache-read tokens,
   * baseline input tokens, hour the baseline was last updated, run start hour (0 = no run),
   * run extra cost, consecutive normal hours].
   */
  v: number[];
  /** Open hour buckets, flat [hour, input tokens, cache-read tokens, cost, price-weighted tokens]. */
  open: number[];
  ep: CacheEpisode | null;
  /**
   * Team scope: the baseline share per local hour × day type (see seasonalSlot), with the
   * distinct local weeks each slot learnt in (snapshots from before counted hours there, never
   * fewer than weeks). Developer scope: null.
   */
  season: ShareProfile | null;
}

/** A developer's baseline for one provider × model family ('' for both: restored from before there were families, see `upgrade`). */
export interface FamilyCacheKey extends CacheKey {
  provider: string;
  family: string;
}

/**
 * Per org, then developer (developer scope: `Keyed<FamilyCacheKey[]>`, a slot per provider × model
 * family) or team (team scope: `Keyed<CacheKey>`); see buckets/keyed.ts.
 */
export interface CacheEfficiencyDropState<Held = CacheKey> {
  keys: Keyed<Held>;
  /** Keys with an open bucket as [org, who] (the event's own strings), in the order they got one: the hourly close visits only these. */
  active: string[][];
  /** Every key has been judged through this hour; 0 before the first. */
  closed: number;
  late: number;
  /** Eviction cutoff (an hour) of the last sweep. */
  swept: number;
}

const KIND = 'cache_efficiency_drop';
const FIRST = 0;
const JUDGED = 1;
const LAST_SPEND = 2;
const BASE_READ = 3;
const BASE_INPUT = 4;
const BASE_AT = 5;
const RUN_START = 6;
const RUN_EXTRA = 7;
const NORMAL_HOURS = 8;
const STRIDE = 5;
const MIN_HOUR_INPUT_TOKENS = 20_000;
const MAX_WARMUP_DAYS = 3;
const CACHE_READ_DISCOUNT = 0.9;
const CRITICAL_IMPACT_FACTOR = 10;
const SEASON_SLOTS_PER_DAY = 24;
const MAX_FAMILIES = 4;
const NONE: readonly Anomaly[] = Object.freeze([]);

type Scope = 'developer' | 'team';
export type DeveloperCacheState = CacheEfficiencyDropState<FamilyCacheKey[]>;
type AnyCacheState = CacheEfficiencyDropState<CacheKey> | DeveloperCacheState;

/**
 * The key of the last spend added, by state: consecutive events mostly come from one session, and
 * the string-keyed lookups are the dearest part of a step. A pure cache outside the state: keys
 * leave a state only in `evictIdle`, which clears it, and a restored state is a new object.
 * Team keys are remembered with '' for provider and family.
 */
const last: { state: AnyCacheState | null; org: string; who: string; provider: string; family: string; key: CacheKey | null } = {
  state: null,
  org: '',
  who: '',
  provider: '',
  family: '',
  key: null,
};

function remember(state: AnyCacheState, org: string, who: string, provider: string, family: string, k: CacheKey): void {
  last.state = state;
  last.org = org;
  last.who = who;
  last.provider = provider;
  last.family = family;
  last.key = k;
}

const isLast = (state: AnyCacheState, org: string, who: string, provider: string, family: string): boolean =>
  last.state === state && last.who === who && last.family === family && last.provider === provider && last.org === org;

/** [first hour seen, last hour judged, hour of the last spend, …] of a key first seen at `hour` (see CacheKey.v). */
const newValues = (hour: number): number[] => [hour, hour - HOUR_MS, hour, 0, 0, hour, 0, 0, 0];

/**
 * The developer's baseline for this provider × model family: found among their few slots by the
 * event's own strings, made when there is room; null when the developer already has MAX_FAMILIES.
 */
function familyKey(state: DeveloperCacheState, e: UsageEvent, hour: number): FamilyCacheKey | null {
  const { org, developer, provider, model_family: family } = e;
  if (isLast(state, org, developer, provider, family)) return last.key as FamilyCacheKey;
  const slots = getKey(state.keys, org, developer);
  let k = slots === undefined ? null : findFamily(slots, provider, family);
  if (k === null) {
    if (slots !== undefined && slots.length >= MAX_FAMILIES) return null;
    k = { team: e.team, provider, family, v: newValues(hour), open: [], ep: null, season: null };
    // Exact-length arrays: one grown by push keeps spare capacity, most of a key's memory.
    setKey(state.keys, org, developer, slots === undefined ? [k] : [...slots, k]);
  }
  remember(state, org, developer, provider, family, k);
  return k;
}

function findFamily(slots: FamilyCacheKey[], provider: string, family: string): FamilyCacheKey | null {
  for (const k of slots) if (k.family === family && k.provider === provider) return k;
  // A baseline restored from before families (see `upgrade`) goes on as the first family seen.
  for (const k of slots) {
    if (k.family === '' && k.provider === '') {
      k.provider = provider;
      k.family = family;
      return k;
    }
  }
  return null;
}

function teamKey(state: CacheEfficiencyDropState, org: string, team: string, hour: number): CacheKey {
  if (isLast(state, org, team, '', '')) return last.key as CacheKey;
  let k = getKey(state.keys, org, team);
  if (k === undefined) {
    k = { team, v: newValues(hour), open: [], ep: null, season: createShareProfile(2 * SEASON_SLOTS_PER_DAY) };
    setKey(state.keys, org, team, k);
  }
  remember(state, org, team, '', '', k);
  return k;
}

/**
 * Adds spend to the key's bucket of `hour` (counted as late when that hour was judged already).
 * True when it opened the key's first open bucket: the caller lists the key as active.
 */
function addTokens(
  state: AnyCacheState,
  k: CacheKey,
  team: string,
  hour: number,
  input: number,
  cacheRead: number,
  cost: number,
  weighted: number,
): boolean {
  if (team !== k.team && team !== UNATTRIBUTED) {
    k.team = team;
  }
  const v = k.v;
  if (hour <= (v[JUDGED] as number)) {
    state.late += 1;
    return false;
  }
  let open = k.open;
  let i = open.length - STRIDE;
  let first = false;
  // Most events land in the newest open hour: no scan, no new array.
  if (i < 0 || open[i] !== hour) {
    first = open.length === 0;
    open = withBucket(open, STRIDE, hour);
    k.open = open;
    i = bucketIndex(open, STRIDE, hour);
  }
  open[i + 1] = (open[i + 1] as number) + input;
  open[i + 2] = (open[i + 2] as number) + cacheRead;
  open[i + 3] = (open[i + 3] as number) + cost;
  open[i + 4] = (open[i + 4] as number) + weighted;
  if (hour > (v[LAST_SPEND] as number)) v[LAST_SPEND] = hour;
  return first;
}

/** Whether a key other than `k` among a developer's slots has an open bucket (then the developer is listed as active already). */
function otherOpen(slots: readonly CacheKey[], k: CacheKey): boolean {
  for (const other of slots) if (other !== k && other.open.length > 0) return true;
  return false;
}

interface HourView {
  hour: number;
  share: number;
  baseShare: number;
  extra: number;
}

/** Judges the key's closed buckets (hours without one carry no evidence and are skipped). */
function judgeThrough(
  path: readonly string[],
  k: CacheKey,
  through: number,
  scope: Scope,
  cfg: CacheEfficiencyDropConfig,
  watermark: number,
  out: Anomaly[],
): void {
  const v = k.v;
  if (k.open.length === 0 || (k.open[0] as number) > through) {
    if ((v[JUDGED] as number) < through) v[JUDGED] = through;
    return;
  }
  const s = cfg.settingsFor({ team: k.team, developer: scope === 'developer' ? path[1] : undefined });
  const cal = cfg.calendarFor(k.team);
  const season = k.season;
  while (k.open.length > 0 && (k.open[0] as number) <= through) {
    const [hour = 0, input = 0, cacheRead = 0, cost = 0, weighted = 0] = k.open;
    k.open = withoutOldest(k.open, STRIDE, 1);
    v[JUDGED] = hour;
    if (input < MIN_HOUR_INPUT_TOKENS) continue;
    const baseInput = v[BASE_INPUT] as number;
    let baseShare = baseInput > 0 ? (v[BASE_READ] as number) / baseInput : 0;
    let warm = hour - (v[FIRST] as number) >= 24 * HOUR_MS * Math.min(s.baseline_days, MAX_WARMUP_DAYS) && baseInput > 0;
    let slot = -1;
    let week = 0;
    if (season !== null) {
      const local = localHourOf(hour, cal.timeZone);
      slot = seasonalSlot(isOffDay(local, cal), local.hour, SEASON_SLOTS_PER_DAY);
      week = localWeek(local.day);
      baseShare = profileShare(season, slot);
      warm &&= profileWeeks(season, slot) >= s.min_season_weeks;
    }
    const share = cacheRead / input;
    const drop = 100 * (baseShare - share);
    const price = weighted > 0 ? cost / weighted : 0;
    const view: HourView = { hour, share, baseShare, extra: Math.max(0, baseShare - share) * input * CACHE_READ_DISCOUNT * price };
    const phase = changePhase(cfg, k.team, cal, hour);
    const a = warm ? runStep(path, k, view, drop, s, scope, cfg, watermark, phase) : null;
    if (a !== null) out.push(a);
    if (warm && s.enabled) cfg.score?.(scorePoint(path, k, hour, drop, s, scope));

    // Learn after judging: the hour being judged is never part of its own baseline, and an hour
    // of a planned change is never part of any. Nor does it age the baseline: after a migration
    // week the baseline is the week before it, not a faded copy that the first hours after
    // outweigh.
    if (phase.phase === PLANNED) {
      v[BASE_AT] = hour;
      if (season !== null) skipShareHour(season, slot, hour);
      continue;
    }
    const tau = 24 * s.baseline_days;
    const decay = Math.exp(-((hour - (v[BASE_AT] as number)) / HOUR_MS) / tau);
    v[BASE_READ] = (v[BASE_READ] as number) * decay + cacheRead;
    v[BASE_INPUT] = baseInput * decay + input;
    v[BASE_AT] = hour;
    if (season !== null) {
      const last = profileLearntAt(season, slot);
      learnShare(season, slot, hour, cacheRead, input, tau, last === 0 || localWeek(localHourOf(last, cal.timeZone).day) !== week);
    }
  }
  if ((v[JUDGED] as number) < through) v[JUDGED] = through;
}

function runStep(
  path: readonly string[],
  k: CacheKey,
  h: HourView,
  drop: number,
  s: CacheEfficiencyDropSettings,
  scope: Scope,
  cfg: CacheEfficiencyDropConfig,
  watermark: number,
  phase: PhaseAt,
): Anomaly | null {
  const v = k.v;
  const low = drop >= s.min_drop_points;
  const normal = drop < s.min_drop_points / 2;
  if (normal) {
    v[NORMAL_HOURS] = (v[NORMAL_HOURS] as number) + 1;
    if (k.ep === null) {
      v[RUN_START] = 0;
      v[RUN_EXTRA] = 0;
      return null;
    }
    if (v[NORMAL_HOURS] < s.cool_down_hours) return null;
    resolveEpisode(k.ep.e, { at: h.hour, label: 'cache-read share of input, back to usual', value: 100 * h.share, unit: 'percent' });
    const a = toAnomaly(path, k, h, scope, cfg, watermark, phase);
    k.ep = null;
    v[RUN_START] = 0;
    v[RUN_EXTRA] = 0;
    return a;
  }
  v[NORMAL_HOURS] = 0;
  if (!low && v[RUN_START] === 0) return null;
  if (v[RUN_START] === 0) v[RUN_START] = h.hour;
  v[RUN_EXTRA] = (v[RUN_EXTRA] as number) + h.extra;
  const impact = v[RUN_EXTRA];
  if (!s.enabled || impact < s.min_impact_usd) return null;
  const start = v[RUN_START] as number;
  // The hour judged decides, not the run's start: a run that began on an ordinary Saturday night
  // and crosses the gate inside a planned change is the change's doing as much as anything.
  const severity = plannedSeverity(impact >= CRITICAL_IMPACT_FACTOR * s.min_impact_usd ? 'critical' : 'warning', phase.note);
  const mark = { at: h.hour, label: 'cache-read share of input that hour', value: 100 * h.share, unit: 'percent' };
  if (k.ep === null) {
    const [org = '', who = ''] = path;
    const family = familyOf(k, scope);
    const parts = family === null ? [org, scope, who] : [org, scope, who, family.provider, family.family];
    k.ep = { e: openEpisode(KIND, parts, start, severity, impact, mark), rate: h.extra, baseShare: h.baseShare };
    return toAnomaly(path, k, h, scope, cfg, watermark, phase);
  }
  k.ep.rate = h.extra;
  return updateEpisode(k.ep.e, severity, impact, {}, mark) === null ? null : toAnomaly(path, k, h, scope, cfg, watermark, phase);
}

/**
 * The hour's drop in cache-read share against `min_drop_points`, with the extra cost of the run of
 * low hours it belongs to (0 once the run is over), for a backtest's scores.
 */
function scorePoint(
  path: readonly string[],
  k: CacheKey,
  hour: number,
  drop: number,
  s: CacheEfficiencyDropSettings,
  scope: Scope,
): ScorePoint {
  const impact = k.v[RUN_EXTRA] as number;
  return {
    kind: KIND,
    subject: subjectOf(path, k, scope),
    at: hour,
    score: drop,
    threshold: s.min_drop_points,
    unit: 'points',
    severity:
      drop < s.min_drop_points || impact < s.min_impact_usd
        ? null
        : impact >= CRITICAL_IMPACT_FACTOR * s.min_impact_usd
          ? 'critical'
          : 'warning',
    impact_usd: impact,
    min_impact_usd: s.min_impact_usd,
  };
}

/** The provider and model family of a developer's baseline; null for a team's (one baseline a team). */
const familyOf = (k: CacheKey, scope: Scope): FamilyCacheKey | null => (scope === 'developer' ? (k as FamilyCacheKey) : null);

/** A developer's anomaly is about one model family (`model`); a team's about the whole team. */
function subjectOf(path: readonly string[], k: CacheKey, scope: Scope): Anomaly['subject'] {
  const [org = '', who = ''] = path;
  const family = familyOf(k, scope);
  if (family === null) return { org, team: k.team };
  return family.family === '' ? { org, team: k.team, developer: who } : { org, team: k.team, developer: who, model: family.family };
}

/** Local week, Monday to Sunday, of a local day number (day 0, 1970-01-01, was a Thursday). */
const localWeek = (day: number): number => Math.floor((day + 3) / 7);

function pct(x: number): string {
  return `${Math.round(100 * x)}%`;
}

function toAnomaly(
  path: readonly string[],
  k: CacheKey,
  h: HourView,
  scope: Scope,
  cfg: CacheEfficiencyDropConfig,
  watermark: number,
  phase: PhaseAt,
): Anomaly {
  const ep = k.ep as CacheEpisode;
  const who = path[1] ?? '';
  const cal = cfg.calendarFor(k.team);
  const resolved = ep.e.status === 'resolved';
  const impact = k.v[RUN_EXTRA] as number;
  const family = familyOf(k, scope);
  const subjectName = family === null ? `team ${k.team}` : family.family === '' ? who : `${who} on ${family.family} (${family.provider})`;
  const broke = localHourOf(ep.e.start, cal.timeZone);
  const brokeText = `${formatHourOnDay(broke)} (${cal.timeZone})`;

  const evidence: EvidencePoint[] = [
    ...markEvidence(ep.e),
    { at: iso(h.hour), label: 'cache-read share of input in the baseline', value: roundMoney(100 * h.baseShare), unit: 'percent' },
  ];
  const settled = resolved && 100 * (ep.baseShare - h.share) >= 15;
  const summary = settled
    ? `The cache-read share of the input of ${subjectName} has stayed at ${pct(h.share)} since ${brokeText} (it was ${pct(ep.baseShare)}); it is now the baseline, so this episode closes.`
    : resolved
      ? `Prompt caching for ${subjectName} is back: ${pct(h.share)} of input tokens were cache reads in the hour from ${formatLocalHour(localHourOf(h.hour, cal.timeZone))}, near the usual ${pct(h.baseShare)}.`
      : `Only ${pct(h.share)} of the input tokens of ${subjectName} were cache reads in the hour from ${formatLocalHour(localHourOf(h.hour, cal.timeZone))}, down from ${pct(h.baseShare)}; the lost cache discount has cost about ${formatUsd(impact)} since ${brokeText}.`;
  const advice =
    (settled
      ? `If nobody chose this, caching is still broken since ${brokeText}: check the tool or SDK version and whether the prompt's start varies.`
      : resolved
        ? 'No action needed now.'
        : `Caching broke after ${brokeText}: check what changed then — a tool or SDK update, a prompt whose start now varies (a timestamp, a reordered tool list or system prompt), or a proxy dropping cache_control.`) +
    plannedAdvice(phase);

  return {
    ...episodeFields(ep.e),
    kind: KIND,
    subject: subjectOf(path, k, scope),
    window: { start: iso(ep.e.start), end: iso(h.hour + HOUR_MS) },
    observed: { value: roundMoney(100 * h.share), unit: 'percent' },
    expected: { value: roundMoney(100 * h.baseShare), unit: 'percent' },
    impact_usd: roundMoney(impact),
    projected_usd: resolved ? 0 : roundMoney(ep.rate * hoursUntilAcknowledgement(cal, watermark)),
    evidence: sortedEvidence(evidence),
    summary,
    advice,
    detected_at: iso(watermark),
  };
}

/** Judges every active key through the last closed hour: each family slot of a developer, or a team's one key. */
function closeAll<Held>(
  state: CacheEfficiencyDropState<Held>,
  watermark: number,
  lateness: number,
  scope: Scope,
  cfg: CacheEfficiencyDropConfig,
): readonly Anomaly[] {
  if (!closesAfter(state.closed, watermark, lateness)) return NONE;
  const through = lastClosedHour(watermark, lateness);
  if (through <= state.closed) return NONE;
  state.closed = through;
  let out: Anomaly[] | null = null;
  const stillActive: string[][] = [];
  for (const path of state.active) {
    const [org = '', who = ''] = path;
    const held = getKey(state.keys, org, who);
    if (held === undefined) continue;
    const found: Anomaly[] = [];
    let open = false;
    if (scope === 'developer') {
      for (const k of held as FamilyCacheKey[]) {
        judgeThrough(path, k, through, scope, cfg, watermark, found);
        open ||= k.open.length > 0;
      }
    } else {
      const k = held as CacheKey;
      judgeThrough(path, k, through, scope, cfg, watermark, found);
      open = k.open.length > 0;
    }
    if (found.length > 0) (out ??= []).push(...found);
    if (open) stillActive.push(path);
  }
  state.active = stillActive;
  return out ?? NONE;
}

/** The hour before which a key's last spend makes it idle, once per cutoff hour; null when this hour was swept already. */
function sweepCutoff(state: AnyCacheState, idleBeforeMs: number): number | null {
  // Keys are idle by the hour of their last spend: one sweep per cutoff hour finds them all.
  const cutoff = hourOf(idleBeforeMs - BASELINE_EXTRA_RETENTION_MS);
  if (state.swept === cutoff) return null;
  state.swept = cutoff;
  if (last.state === state) last.state = null;
  return cutoff;
}

const isIdle = (k: CacheKey, cutoff: number): boolean => (k.v[LAST_SPEND] as number) < cutoff && k.open.length === 0;

function evictIdleTeams(state: CacheEfficiencyDropState, idleBeforeMs: number): CacheEfficiencyDropState {
  const cutoff = sweepCutoff(state, idleBeforeMs);
  if (cutoff !== null) deleteKeys(state.keys, (k) => isIdle(k, cutoff));
  return state;
}

function evictIdleFamilies(state: DeveloperCacheState, idleBeforeMs: number): DeveloperCacheState {
  const cutoff = sweepCutoff(state, idleBeforeMs);
  if (cutoff === null) return state;
  for (const org in state.keys) {
    const byDeveloper = state.keys[org] as Record<string, FamilyCacheKey[]>;
    for (const who in byDeveloper) {
      const slots = byDeveloper[who] as FamilyCacheKey[];
      if (slots.some((k) => isIdle(k, cutoff))) byDeveloper[who] = slots.filter((k) => !isIdle(k, cutoff));
    }
  }
  deleteKeys(state.keys, (slots) => slots.length === 0);
  return state;
}

function countFamilies(state: DeveloperCacheState): number {
  let n = 0;
  for (const org in state.keys) for (const who in state.keys[org]) n += (state.keys[org]?.[who] as FamilyCacheKey[]).length;
  return n;
}

const initialState = (): CacheEfficiencyDropState<never> => ({ keys: {}, active: [], closed: 0, late: 0, swept: 0 });
const devResult = stepResults<DeveloperCacheState>();
const teamResult = stepResults<CacheEfficiencyDropState>();

/** Developer keys, one per provider × model family, over events (stage A). */
export const cacheEfficiencyDrop: Detector<DeveloperCacheState, CacheEfficiencyDropConfig> = {
  kind: KIND,
  initialState,

  step(state, event: UsageEvent, cfg, ctx: StepContext): StepResult<DeveloperCacheState> {
    const lateness = latenessOf(ctx);
    const anomalies = closeAll(state, ctx.watermark, lateness, 'developer', cfg);
    const input = event.input_tokens + event.cache_read_tokens + event.cache_write_tokens;
    if (event.developer === UNATTRIBUTED || input === 0 || event.is_batch) return devResult(state, anomalies);
    const hour = stepHour(event, ctx.occurredAt);
    if (ctx.late === true || isClosedHour(hour, ctx.watermark, lateness)) {
      state.late += 1;
      return devResult(state, anomalies);
    }
    const k = familyKey(state, event, hour);
    if (k === null) return devResult(state, anomalies);
    const weighted = weightedTokens(event.input_tokens, event.cache_read_tokens, event.cache_write_tokens, event.output_tokens);
    if (addTokens(state, k, event.team, hour, input, event.cache_read_tokens, event.cost_usd, weighted)) {
      const slots = getKey(state.keys, event.org, event.developer) as FamilyCacheKey[];
      if (!otherOpen(slots, k)) state.active.push([event.org, event.developer]);
    }
    return devResult(state, anomalies);
  },

  advance: (state, watermark, cfg, ctx) => ({ state, anomalies: closeAll(state, watermark, latenessOf(ctx), 'developer', cfg) }),
  evict: evictIdleFamilies,
  size: countFamilies,

  upgrade(restored) {
    // Snapshots from before baselines per provider × model family hold one key per developer: it
    // becomes the developer's one slot, claimed by the first family seen (see findFamily), so
    // baselines and open episodes go on.
    const state = restored as CacheEfficiencyDropState<FamilyCacheKey[] | CacheKey>;
    for (const org in state.keys) {
      const byDeveloper = state.keys[org] as Record<string, FamilyCacheKey[] | CacheKey>;
      for (const who in byDeveloper) {
        const held = byDeveloper[who] as FamilyCacheKey[] | CacheKey;
        if (!Array.isArray(held)) {
          const { team, v, open, ep, season } = held;
          // In the order new keys are built, so restored and new keys share one object shape.
          byDeveloper[who] = [{ team, provider: '', family: '', v, open, ep, season }];
        }
      }
    }
    return state as DeveloperCacheState;
  },
};

/** Team keys, over hour buckets (stage B rollups). */
export const teamCacheEfficiencyDrop: BucketDetector<CacheEfficiencyDropState, CacheEfficiencyDropConfig> = {
  kind: KIND,
  initialState,

  step(state, b: HourBucket, cfg, ctx) {
    const lateness = latenessOf(ctx);
    const anomalies = closeAll(state, ctx.watermark, lateness, 'team', cfg);
    const input = b.input_tokens + b.cache_read_tokens + b.cache_write_tokens;
    if (input === 0) return teamResult(state, anomalies);
    if (isClosedHour(b.hour, ctx.watermark, lateness)) {
      state.late += 1;
      return teamResult(state, anomalies);
    }
    const weighted = weightedTokens(b.input_tokens, b.cache_read_tokens, b.cache_write_tokens, b.output_tokens);
    const k = teamKey(state, b.org, b.team, b.hour);
    if (addTokens(state, k, b.team, b.hour, input, b.cache_read_tokens, b.cost_usd, weighted)) state.active.push([b.org, b.team]);
    return teamResult(state, anomalies);
  },

  advance: (state, watermark, cfg, ctx) => ({ state, anomalies: closeAll(state, watermark, latenessOf(ctx), 'team', cfg) }),
  evict: evictIdleTeams,
  size: (state) => countKeys(state.keys),

  upgrade(restored) {
    // Seasons serialise as flat number arrays (see ShareProfile): packed again here.
    const state = restored as CacheEfficiencyDropState;
    forEachKey(state.keys, (k) => {
      if (k.season !== null) k.season = shareProfile(k.season);
    });
    return state;
  },
};
