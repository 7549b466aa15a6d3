import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingRequest } from '@burnrate/core';

/** The console's cookie: one per browser, carrying a signed random session id. */
export const SESSION_COOKIE = 'burnrate_session';
/** A signed-in browser stays in for a working day; then the token is asked again. */
export const SESSION_LIFETIME_S = 12 * 3600;
/** The form field every state-changing console request carries. */
export const CSRF_FIELD = 'csrf';

export interface ConsoleSession {
  /** Random, 144 bits: what the CSRF token is bound to and what sign-out revokes. */
  id: string;
  /** Who decisions made in this session are by: the name given at sign-in, else `console`. */
  by: string;
  /** Unix seconds. */
  expiresAt: number;
}

/** Why a state-changing request was refused: a status and a sentence for the page. */
export interface Refusal {
  status: 400 | 401 | 403;
  message: string;
}

export interface ConsoleSessions {
  /** Whether a page needs a signed-in session (BURNRATE_API_TOKEN is set) or is open to whoever reaches the port. */
  readonly tokenRequired: boolean;
  /** The valid, unexpired, not signed-out session the request's cookie carries. */
  read(req: Pick<IncomingRequest, 'headers'>, now: Date): ConsoleSession | undefined;
  /** Whether `given` is the API token (constant time). */
  tokenMatches(given: string): boolean;
  /** A new session and the Set-Cookie value that hands it to the browser. */
  issue(by: string, now: Date, req: Pick<IncomingRequest, 'headers'>): { session: ConsoleSession; cookie: string };
  /** The CSRF token of a session: put in every form, checked on every POST. */
  csrfToken(session: ConsoleSession): string;
  /**
   * The checks every state-changing request passes, in order: the Origin (or Referer) is this
   * server, the cookie carries a valid session, and the form's CSRF token is that session's.
   */
  checkPost(req: Pick<IncomingRequest, 'headers'>, form: URLSearchParams, now: Date): ConsoleSession | Refusal;
  /** Revokes the session here and answers the Set-Cookie value that clears the cookie. */
  end(session: ConsoleSession): string;
}

export interface ConsoleSessionOptions {
  /** BURNRATE_API_TOKEN; unset, the console is open as the API is, and sessions only carry CSRF tokens. */
  apiToken: string | undefined;
  /** `public_url` of the config: its origin is accepted besides the Host the request names. */
  publicUrl?: () => string | undefined;
  /** For tests; a fresh random key per process otherwise (when no API token is set). */
  randomKey?: Buffer;
}

/**
 * Cookie sessions for the console, stateless: the cookie is `<id>.<expiry>.<by>.<hmac>`. With an
 * API token the HMAC key is derived from it, so every process given the same token (ingest
 * instances behind a load balancer, a restarted `burnrate start`) accepts the same sessions, and
 * rotating the token signs everyone out. Without a token the key is random per process: the
 * console is open anyway, the session exists only to bind CSRF tokens.
 */
export function createConsoleSessions(options: ConsoleSessionOptions): ConsoleSessions {
  const token = options.apiToken || undefined;
  const key = token ? createHmac('sha256', token).update('burnrate console session v1').digest() : (options.randomKey ?? randomBytes(32));
  // Signed-out ids until they would have expired anyway. Per process: a sign-out on one ingest
  // instance does not reach another (the cookie is cleared in that browser either way).
  const revoked = new Map<string, number>();
  const mac = (text: string): string => createHmac('sha256', key).update(text).digest('base64url');

  const sessions: ConsoleSessions = {
    tokenRequired: token !== undefined,
    read(req, now) {
      const value = cookieValue(req.headers.cookie, SESSION_COOKIE);
      if (value === undefined) return undefined;
      const parts = value.split('.');
      if (parts.length !== 4) return undefined;
      const [id, exp, by, signature] = parts as [string, string, string, string];
      if (!equal(signature, mac(`${id}.${exp}.${by}`))) return undefined;
      const expiresAt = Number(exp);
      const nowS = Math.floor(now.getTime() / 1000);
      if (!Number.isInteger(expiresAt) || expiresAt <= nowS) return undefined;
      for (const [sid, until] of revoked) if (until <= nowS) revoked.delete(sid);
      if (revoked.has(id)) return undefined;
      return { id, by: Buffer.from(by, 'base64url').toString('utf8'), expiresAt };
    },
    tokenMatches(given) {
      return token !== undefined && equal(given, token);
    },
    issue(by, now, req) {
      const session = { id: randomBytes(18).toString('base64url'), by, expiresAt: Math.floor(now.getTime() / 1000) + SESSION_LIFETIME_S };
      const payload = `${session.id}.${session.expiresAt}.${Buffer.from(by, 'utf8').toString('base64url')}`;
      return { session, cookie: cookieHeader(`${payload}.${mac(payload)}`, SESSION_LIFETIME_S, req) };
    },
    csrfToken(session) {
      return mac(`csrf.${session.id}`);
    },
    checkPost(req, form, now) {
      const origin = originProblem(req, options.publicUrl?.());
      if (origin !== undefined) return { status: 403, message: origin };
      const session = sessions.read(req, now);
      if (session === undefined) {
        return {
          status: 401,
          message: token
            ? 'You are not signed in (or your session expired or was signed out): sign in again, then repeat what you did.'
            : 'This browser has no console session (cookies off, or the server restarted): reload the page, then repeat what you did.',
        };
      }
      const given = form.get(CSRF_FIELD);
      if (given === null || given === '')
        return { status: 403, message: `The form has no ${CSRF_FIELD} token: reload the page and try again.` };
      if (!equal(given, sessions.csrfToken(session)))
        return { status: 403, message: `The form's ${CSRF_FIELD} token is not this session's: reload the page and try again.` };
      return session;
    },
    end(session) {
      revoked.set(session.id, session.expiresAt);
      return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
    },
  };
  return sessions;
}

export function isRefusal(x: ConsoleSession | Refusal): x is Refusal {
  return 'status' in x;
}

function cookieHeader(value: string, maxAgeS: number, req: Pick<IncomingRequest, 'headers'>): string {
  // Secure only where the browser talks HTTPS (a TLS proxy in front says so); on plain
  // http://127.0.0.1 a Secure cookie would never come back.
  const secure = forwardedProto(req) === 'https' ? '; Secure' : '';
  return `${SESSION_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeS}${secure}`;
}

function forwardedProto(req: Pick<IncomingRequest, 'headers'>): string | undefined {
  const raw = req.headers['x-forwarded-proto'];
  return (Array.isArray(raw) ? raw[0] : raw)?.split(',')[0]?.trim().toLowerCase();
}

/** The value of cookie `name` in a Cookie header, or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Why the request's Origin is not this server, or undefined when it is. Browsers send Origin on
 * every POST; where one is missing the Referer's origin stands in. The host must be the one the
 * request was sent to (its Host header) or public_url's.
 */
export function originProblem(req: Pick<IncomingRequest, 'headers'>, publicUrl: string | undefined): string | undefined {
  const origin = req.headers.origin;
  const referer = req.headers.referer;
  let claimed: string | undefined;
  if (typeof origin === 'string' && origin !== '') claimed = origin;
  else if (typeof referer === 'string' && referer !== '') claimed = referer;
  if (claimed === undefined) return 'The request has no Origin or Referer header, so it cannot be told apart from a forged one.';
  if (claimed === 'null') return 'The request comes from an opaque origin (Origin: null), not from a Burnrate page.';
  let host: string;
  try {
    host = new URL(claimed).host;
  } catch {
    return `The request's Origin ${JSON.stringify(claimed)} is not a URL.`;
  }
  const allowed = new Set<string>();
  if (typeof req.headers.host === 'string') allowed.add(req.headers.host);
  if (publicUrl) {
    try {
      allowed.add(new URL(publicUrl).host);
    } catch {
      // An unparsable public_url is config check's to report; the Host header still counts.
    }
  }
  if (allowed.has(host)) return undefined;
  return `The request comes from ${host}, not from this Burnrate (${[...allowed].join(' or ') || 'no Host header'}).`;
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
