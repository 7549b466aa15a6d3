import { afterEach, describe, expect, it } from 'vitest';
import { anomaly } from '@burnrate/testing/builders';
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
    expect(unknown.io.stderr[0]).toBe('unknown report "recall"; there is precision');
  });
});
