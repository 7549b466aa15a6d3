import { describe, expect, it } from 'vitest';
import { Anomaly } from '@burnrate/schemas';
import { anomaly } from '../../test-support/fixtures.ts';
import { anomalyFromRow, anomalyToRow } from './anomalies.ts';

describe('anomaly rows', () => {
  it('copies org and team out of the subject for filtering and round-trips the rest', () => {
    const a = Anomaly.parse(anomaly());
    const row = anomalyToRow(a);
    expect(row).toMatchObject({ org: 'acme', team: 'payments', window_start: '2026-03-02 10:00:00.000', observed_value: 31.25 });
    expect(anomalyFromRow(row)).toEqual(a);
  });

  it('stores whether a backfill found it, and reads a live row back without the field', () => {
    const live = Anomaly.parse(anomaly());
    const historical = Anomaly.parse(anomaly({ historical: true }));
    expect(anomalyToRow(live).historical).toBe(false);
    expect(anomalyToRow(historical).historical).toBe(true);
    expect(anomalyFromRow(anomalyToRow(live))).toEqual(live);
    expect(anomalyFromRow(anomalyToRow(historical))).toEqual(historical);
  });

  it('rejects a stored subject that no longer matches the contract', () => {
    const row = { ...anomalyToRow(Anomaly.parse(anomaly())), subject: '{"org":"acme"}' };
    expect(() => anomalyFromRow(row)).toThrow(/team/);
  });
});
