import { type ConfigIssue, isBurnrateError, parseDuration, type Route } from '@burnrate/core';
import { formatUsd } from '@burnrate/detection';
import { kindTitle } from '@burnrate/notify';
import type { AnomalyKind } from '@burnrate/schemas';
import { stringify } from 'yaml';
import { h } from '../html.ts';
import { pageAccess } from './access.ts';
import type { BacktestRow, ConsoleBacktestResult, ConsoleDeps } from './deps.ts';
import { readForm } from './forms.ts';
import { consolePage, csrfInput, refusalPage } from './layout.ts';
import { type ConsoleSession, isRefusal } from './session.ts';

// Keys whose values are secrets wherever they appear in the config (env-provided secrets never
// are in it; these are what a file could still carry). Source keys are SHA-256 hashes, not
// secrets, and stay visible so a reviewer can match them.
const SECRET_KEY = /(token|password|secret|webhook_url|smtp_url|authorization|api_key|pass)$/i;
const PROPOSAL_MAX = 200 * 1024;

/** GET /config (the running config, its status and warnings, the backtest form) and POST /config/backtest. */
export function configPageRoutes(deps: ConsoleDeps): Route[] {
  const render = (
    session: ConsoleSession,
    status: number,
    extra: string,
    proposal = '',
    range = { from: '7d', to: '' },
    setCookie?: string,
  ) => {
    const config = deps.config.current();
    const st = deps.config.status?.();
    const warnings = deps.warnings();
    const body = [
      '<h1>Config</h1>',
      `<table><tr><th>File</th><td>${h(st?.path ?? deps.config.origin)}</td></tr>${st ? `<tr><th>Loaded</th><td>${h(st.loaded_at)}</td></tr><tr><th>SHA-256</th><td><code>${h(st.hash)}</code></td></tr>` : ''}<tr><th>Org</th><td>${h(config.org)}</td></tr><tr><th>Teams</th><td>${h(config.teams.map((t) => `${t.id}${t.budget ? ` (${formatUsd(t.budget.monthly_usd)}/month)` : ''}`).join(', ') || 'none')}</td></tr></table>`,
      st?.last_error
        ? `<p class="error">${h(`The last reload (${st.last_error.at}) was refused: ${st.last_error.message}`)}</p>${issueList(st.last_error.problems)}`
        : '',
      `<h2>Warnings (${warnings.length})</h2>`,
      warnings.length === 0 ? '<p class="muted">None: config check finds nothing to warn about.</p>' : issueList(warnings),
      '<h2>Backtest a change</h2>',
      deps.backtester
        ? `<p class="muted">Paste a proposed burnrate.yaml: Burnrate replays the stored events of the range through the detectors with the running config and with the proposal, and lists the anomalies only the proposal raises (NEW), only the running config raises (GONE), and those whose severity or first detection differs (CHANGED). The same as <code>burnrate backtest --config proposed.yaml --baseline current.yaml</code>; nothing is changed.</p>
<form method="post" action="/config/backtest">${csrfInput(deps.sessions, session)}<p><label>Proposed burnrate.yaml<br><textarea name="proposal" rows="14" required spellcheck="false" style="font-family:monospace;max-width:100%">${h(proposal)}</textarea></label></p><p class="filters" style="display:flex;gap:12px"><label>From (a day, an instant, or how far back: 7d)<br><input type="text" name="from" value="${h(range.from)}"></label><label>To (empty: now)<br><input type="text" name="to" value="${h(range.to)}"></label></p><button class="primary" type="submit">Run backtest</button></form>`
        : '<p class="notice">Backtests run where the detectors and the store are in one process (<code>burnrate start</code>); here, use <code>burnrate backtest</code>.</p>',
      extra,
      '<h2>Running config</h2>',
      '<p class="muted">As parsed, defaults filled in; secrets shown as [redacted].</p>',
      `<pre id="config-yaml" style="background:#f8fafc;padding:12px;overflow:auto;max-height:480px">${h(stringify(redact(config)))}</pre>`,
    ].join('');
    return consolePage({ status, title: 'Config', section: 'config', session, sessions: deps.sessions, setCookie, body });
  };

  return [
    {
      method: 'GET',
      path: '/config',
      handler: async (req) => {
        const access = pageAccess(deps.sessions, req, deps.clock.now());
        if (!access.ok) return access.response;
        return render(access.session, 200, '', '', undefined, access.setCookie);
      },
    },
    {
      method: 'POST',
      path: '/config/backtest',
      handler: async (req) => {
        const now = deps.clock.now();
        const form = await readForm(req);
        const session = deps.sessions.checkPost(req, form, now);
        if (isRefusal(session)) return refusalPage(deps.sessions, session);
        const proposal = form.get('proposal') ?? '';
        const range = { from: (form.get('from') ?? '').trim() || '7d', to: (form.get('to') ?? '').trim() };
        const fail = (message: string) => render(session, 400, `<p class="error" role="alert">${h(message)}</p>`, proposal, range);
        if (!deps.backtester) return fail('This process does not run backtests; use burnrate backtest.');
        if (proposal.trim() === '') return fail('proposal is empty: paste the burnrate.yaml you want to try.');
        if (proposal.length > PROPOSAL_MAX) return fail(`proposal must be at most ${PROPOSAL_MAX} characters, not ${proposal.length}.`);
        const to = range.to === '' ? now : dateOf(range.to);
        if (to === undefined)
          return fail(`to must be a day (2026-11-01) or an instant (2026-11-01T09:00:00Z), not ${JSON.stringify(range.to)}.`);
        const back = parseDuration(range.from);
        const from = back !== undefined ? new Date(to.getTime() - back) : dateOf(range.from);
        if (from === undefined)
          return fail(`from must be a duration back from to (7d), a day or an instant, not ${JSON.stringify(range.from)}.`);
        if (from.getTime() >= to.getTime()) return fail(`from (${from.toISOString()}) must be before to (${to.toISOString()}).`);
        if (to.getTime() - from.getTime() > 93 * 86_400_000)
          return fail('The range is at most 93 days here (a backtest replays every event in it); use burnrate backtest for longer.');
        let result: ConsoleBacktestResult;
        try {
          result = await deps.backtester.run({ proposal, from: from.toISOString(), to: to.toISOString() });
        } catch (err) {
          if (!isBurnrateError(err) || err.code !== 'INPUT_INVALID') throw err;
          return fail(err.message);
        }
        if (!result.ok && 'refused' in result) {
          // 409 while another runs (try again later), 503 when it ran out of time.
          return render(
            session,
            result.refused === 'busy' ? 409 : 503,
            `<p class="error" role="alert" data-refused="${result.refused}">${h(result.message)}</p>`,
            proposal,
            range,
          );
        }
        if (!result.ok) {
          return render(
            session,
            400,
            `<p class="error" role="alert">${h(`The proposal is not a valid Burnrate config (${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}); nothing was replayed.`)}</p>${issueList(result.problems)}`,
            proposal,
            range,
          );
        }
        return render(session, 200, backtestResult(result, from, to), proposal, range);
      },
    },
  ];
}

function backtestResult(r: Extract<ConsoleBacktestResult, { ok: true }>, from: Date, to: Date): string {
  return [
    `<div id="backtest-result"><h2>Backtest: ${r.new.length} new, ${r.gone.length} gone, ${r.changed.length} changed, ${r.unchanged} unchanged</h2>`,
    `<p class="muted">${h(`${r.events.toLocaleString('en-US')} events from ${from.toISOString().slice(0, 16)}Z to ${to.toISOString().slice(0, 16)}Z; the proposal raises ${r.proposed}, the running config ${r.current}.`)}</p>`,
    '<h3>NEW: only the proposal raises these</h3>',
    rows(r.new),
    '<h3>GONE: only the running config raises these</h3>',
    rows(r.gone),
    '<h3>CHANGED: the same episode, another severity or first detection</h3>',
    r.changed.length === 0
      ? '<p class="muted">None.</p>'
      : `<table class="list" data-diff="changed"><tr><th>Team</th><th>What</th><th>Who</th><th>Severity</th><th>First detected</th><th>Changed</th></tr>${r.changed
          .map(
            (c) =>
              `<tr><td>${h(c.proposed.team)}</td><td>${h(kindTitle(c.proposed.kind as AnomalyKind))}</td><td>${h(who(c.proposed))}</td><td>${h(arrow(c.baseline.severity, c.proposed.severity))}</td><td>${h(arrow(c.baseline.first_detected_at.slice(0, 16), c.proposed.first_detected_at.slice(0, 16)))}</td><td>${h(c.changed.join(', '))}</td></tr>`,
          )
          .join('')}</table>`,
    '</div>',
  ].join('');
}

function rows(list: readonly BacktestRow[]): string {
  if (list.length === 0) return '<p class="muted">None.</p>';
  return `<table class="list"><tr><th>Team</th><th>What</th><th>Who</th><th>Severity</th><th>First detected</th><th class="num">Impact</th></tr>${list
    .map(
      (a) =>
        `<tr><td>${h(a.team)}</td><td>${h(kindTitle(a.kind as AnomalyKind))}<br><span class="muted">${h(a.summary)}</span></td><td>${h(who(a))}</td><td>${h(a.severity)}</td><td>${h(a.first_detected_at.slice(0, 16))}Z</td><td class="num">${h(formatUsd(a.impact_usd))}</td></tr>`,
    )
    .join('')}</table>`;
}

const who = (a: BacktestRow): string =>
  [a.subject.developer, a.subject.session === undefined ? undefined : `session ${a.subject.session}`, a.subject.model]
    .filter((x): x is string => x !== undefined)
    .join(', ') || `team ${a.team}`;
const arrow = (a: string, b: string): string => (a === b ? b : `${a} → ${b}`);

function issueList(issues: readonly ConfigIssue[]): string {
  return `<ul class="issues">${issues.map((i) => `<li><code>${h(i.path)}</code>${i.line ? h(` (line ${i.line})`) : ''}: ${h(i.message)}</li>`).join('')}</ul>`;
}

function dateOf(text: string): Date | undefined {
  const t = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text);
  return Number.isNaN(t) || !/^\d{4}-\d{2}-\d{2}/.test(text) ? undefined : new Date(t);
}

/** A copy with every value under a secret-looking key replaced, and credentials in URLs removed. */
export function redact(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => redact(v, key));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, redact(v, k)]));
  }
  if (typeof value === 'string') {
    if (SECRET_KEY.test(key)) return '[redacted]';
    return value.replace(/^(\w+:\/\/)[^/@\s]+@/, '$1[redacted]@');
  }
  return value;
}
