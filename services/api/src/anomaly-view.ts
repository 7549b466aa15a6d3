import { type Anomaly, type AnomalyLifecycle, type AnomalyState, lifecycleOf, type LifecycleState } from '@burnrate/schemas';
import { byLikelyCause } from '@burnrate/notify';
import type { DeliveryRecord, Store } from '@burnrate/store';

export type AnomalyViewStore = Pick<Store, 'getAnomaly' | 'anomalyVersions' | 'listAnomalyStates' | 'listDeliveries'>;

/** Everything known about one anomaly: what the API's GET /api/anomalies/:id and the anomaly page show. */
export interface AnomalyDetail {
  /** The latest version. */
  anomaly: Anomaly;
  /** Every stored version, oldest first. */
  versions: Anomaly[];
  /** Every human (or system) decision, oldest first. */
  decisions: AnomalyState[];
  /** The latest delivery record per (version, receiver), oldest first. */
  deliveries: DeliveryRecord[];
  lifecycle: AnomalyLifecycle;
  /**
   * Where it stands: the humans' lifecycle, except that an episode the detector closed is
   * `resolved` even when nobody touched it.
   */
  state: LifecycleState;
  /** When version 1 was detected: how long the episode has been open. */
  first_detected_at: string;
  /**
   * The anomalies recorded against the same first message (an incident, or a group sent together),
   * at their latest versions, most likely cause first; absent when it was sent alone or not at all.
   */
  incident?: { message: string; members: Anomaly[] };
}

// An incident's page lists at most this many members; the rest are in the anomaly list.
const INCIDENT_MEMBERS_MAX = 100;

/** The state an anomaly's list entry and filters use: a detector's resolution counts as resolved. */
export function stateOf(anomaly: Anomaly, lifecycle: AnomalyLifecycle): LifecycleState {
  return anomaly.status === 'resolved' ? 'resolved' : lifecycle.state;
}

export async function describeAnomaly(store: AnomalyViewStore, id: string, now: Date): Promise<AnomalyDetail | undefined> {
  const [anomaly, versions, decisions, deliveries] = await Promise.all([
    store.getAnomaly(id),
    store.anomalyVersions(id),
    store.listAnomalyStates({ anomaly_id: id }),
    store.listDeliveries({ anomaly_id: id }),
  ]);
  if (!anomaly) return undefined;
  const lifecycle = lifecycleOf(decisions, now);
  const incident = await incidentOf(store, deliveries);
  return {
    anomaly,
    versions,
    decisions,
    deliveries,
    lifecycle,
    state: stateOf(anomaly, lifecycle),
    first_detected_at: versions[0]?.detected_at ?? anomaly.detected_at,
    ...(incident ? { incident } : {}),
  };
}

/** The members of the first message the anomaly was recorded against, when there are others. */
async function incidentOf(store: AnomalyViewStore, deliveries: readonly DeliveryRecord[]): Promise<AnomalyDetail['incident']> {
  const first = deliveries.filter((d) => d.status === 'sent').sort((x, y) => x.at.localeCompare(y.at))[0];
  if (!first) return undefined;
  const carried = await store.listDeliveries({ status: 'sent', detail: first.detail });
  const ids = [...new Set(carried.filter((d) => d.receiver === first.receiver).map((d) => d.anomaly_id))];
  if (ids.length < 2) return undefined;
  const members = (await Promise.all(ids.slice(0, INCIDENT_MEMBERS_MAX).map((id) => store.getAnomaly(id)))).filter(
    (m): m is Anomaly => m !== undefined,
  );
  return { message: first.detail, members: members.sort(byLikelyCause) };
}
