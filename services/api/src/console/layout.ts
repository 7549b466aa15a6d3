import type { HttpResponse, IncomingRequest } from '@burnrate/core';
import { h, htmlDocument } from '../html.ts';
import { type ConsoleSession, type ConsoleSessions, CSRF_FIELD, type Refusal } from './session.ts';

// Like the anomaly page's headers, with two differences: Referer is sent to Burnrate itself
// (`same-origin`; `no-referrer` would make Chromium send `Origin: null` on our own form posts,
// which the CSRF check refuses), and pages carry no link token in their URL to leak.
const CONSOLE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
} as const;

const CONSOLE_STYLE = `
body{max-width:1180px}
nav.top{display:flex;gap:16px;align-items:center;border-bottom:1px solid #e5e7eb;padding:0 0 8px;margin:0 0 16px}
nav.top a{color:#111;text-decoration:none}nav.top a.active{font-weight:600;border-bottom:2px solid #111}
nav.top .who{margin-left:auto;color:#666}
form.filters{display:flex;flex-wrap:wrap;gap:8px 12px;align-items:end;margin:0 0 16px}
form.filters label{display:flex;flex-direction:column;font-size:12px;color:#555}
select,input[type=text],input[type=password]{font:inherit;padding:4px 6px;border:1px solid #d1d5db;border-radius:4px}
table.list{width:100%}table.list td,table.list th{border-bottom:1px solid #f1f5f9;padding:5px 10px 5px 0}
td.num,th.num{text-align:right}
.state-open{color:#b91c1c}.state-acknowledged{color:#1d4ed8}.state-snoozed{color:#7c3aed}.state-resolved{color:#15803d}
.error{padding:8px 12px;background:#fef2f2;border-left:3px solid #dc2626;margin:0 0 12px}
svg text{font-family:inherit;font-size:11px;fill:#374151}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;color:#374151;margin:4px 0 12px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-2px}
.total{font-size:22px;font-weight:600}
.meter{display:inline-block;width:120px;height:8px;background:#f1f5f9;border-radius:4px;overflow:hidden;vertical-align:middle}
.meter b{display:block;height:100%;background:#0ea5e9}.meter b.over{background:#dc2626}
`;

export type ConsoleSection = 'inbox' | 'spend' | 'config' | 'anomaly' | 'sign-in';

export interface ConsolePageInput {
  status: number;
  title: string;
  body: string;
  section: ConsoleSection;
  /** The viewer's session: its name and the sign-out form are shown with it. */
  session?: ConsoleSession | undefined;
  sessions: ConsoleSessions;
  /** A Set-Cookie value (a session just issued or ended). */
  setCookie?: string | undefined;
}

/** A console page: the navigation, then the body (HTML already escaped by the caller). */
export function consolePage(input: ConsolePageInput): HttpResponse {
  const nav = input.section === 'sign-in' ? '' : navigation(input.section, input.session, input.sessions);
  const headers: Record<string, string> = { ...CONSOLE_HEADERS };
  if (input.setCookie !== undefined) headers['set-cookie'] = input.setCookie;
  return { status: input.status, headers, body: htmlDocument(input.title, `${nav}${input.body}`, CONSOLE_STYLE) };
}

function navigation(section: ConsoleSection, session: ConsoleSession | undefined, sessions: ConsoleSessions): string {
  const link = (href: string, label: string, s: ConsoleSection): string =>
    `<a href="${href}"${s === section ? ' class="active" aria-current="page"' : ''}>${label}</a>`;
  const signOut =
    session !== undefined && sessions.tokenRequired
      ? `<span class="who">${h(session.by)}</span><form class="inline" method="post" action="/sign-out">${csrfInput(sessions, session)}<button type="submit">Sign out</button></form>`
      : '';
  return `<nav class="top"><strong>Burnrate</strong>${link('/', 'Inbox', 'inbox')}${link('/spend', 'Spend', 'spend')}${link('/config', 'Config', 'config')}${signOut}</nav>`;
}

/** The hidden CSRF field of a form posted in `session`. */
export function csrfInput(sessions: ConsoleSessions, session: ConsoleSession): string {
  return `<input type="hidden" name="${CSRF_FIELD}" value="${h(sessions.csrfToken(session))}">`;
}

/** A page that says what was refused or wrong, and how to go on. */
export function consoleProblem(
  sessions: ConsoleSessions,
  session: ConsoleSession | undefined,
  status: number,
  title: string,
  message: string,
): HttpResponse {
  return consolePage({
    status,
    title,
    section: 'anomaly',
    session,
    sessions,
    body: `<h1>${h(title)}</h1><p class="error">${h(message)}</p><p><a href="/">Back to the inbox</a></p>`,
  });
}

export function refusalPage(sessions: ConsoleSessions, refusal: Refusal): HttpResponse {
  const title = refusal.status === 401 ? 'Sign-in needed' : 'Refused';
  const more = refusal.status === 401 && sessions.tokenRequired ? ' <a href="/sign-in">Sign in</a>.' : '';
  return consolePage({
    status: refusal.status,
    title,
    section: 'sign-in',
    sessions,
    body: `<h1>${h(title)}</h1><p class="error">${h(refusal.message)}${more}</p>`,
  });
}

/** A redirect after a POST (303: the browser GETs the target). */
export function seeOther(location: string, setCookie?: string): HttpResponse {
  const headers: Record<string, string> = { location, 'cache-control': 'no-store' };
  if (setCookie !== undefined) headers['set-cookie'] = setCookie;
  return { status: 303, headers, body: '' };
}

/**
 * A path on this server to go back to after a form: only `/…` (not `//host`, not a backslash
 * trick), so a crafted form cannot send the browser elsewhere.
 */
export function localPath(value: string | null, fallback = '/'): string {
  if (value === null || !value.startsWith('/') || value.startsWith('//') || value.includes('\\') || /[\r\n]/.test(value)) return fallback;
  return value;
}

/** The request's path and query, as a `return` target. */
export function selfPath(req: Pick<IncomingRequest, 'path' | 'query'>): string {
  const q = req.query.toString();
  return q ? `${req.path}?${q}` : req.path;
}
