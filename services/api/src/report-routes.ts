import { type Clock, jsonResponse, parseDuration, type Route } from '@burnrate/core';
import { type Anomaly, type AnomalyState, Instant } from '@burnrate/schemas';
import { type ReconciliationRow, roundToMicroUsd, type Store } from '@burnrate/store';
import { groupDecisions } from './anomaly-list.ts';
import { type PrecisionReport, precisionReport } from './precision.ts';
import { authorize, invalidField } from './request.ts';

export type ReportRoutesStore = Pick<Store, 'listAnomalies' | 'listAnomalyStates' | 'reconciliation'>;

/** The period the report covers when `since` is not given: what a FinOps practitioner tunes from each month. */
const DEFAULT_SINCE = '30d';
const MAX_SINCE_MS = 400 * 86_400_000;
const PAGE = 1000;

/** GET /api/report/precision?since=30d and GET /api/report/reconciliation?since=30d&team=T. */
export function reportRoutes(deps: { store: ReportRoutesStore; clock: Clock; apiToken?: string | undefined }): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/report/precision',
      handler: async (req) => {
        authorize(req, deps.apiToken);
        for (const name of req.query.keys()) {
          if (name !== 'since') throw invalidField(name, 'is not a parameter of GET /api/report/precision; it takes since');
        }
        const until = deps.clock.now();
        const since = sinceOf(req.query.get('since') ?? DEFAULT_SINCE, until);
        return jsonResponse(200, await readPrecision(deps.store, since, until));
      },
    },
    {
      method: 'GET',
      path: '/api/report/reconciliation',
      handler: async (req) => {
        authorize(req, deps.apiToken);
        for (const name of req.query.keys()) {
          if (name !== 'since' && name !== 'team') {
            throw invalidField(name, 'is not a parameter of GET /api/report/reconciliation; it takes since and team');
          }
        }
        const until = deps.clock.now();
        const since = sinceOf(req.query.get('since') ?? DEFAULT_SINCE, until);
        const team = req.query.get('team') ?? undefined;
        const rows = await deps.store.reconciliation({ from: since.toISOString(), to: until.toISOString(), ...(team ? { team } : {}) });
        return jsonResponse(200, reconciliationReport(rows, since, until));
      },
    },
  ];
}

export interface ReconciliationReport {
  since: string;
  until: string;
  /** Per UTC day, org, team and provider: live, reported, counted and the delta (see ReconciliationRow). */
  rows: ReconciliationRow[];
  /** The period's sums: `counted_usd` is the spend, each dollar once. */
  total: { live_usd: number; report_usd: number; counted_usd: number; delta_usd: number };
}

export function reconciliationReport(rows: ReconciliationRow[], since: Date, until: Date): ReconciliationReport {
  const total = { live_usd: 0, report_usd: 0, counted_usd: 0, delta_usd: 0 };
  for (const r of rows) {
    total.live_usd += r.live_usd;
    total.report_usd += r.report_usd;
    total.counted_usd += r.counted_usd;
    total.delta_usd += r.delta_usd;
  }
  return {
    since: since.toISOString(),
    until: until.toISOString(),
    rows,
    total: {
      live_usd: roundToMicroUsd(total.live_usd),
      report_usd: roundToMicroUsd(total.report_usd),
      counted_usd: roundToMicroUsd(total.counted_usd),
      delta_usd: roundToMicroUsd(total.delta_usd),
    },
  };
}

/** `30d` (back from now) or an instant. */
export function sinceOf(text: string, now: Date): Date {
  const ms = parseDuration(text);
  if (ms !== undefined) {
    if (ms <= 0 || ms > MAX_SINCE_MS) throw invalidField('since', `must be a duration from 1s to 400d, not ${JSON.stringify(text)}`);
    return new Date(now.getTime() - ms);
  }
  const instant = Instant.safeParse(text);
  if (!instant.success)
    throw invalidField('since', `must be a duration such as 30d or an instant such as 2026-11-01T00:00:00Z, not ${JSON.stringify(text)}`);
  const at = new Date(instant.data);
  if (at.getTime() >= now.getTime()) throw invalidField('since', `must be in the past (now is ${now.toISOString()}), not ${instant.data}`);
  return at;
}

/** Every episode active since `since`, a page at a time with its decisions, into the report. */
export async function readPrecision(store: ReportRoutesStore, since: Date, until: Date): Promise<PrecisionReport> {
  const episodes: Pick<Anomaly, 'id' | 'kind' | 'subject'>[] = [];
  const decisions = new Map<string, AnomalyState[]>();
  let after: { detected_at: string; id: string } | undefined;
  for (;;) {
    const page = await store.listAnomalies({ since: since.toISOString(), limit: PAGE, ...(after !== undefined ? { after } : {}) });
    if (page.length === 0) break;
    for (const a of page) episodes.push({ id: a.id, kind: a.kind, subject: a.subject });
    for (const [id, list] of groupDecisions(await store.listAnomalyStates({ anomaly_ids: page.map((a) => a.id) }))) decisions.set(id, list);
    const last = page.at(-1) as Anomaly;
    if (page.length < PAGE) break;
    after = { detected_at: last.detected_at, id: last.id };
  }
  return precisionReport(episodes, decisions, { since, until });
}
