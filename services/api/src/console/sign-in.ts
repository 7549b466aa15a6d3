import type { HttpResponse, Route } from '@burnrate/core';
import { h } from '../html.ts';
import { CONSOLE_IDENTITY, nextPath } from './access.ts';
import type { ConsoleDeps } from './deps.ts';
import { readForm } from './forms.ts';
import { consolePage, refusalPage, seeOther } from './layout.ts';
import { isRefusal, originProblem } from './session.ts';

const NAME_MAX = 254;

/** GET /sign-in (the form), POST /sign-in (the API token, then a cookie session) and POST /sign-out. */
export function signInRoutes(deps: ConsoleDeps): Route[] {
  const { sessions } = deps;
  const log = deps.log.child({ component: 'console' });
  const form = (status: number, next: string, problem?: string, name = ''): HttpResponse =>
    consolePage({
      status,
      title: 'Sign in',
      section: 'sign-in',
      sessions,
      body: [
        '<h1>Sign in to Burnrate</h1>',
        problem ? `<p class="error" role="alert">${h(problem)}</p>` : '',
        '<p class="muted">This Burnrate is protected by its API token (BURNRATE_API_TOKEN). Enter it once; this browser then keeps a session for 12 hours.</p>',
        `<form method="post" action="/sign-in"><input type="hidden" name="next" value="${h(next)}">`,
        '<p><label>API token<br><input type="password" name="token" autocomplete="current-password" required size="48"></label></p>',
        `<p><label>Your name or email (who your decisions are by; optional)<br><input type="text" name="name" maxlength="${NAME_MAX}" size="48" value="${h(name)}"></label></p>`,
        '<button class="primary" type="submit">Sign in</button></form>',
      ].join(''),
    });
  return [
    {
      method: 'GET',
      path: '/sign-in',
      handler: async (req) => {
        const next = nextPath(req.query.get('next'));
        if (!sessions.tokenRequired) return seeOther(next);
        return form(200, next);
      },
    },
    {
      method: 'POST',
      path: '/sign-in',
      handler: async (req) => {
        // No session yet, so no CSRF token: the Origin check keeps another site from signing a
        // browser in with a token of its choosing.
        const origin = originProblem(req, deps.config.current().public_url);
        if (origin !== undefined) return refusalPage(sessions, { status: 403, message: origin });
        const fields = await readForm(req);
        const next = nextPath(fields.get('next'));
        if (!sessions.tokenRequired) return seeOther(next);
        const name = (fields.get('name') ?? '').trim();
        const token = fields.get('token') ?? '';
        if (token === '') return form(400, next, 'token is missing: enter the API token this Burnrate was started with.', name);
        if (name.length > NAME_MAX) return form(400, next, `name must be at most ${NAME_MAX} characters, not ${name.length}.`, '');
        // eslint-disable-next-line no-control-regex
        if (/[\u0000-\u001f\u007f]/.test(name)) return form(400, next, 'name must not contain control characters.', '');
        if (!sessions.tokenMatches(token)) {
          log.warn({ remoteAddress: req.remoteAddress }, 'console sign-in refused: wrong API token');
          return form(401, next, "That is not this Burnrate's API token.", name);
        }
        const { cookie } = sessions.issue(name || CONSOLE_IDENTITY, deps.clock.now(), req);
        log.info({ by: name || CONSOLE_IDENTITY }, 'console sign-in');
        return seeOther(next, cookie);
      },
    },
    {
      method: 'POST',
      path: '/sign-out',
      handler: async (req) => {
        const checked = sessions.checkPost(req, await readForm(req), deps.clock.now());
        if (isRefusal(checked)) return refusalPage(sessions, checked);
        return seeOther(sessions.tokenRequired ? '/sign-in' : '/', sessions.end(checked));
      },
    },
  ];
}
