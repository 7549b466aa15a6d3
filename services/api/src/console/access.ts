import type { HttpResponse, IncomingRequest } from '@burnrate/core';
import { localPath, seeOther, selfPath } from './layout.ts';
import type { ConsoleSession, ConsoleSessions } from './session.ts';

/** Who decisions are by when the signed-in person gave no name, or the console is open. */
export const CONSOLE_IDENTITY = 'console';

export type PageAccess = { ok: true; session: ConsoleSession; setCookie?: string } | { ok: false; response: HttpResponse };

/**
 * The session a page is shown in. With an API token: the cookie's, else a redirect to the sign-in
 * form (coming back here after). Without one: the cookie's, else a new one handed out with this
 * page, so its forms carry a CSRF token bound to this browser.
 */
export function pageAccess(sessions: ConsoleSessions, req: IncomingRequest, now: Date): PageAccess {
  const session = sessions.read(req, now);
  if (session !== undefined) return { ok: true, session };
  if (sessions.tokenRequired) return { ok: false, response: seeOther(`/sign-in?next=${encodeURIComponent(selfPath(req))}`) };
  const issued = sessions.issue(CONSOLE_IDENTITY, now, req);
  return { ok: true, session: issued.session, setCookie: issued.cookie };
}

/** `?next=` of the sign-in form: a local path only. */
export function nextPath(value: string | null): string {
  return localPath(value, '/');
}
