import { type Anomaly, type AnomalyLifecycle, type AnomalyState, lifecycleOf, type LifecycleState } from '@burnrate/schemas';
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
}

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
  return {
    anomaly,
    versions,
    decisions,
    deliveries,
    lifecycle,
    state: stateOf(anomaly, lifecycle),
    first_detected_at: versions[0]?.detected_at ?? anomaly.detected_at,
  };
}
