import { BurnrateError, type Clock, jsonResponse, type Route } from '@burnrate/core';
import { AnomalyKind, type AnomalyState, lifecycleOf, type LifecycleState } from '@burnrate/schemas';
import type { Store } from '@burnrate/store';
import { type AnomalyEntry, anomalyEntry, type AnomalyListFilter, listAnomalyEntries } from './anomaly-list.ts';
import { describeAnomaly } from './anomaly-view.ts';
import { DECISION_VERBS, type DecisionVerb, decisionFromBody } from './decision-input.ts';
import { authorize, invalidField, readJsonObject } from './request.ts';
import type { StateRecorder } from './state-recorder.ts';

export type AnomalyRoutesStore = Pick<
  Store,
  'listAnomalies' | 'listAnomalyStates' | 'firstDetectedAt' | 'getAnomaly' | 'anomalyVersions' | 'listDeliveries'
>;

export interface AnomalyRoutesDeps {
  store: AnomalyRoutesStore;
  recorder: StateRecorder;
  clock: Clock;
  apiToken?: string | undefined;
}

const STATES: readonly LifecycleState[] = ['open', 'acknowledged', 'snoozed', 'resolved'];
const LIST_PARAMS = ['status', 'state', 'team', 'kind', 'historical', 'limit'];

/** GET /api/anomalies, GET /api/anomalies/:id, and POST /api/anomalies/:id/ack|unack|snooze|resolve. */
export function anomalyRoutes(deps: AnomalyRoutesDeps): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/anomalies',
      handler: async (req) => {
        authorize(req, deps.apiToken);
        const anomalies = await listAnomalyEntries(deps.store, listFilter(req.query), deps.clock.now());
        return jsonResponse(200, { anomalies });
      },
    },
    {
      method: 'GET',
      path: '/api/anomalies/:id',
      handler: async (req) => {
        authorize(req, deps.apiToken);
        const id = req.params.id ?? '';
        const detail = await describeAnomaly(deps.store, id, deps.clock.now());
        if (!detail) throw unknownAnomaly(id);
        return jsonResponse(200, {
          ...anomalyEntry(detail.anomaly, detail.lifecycle, detail.first_detected_at),
          versions: detail.versions,
          decisions: detail.decisions,
          deliveries: detail.deliveries,
        });
      },
    },
    ...(Object.keys(DECISION_VERBS) as DecisionVerb[]).map((verb): Route => ({
      method: 'POST',
      path: `/api/anomalies/:id/${verb}`,
      handler: async (req) => {
        authorize(req, deps.apiToken);
        const id = req.params.id ?? '';
        const now = deps.clock.now();
        // The body is checked before the store is asked, so a bad request costs no query.
        const decision = decisionFromBody(id, verb, await readJsonObject(req), now);
        if (!(await deps.store.getAnomaly(id))) throw unknownAnomaly(id);
        await deps.recorder.record([decision]);
        const detail = await describeAnomaly(deps.store, id, now);
        if (!detail) throw unknownAnomaly(id);
        // The recorder's store write may have failed (the sink stores it from the topic later):
        // answer with the decision counted either way.
        const decisions = detail.decisions.some((d) => sameDecision(d, decision)) ? detail.decisions : [...detail.decisions, decision];
        const entry: AnomalyEntry = anomalyEntry(detail.anomaly, lifecycleOf(decisions, now), detail.first_detected_at);
        return jsonResponse(200, { decision, anomaly: entry });
      },
    })),
  ];
}

function listFilter(query: URLSearchParams): AnomalyListFilter {
  for (const name of query.keys()) {
    if (!LIST_PARAMS.includes(name)) {
      throw invalidField(name, `is not a filter of GET /api/anomalies; it takes ${LIST_PARAMS.join(', ')}`);
    }
  }
  const filter: AnomalyListFilter = { limit: 100 };
  const status = query.get('status');
  if (status !== null) {
    // `status` is the detector's open / resolved; acknowledged and snoozed are lifecycle states,
    // taken here as `state` so `?status=acknowledged` means what its reader expects.
    if (status === 'open' || status === 'resolved') filter.status = status;
    else if (status === 'acknowledged' || status === 'snoozed') filter.state = status;
    else
      throw invalidField(
        'status',
        `must be open or resolved (the detector's view), or acknowledged or snoozed (use state=open|acknowledged|snoozed|resolved for where humans left it), not ${JSON.stringify(status)}`,
      );
  }
  const state = query.get('state');
  if (state !== null) {
    if (!(STATES as readonly string[]).includes(state)) {
      throw invalidField('state', `must be one of ${STATES.join(', ')}, not ${JSON.stringify(state)}`);
    }
    if (filter.state !== undefined && filter.state !== state) {
      throw invalidField('state', `is ${state} but status asks for ${filter.state}; give one of them`);
    }
    filter.state = state as LifecycleState;
  }
  const team = query.get('team');
  if (team !== null) {
    if (team.trim() === '') throw invalidField('team', 'must not be empty');
    filter.team = team;
  }
  const kind = query.get('kind');
  if (kind !== null) {
    if (!AnomalyKind.safeParse(kind).success) {
      throw invalidField('kind', `must be one of ${AnomalyKind.options.join(', ')}, not ${JSON.stringify(kind)}`);
    }
    filter.kind = kind;
  }
  const historical = query.get('historical');
  if (historical !== null) {
    if (historical !== 'true' && historical !== 'false') {
      throw invalidField('historical', `must be true (found by a backfill) or false (found live), not ${JSON.stringify(historical)}`);
    }
    filter.historical = historical === 'true';
  }
  const limitText = query.get('limit');
  if (limitText !== null) {
    const limit = Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw invalidField('limit', `must be a whole number from 1 to 1000, not ${JSON.stringify(limitText)}`);
    }
    filter.limit = limit;
  }
  return filter;
}

function unknownAnomaly(id: string): BurnrateError {
  return new BurnrateError('NOT_FOUND', `no anomaly with id ${JSON.stringify(id)}`);
}

function sameDecision(a: AnomalyState, b: AnomalyState): boolean {
  return a.at === b.at && a.action === b.action && a.by === b.by && a.channel === b.channel;
}
