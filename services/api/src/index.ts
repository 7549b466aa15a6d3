export { type AnomalyDetail, type AnomalyViewStore, describeAnomaly, stateOf } from './anomaly-view.ts';
export { type AnomalyEntry, anomalyEntry } from './anomaly-list.ts';
export { DECISION_VERBS, type DecisionVerb, MAX_SNOOZE_MS } from './decision-input.ts';
export { type PrecisionReport, type PrecisionRow, precisionReport } from './precision.ts';
export { type ReconciliationReport, reconciliationReport } from './report-routes.ts';
export { type ApiDeps, createApiRoutes } from './routes.ts';
export {
  type BudgetReport,
  type BudgetTeamRow,
  spendRoutes,
  type SpendResponse,
  type SpendRoutesDeps,
  type SpendTopResponse,
  teamBudgets,
} from './spend-routes.ts';
export { type SilenceEntry, type SilenceState, silenceState } from './silence-routes.ts';
export { createStateRecorder, type StateRecorder } from './state-recorder.ts';
export {
  signSlackRequest,
  SLACK_SIGNATURE_WINDOW_S,
  slackInteractionsRoute,
  type SlackInteractionsDeps,
  type SlackSignedHeaders,
} from './slack-interactions.ts';
export { createSlackUserDirectory, type SlackUserDirectory, type SlackUserDirectoryOptions } from './slack-users.ts';
export { snoozeUntil } from './snooze.ts';
export { humanRoutes, type HumanRoutes, type HumanRoutesDeps } from './human-routes.ts';
export { actionLinkRoutes, type ActionLinkDeps, linkDecision } from './action-links.ts';
export { anomalyPageRoute, type AnomalyPageDeps, renderAnomalyPage } from './anomaly-page.ts';
export {
  type DlqEntry,
  type DlqPage,
  type DlqReplayer,
  type ReplayAnswer,
  type ReplayItem,
  type ReplayResponse,
  type ReplayResult,
} from './dlq-routes.ts';
export {
  type BacktestRow,
  type ConsoleBacktester,
  type ConsoleBacktestResult,
  type ConsoleDeps,
  type ConsoleSession,
  type ConsoleSessions,
  type ConsoleStore,
  createConsoleSessions,
  createWebConsole,
  SESSION_COOKIE,
  type WebConsole,
} from './console/index.ts';
