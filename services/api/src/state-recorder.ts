import type { Producer } from '@burnrate/bus';
import type { Logger } from '@burnrate/core';
import { type AnomalyState, TOPICS } from '@burnrate/schemas';
import type { Store } from '@burnrate/store';

/** Records human decisions about anomalies: every route that acknowledges, snoozes or resolves goes through it. */
export interface StateRecorder {
  /**
   * Resolves once the decisions are durable on anomaly-state.v1 (keyed by anomaly id, so the
   * notifier that owns the anomaly sees them in order) — callers answer their human only after
   * that. They are also written to the store right away, so a read straight after shows them;
   * when that write fails the sink stores them from the topic.
   */
  record(states: readonly AnomalyState[]): Promise<void>;
}

export function createStateRecorder(deps: { producer: Producer; store: Pick<Store, 'insertAnomalyStates'>; log: Logger }): StateRecorder {
  const log = deps.log.child({ component: 'anomaly-state' });
  return {
    async record(states) {
      if (states.length === 0) return;
      await deps.producer.send(
        TOPICS.anomalyState.name,
        states.map((s) => ({ key: s.anomaly_id, value: JSON.stringify(s) })),
      );
      try {
        await deps.store.insertAnomalyStates(states);
      } catch (err) {
        log.warn({ err, decisions: states.length }, 'decisions are on the bus but not yet in the store; the sink stores them');
      }
      for (const s of states)
        log.info({ anomalyId: s.anomaly_id, action: s.action, by: s.by, channel: s.channel }, 'anomaly decision recorded');
    },
  };
}
