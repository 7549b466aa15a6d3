import type { Anomaly, AnomalyKind } from '@burnrate/schemas';

/**
 * Incidents: anomalies that share a cause are one incident, paged and acknowledged as one.
 *
 * When a team's prompt caching breaks, the same problem shows up as a cache_efficiency_drop, a
 * spend_spike, a model_mix_drift (the premium share of spend rose) and a session_cost on every
 * long session of the team. Paged one by one that is dozens of messages for one thing to fix. So
 * an anomaly that follows from one already paged to a receiver joins its incident instead: it is
 * recorded against the incident's first message (which is brought up to date in place to list
 * it, and whose "Acknowledge all" covers it), and it pages again only when it makes the incident
 * critical for the first time. What follows from what (`follows`):
 *
 * - anomalies of one **session** are one incident (a runaway session's cost and context bloat);
 * - an anomaly of one **developer** (any session of theirs) follows from that developer's own
 *   spend_spike, cache_efficiency_drop or model_mix_drift; and a developer's spend_spike follows
 *   from an anomaly of one of that developer's sessions (a bloated or runaway session is what
 *   moved the developer's hour);
 * - a **team-level cause** — a team-scope cache_efficiency_drop, spend_spike or model_mix_drift —
 *   explains the team's session costs, context bloat, spend spikes, cache and mix changes and
 *   its budget forecast, of any developer;
 * - a team-scope spend_spike or budget_forecast follows from a critical session of the team (a
 *   runaway agent is what moved the team's spend).
 *
 * runaway_session and new_spender never join a team-level cause: an agent loop or a new,
 * unknown spender is its own problem even while caching is broken. lost_events joins nothing, not
 * even its own session's incident: it says the pipeline lost events, not that the session spent
 * too much, and its info would otherwise be listed under a page. Only open anomalies of the
 * same team are candidates, so an incident ends when its members do.
 *
 * The incident names its most likely cause first (`byLikelyCause`): a broken cache or a model
 * change explains a spike, a spike explains session costs, a session's loop explains its cost.
 */

/** Kinds that explain other anomalies of their scope. */
const CAUSES: ReadonlySet<AnomalyKind> = new Set<AnomalyKind>(['cache_efficiency_drop', 'spend_spike', 'model_mix_drift']);

/** What a team-level cause explains. */
const EXPLAINED_BY_TEAM_CAUSE: ReadonlySet<AnomalyKind> = new Set<AnomalyKind>([
  'session_cost',
  'context_bloat',
  'spend_spike',
  'cache_efficiency_drop',
  'model_mix_drift',
  'budget_forecast',
]);

/** Most likely cause first; lower ranks first. */
const CAUSE_RANK: Readonly<Record<AnomalyKind, number>> = {
  cache_efficiency_drop: 0,
  model_mix_drift: 1,
  runaway_session: 2,
  context_bloat: 3,
  spend_spike: 4,
  session_cost: 5,
  budget_forecast: 6,
  new_spender: 7,
  lost_events: 8,
};

const isTeamScope = (a: Anomaly): boolean => a.subject.developer === undefined && a.subject.session === undefined;
const isDeveloperScope = (a: Anomaly): boolean => a.subject.developer !== undefined && a.subject.session === undefined;

/** Whether `a` follows from `cause` (see the header): both open, same team, a relation above. */
export function follows(a: Anomaly, cause: Anomaly): boolean {
  if (a.id === cause.id || a.subject.team !== cause.subject.team || a.subject.org !== cause.subject.org) return false;
  if (a.status !== 'open' || cause.status !== 'open') return false;
  if (a.kind === 'new_spender' || cause.kind === 'new_spender') return false;
  if (a.kind === 'lost_events' || cause.kind === 'lost_events') return false;
  if (a.subject.session !== undefined && a.subject.session === cause.subject.session) return true;
  if (CAUSES.has(cause.kind) && isTeamScope(cause)) return a.kind !== 'runaway_session' && EXPLAINED_BY_TEAM_CAUSE.has(a.kind);
  if (CAUSES.has(cause.kind) && isDeveloperScope(cause))
    return a.subject.developer === cause.subject.developer && a.kind !== 'runaway_session';
  if (a.kind === 'spend_spike' && isDeveloperScope(a) && cause.subject.session !== undefined)
    return a.subject.developer === cause.subject.developer;
  if (isTeamScope(a) && (a.kind === 'spend_spike' || a.kind === 'budget_forecast'))
    return (cause.kind === 'runaway_session' || cause.kind === 'session_cost') && cause.severity === 'critical';
  return false;
}

/** Anomalies ordered most likely cause first: by kind (see CAUSE_RANK), then wider scope, then severity and impact. */
export function byLikelyCause(x: Anomaly, y: Anomaly): number {
  const scope = (a: Anomaly): number => (isTeamScope(a) ? 0 : isDeveloperScope(a) ? 1 : 2);
  const severity = (a: Anomaly): number => (a.severity === 'critical' ? 0 : a.severity === 'warning' ? 1 : 2);
  return (
    CAUSE_RANK[x.kind] - CAUSE_RANK[y.kind] ||
    scope(x) - scope(y) ||
    severity(x) - severity(y) ||
    y.impact_usd - x.impact_usd ||
    (x.id < y.id ? -1 : x.id > y.id ? 1 : 0)
  );
}

/** The incident message at one receiver that `a` joins, and whether the incident was already paged as critical. */
export interface IncidentAt {
  /** The incident's first message to the receiver (the provider's id). */
  messageId: string;
  /** The anomaly `a` follows from. */
  cause: Anomaly;
  /** Some version carried by the incident's message was critical: a critical member pages no more. */
  pagedCritical: boolean;
}

/**
 * How a version of an anomaly reaches a receiver that already has the incident it belongs to:
 * `attach` (recorded against the incident's message, which is brought up to date; no message of
 * its own) or `page` (a critical that makes the incident critical: a reply in the incident's
 * thread, shown in the channel). Resolutions and versions of the incident's own first anomalies
 * take the usual path (`decide`).
 */
export function joinAction(a: Pick<Anomaly, 'severity' | 'status'>, incident: Pick<IncidentAt, 'pagedCritical'>): 'attach' | 'page' {
  return a.severity === 'critical' && !incident.pagedCritical ? 'page' : 'attach';
}
