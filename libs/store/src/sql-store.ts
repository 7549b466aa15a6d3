import { BurnrateError, type Logger } from '@burnrate/core';
import type { SqlExecutor } from './executor.ts';
import { runMigrations } from './migrations.ts';
import { MAX_SNAPSHOT_PART_BYTES, type Store } from './port.ts';
import * as anomalies from './tables/anomalies.ts';
import * as anomalyState from './tables/anomaly-state.ts';
import * as outbox from './tables/outbox.ts';
import * as deliveries from './tables/deliveries.ts';
import * as snapshots from './tables/detector-snapshots.ts';
import * as dlq from './tables/dlq.ts';
import * as dlqReplays from './tables/dlq-replays.ts';
import * as silences from './tables/silences.ts';
import * as reconciliation from './tables/reconciliation.ts';
import * as spendHourly from './tables/spend-hourly.ts';
import * as spendRollup from './tables/spend-rollup.ts';
import * as usageEvents from './tables/usage-events.ts';

/**
 * The Store over any SqlExecutor: both adapters are this plus their executor. Calls after close
 * are refused rather than handed to a released engine, and close waits for calls in flight, so
 * a resolved insert is never cut off by shutdown.
 */
export function createSqlStore(exec: SqlExecutor, options: { migrationsDir: string; log: Logger }): Store {
  const { log } = options;
  let closed = false;
  const inFlight = new Set<Promise<unknown>>();

  const run = <T>(work: () => Promise<T>): Promise<T> => {
    if (closed) return Promise.reject(new BurnrateError('SHUTTING_DOWN', 'store is closed'));
    const p = work();
    inFlight.add(p);
    const forget = (): void => {
      inFlight.delete(p);
    };
    p.then(forget, forget);
    return p;
  };
  // Snapshot parts are read after loadSnapshot returned, one query each: each is a call of its own.
  const guarded: SqlExecutor = {
    exec: (sql, params) => run(() => exec.exec(sql, params)),
    query: (sql, params) => run(() => exec.query(sql, params)),
    insertJSONEachRow: (table, batch) => run(() => exec.insertJSONEachRow(table, batch)),
    close: () => exec.close(),
  };

  return {
    migrate: () =>
      run(async () => {
        await runMigrations(exec, options.migrationsDir, log);
      }),
    insertUsageEvents: (events) => run(() => usageEvents.insertUsageEvents(exec, events)),
    countUsageEvents: (filter) => run(() => usageEvents.countUsageEvents(exec, filter)),
    listUsageEvents: (filter) => run(() => usageEvents.listUsageEvents(exec, filter)),
    listAcceptedEventIds: (query) => run(() => usageEvents.listAcceptedEventIds(exec, query)),
    spendByHour: (filter) => run(() => spendHourly.spendByHour(exec, filter)),
    reconciliation: (query) => run(() => reconciliation.reconciliation(exec, query)),
    spendCorrections: (query) => run(() => reconciliation.spendCorrectionsOf(exec, query)),
    spend: (query) => run(() => spendRollup.spendReport(exec, query)),
    spendTop: (query) => run(() => spendRollup.spendTop(exec, query)),
    refreshSpendRollup: (options) => run(() => spendRollup.refreshSpendRollup(exec, options)),
    insertDlq: (records) => run(() => dlq.insertDlq(exec, records)),
    listDlq: (filter) => run(() => dlq.listDlq(exec, filter)),
    insertDlqReplays: (replays) => run(() => dlqReplays.insertDlqReplays(exec, replays)),
    firstDlqReplays: (ids) => run(() => dlqReplays.firstDlqReplays(exec, ids)),
    insertAnomalies: (items) => run(() => anomalies.insertAnomalies(exec, items)),
    listAnomalies: (query) => run(() => anomalies.listAnomalies(exec, query)),
    getAnomaly: (id) => run(() => anomalies.getAnomaly(exec, id)),
    anomalyVersions: (id) => run(() => anomalies.anomalyVersions(exec, id)),
    firstDetectedAt: (ids) => run(() => anomalies.firstDetectedAt(exec, ids)),
    insertAnomalyStates: (states) => run(() => anomalyState.insertAnomalyStates(exec, states)),
    latestAnomalyStates: (ids) => run(() => anomalyState.latestAnomalyStates(exec, ids)),
    listAnomalyStates: (filter) => run(() => anomalyState.listAnomalyStates(exec, filter)),
    insertDeliveries: (records) => run(() => deliveries.insertDeliveries(exec, records)),
    listDeliveries: (filter) => run(() => deliveries.listDeliveries(exec, filter)),
    upsertOutbox: (entries) => run(() => outbox.upsertOutbox(exec, entries)),
    listOutbox: (query) => run(() => outbox.listOutbox(exec, query)),
    insertSilences: (items) => run(() => silences.insertSilences(exec, items)),
    listSilences: (filter) => run(() => silences.listSilences(exec, filter)),
    maxSnapshotPartBytes: MAX_SNAPSHOT_PART_BYTES,
    saveSnapshot: (snapshot) => run(() => snapshots.saveSnapshot(exec, snapshot)),
    loadSnapshot: (key) => run(() => snapshots.loadSnapshot(guarded, key)),
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([...inFlight]);
      await exec.close();
    },
  };
}
