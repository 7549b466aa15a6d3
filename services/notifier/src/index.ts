export { createNotifier, type Notifier, type NotifierDeps, type NotifierStats, type NotifierStore } from './notifier.ts';
export { routeAnomaly, resolveReceivers, ruleMatches, globMatch, type Route, type Target } from './routing.ts';
export { decide, DEFAULT_RENOTIFY, type Decision, factsOf, policyFor, type RenotifyPolicy, type VersionFacts } from './decide.ts';
export { GroupClock, groupKeyOf } from './grouping.ts';
export { type Inhibition, inhibitionOf } from './inhibit.ts';
export { withRetry, backoffMs, DEFAULT_RETRY, type RetryPolicy, type RetryOutcome } from './retry.ts';
export { storeSilences, type ActiveSilence, type DispatchResult } from './dispatcher.ts';

export { parentOf } from './message-view.ts';
export { registerNotifierMetrics } from './notifier-metrics.ts';
export type { DeliveryCount } from './delivery.ts';
