import type { Config, Route } from '@burnrate/core';
import { LINK_ACTION_LABELS, LINK_ACTIONS } from '@burnrate/notify';
import { type Anomaly, AnomalyState, type LifecycleState } from '@burnrate/schemas';
import { linkDecision } from '../action-links.ts';
import { h } from '../html.ts';
import type { ConsoleDeps } from './deps.ts';
import { readForm } from './forms.ts';
import { consoleProblem, csrfInput, localPath, refusalPage, seeOther } from './layout.ts';
import { type ConsoleSession, type ConsoleSessions, isRefusal } from './session.ts';

const NOTE_MAX = 2000;

/**
 * What the console's forms post: the email links' actions, and `unack` (the API's and Slack's
 * `unacknowledged`), which takes back an acknowledgement, a snooze or a person's resolution, so
 * that nothing a person does in the console is beyond the console to undo.
 */
const CONSOLE_ACTIONS = [...LINK_ACTIONS, 'unack'] as const;
type ConsoleAction = (typeof CONSOLE_ACTIONS)[number];

/**
 * POST /console/anomalies/:id/decide — the inbox's and the anomaly page's Acknowledge / Snooze /
 * Resolve, and their undo. The same decisions as the email links and the page's signed buttons
 * (linkDecision, recorded through the StateRecorder on anomaly-state.v1), with channel `console`
 * and `by` the session's name; then back to the page the form was on.
 */
export function decisionRoute(deps: ConsoleDeps): Route {
  const log = deps.log.child({ component: 'console' });
  return {
    method: 'POST',
    path: '/console/anomalies/:id/decide',
    handler: async (req) => {
      const now = deps.clock.now();
      const form = await readForm(req);
      const session = deps.sessions.checkPost(req, form, now);
      if (isRefusal(session)) return refusalPage(deps.sessions, session);
      const id = req.params.id ?? '';
      const action = form.get('action');
      if (action === null || !(CONSOLE_ACTIONS as readonly string[]).includes(action)) {
        return consoleProblem(
          deps.sessions,
          session,
          400,
          'Nothing was changed',
          `action must be one of ${CONSOLE_ACTIONS.join(', ')}, not ${JSON.stringify(action ?? '(missing)')}.`,
        );
      }
      const note = (form.get('note') ?? '').trim();
      if (note.length > NOTE_MAX)
        return consoleProblem(
          deps.sessions,
          session,
          400,
          'Nothing was changed',
          `note must be at most ${NOTE_MAX} characters, not ${note.length}.`,
        );
      const anomaly = await deps.store.getAnomaly(id);
      if (anomaly === undefined)
        return consoleProblem(
          deps.sessions,
          session,
          404,
          'Unknown anomaly',
          `Burnrate has no anomaly ${JSON.stringify(id)}; nothing was changed.`,
        );
      await deps.recorder.record([decision(action as ConsoleAction, anomaly, session.by, now, deps.config.current(), note)]);
      log.info({ anomalyId: id, action, by: session.by }, 'console decision');
      return seeOther(localPath(form.get('return'), `/anomalies/${encodeURIComponent(id)}`));
    },
  };
}

function decision(action: ConsoleAction, anomaly: Anomaly, by: string, at: Date, config: Config, note: string): AnomalyState {
  if (action !== 'unack') return linkDecision(action, anomaly, by, 'console', at, config, note);
  return AnomalyState.parse({
    anomaly_id: anomaly.id,
    action: 'unacknowledged',
    by,
    channel: 'console',
    at: at.toISOString(),
    ...(note ? { note } : {}),
  });
}

/**
 * The undo of where a person put the anomaly, named for what it does there: all three record
 * `unacknowledged`, after which it is open and unacknowledged again (reminders and escalation
 * resume). None for a detector's resolution: the episode is over, a new one is a new anomaly.
 */
const UNDO_LABELS: Partial<Record<LifecycleState, string>> = {
  acknowledged: 'Unacknowledge',
  snoozed: 'End snooze',
  resolved: 'Reopen',
};

const SNOOZES = LINK_ACTIONS.filter((a) => a.startsWith('snooze:'));
const RESOLUTIONS = LINK_ACTIONS.filter((a) => a.startsWith('resolve:'));

/**
 * The Acknowledge button (or its undo: Unacknowledge, End snooze, Reopen) and the Snooze and
 * Resolve choices of one anomaly, each a form posting to decisionRoute with the session's CSRF
 * token; `back` is where the browser returns after. `status` is the detector's.
 */
export function decisionForms(
  sessions: ConsoleSessions,
  session: ConsoleSession,
  anomaly: { id: string; state: LifecycleState; status: Anomaly['status'] },
  back: string,
): string {
  const action = `/console/anomalies/${h(encodeURIComponent(anomaly.id))}/decide`;
  const hidden = `${csrfInput(sessions, session)}<input type="hidden" name="return" value="${h(back)}">`;
  const over = anomaly.state === 'resolved';
  const forms: string[] = [];
  const undo = anomaly.status === 'resolved' ? undefined : UNDO_LABELS[anomaly.state];
  if (undo !== undefined) {
    forms.push(
      `<form class="inline" method="post" action="${action}">${hidden}<button type="submit" name="action" value="unack" title="Back to open: nobody has acknowledged it">${h(undo)}</button></form>`,
    );
  }
  if (!over && anomaly.state !== 'acknowledged') {
    forms.push(
      `<form class="inline" method="post" action="${action}">${hidden}<button type="submit" class="primary" name="action" value="ack">${h(LINK_ACTION_LABELS.ack)}</button></form>`,
    );
  }
  if (!over) {
    forms.push(
      `<form class="inline" method="post" action="${action}">${hidden}<select name="action" aria-label="Snooze for">${SNOOZES.map((a) => `<option value="${a}">${h(LINK_ACTION_LABELS[a].replace(/^Snooze /, ''))}</option>`).join('')}</select> <button type="submit">Snooze</button></form>`,
    );
  }
  forms.push(
    `<form class="inline" method="post" action="${action}">${hidden}<select name="action" aria-label="Resolve as">${RESOLUTIONS.map((a) => `<option value="${a}">${h(LINK_ACTION_LABELS[a].replace(/^Resolve: /, ''))}</option>`).join('')}</select> <button type="submit">Resolve</button></form>`,
  );
  return `<span class="actions">${forms.join('')}</span>`;
}
