import {
  type Clock,
  type Config,
  type ConfigSource,
  type HttpResponse,
  type IncomingRequest,
  type Logger,
  type Route,
} from '@burnrate/core';
import {
  headline,
  LINK_ACTION_LABELS,
  type LinkAction,
  type LinkClaims,
  type SnoozeChoice,
  signLinkToken,
  verifyLinkToken,
  VIEW_LINK,
} from '@burnrate/notify';
import { type Anomaly, AnomalyState } from '@burnrate/schemas';
import type { Store } from '@burnrate/store';
import { h, htmlPage, problemPage } from './html.ts';
import { snoozeUntil } from './snooze.ts';
import type { StateRecorder } from './state-recorder.ts';

export interface ActionLinkDeps {
  config: ConfigSource;
  store: Pick<Store, 'getAnomaly'>;
  recorder: StateRecorder;
  clock: Clock;
  log: Logger;
  /** BURNRATE_LINK_SECRET; without it every link is refused (none could have been made). */
  linkSecret: string | undefined;
}

/** How long the view link on a result page works: enough to look, not a standing key. */
const RESULT_VIEW_LIFETIME_S = 24 * 3600;
const NOTE_MAX = 2000;
const FORM_LIMIT_BYTES = 16 * 1024;

/**
 * GET and POST /act/:token — what an email's Acknowledge / Snooze / Resolve links and the anomaly
 * page's buttons open. GET only shows what the link would do, with a form: mail scanners and
 * previews that fetch every link must not acknowledge anything. POST (the form) records the
 * decision through the StateRecorder with channel `email` (`console` for the anomaly page's
 * buttons) and `by` the addresses the link was made for, and shows the result. A tampered, foreign or expired link gets a 400 / 410 page and
 * nothing is recorded.
 */
export function actionLinkRoutes(deps: ActionLinkDeps): Route[] {
  const log = deps.log.child({ component: 'action-links' });

  type Checked = { ok: true; claims: LinkClaims & { action: LinkAction }; anomalies: Anomaly[] } | { ok: false; page: HttpResponse };

  async function check(req: IncomingRequest): Promise<Checked> {
    const secret = deps.linkSecret;
    if (!secret) {
      return {
        ok: false,
        page: problemPage(404, 'Links are off', 'This Burnrate does not accept action links: BURNRATE_LINK_SECRET is not set.'),
      };
    }
    const verdict = verifyLinkToken(secret, req.params.token ?? '', deps.clock.now());
    if (!verdict.ok) {
      log.warn({ problem: verdict.problem, remoteAddress: req.remoteAddress }, 'refused an action link');
      if (verdict.problem === 'expired') {
        return {
          ok: false,
          page: problemPage(
            410,
            'This link has expired',
            `${verdict.message}.`,
            'Use a newer email, the Slack buttons, or burnrate anomalies.',
          ),
        };
      }
      return { ok: false, page: problemPage(400, 'This link does not work', `${verdict.message}.`, 'Copy the whole link from the email.') };
    }
    const { claims } = verdict;
    if (claims.action === VIEW_LINK) {
      return { ok: false, page: problemPage(400, 'This link opens a page', 'It shows the anomaly; it does not act on it.') };
    }
    const found = await Promise.all(claims.anomalyIds.map((id) => deps.store.getAnomaly(id)));
    const anomalies = found.filter((a): a is Anomaly => a !== undefined);
    if (anomalies.length === 0) {
      return {
        ok: false,
        page: problemPage(404, 'Unknown anomaly', 'Burnrate has no record of the anomaly this link is about, so nothing was changed.'),
      };
    }
    return { ok: true, claims: { ...claims, action: claims.action }, anomalies };
  }

  return [
    {
      method: 'GET',
      path: '/act/:token',
      handler: async (req) => {
        const checked = await check(req);
        if (!checked.ok) return checked.page;
        const { claims, anomalies } = checked;
        const label = LINK_ACTION_LABELS[claims.action];
        const what = anomalies.length === 1 ? 'this anomaly' : `these ${anomalies.length} anomalies`;
        return htmlPage(
          200,
          label,
          [
            `<h1>${h(label)}: ${h(what)}?</h1>`,
            `<ul>${anomalies.map((a) => `<li>${h(headline(a))}<br><span class="muted">${h(a.summary)}</span></li>`).join('')}</ul>`,
            `<p>As <strong>${h(claims.by)}</strong>.</p>`,
            // An empty action posts back to this very URL, wherever Burnrate is mounted.
            `<form method="post" action=""><p><label>Note (optional)<br><textarea name="note" rows="3" maxlength="${NOTE_MAX}"></textarea></label></p>`,
            `<button class="primary" type="submit">${h(label)}</button></form>`,
            `<p class="muted">Nothing changes until you press the button.</p>`,
          ].join(''),
        );
      },
    },
    {
      method: 'POST',
      path: '/act/:token',
      handler: async (req) => {
        const checked = await check(req);
        if (!checked.ok) return checked.page;
        const { claims, anomalies } = checked;
        const note = await noteFrom(req);
        if (note === undefined) return problemPage(400, 'Note too long', `A note is at most ${NOTE_MAX} characters; nothing was changed.`);
        const at = deps.clock.now();
        const config = deps.config.current();
        const channel = claims.via ?? 'email';
        await deps.recorder.record(anomalies.map((a) => linkDecision(claims.action, a, claims.by, channel, at, config, note)));
        return resultPage(claims, anomalies, at);
      },
    },
  ];

  function resultPage(claims: LinkClaims & { action: LinkAction }, anomalies: Anomaly[], at: Date): HttpResponse {
    const secret = deps.linkSecret as string;
    const expiresAt = Math.floor(at.getTime() / 1000) + RESULT_VIEW_LIFETIME_S;
    const pages = anomalies.map((a) => {
      const token = signLinkToken(secret, { anomalyIds: [a.id], action: VIEW_LINK, by: claims.by, expiresAt });
      // Relative to /act/<token>, so it works wherever Burnrate is mounted.
      return `<li><a href="../anomalies/${h(encodeURIComponent(a.id))}?t=${h(token)}">${h(headline(a))}</a></li>`;
    });
    const done = DONE[claims.action];
    return htmlPage(
      200,
      done,
      `<h1>${h(done)}</h1><p>${anomalies.length === 1 ? 'One anomaly' : `${anomalies.length} anomalies`}, as <strong>${h(claims.by)}</strong>, at ${h(at.toISOString())}.</p><ul>${pages.join('')}</ul>`,
    );
  }
}

const DONE: Record<LinkAction, string> = {
  ack: 'Acknowledged',
  'snooze:1h': 'Snoozed for an hour',
  'snooze:tomorrow': 'Snoozed until tomorrow morning',
  'snooze:1w': 'Snoozed for a week',
  'resolve:expected': 'Resolved as expected',
  'resolve:real': 'Resolved as a real problem',
  'resolve:noise': 'Resolved as noise',
};

/** The form's note: '' when none, undefined when too long. */
async function noteFrom(req: IncomingRequest): Promise<string | undefined> {
  if (req.contentType !== 'application/x-www-form-urlencoded') return '';
  const note = (new URLSearchParams((await req.body(FORM_LIMIT_BYTES)).toString('utf8')).get('note') ?? '').trim();
  return note.length > NOTE_MAX ? undefined : note;
}

/** The decision a link or page button records. */
export function linkDecision(
  action: LinkAction,
  anomaly: Anomaly,
  by: string,
  channel: AnomalyState['channel'],
  at: Date,
  config: Config,
  note = '',
): AnomalyState {
  const base = { anomaly_id: anomaly.id, by, channel, at: at.toISOString(), ...(note ? { note } : {}) };
  if (action === 'ack') return AnomalyState.parse({ ...base, action: 'acknowledged' });
  const [verb, argument] = action.split(':') as ['snooze' | 'resolve', string];
  if (verb === 'snooze') {
    return AnomalyState.parse({
      ...base,
      action: 'snoozed',
      snoozed_until: snoozeUntil(argument as SnoozeChoice, at, config, anomaly.subject.team).toISOString(),
    });
  }
  return AnomalyState.parse({ ...base, action: 'resolved', reason: argument });
}
