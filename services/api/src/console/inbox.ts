import type { Route } from '@burnrate/core';
import { formatInstant, impactPhrase, kindTitle } from '@burnrate/notify';
import { AnomalyKind, type LifecycleState, type Severity } from '@burnrate/schemas';
import { type AnomalyEntry, type AnomalyListFilter, listAnomalyEntries } from '../anomaly-list.ts';
import { h } from '../html.ts';
import { pageAccess } from './access.ts';
import { decisionForms } from './actions.ts';
import type { ConsoleDeps } from './deps.ts';
import { consolePage, selfPath } from './layout.ts';

const STATES: readonly LifecycleState[] = ['open', 'acknowledged', 'snoozed', 'resolved'];
const SEVERITIES: readonly Severity[] = ['critical', 'warning', 'info'];
const INBOX_PARAMS = ['team', 'severity', 'state', 'kind'];
const INBOX_LIMIT = 300;

interface InboxFilter {
  team?: string;
  severity?: Severity;
  state?: LifecycleState;
  kind?: string;
}

/** GET / — the inbox: anomalies by team, newest first, filtered by team, severity, state and kind (kept in the URL). */
export function inboxRoute(deps: ConsoleDeps): Route {
  return {
    method: 'GET',
    path: '/',
    handler: async (req) => {
      const now = deps.clock.now();
      const access = pageAccess(deps.sessions, req, now);
      if (!access.ok) return access.response;
      const { session } = access;
      const parsed = inboxFilter(req.query);
      const filter = 'problem' in parsed ? {} : parsed;
      const list: AnomalyListFilter = { limit: INBOX_LIMIT };
      if (filter.team !== undefined) list.team = filter.team;
      if (filter.state !== undefined) list.state = filter.state;
      if (filter.kind !== undefined) list.kind = filter.kind;
      const entries = (await listAnomalyEntries(deps.store, list, now)).filter(
        (e) => filter.severity === undefined || e.severity === filter.severity,
      );
      const teams = [...new Set([...deps.config.current().teams.map((t) => t.id), ...entries.map((e) => e.subject.team)])].sort();
      const byTeam = new Map<string, AnomalyEntry[]>();
      for (const e of entries) byTeam.set(e.subject.team, [...(byTeam.get(e.subject.team) ?? []), e]);
      const back = selfPath(req);
      const counts = STATES.map((s) => `${entries.filter((e) => e.state === s).length} ${s}`).join(' · ');
      const body = [
        '<h1>Inbox</h1>',
        'problem' in parsed ? `<p class="error" role="alert">${h(parsed.problem)}</p>` : '',
        filterForm(filter, teams),
        `<p class="muted" id="inbox-counts">${h(`${entries.length} anomal${entries.length === 1 ? 'y' : 'ies'}: ${counts}`)}${entries.length >= INBOX_LIMIT ? h(` (the newest ${INBOX_LIMIT}; filter to see others)`) : ''}</p>`,
        entries.length === 0 ? '<p class="notice">Nothing matches these filters.</p>' : '',
        ...[...byTeam.entries()]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(
            ([team, rows]) =>
              `<section class="team" data-team="${h(team)}"><h2>${h(team)} <span class="muted">(${rows.length})</span></h2><table class="list"><tr><th>Severity</th><th>What</th><th>Who</th><th class="num">Impact</th><th>State</th><th>First detected</th><th>Act</th></tr>${rows
                .map((e) => row(e, decisionForms(deps.sessions, session, e, back)))
                .join('')}</table></section>`,
          ),
      ].join('');
      return consolePage({
        status: 'problem' in parsed ? 400 : 200,
        title: 'Inbox',
        section: 'inbox',
        session,
        sessions: deps.sessions,
        setCookie: access.setCookie,
        body,
      });
    },
  };
}

/** The filter in the URL, or the first thing wrong with it (named, with what it takes). */
export function inboxFilter(query: URLSearchParams): InboxFilter | { problem: string } {
  const filter: InboxFilter = {};
  for (const name of query.keys()) {
    if (!INBOX_PARAMS.includes(name)) return { problem: `${name} is not a filter of the inbox; it takes ${INBOX_PARAMS.join(', ')}.` };
  }
  const value = (name: string): string | undefined => {
    const v = query.get(name);
    return v === null || v === '' ? undefined : v;
  };
  const team = value('team');
  if (team !== undefined) filter.team = team;
  const severity = value('severity');
  if (severity !== undefined) {
    if (!(SEVERITIES as readonly string[]).includes(severity))
      return { problem: `severity must be one of ${SEVERITIES.join(', ')}, not ${JSON.stringify(severity)}.` };
    filter.severity = severity as Severity;
  }
  const state = value('state');
  if (state !== undefined) {
    if (!(STATES as readonly string[]).includes(state))
      return { problem: `state must be one of ${STATES.join(', ')}, not ${JSON.stringify(state)}.` };
    filter.state = state as LifecycleState;
  }
  const kind = value('kind');
  if (kind !== undefined) {
    if (!AnomalyKind.safeParse(kind).success)
      return { problem: `kind must be one of ${AnomalyKind.options.join(', ')}, not ${JSON.stringify(kind)}.` };
    filter.kind = kind;
  }
  return filter;
}

function filterForm(filter: InboxFilter, teams: readonly string[]): string {
  const select = (name: string, label: string, options: readonly string[], current: string | undefined, show = (o: string) => o): string =>
    `<label>${h(label)}<select name="${name}"><option value="">all</option>${options
      .map((o) => `<option value="${h(o)}"${o === current ? ' selected' : ''}>${h(show(o))}</option>`)
      .join('')}</select></label>`;
  return `<form class="filters" method="get" action="/">${select('team', 'Team', teams, filter.team)}${select('severity', 'Severity', SEVERITIES, filter.severity)}${select('state', 'State', STATES, filter.state)}${select('kind', 'Kind', AnomalyKind.options, filter.kind, (k) => kindTitle(k as AnomalyKind))}<button type="submit">Apply</button> <a href="/">Clear</a></form>`;
}

function row(e: AnomalyEntry, actions: string): string {
  const who = [e.subject.developer, e.subject.session === undefined ? undefined : `session ${e.subject.session}`, e.subject.model]
    .filter((x): x is string => x !== undefined)
    .join(', ');
  const stateNote =
    e.state === 'snoozed' && e.snoozed_until
      ? ` until ${formatInstant(e.snoozed_until)}`
      : e.state === 'acknowledged' && e.acknowledged_by
        ? ` by ${e.acknowledged_by}`
        : e.state === 'resolved' && e.reason
          ? ` as ${e.reason}`
          : '';
  return `<tr class="anomaly" data-anomaly-id="${h(e.id)}"><td class="${h(e.severity)}">${h(e.severity)}</td><td><a href="/anomalies/${h(encodeURIComponent(e.id))}">${h(kindTitle(e.kind))}</a>${e.historical ? ' <span class="badge">backfill</span>' : ''}<br><span class="muted">${h(e.summary)}</span></td><td>${h(who || `team ${e.subject.team}`)}</td><td class="num">${h(impactPhrase(e))}</td><td class="state state-${h(e.state)}" data-state="${h(e.state)}">${h(e.state + stateNote)}</td><td>${h(formatInstant(e.first_detected_at))}</td><td>${actions}</td></tr>`;
}
