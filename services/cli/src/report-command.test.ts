import { afterEach, describe, expect, it } from 'vitest';
import { anomaly, reportBucket, usageEvent } from '@burnrate/testing/builders';
import { capturedIO, onCallApi, type OnCallApi } from '../test-support/on-call-api.ts';
import { anomaliesCommand } from './anomalies-command.ts';
import { reportCommand } from './report-command.ts';

let api: OnCallApi;
afterEach(async () => {
  await api?.close();
});

const run = async (argv: string[]) => {
  const io = capturedIO();
  const code = await reportCommand(argv, { fetch: api.fetch }, io);
  return { code, io };
};

describe('burnrate report precision', () => {
  it('prints per kind and team what people made of the episodes, the totals last', async () => {
    api = await onCallApi();
    await api.store.insertAnomalies([
      anomaly({ id: 'p1', detected_at: '2026-11-20T10:00:00.000Z' }),
      anomaly({ id: 'p2', detected_at: '2026-11-21T10:00:00.000Z' }),
      anomaly({ id: 'p3', detected_at: '2026-11-22T10:00:00.000Z' }),
      anomaly({ id: 's1', kind: 'spend_spike', subject: { team: 'research' }, detected_at: '2026-11-23T10:00:00.000Z' }),
      anomaly({ id: 'old', detected_at: '2026-09-01T10:00:00.000Z' }),
    ]);
    const decide = (argv: string[]) => anomaliesCommand(argv, { user: 'bob@acme.com', fetch: api.fetch }, capturedIO());
    expect(await decide(['ack', 'p1', 'p2'])).toBe(0);
    expect(await decide(['resolve', 'p1', '--reason', 'noise'])).toBe(0);
    expect(await decide(['resolve', 'p2', '--reason', 'real'])).toBe(0);
    expect(await decide(['resolve', 'p3', '--reason', 'noise'])).toBe(0);

    const { code, io } = await run(['precision']);
    expect(code).toBe(0);
    expect(io.stdout).toEqual([
      'precision from 2026-10-28 12:00Z to 2026-11-27 12:00Z',
      '',
      'KIND          TEAM      EPISODES  ACKNOWLEDGED  REAL  EXPECTED  NOISE  NOISE SHARE',
      'session_cost  payments         3             2     1         0      2          67%',
      'spend_spike   research         1             0     0         0      0            -',
      'all                            4             2     1         0      2          67%',
      '',
      'noise share = noise / (real + expected + noise), of the episodes resolved with a reason',
    ]);
    const longer = await run(['precision', '--since', '120d', '--json']);
    expect(JSON.parse(longer.io.text())).toMatchObject({ total: { episodes: 5 } });
  });

  it('says so when the period has no anomalies, and refuses what it cannot read', async () => {
    api = await onCallApi();
    expect((await run(['precision', '--since', '1d'])).io.stdout.at(-1)).toBe('no anomalies in that period');
    const bad = await run(['precision', '--since', 'last month']);
    expect(bad.code).toBe(1);
    expect(bad.io.stderr.join('\n')).toMatch(/since must be a duration such as 30d/);
    const unknown = await run(['recall']);
    expect(unknown.code).toBe(2);
    expect(unknown.io.stderr[0]).toBe('unknown report "recall"; there are precision, reconciliation, daily, monthly and session');
  });
});

describe('burnrate report reconciliation', () => {
  it('prints live against reported spend per day, provider and team, which counts, and the totals', async () => {
    api = await onCallApi();
    const report = (id: string, day: string, cost: number, team: string) =>
      reportBucket('anthropic_cost_report', day, cost, { event_id: id, team });
    await api.store.insertUsageEvents([
      usageEvent({ event_id: 'o1', occurred_at: '2026-11-20T10:00:00.000Z', cost_usd: 40, team: 'payments' }),
      usageEvent({ event_id: 'o2', occurred_at: '2026-11-21T10:00:00.000Z', cost_usd: 12, team: 'payments' }),
      report('c1', '2026-11-20', 43.5, 'payments'),
      report('c2', '2026-11-20', 4, 'unattributed'),
    ]);
    const { code, io } = await run(['reconciliation']);
    expect(code).toBe(0);
    expect(io.stdout).toEqual([
      'reconciliation from 2026-10-28 12:00Z to 2026-11-27 12:00Z (UTC days)',
      '',
      'DAY         PROVIDER   TEAM            LIVE  REPORTED  REPORT                 COUNTED   DELTA',
      '2026-11-20  anthropic  payments      $40.00    $43.50  anthropic_cost_report   $43.50  +$3.50',
      '2026-11-20  anthropic  unattributed   $0.00     $4.00  anthropic_cost_report    $4.00  +$4.00',
      '2026-11-21  anthropic  payments      $12.00         -  none yet                $12.00       -',
      'all                                  $52.00    $47.50                          $59.50  +$7.50',
      '',
      'counted = the report where one covers the day and provider, else live; delta = reported - live',
    ]);
    const unattributed = await run(['reconciliation', '--team', 'unattributed', '--json']);
    expect(JSON.parse(unattributed.io.text())).toMatchObject({
      rows: [{ team: 'unattributed', counted_usd: 4 }],
      total: { counted_usd: 4 },
    });
    expect((await run(['reconciliation', '--since', '1d'])).io.stdout.at(-1)).toBe('no spend in that period');
    const bad = await run(['reconciliation', '--model', 'x']);
    expect(bad.code).toBe(2);
  });
});
