export { createNotifier, type Notifier, type NotifierDeps, type NotifierStats, type NotifierStore } from './notifier.ts';
export { routeAnomaly, resolveReceivers, ruleMatches, globMatch, type Route, type Target } from './routing.ts';
export { decide, DEFAULT_RENOTIFY, type Decision, type RenotifyPolicy, type VersionFacts } from './decide.ts';
export { withRetry, backoffMs, DEFAULT_RETRY, type RetryPolicy, type RetryOutcome } from './retry.ts';
export { storeSilences, type ActiveSilence, type DispatchResult } from './dispatcher.ts';
