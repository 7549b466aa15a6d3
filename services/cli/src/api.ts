import { BurnrateError, hasBearerToken, type IncomingRequest, jsonResponse, type Route } from '@burnrate/core';
import type { Anomaly } from '@burnrate/schemas';
import type { Store } from '@burnrate/store';

const STATUSES = new Set(['open', 'resolved']);

/** The list a console or script reads: the latest version of each anomaly, newest first. */
export function anomaliesRoute(deps: { store: Pick<Store, 'listAnomalies'>; apiToken?: string | undefined }): Route {
  return {
    method: 'GET',
    path: '/api/anomalies',
    handler: async (req) => {
      authorize(req, deps.apiToken);
      const status = req.query.get('status') ?? undefined;
      if (status !== undefined && !STATUSES.has(status)) {
        throw new BurnrateError('INPUT_INVALID', `status must be open or resolved, not ${JSON.stringify(status)}`);
      }
      const limitText = req.query.get('limit');
      const limit = limitText === null ? 100 : Number(limitText);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
        throw new BurnrateError('INPUT_INVALID', `limit must be a whole number from 1 to 1000, not ${JSON.stringify(limitText)}`);
      }
      const anomalies = await deps.store.listAnomalies({
        status: status as 'open' | 'resolved' | undefined,
        team: req.query.get('team') ?? undefined,
        kind: req.query.get('kind') ?? undefined,
        limit,
      });
      return jsonResponse(200, { anomalies: anomalies.map(summarise) });
    },
  };
}

function summarise(a: Anomaly): Record<string, unknown> {
  return {
    id: a.id,
    kind: a.kind,
    severity: a.severity,
    version: a.version,
    status: a.status,
    subject: a.subject,
    impact_usd: a.impact_usd,
    projected_usd: a.projected_usd,
    observed: a.observed,
    expected: a.expected,
    summary: a.summary,
    detected_at: a.detected_at,
  };
}

function authorize(req: IncomingRequest, token: string | undefined): void {
  if (!token) return;
  if (!hasBearerToken(req, token))
    throw new BurnrateError('UNAUTHORIZED', 'this endpoint needs Authorization: Bearer <BURNRATE_API_TOKEN>');
}
