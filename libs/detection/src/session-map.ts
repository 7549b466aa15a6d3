import { UNATTRIBUTED } from '@burnrate/schemas';
import type { UsageEvent } from '@burnrate/schemas';

/** Who a session belongs to: the first fields of every session detector's per-session state. */
export interface SessionOwner {
  org: string;
  team: string;
  developer: string;
  email: string | null;
  session: string;
}

/** The owner of a session first seen in `e`. */
export const ownerOf = (e: UsageEvent): SessionOwner => ({
  org: e.org,
  team: e.team,
  developer: e.developer,
  email: e.developer_email ?? null,
  session: e.session_id ?? '',
});

/**
 * A session first seen before attribution (e.g. an OTel event without email) takes the owner of
 * its first attributed event.
 */
export function adoptOwner(s: SessionOwner, e: UsageEvent): void {
  if (s.team !== UNATTRIBUTED || e.team === UNATTRIBUTED) return;
  s.team = e.team;
  s.developer = e.developer;
  s.email = e.developer_email ?? s.email;
}

/**
 * What the session-scoped detectors (context_bloat, runaway_session) share: sessions by key with
 * the event time they were last active, and the keys of those with an open episode.
 */
export interface SessionMap<S extends { last: number }> {
  sessions: Record<string, S>;
  /** Keys of sessions with an open episode, so time-driven checks visit only those. */
  open: string[];
}

/** Forgets sessions idle since before `idleBeforeMs` (event time) and their open-episode entries. */
export function evictIdleSessions<S extends { last: number }, M extends SessionMap<S>>(state: M, idleBeforeMs: number): M {
  for (const key of Object.keys(state.sessions)) {
    const s = state.sessions[key];
    if (s !== undefined && s.last < idleBeforeMs) delete state.sessions[key];
  }
  if (state.open.length > 0) state.open = state.open.filter((key) => state.sessions[key] !== undefined);
  return state;
}

export const sessionCount = (state: SessionMap<{ last: number }>): number => Object.keys(state.sessions).length;

let lastOrg = '';
let lastSession = '';
let lastKey = '\u001f';

/**
 * `org \u001f session_id`, the key of session-scoped state (the separator cannot occur in either
 * and never forms a prototype name). The last key is handed out again for the same pair: each
 * session detector asks for every event, and consecutive events are mostly one session's, so the
 * key is built (and hashed by the lookup) once rather than per detector per event.
 */
export function sessionKey(org: string, session: string): string {
  if (session !== lastSession || org !== lastOrg) {
    lastOrg = org;
    lastSession = session;
    lastKey = `${org}\u001f${session}`;
  }
  return lastKey;
}
