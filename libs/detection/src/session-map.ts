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
