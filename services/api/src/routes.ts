import type { Producer } from '@burnrate/bus';
import { type Clock, type Logger, type Route, systemClock } from '@burnrate/core';
import type { Store } from '@burnrate/store';
import { anomalyRoutes } from './anomaly-routes.ts';
import { type DlqReplayer, dlqRoutes } from './dlq-routes.ts';
import { reportRoutes } from './report-routes.ts';
import { silenceRoutes } from './silence-routes.ts';
import { spendRoutes } from './spend-routes.ts';
import { createStateRecorder } from './state-recorder.ts';

export interface ApiDeps {
  store: Store;
  /** Where decisions go (anomaly-state.v1): the in-process bus embedded, Kafka distributed. */
  producer: Producer;
  log: Logger;
  /** When set, every /api route needs `Authorization: Bearer <token>`; unset, they are open. */
  apiToken?: string | undefined;
  clock?: Clock;
  /** Ingest's check-and-publish for POST /api/dlq/replay; without it (no ingest in the process) that route is not served. */
  dlqReplayer?: DlqReplayer | undefined;
  /** Each team's `budget.monthly_usd` for GET /api/spend's month to date; none when absent. */
  budgets?: () => ReadonlyMap<string, number | undefined>;
}

/**
 * Every route people use Burnrate through, for whichever process serves HTTP: `burnrate start`
 * embedded, the ingest service distributed. Decisions go through one StateRecorder, so each is on
 * anomaly-state.v1 before anyone is told it was recorded.
 */
export function createApiRoutes(deps: ApiDeps): Route[] {
  const clock = deps.clock ?? systemClock;
  const log = deps.log.child({ component: 'api' });
  const recorder = createStateRecorder({ producer: deps.producer, store: deps.store, log });
  return [
    ...anomalyRoutes({ store: deps.store, recorder, clock, apiToken: deps.apiToken }),
    ...silenceRoutes({ store: deps.store, clock, log, apiToken: deps.apiToken }),
    ...reportRoutes({ store: deps.store, clock, apiToken: deps.apiToken }),
    ...dlqRoutes({ store: deps.store, clock, apiToken: deps.apiToken, replayer: deps.dlqReplayer }),
    ...spendRoutes({ store: deps.store, clock, apiToken: deps.apiToken, budgets: deps.budgets ?? (() => new Map()) }),
  ];
}
