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
import type { RobustRing } from './baselines/robust-ring.ts';
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
import { formatLocalHour, isHoliday, isOffDay, localHourOf, type LocalHour } from './buckets/local-hour.ts';
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
 *   score  = (x − centre) / max(σ, 30% of the centre, $1)   (σ = 1.2533·absdev or 1.4826·MAD)
 *   spike  = warm AND score > min_score AND x − centre ≥ min_impact_usd
 * Warm-up: the key was first seen min_history_hours ago and the slot has ≥ 3 values. Hours a key
 * spent nothing are zero-spend hours of its baseline (a night owl's 3am is not a developer's).
 * Holidays are judged as days off but never learnt: a lull is not a baseline.
 *
 * Episode: opens at the first spiking hour (id = kind, org, scope, subject, hour start); each
 * further spiking hour adds its excess to impact_usd; a new version on escalation (critical when
 * the hour's excess is ≥ 5× min_impact_usd and the score ≥ 2× min_score), or while critical when
 * the impact doubles. It resolves (a version with status 'resolved') at the first hour back under
 * the threshold (score ≤ 0.75 min_score or excess < half the dollar gate), an idle hour included.
 * A planned change for the team keeps it at 'info'. So does recurrence (recurrence.ts): an episode
 * that opens a whole number of weeks (±2 h, up to 6) after an earlier one of the key and costs at
 * most twice the biggest of them is a weekly schedule, not news, until it outgrows that.
 *
 * Fields: observed = the hour's spend, expected = the baseline centre (usd per hour); impact_usd =
 * spend above expected over the episode's hours; projected_usd = this hour's excess × hours until
 * the team is likely to look (calendar.ts).
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
}

/** One tracked key. Numbers live in flat arrays: an array of doubles costs a fraction of an object of them. */
export interface SpikeKey {
  team: string;
  /** [first hour seen, last hour judged, hour of the last spend, …EWMA profile (developer scope)]. */
  v: number[];
  /** Team scope: the last 8 values per hour slot. Developer scope: null. */
  r: RobustRing | null;
  /** Open hour buckets, flat [hour, cost, …] ascending. */
  open: number[];
  ep: SpikeEpisode | null;
  /** The developer×model (or team×model) keys under this developer (team) key, by model; null until one exists. */
  m: Record<string, SpikeKey> | null;
  /** When its last episodes opened and what they cost, flat [hour, impact, …] (recurrence.ts); null until it spikes. */
  w: number[] | null;
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
const TEAM_RING = 8;
const ALPHA = 0.05;
const MIN_SLOT_VALUES = 3;
const SCALE_FLOOR_SHARE = 0.3;
const SCALE_FLOOR_USD = 1;
const CRITICAL_IMPACT_FACTOR = 5;
const CRITICAL_SCORE_FACTOR = 2;
/** A key idle longer than this is not zero-filled hour by hour: a week of zeros already says "idle" to every slot. */
const MAX_FILL_HOURS = 168;
const NONE: readonly Anomaly[] = Object.freeze([]);

type Scope = 'developer' | 'team';

function newKey(team: string, hour: number, scope: Scope): SpikeKey {
  // Built at its final length: an array grown by spread or push keeps spare capacity.
  const v = scope === 'developer' ? createEwmaProfile(DEV_SLOTS_PER_DAY * 2 + PROFILE_AT) : [0, 0, 0];
  v[0] = hour;
  v[1] = hour - HOUR_MS;
  v[2] = hour;
  return {
    team,
    v,
    r: scope === 'team' ? createRingProfile(TEAM_SLOTS_PER_DAY * 2, TEAM_RING) : null,
    open: [],
    ep: null,
    m: null,
    w: null,
  };
}

/** Adds spend to the key of `who` and to its ×`model` key. */
function addSpend(
  state: SpendSpikeState,
  org: string,
  who: string,
  model: string | undefined,
  team: string,
  hour: number,
  cost: number,
  scope: Scope,
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
      k = newKey(team, hour, scope);
      byWho[who] = k;
    }
    if (model !== undefined) {
      k.m ??= {};
      km = k.m[model];
      if (km === undefined) {
        km = newKey(team, hour, scope);
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
  addToKey(state, k, org, who, undefined, team, hour, cost);
  if (km !== undefined) addToKey(state, km, org, who, model, team, hour, cost);
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
}

function keyOf(state: SpendSpikeState, path: readonly string[]): SpikeKey | undefined {
  const [org = '', who = '', model] = path;
  const k = state.keys[org]?.[who];
  return model === undefined ? k : (k?.m?.[model] ?? undefined);
}

function expectation(k: SpikeKey, local: LocalHour, off: boolean): { slot: number; exp: Expectation } {
  if (k.r !== null) {
    const slot = seasonalSlot(off, local.hour, TEAM_SLOTS_PER_DAY);
    return { slot, exp: ringExpectation(k.r, slot) };
  }
  const slot = seasonalSlot(off, local.hour, DEV_SLOTS_PER_DAY);
  return { slot, exp: ewmaExpectation(k.v, slot + PROFILE_AT) };
}

function learn(k: SpikeKey, slot: number, x: number, clamp: number): void {
  if (k.r !== null) updateRingProfile(k.r, slot, x);
  else updateEwmaProfile(k.v, slot + PROFILE_AT, x, ALPHA, clamp);
}

/** Folds a zero into EWMA slot `slot` of `v` with the same clamp a judged hour would use. */
function learnZero(v: number[], slot: number, minScore: number): void {
  const i = slot * EWMA_FIELDS;
  const center = v[i] as number;
  const sigma = Math.max(ABS_DEV_TO_SIGMA * (v[i + 1] as number), SCALE_FLOOR_SHARE * center, SCALE_FLOOR_USD);
  updateEwmaAt(v, i, 0, ALPHA, minScore * sigma);
}

interface Judged {
  x: number;
  exp: Expectation;
  sigma: number;
  score: number;
  excess: number;
}

function judge(x: number, exp: Expectation): Judged {
  const sigma = Math.max(exp.sigma, SCALE_FLOOR_SHARE * exp.center, SCALE_FLOOR_USD);
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
      if (!isHoliday(local, cal)) learnZero(k.v, seasonalSlot(off, local.hour, DEV_SLOTS_PER_DAY) + PROFILE_AT, s.min_score);
      k.v[1] = h;
      continue;
    }
    const { slot, exp } = expectation(k, local, off);
    const j = judge(x, exp);
    if (x > 0 || k.ep !== null) {
      const history = (h - (k.v[0] as number)) / HOUR_MS + 1;
      const warm = history >= s.min_history_hours && exp.count >= MIN_SLOT_VALUES;
      const spiking = s.enabled && warm && j.score > s.min_score && j.excess >= s.min_impact_usd;
      if (warm && s.enabled) cfg.score?.(scorePoint(path, k, h, j, spiking, s, scope));
      const a = episodeStep(path, k, h, local, j, spiking, s, scope, cfg, watermark);
      if (a !== null) out.push(a);
    }
    if (!isHoliday(local, cal)) learn(k, slot, x, s.min_score * j.sigma);
    k.v[1] = h;
  }
}

function episodeStep(
  path: readonly string[],
  k: SpikeKey,
  h: number,
  local: LocalHour,
  j: Judged,
  spiking: boolean,
  s: SpendSpikeSettings,
  scope: Scope,
  cfg: SpendSpikeConfig,
  watermark: number,
): Anomaly | null {
  const ep = k.ep;
  const holding = spiking || (ep !== null && j.score > 0.75 * s.min_score && j.excess >= 0.5 * s.min_impact_usd);
  if (ep === null) {
    if (!spiking) return null;
    const earlier = recurrenceOf(k.w, h);
    const repeats = earlier !== undefined && j.excess <= RECURRENCE_GROWTH * earlier.impact ? earlier : undefined;
    const severity = repeats ? 'info' : plannedSeverity(severityOf(j, s), cfg.plannedChange(k.team, h));
    const e = openEpisode(KIND, idParts(path, scope), h, severity, j.excess, {
      at: h,
      label: 'spend in the hour',
      value: j.x,
      unit: 'usd',
    });
    k.ep = repeats ? { e, impact: j.excess, repeats } : { e, impact: j.excess };
    k.w = rememberOpening(k.w, h, j.excess);
    return toAnomaly(path, k, h, local, j, scope, cfg, watermark);
  }
  if (holding) {
    ep.impact += Math.max(0, j.excess);
    updateLatestImpact(k.w, ep.impact);
    // Outgrowing the episode it repeats makes it news again, for good.
    if (ep.repeats && ep.impact > RECURRENCE_GROWTH * ep.repeats.impact) delete ep.repeats;
    const severity = ep.repeats ? 'info' : plannedSeverity(severityOf(j, s), cfg.plannedChange(k.team, h));
    const change = updateEpisode(ep.e, severity, ep.impact, {}, { at: h, label: 'spend in the hour', value: j.x, unit: 'usd' });
    return change === null ? null : toAnomaly(path, k, h, local, j, scope, cfg, watermark);
  }
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
    min_impact_usd: s.min_impact_usd,
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
  const summary = resolved
    ? `Spend from ${subjectName} is back to usual: ${formatUsd(j.x)} in the hour from ${when}, after ${formatUsd(ep.impact)} above its usual level.`
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
    addSpend(state, event.org, event.developer, event.model, event.team, hour, event.cost_usd, 'developer');
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
    addSpend(state, bucket.org, bucket.team, bucket.model, bucket.team, bucket.hour, bucket.cost_usd, 'team');
    return teamResult(state, anomalies);
  },

  advance: (state, watermark, cfg, ctx) => ({ state, anomalies: closeAll(state, watermark, latenessOf(ctx), 'team', cfg) }),
  evict: evictIdle,
  size: countKeys,
};
