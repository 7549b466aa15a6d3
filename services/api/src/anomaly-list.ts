import { type Anomaly, type AnomalyLifecycle, type AnomalyState, lifecycleOf, type LifecycleState } from '@burnrate/schemas';
import type { Store } from '@burnrate/store';
import { stateOf } from './anomaly-view.ts';

export type AnomalyListStore = Pick<Store, 'listAnomalies' | 'listAnomalyStates' | 'firstDetectedAt'>;

/** One anomaly as the API lists it: its latest version, where it stands with its owners, and since when. */
export interface AnomalyEntry {
  id: string;
  kind: Anomaly['kind'];
  severity: Anomaly['severity'];
  version: number;
  /** The detector's view: `open` until the signal returned to normal. */
  status: Anomaly['status'];
  /** The humans' view combined with the detector's: open, acknowledged, snoozed or resolved. */
  state: LifecycleState;
  subject: Anomaly['subject'];
  window: Anomaly['window'];
  observed: Anomaly['observed'];
  expected: Anomaly['expected'];
  impact_usd: number;
  projected_usd: number;
  summary: string;
  advice: string;
  evidence: Anomaly['evidence'];
  /** When the latest version was detected. */
  detected_at: string;
  /** When version 1 was detected. */
  first_detected_at: string;
  acknowledged_by: string | null;
  acknowledged_at: string | null;
  snoozed_until: string | null;
  /** Why a human resolved it: expected, real or noise. */
  reason: AnomalyState['reason'] | null;
  /** The latest decision, whatever it was. */
  last_decision: AnomalyState | null;
  /** Found by a backfill over late usage (an import, a poller catching up), not live: never sent to anyone. */
  historical: boolean;
}

export function anomalyEntry(anomaly: Anomaly, lifecycle: AnomalyLifecycle, firstDetectedAt: string | undefined): AnomalyEntry {
  return {
    id: anomaly.id,
    kind: anomaly.kind,
    severity: anomaly.severity,
    version: anomaly.version,
    status: anomaly.status,
    state: stateOf(anomaly, lifecycle),
    subject: anomaly.subject,
    window: anomaly.window,
    observed: anomaly.observed,
    expected: anomaly.expected,
    impact_usd: anomaly.impact_usd,
    projected_usd: anomaly.projected_usd,
    summary: anomaly.summary,
    advice: anomaly.advice,
    evidence: anomaly.evidence,
    detected_at: anomaly.detected_at,
    first_detected_at: firstDetectedAt ?? anomaly.detected_at,
    acknowledged_by: lifecycle.acknowledged?.by ?? null,
    acknowledged_at: lifecycle.acknowledged?.at ?? null,
    snoozed_until: lifecycle.snoozed_until ?? null,
    reason: lifecycle.reason ?? null,
    last_decision: lifecycle.decision ?? null,
    historical: anomaly.historical === true,
  };
}

export interface AnomalyListFilter {
  /** The detector's status. */
  status?: Anomaly['status'];
  /** The lifecycle state (see AnomalyEntry.state). */
  state?: LifecycleState;
  team?: string;
  kind?: string;
  /** Only those a backfill found (true), or only those found live (false). */
  historical?: boolean;
  limit: number;
}

/** How many anomalies one store read takes while a state filter looks for matches. */
const SCAN_PAGE = 500;

/**
 * The newest `limit` anomalies that pass the filter. The state lives in another table than the
 * anomalies, so with a state filter the list is read a page at a time (a keyset cursor, no gaps
 * or repeats) until `limit` matched or the anomalies ran out. Only open episodes can be
 * acknowledged or snoozed, so those states read open episodes only.
 */
export async function listAnomalyEntries(store: AnomalyListStore, filter: AnomalyListFilter, now: Date): Promise<AnomalyEntry[]> {
  const status = filter.status ?? (filter.state !== undefined && filter.state !== 'resolved' ? 'open' : undefined);
  const pageSize = filter.state === undefined ? filter.limit : Math.max(filter.limit, SCAN_PAGE);
  const entries: AnomalyEntry[] = [];
  let after: { detected_at: string; id: string } | undefined;
  for (;;) {
    const page = await store.listAnomalies({
      ...(status !== undefined ? { status } : {}),
      ...(filter.team !== undefined ? { team: filter.team } : {}),
      ...(filter.kind !== undefined ? { kind: filter.kind } : {}),
      ...(filter.historical !== undefined ? { historical: filter.historical } : {}),
      ...(after !== undefined ? { after } : {}),
      limit: pageSize,
    });
    for (const entry of await describePage(store, page, now)) {
      if (filter.state === undefined || entry.state === filter.state) entries.push(entry);
    }
    const last = page.at(-1);
    if (entries.length >= filter.limit || page.length < pageSize || last === undefined) break;
    after = { detected_at: last.detected_at, id: last.id };
  }
  return entries.slice(0, filter.limit);
}

/** A page of anomalies with their decisions and first detections: two queries, whatever the page size. */
export async function describePage(
  store: Pick<Store, 'listAnomalyStates' | 'firstDetectedAt'>,
  anomalies: readonly Anomaly[],
  now: Date,
): Promise<AnomalyEntry[]> {
  if (anomalies.length === 0) return [];
  const ids = anomalies.map((a) => a.id);
  const [decisions, firsts] = await Promise.all([store.listAnomalyStates({ anomaly_ids: ids }), store.firstDetectedAt(ids)]);
  const byId = groupDecisions(decisions);
  return anomalies.map((a) => anomalyEntry(a, lifecycleOf(byId.get(a.id) ?? [], now), firsts.get(a.id)));
}

export function groupDecisions(decisions: readonly AnomalyState[]): Map<string, AnomalyState[]> {
  const byId = new Map<string, AnomalyState[]>();
  for (const d of decisions) {
    const list = byId.get(d.anomaly_id);
    if (list) list.push(d);
    else byId.set(d.anomaly_id, [d]);
  }
  return byId;
}
