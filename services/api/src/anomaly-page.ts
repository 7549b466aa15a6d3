import { type Clock, hasBearerToken, type HttpResponse, type IncomingRequest, type Logger, type Route } from '@burnrate/core';
import {
  formatEvidenceValue,
  formatInstant,
  formatMeasure,
  formatUsd,
  formatWindow,
  impactPhrase,
  kindTitle,
  LINK_ACTION_LABELS,
  LINK_ACTIONS,
  type LinkAction,
  projectedMore,
  relativeToExpected,
  signLinkToken,
  verifyLinkToken,
  VIEW_LINK,
} from '@burnrate/notify';
import type { Anomaly } from '@burnrate/schemas';
import { anomalyTimeline, renderTimeline } from './anomaly-timeline.ts';
import { type AnomalyDetail, type AnomalyViewStore, describeAnomaly } from './anomaly-view.ts';
import { decisionForms } from './console/actions.ts';
import { consolePage, seeOther } from './console/layout.ts';
import type { ConsoleSession, ConsoleSessions } from './console/session.ts';
import { h, htmlPage, problemPage } from './html.ts';

export interface AnomalyPageDeps {
  store: AnomalyViewStore;
  clock: Clock;
  log: Logger;
  /** BURNRATE_LINK_SECRET: reads `?t=` view links and signs the page's buttons; no buttons without it. */
  linkSecret: string | undefined;
  /** BURNRATE_API_TOKEN: when set, the page needs it (as a bearer) or a view link, like the API. */
  apiToken: string | undefined;
  /**
   * The web console, when this process serves it: a signed-in browser (a cookie session) sees the
   * page with the console's navigation, buttons that post with the session's CSRF token, and
   * `evidence` (the chart and what is behind it); without a session and with a token set, the
   * browser is sent to the sign-in form.
   */
  console?: { sessions: ConsoleSessions; evidence: (detail: AnomalyDetail) => Promise<string> } | undefined;
}

type Viewer = { by: string; session?: ConsoleSession; setCookie?: string };

/** How long the page's buttons work once it is shown: a tab left open for a day still acts. */
const BUTTON_LIFETIME_S = 24 * 3600;

/**
 * GET /anomalies/:id — one anomaly for a person: what happened, evidence, advice, where it
 * stands, a timeline of its versions, messages and decisions, and buttons (forms posting to
 * /act/<token> with freshly signed tokens: a page from another site cannot forge one).
 *
 * Who may see it follows the API: anyone when BURNRATE_API_TOKEN is unset (the buttons then act
 * as `web`); otherwise the bearer of the token (acting as `api`) or of a view link from an email
 * (`?t=…`, acting as the email's receivers). Everything shown is escaped.
 */
export function anomalyPageRoute(deps: AnomalyPageDeps): Route {
  const log = deps.log.child({ component: 'anomaly-page' });
  return {
    method: 'GET',
    path: '/anomalies/:id',
    handler: async (req) => {
      const id = req.params.id ?? '';
      const viewer = whoIsLooking(req, id);
      if ('page' in viewer) return viewer.page;
      const now = deps.clock.now();
      const detail = await describeAnomaly(deps.store, id, now);
      if (!detail) return problemPage(404, 'Unknown anomaly', `Burnrate has no anomaly ${id}.`);
      const title = `${kindTitle(detail.anomaly.kind)} · ${detail.anomaly.subject.team}`;
      const web = deps.console;
      const session = viewer.session;
      if (web === undefined || session === undefined)
        return htmlPage(200, title, renderAnomalyPage(detail, buttons(detail, viewer.by, now), memberLink(req, viewer.by, now)));
      const { sessions, evidence } = web;
      const forms = decisionForms(
        sessions,
        session,
        { id, state: detail.state, status: detail.anomaly.status },
        `/anomalies/${encodeURIComponent(id)}`,
      );
      return consolePage({
        status: 200,
        title,
        section: 'anomaly',
        session,
        sessions,
        setCookie: viewer.setCookie,
        body: renderAnomalyPage(
          detail,
          `<div>${forms}</div><p class="muted">As <strong>${h(viewer.by)}</strong>.</p>`,
          undefined,
          await evidence(detail),
        ),
      });
    },
  };

  function whoIsLooking(req: IncomingRequest, id: string): Viewer | { page: HttpResponse } {
    const token = req.query.get('t');
    if (token !== null && deps.linkSecret) {
      const verdict = verifyLinkToken(deps.linkSecret, token, deps.clock.now());
      if (verdict.ok && verdict.claims.anomalyIds.includes(id)) return { by: verdict.claims.by };
      log.warn({ problem: verdict.ok ? 'another anomaly' : verdict.problem, remoteAddress: req.remoteAddress }, 'refused a page link');
      if (!verdict.ok && verdict.problem === 'expired') {
        return { page: problemPage(410, 'This link has expired', `${verdict.message}.`, 'Open the anomaly from a newer email.') };
      }
      return { page: problemPage(400, 'This link does not work', 'It was changed, is incomplete, or is for another anomaly.') };
    }
    if (hasBearerToken(req, deps.apiToken)) return { by: 'api' };
    const now = deps.clock.now();
    const session = deps.console?.sessions.read(req, now);
    if (session !== undefined) return { by: session.by, session };
    if (deps.console !== undefined) {
      if (deps.apiToken) return { page: seeOther(`/sign-in?next=${encodeURIComponent(`/anomalies/${encodeURIComponent(id)}`)}`) };
      const issued = deps.console.sessions.issue('web', now, req);
      return { by: 'web', session: issued.session, setCookie: issued.cookie };
    }
    if (!deps.apiToken) return { by: 'web' };
    return {
      page: problemPage(
        401,
        'Sign-in needed',
        'This Burnrate shows anomalies to holders of its API token or of a link from a Burnrate email.',
        'Open the anomaly from its email, or use burnrate anomalies show with BURNRATE_API_TOKEN.',
      ),
    };
  }

  /**
   * Where an incident member's line links: its page, with a view link of its own for a viewer who
   * came with one (the members were sent to that viewer in the same message).
   */
  function memberLink(req: IncomingRequest, by: string, now: Date): (id: string) => string {
    const secret = deps.linkSecret;
    if (req.query.get('t') === null || !secret) return (id) => encodeURIComponent(id);
    const expiresAt = Math.floor(now.getTime() / 1000) + BUTTON_LIFETIME_S;
    return (id) =>
      `${encodeURIComponent(id)}?t=${encodeURIComponent(signLinkToken(secret, { anomalyIds: [id], action: VIEW_LINK, by, expiresAt }))}`;
  }

  /** The page's buttons, each a form with its own signed token; none without a link secret. */
  function buttons(detail: AnomalyDetail, by: string, now: Date): string {
    const secret = deps.linkSecret;
    if (!secret)
      return `<p class="notice">Buttons need BURNRATE_LINK_SECRET on this Burnrate; meanwhile use Slack, an email or burnrate anomalies.</p>`;
    const over = detail.state === 'resolved';
    const expiresAt = Math.floor(now.getTime() / 1000) + BUTTON_LIFETIME_S;
    const actions = LINK_ACTIONS.filter((a) => !over || a.startsWith('resolve:'));
    const forms = actions.map((action: LinkAction, i) => {
      const token = signLinkToken(secret, { anomalyIds: [detail.anomaly.id], action, by, expiresAt, via: 'console' });
      // Relative to /anomalies/<id>, so it works wherever Burnrate is mounted.
      return `<form class="inline" method="post" action="../act/${h(token)}"><button type="submit"${i === 0 && !over ? ' class="primary"' : ''}>${h(LINK_ACTION_LABELS[action])}</button></form>`;
    });
    return `<div>${forms.join('')}</div><p class="muted">As <strong>${h(by)}</strong>.</p>`;
  }
}

const SEVERITY_CLASS = { info: 'info', warning: 'warning', critical: 'critical' } as const;

/** The page body for one anomaly; `buttons` is HTML already built. Pure, every value escaped. */
export function renderAnomalyPage(
  detail: AnomalyDetail,
  buttons: string,
  linkTo: (id: string) => string = (id) => encodeURIComponent(id),
  /** The console's chart and what is behind the anomaly (HTML already built), after the evidence table. */
  evidence = '',
): string {
  const a = detail.anomaly;
  const cls = detail.state === 'resolved' ? 'resolved' : SEVERITY_CLASS[a.severity];
  const relative = relativeToExpected(a.observed, a.expected);
  const who: Array<[string, string | undefined]> = [
    ['Team', a.subject.team],
    ['Developer', a.subject.developer],
    ['Session', a.subject.session],
    ['Model', a.subject.model],
    ['Org', a.subject.org],
  ];
  const howMuch: Array<[string, string]> = [
    ['Observed', `${formatMeasure(a.observed)}${relative ? ` (${relative})` : ''}`],
    ['Expected', formatMeasure(a.expected)],
    ['Impact', impactPhrase(a)],
    ...(projectedMore(a) ? [['If nothing changes', projectedMore(a) as string] as [string, string]] : []),
    ['Window', formatWindow(a.window)],
    ['First detected', formatInstant(detail.first_detected_at)],
    ['Latest version', `v${a.version}, ${formatInstant(a.detected_at)}`],
  ];
  return [
    `<h1 class="${cls}">${h(a.status === 'resolved' ? 'Resolved' : capitalize(a.severity))}: ${h(kindTitle(a.kind))} <span class="badge">${h(detail.state)}</span></h1>`,
    `<p>${h(a.summary)}</p>`,
    ...(a.historical === true
      ? [
          '<p class="notice">Found by a backfill: usage that arrived after live detection had moved past its time (an import, a poller catching up). Stored for the record, never sent.</p>',
        ]
      : []),
    `<p class="notice">${h(standing(detail))}</p>`,
    table(who.filter((r): r is [string, string] => r[1] !== undefined)),
    table(howMuch),
    ...(a.evidence.length > 0
      ? [
          '<h2>Evidence</h2>',
          `<table><tr><th>When</th><th>What</th><th>Value</th></tr>${a.evidence
            .map((p) => `<tr><td>${h(formatInstant(p.at))}</td><td>${h(p.label)}</td><td>${h(formatEvidenceValue(p))}</td></tr>`)
            .join('')}</table>`,
        ]
      : []),
    evidence,
    '<h2>What to do</h2>',
    `<p>${h(a.advice)}</p>`,
    buttons,
    ...(detail.incident
      ? [
          '<h2>Incident</h2>',
          `<p class="muted">${h(String(detail.incident.members.length))} anomalies were sent and are acknowledged together as one message, most likely cause first.</p>`,
          `<table><tr><th>Anomaly</th><th>Severity</th><th>Status</th><th>Subject</th><th>Impact</th></tr>${detail.incident.members
            .map((m) => memberRow(m, m.id === a.id, linkTo))
            .join('')}</table>`,
        ]
      : []),
    '<h2>Timeline</h2>',
    '<p class="muted">Every version the detector wrote, every message sent (or not) and every decision, oldest first.</p>',
    renderTimeline(anomalyTimeline(detail)),
    `<p class="muted">Burnrate · ${h(a.kind)} · ${h(a.id)}</p>`,
  ].join('\n');
}

function standing(detail: AnomalyDetail): string {
  const l = detail.lifecycle;
  const parts: string[] = [];
  if (detail.state === 'resolved') {
    parts.push(
      l.state === 'resolved'
        ? `Resolved${l.reason ? ` as ${l.reason}` : ''}${l.decision ? ` by ${l.decision.by}` : ''}.`
        : 'Resolved: the signal went back to normal.',
    );
  } else if (l.state === 'snoozed' && l.snoozed_until)
    parts.push(`Snoozed until ${formatInstant(l.snoozed_until)}${l.decision ? ` by ${l.decision.by}` : ''}.`);
  else if (l.state === 'open') parts.push('Open: nobody has acknowledged it.');
  if (l.acknowledged) parts.push(`Acknowledged by ${l.acknowledged.by} at ${formatInstant(l.acknowledged.at)}.`);
  return parts.join(' ');
}

function table(rows: ReadonlyArray<readonly [string, string]>): string {
  return `<table>${rows.map(([k, v]) => `<tr><th>${h(k)}</th><td><strong>${h(v)}</strong></td></tr>`).join('')}</table>`;
}

function memberRow(m: Anomaly, self: boolean, linkTo: (id: string) => string): string {
  const who = [m.subject.developer, m.subject.session === undefined ? undefined : `session ${m.subject.session}`, m.subject.model]
    .filter((x): x is string => x !== undefined)
    .join(', ');
  const name = self ? `<strong>${h(kindTitle(m.kind))} (this one)</strong>` : `<a href="${h(linkTo(m.id))}">${h(kindTitle(m.kind))}</a>`;
  return `<tr><td>${name}</td><td>${h(m.severity)}</td><td>${h(m.status)}</td><td>${h(who || `team ${m.subject.team}`)}</td><td>${h(formatUsd(m.impact_usd))}</td></tr>`;
}

const capitalize = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
