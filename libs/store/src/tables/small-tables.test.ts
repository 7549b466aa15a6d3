import { describe, expect, it } from 'vitest';
import { AnomalyState, DlqRecord } from '@burnrate/schemas';
import { anomalyState, delivery, dlqRecord } from '../../test-support/fixtures.ts';
import { anomalyStateFromRow, anomalyStateToRow } from './anomaly-state.ts';
import { deliveryFromRow, deliveryToRow } from './deliveries.ts';
import { nextGeneration } from './detector-snapshots.ts';
import { dlqFromRow, dlqToRow } from './dlq.ts';

describe('row mapping', () => {
  it('anomaly state: by is stored as actor, optionals as NULL', () => {
    const minimal = AnomalyState.parse(anomalyState());
    expect(anomalyStateToRow(minimal)).toMatchObject({ actor: 'bob@acme.com', snoozed_until: null, reason: null, note: null });
    expect(anomalyStateFromRow(anomalyStateToRow(minimal))).toEqual(minimal);
    const full = AnomalyState.parse(
      anomalyState({ action: 'snoozed', snoozed_until: '2026-03-03T09:00:00Z', reason: 'expected', note: 'n' }),
    );
    expect(anomalyStateFromRow(anomalyStateToRow(full))).toEqual(full);
  });

  it('dlq: index is stored as record_index and issues as JSON text', () => {
    const r = DlqRecord.parse(dlqRecord({ index: 4 }));
    const row = dlqToRow(r);
    expect(row.record_index).toBe(4);
    expect(JSON.parse(row.issues)).toEqual(r.issues);
    expect(dlqFromRow(row)).toEqual(r);
    const noIndex = DlqRecord.parse(dlqRecord());
    expect('index' in dlqFromRow(dlqToRow(noIndex))).toBe(false);
  });

  it('deliveries round-trip', () => {
    const d = delivery();
    expect(deliveryFromRow({ ...deliveryToRow(d), version: '1', attempts: '1' })).toEqual(d);
  });

  it('snapshot generations follow saved_at, then the order of saves within one millisecond', () => {
    const t = Date.parse('2026-03-02T10:00:00.000Z');
    expect(nextGeneration(t, undefined)).toBe(t * 1000);
    expect(nextGeneration(t + 1, t * 1000)).toBe((t + 1) * 1000);
    // The same millisecond (a clock that did not move): still after the current one.
    expect(nextGeneration(t, t * 1000)).toBe(t * 1000 + 1);
    expect(nextGeneration(t, t * 1000 + 1)).toBe(t * 1000 + 2);
    // Older than the current one: below it, so it does not become the key's snapshot.
    expect(nextGeneration(t - 1, t * 1000)).toBeLessThan(t * 1000);
  });
});
