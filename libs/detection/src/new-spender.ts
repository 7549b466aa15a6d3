import { UNATTRIBUTED } from '@burnrate/schemas';
import type { Anomaly, EvidencePoint, Severity, UsageEvent } from '@burnrate/schemas';
import { hoursUntilAcknowledgement } from './calendar.ts';
import type { Detector, DetectorEnv, ScorePoint, StepResult } from './detector.ts';
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
import { formatDuration, formatUsd, roundMoney } from './format.ts';

/**
 * new_spender (org scope): spend from an identity nobody has seen (shadow AI).
 *
 * Identities: a developer the config does not know (team 'unattributed'; its id is the developer,
 * or the API key when even that is unknown), and an API key, tool or provider never seen in the
 * org. Everything seen during the org's first LEARNING_MS of event time (7 days) is learnt
 * silently, except unattributed developers, which are a signal from the first day.
 *
 * A new identity becomes a candidate at its first event, and one episode opens when its spend
 * reaches `min_impact_usd` (id = hash(kind, org, dimension, value, first seen)):
 * - an unattributed developer counts all its spend since first seen, however thinly spread: its
 *   spend is unowned for as long as it goes on, so a contractor who spends $3 an afternoon for a
 *   week is found on the second afternoon, not forgiven each night. The episode resolves after
 *   `window_hours` without spend;
 * - a new key, tool or provider counts its spend in the `window_hours` after first use, then it is
 *   known (the spend has an owner; only a quick start is worth a look).
 * One event introduces at most one candidate, the most telling: an unattributed developer, else a
 * new provider, else a new tool, else a new API key; the others are learnt with it, so one new
 * spender is one anomaly.
 * Severity: an unattributed spender is a warning (critical at CRITICAL_FACTOR × min_impact_usd):
 * nobody owns that spend. A new key, tool or provider used by a known developer is info: the spend
 * has an owner and a budget, it is worth seeing, not paging.
 * Resolution: the identity becomes known and its episode is resolved with what it spent; it is
 * never reported again (a later spike is spend_spike's job).
 *
 * Memory: known identities per org (last seen) are kept for KNOWN_RETENTION_MS past the engine's
 * idle horizon, at most MAX_KNOWN per org (the least recently seen go first); an unattributed
 * developer under the gate is remembered as long (its cents may add up); other candidates live for
 * one window. Late events are dropped by the engine (a late first sighting of a known-by-now
 * identity would be a false "new").
 *
 * Limit: in stage A each partition has its own view of the org (events are keyed by developer),
 * so a tool first used on another partition is new again here. Unattributed developers are exact
 * (one developer is one partition); keys, tools and providers are approximate until this moves
 * to an org-keyed stage.
 */

export interface NewSpenderSettings {
  enabled: boolean;
  min_impact_usd: number;
  window_hours: number;
}

export type NewSpenderConfig = DetectorEnv<NewSpenderSettings>;

type Dimension = 'developer' | 'provider' | 'tool' | 'api_key';

export interface Candidate {
  org: string;
  dimension: Dimension;
  value: string;
  team: string;
  developer: string;
  tool: string;
  provider: string;
  model: string;
  first: number;
  last: number;
  spend: number;
  events: number;
  episode: Episode | null;
}

export interface OrgIdentities {
  /** First event time of the org: the end of learning is `first + LEARNING_MS`. */
  first: number;
  /** `dimension:value` → last seen (epoch ms). */
  known: Record<string, number>;
  candidates: Record<string, Candidate>;
}

export interface NewSpenderState {
  orgs: Record<string, OrgIdentities>;
}

const KIND = 'new_spender';
const HOUR_MS = 3_600_000;
export const LEARNING_MS = 7 * 24 * HOUR_MS;
const KNOWN_RETENTION_MS = 90 * 24 * HOUR_MS;
const MAX_KNOWN = 20_000;
const CRITICAL_FACTOR = 20;
const NONE: readonly Anomaly[] = Object.freeze([]);

export const newSpender: Detector<NewSpenderState, NewSpenderConfig> = {
  kind: KIND,

  initialState: () => ({ orgs: {} }),

  step(state, event, cfg, ctx): StepResult<NewSpenderState> {
    const at = ctx.occurredAt ?? Date.parse(event.occurred_at);
    let org = state.orgs[event.org];
    if (org === undefined) {
      org = { first: at, known: {}, candidates: {} };
      state.orgs[event.org] = org;
    }
    const learning = at < org.first + LEARNING_MS;
    const out: Anomaly[] = [];
    let introduced = false;
    // Most telling first: see the header.
    if (event.team === UNATTRIBUTED) {
      const id = event.developer === UNATTRIBUTED && event.api_key_id !== undefined ? `key ${event.api_key_id}` : event.developer;
      introduced = see(org, 'developer', id, event, at, false, introduced, cfg, out);
    }
    introduced = see(org, 'provider', event.provider, event, at, learning, introduced, cfg, out);
    introduced = see(org, 'tool', event.tool, event, at, learning, introduced, cfg, out);
    if (event.api_key_id !== undefined) see(org, 'api_key', event.api_key_id, event, at, learning, introduced, cfg, out);
    return { state, anomalies: out.length === 0 ? NONE : out };
  },

  advance(state, watermark, cfg): StepResult<NewSpenderState> {
    let out: Anomaly[] | undefined;
    for (const org of Object.values(state.orgs)) {
      for (const key of Object.keys(org.candidates)) {
        const c = org.candidates[key] as Candidate;
        const settings = cfg.settingsFor({ team: c.team, developer: c.developer });
        const window = settings.window_hours * HOUR_MS;
        if (isUnowned(c) ? c.episode === null || watermark < c.last + window : watermark < c.first + window) continue;
        delete org.candidates[key];
        org.known[key] = c.last;
        const label = isUnowned(c) ? `no spend for ${settings.window_hours}h: now a known spender` : 'window over: now a known spender';
        if (c.episode !== null && resolveEpisode(c.episode, { at: watermark, label, value: c.spend, unit: 'usd' })) {
          if (settings.enabled) (out ??= []).push(toAnomaly(c, watermark, iso(watermark), settings, cfg));
        }
      }
    }
    return { state, anomalies: out ?? NONE };
  },

  evict(state, idleBeforeMs) {
    const cutoff = idleBeforeMs - KNOWN_RETENTION_MS;
    for (const org of Object.values(state.orgs)) {
      recents.delete(org);
      for (const key of Object.keys(org.candidates)) {
        const c = org.candidates[key] as Candidate;
        if (c.episode === null && c.last < cutoff) delete org.candidates[key];
      }
      let count = 0;
      for (const key of Object.keys(org.known)) {
        if ((org.known[key] as number) < cutoff) delete org.known[key];
        else count += 1;
      }
      if (count > MAX_KNOWN) {
        const oldest = Object.entries(org.known)
          .sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1))
          .slice(0, count - MAX_KNOWN);
        for (const [key] of oldest) delete org.known[key];
      }
    }
    return state;
  },

  size: (state) => {
    let n = 0;
    for (const org of Object.values(state.orgs)) n += Object.keys(org.known).length + Object.keys(org.candidates).length;
    return n;
  },
};

/**
 * Records one identity of an event; returns whether a candidate has been introduced by this event
 * (the caller's `introduced`, or this one).
 */
function see(
  org: OrgIdentities,
  dimension: Dimension,
  value: string,
  e: UsageEvent,
  at: number,
  learning: boolean,
  introduced: boolean,
  cfg: NewSpenderConfig,
  out: Anomaly[],
): boolean {
  const recent = recentOf(org);
  const slot = DIMENSION_SLOT[dimension];
  // Last seen only decides retention (90 days), so an hour of slack saves a write per event, and
  // the identity just looked up is answered without building its key.
  if (recent.values[slot] === value && at <= (recent.known[slot] as number) + HOUR_MS) return introduced;
  const key = `${dimension}:${value}`;
  const last = org.known[key];
  if (last !== undefined) {
    let stored = last;
    if (at > last + HOUR_MS) {
      org.known[key] = at;
      stored = at;
    }
    recent.values[slot] = value;
    recent.known[slot] = stored;
    return introduced;
  }
  let c = org.candidates[key];
  if (c === undefined) {
    if (learning || introduced) {
      org.known[key] = at;
      return introduced;
    }
    c = {
      org: e.org,
      dimension,
      value,
      team: e.team,
      developer: e.developer,
      tool: e.tool,
      provider: e.provider,
      model: e.model,
      first: at,
      last: at,
      spend: 0,
      events: 0,
      episode: null,
    };
    org.candidates[key] = c;
  }
  const settings = cfg.settingsFor({ team: c.team, developer: c.developer });
  if (!isUnowned(c) && (at < c.first || at >= c.first + settings.window_hours * HOUR_MS)) return true;
  c.spend += e.cost_usd;
  c.events += 1;
  if (at > c.last) c.last = at;
  const owned = c.dimension !== 'developer';
  const crossed: Severity = owned ? 'info' : c.spend >= CRITICAL_FACTOR * settings.min_impact_usd ? 'critical' : 'warning';
  if (settings.enabled) cfg.score?.(scorePoint(c, at, crossed, settings));
  if (!settings.enabled || c.spend < settings.min_impact_usd) return true;

  const severity = plannedSeverity(crossed, cfg.plannedChange(c.team, at));
  if (c.episode === null) {
    c.episode = openEpisode(KIND, [e.org, dimension, value], c.first, severity, c.spend, {
      at: c.first,
      label: 'first seen',
      value: 0,
      unit: 'usd',
    });
    addSpendMark(c, at);
  } else if (
    updateEpisode(
      c.episode,
      severity,
      c.spend,
      {},
      { at, label: isUnowned(c) ? 'unowned spend so far' : `spend in the first ${settings.window_hours}h`, value: c.spend, unit: 'usd' },
    ) === null
  ) {
    return true;
  }
  out.push(toAnomaly(c, at, e.occurred_at, settings, cfg));
  return true;
}

/**
 * Per org, the identity last found known in each dimension and its stored last-seen time: most
 * events repeat the provider, tool and key of the one before. Not state (a restored org is a new
 * object and starts without it); `evict` drops it with the known entries it may mirror.
 */
interface Recent {
  values: (string | undefined)[];
  known: Float64Array;
}

const DIMENSION_SLOT: Record<Dimension, number> = { developer: 0, provider: 1, tool: 2, api_key: 3 };
const recents = new WeakMap<OrgIdentities, Recent>();

function recentOf(org: OrgIdentities): Recent {
  let recent = recents.get(org);
  if (recent === undefined) {
    recent = { values: [undefined, undefined, undefined, undefined], known: new Float64Array(4) };
    recents.set(org, recent);
  }
  return recent;
}

/** A candidate's spend against the gate, for a backtest's scores. */
function scorePoint(c: Candidate, at: number, crossed: Severity, settings: NewSpenderSettings): ScorePoint {
  return {
    kind: KIND,
    subject: { org: c.org, team: c.team, developer: c.developer, model: c.model },
    at,
    score: c.spend,
    threshold: settings.min_impact_usd,
    unit: 'usd',
    severity: c.spend >= settings.min_impact_usd ? crossed : null,
  };
}

/** An unattributed developer: its spend has no owner for as long as it goes on. */
const isUnowned = (c: Candidate): boolean => c.dimension === 'developer';

function addSpendMark(c: Candidate, at: number): void {
  (c.episode as Episode).marks.push({ at, label: 'spend reached the gate', value: c.spend, unit: 'usd' });
}

const WHAT: Record<Dimension, string> = {
  developer: 'An unattributed spender',
  provider: 'A provider never used in the org before',
  tool: 'A tool never used in the org before',
  api_key: 'An API key never seen in the org before',
};

function toAnomaly(c: Candidate, at: number, detectedAt: string, settings: NewSpenderSettings, cfg: NewSpenderConfig): Anomaly {
  const ep = c.episode as Episode;
  const resolved = ep.status === 'resolved';
  const hours = Math.max(1, (c.last - c.first) / HOUR_MS);
  const cal = cfg.calendarFor(c.team);
  const projected = resolved ? 0 : roundMoney((c.spend / hours) * hoursUntilAcknowledgement(cal, at));
  const evidence: EvidencePoint[] = [
    ...markEvidence(ep),
    { at: iso(c.last), label: 'calls in the window', value: c.events, unit: 'calls' },
  ];
  const by = c.dimension === 'developer' ? '' : `, first used by ${c.developer} (${c.team})`;
  const summary = resolved
    ? isUnowned(c)
      ? `${WHAT[c.dimension]} (${c.value}) spent ${formatUsd(c.spend)} over ${formatDuration(c.last - c.first)} and none in the last ${settings.window_hours}h; it is now a known spender.`
      : `${WHAT[c.dimension]} (${c.value}) spent ${formatUsd(c.spend)} in its first ${settings.window_hours}h${by}; it is now a known spender.`
    : `${WHAT[c.dimension]} (${c.value}) has spent ${formatUsd(c.spend)} in ${formatDuration(c.last - c.first)} on ${c.tool} / ${c.provider}${by}.`;
  const advice =
    c.dimension === 'developer'
      ? 'Find out who this is and add them to a team in burnrate.yaml (members, or an ownership rule for the key); if nobody owns the spend, revoke the key.'
      : `Check that ${c.value} is an approved ${c.dimension === 'api_key' ? 'key' : c.dimension} and that its spend is in a budget; give it an ownership rule in burnrate.yaml if it belongs to another team.`;
  return {
    ...episodeFields(ep),
    kind: KIND,
    subject: { org: c.org, team: c.team, developer: c.developer, model: c.model },
    window: { start: iso(c.first), end: iso(c.last) },
    observed: { value: roundMoney(c.spend), unit: 'usd' },
    expected: { value: 0, unit: 'usd' },
    impact_usd: roundMoney(c.spend),
    projected_usd: projected,
    evidence: sortedEvidence(evidence),
    summary,
    advice,
    detected_at: detectedAt,
  };
}
