import { describe, expect, it } from 'vitest';
import { cookieValue, createConsoleSessions, CSRF_FIELD, isRefusal, originProblem, SESSION_COOKIE } from './session.ts';

const NOW = new Date('2026-11-27T14:10:00Z');
const TOKEN = 'api-token-of-this-burnrate';
const HOST = '127.0.0.1:8787';

function signedIn(sessions = createConsoleSessions({ apiToken: TOKEN })) {
  const { session, cookie } = sessions.issue('dana@acme.com', NOW, { headers: {} });
  const value = cookie.split(';')[0] as string;
  return { sessions, session, cookie, headers: { cookie: value, host: HOST, origin: `http://${HOST}` } };
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields);

describe('console sessions', () => {
  it('hands out an HttpOnly, SameSite=Strict cookie with a signed random id, Secure behind HTTPS', () => {
    const { cookie, session } = signedIn();
    expect(cookie).toMatch(
      new RegExp(`^${SESSION_COOKIE}=[\\w-]+\\.\\d+\\.[\\w-]+\\.[\\w-]+; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200$`),
    );
    expect(session.id).toMatch(/^[\w-]{24}$/);
    const sessions = createConsoleSessions({ apiToken: TOKEN });
    expect(sessions.issue('x', NOW, { headers: { 'x-forwarded-proto': 'https' } }).cookie).toMatch(/; Secure$/);
    expect(sessions.issue('x', NOW, { headers: {} }).session.id).not.toBe(sessions.issue('x', NOW, { headers: {} }).session.id);
  });

  it('reads its own cookie back, and no tampered, expired, foreign or signed-out one', () => {
    const { sessions, headers, session } = signedIn();
    expect(sessions.read({ headers }, NOW)).toEqual(session);
    const [id, exp, by, mac] = (cookieValue(headers.cookie, SESSION_COOKIE) as string).split('.') as [string, string, string, string];
    const as = (value: string) => ({ headers: { cookie: `${SESSION_COOKIE}=${value}` } });
    expect(sessions.read(as(`${id}.${Number(exp) + 3600}.${by}.${mac}`), NOW)).toBeUndefined();
    expect(sessions.read(as(`${id}.${exp}.${Buffer.from('mallory').toString('base64url')}.${mac}`), NOW)).toBeUndefined();
    expect(sessions.read(as(`${id}.${exp}.${by}`), NOW)).toBeUndefined();
    expect(sessions.read({ headers }, new Date(NOW.getTime() + 12 * 3600 * 1000 + 1000))).toBeUndefined();
    // Another token (a rotation) signs everyone out.
    expect(createConsoleSessions({ apiToken: 'rotated-token' }).read({ headers }, NOW)).toBeUndefined();
    // The same token in another process (another ingest instance, a restart) accepts it.
    expect(createConsoleSessions({ apiToken: TOKEN }).read({ headers }, NOW)).toEqual(session);
    expect(sessions.end(session)).toBe(`${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`);
    expect(sessions.read({ headers }, NOW)).toBeUndefined();
  });

  it('checks the API token in constant time, and knows none when it is unset', () => {
    const sessions = createConsoleSessions({ apiToken: TOKEN });
    expect(sessions.tokenRequired).toBe(true);
    expect(sessions.tokenMatches(TOKEN)).toBe(true);
    expect(sessions.tokenMatches(`${TOKEN}x`)).toBe(false);
    expect(sessions.tokenMatches('')).toBe(false);
    const open = createConsoleSessions({ apiToken: undefined });
    expect(open.tokenRequired).toBe(false);
    expect(open.tokenMatches('')).toBe(false);
  });

  it('lets a POST through only from this origin, in a session, with that session’s CSRF token', () => {
    const { sessions, session, headers } = signedIn();
    const csrf = sessions.csrfToken(session);
    expect(sessions.checkPost({ headers }, form({ [CSRF_FIELD]: csrf }), NOW)).toEqual(session);

    const refused = (h: Record<string, string>, f: URLSearchParams) => {
      const r = sessions.checkPost({ headers: h }, f, NOW);
      if (!isRefusal(r)) throw new Error('expected a refusal');
      return r;
    };
    expect(refused({ ...headers, origin: 'https://evil.example' }, form({ csrf }))).toEqual({
      status: 403,
      message: `The request comes from evil.example, not from this Burnrate (${HOST}).`,
    });
    expect(refused({ cookie: headers.cookie, host: HOST }, form({ csrf })).message).toMatch(/no Origin or Referer/);
    expect(refused({ ...headers, origin: 'null' }, form({ csrf })).message).toMatch(/opaque origin/);
    expect(refused({ host: HOST, origin: headers.origin }, form({ csrf }))).toMatchObject({
      status: 401,
      message: expect.stringMatching(/not signed in/),
    });
    expect(refused(headers, form({}))).toEqual({ status: 403, message: 'The form has no csrf token: reload the page and try again.' });
    expect(refused(headers, form({ csrf: `${csrf.slice(0, -1)}A` })).message).toMatch(/not this session's/);
    // Another session's token does not fit this one.
    const other = sessions.issue('eve', NOW, { headers: {} }).session;
    expect(refused(headers, form({ csrf: sessions.csrfToken(other) })).message).toMatch(/not this session's/);
  });

  it('takes the Referer when Origin is missing, and public_url’s host besides the Host header', () => {
    expect(originProblem({ headers: { host: HOST, referer: `http://${HOST}/spend?team=x` } }, undefined)).toBeUndefined();
    expect(
      originProblem({ headers: { host: '10.0.0.5:8787', origin: 'https://burnrate.acme.internal' } }, 'https://burnrate.acme.internal/'),
    ).toBeUndefined();
    expect(originProblem({ headers: { host: HOST, origin: 'not a url' } }, undefined)).toBe(
      'The request\'s Origin "not a url" is not a URL.',
    );
  });
});
