import type { Route } from '@burnrate/core';
import type { AnomalyDetail } from '../anomaly-view.ts';
import { decisionRoute } from './actions.ts';
import { anomalyEvidence } from './anomaly-evidence.ts';
import { configPageRoutes } from './config-page.ts';
import type { ConsoleDeps } from './deps.ts';
import { inboxRoute } from './inbox.ts';
import { signInRoutes } from './sign-in.ts';
import { spendPageRoute } from './spend-page.ts';

export type { BacktestRow, ConsoleBacktester, ConsoleBacktestResult, ConsoleDeps, ConsoleStore } from './deps.ts';
export { type ConsoleSession, type ConsoleSessions, createConsoleSessions, SESSION_COOKIE } from './session.ts';

export interface WebConsole {
  /** The inbox (/), the spend explorer, the config page, sign-in and the decision route. */
  routes: Route[];
  /** What the anomaly page (human-routes.ts) needs to show itself as a console page. */
  anomalyPage: { sessions: ConsoleDeps['sessions']; evidence: (detail: AnomalyDetail) => Promise<string> };
}

/**
 * The web console, server-rendered on the API's port: every page is HTML built here with every
 * value escaped, no script, no asset from elsewhere. The anomaly page itself stays in
 * anomaly-page.ts (it is also what email links open) and takes `anomalyPage` from here.
 */
export function createWebConsole(deps: ConsoleDeps): WebConsole {
  return {
    routes: [inboxRoute(deps), ...signInRoutes(deps), decisionRoute(deps), spendPageRoute(deps), ...configPageRoutes(deps)],
    anomalyPage: { sessions: deps.sessions, evidence: (detail) => anomalyEvidence(deps.store, detail.anomaly) },
  };
}
