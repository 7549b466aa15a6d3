import { afterEach, describe, expect, it } from 'vitest';
import { anomaly } from '@burnrate/testing/builders';
import { apiHarness, type ApiHarness, NOW } from '../test-support/api-harness.ts';
import type { PrecisionReport } from './precision.ts';

let api: ApiHarness;
afterEach(async () => {
  await api?.close();
});

const daysAgo = (d: number): string => new Date(NOW.getTime() - d * 86_400_000).toISOString();
const report = async (query = ''): Promise<PrecisionReport> => {
  const res = await api.request('GET', `/api/report/precision${query}`);
  expect(res.status, res.text()).toBe(200);
  return res.json<PrecisionReport>();
};

describe('GET /api/report/precision', () => {
  it('covers the episodes active in the last 30 days by default, with decisions made through the API', async () => {
    api = await apiHarness();
    await api.store.insertAnomalies([
      anomaly({ id: 'recent-1', detected_at: daysAgo(2) }),
      anomaly({ id: 'recent-2', detected_at: daysAgo(29) }),
      anomaly({ id: 'old', detected_at: daysAgo(31) }),
    ]);
    await api.request('POST', '/api/anomalies/recent-1/ack');
    await api.request('POST', '/api/anomalies/recent-2/resolve', { reason: 'noise' });
    await api.request('POST', '/api/anomalies/old/resolve', { reason: 'real' });

    const month = await report();
    expect(month.since).toBe(daysAgo(30));
    expect(month.until).toBe(NOW.toISOString());
    expect(month.rows).toEqual([
      {
        kind: 'session_cost',
        team: 'payments',
        episodes: 2,
        acknowledged: 1,
        resolved_real: 0,
        resolved_expected: 0,
        resolved_noise: 1,
        noise_share: 1,
      },
    ]);
    expect((await report('?since=60d')).total).toMatchObject({ episodes: 3, resolved_real: 1, resolved_noise: 1, noise_share: 0.5 });
    expect((await report(`?since=${daysAgo(3)}`)).total).toMatchObject({ episodes: 1, acknowledged: 1 });
  });

  it('reads every episode of a long period, page after page', async () => {
    api = await apiHarness();
    const many = Array.from({ length: 2500 }, (_, i) =>
      anomaly({
        id: `a${i}`,
        kind: i % 2 === 0 ? 'session_cost' : 'context_bloat',
        detected_at: new Date(NOW.getTime() - (i + 1) * 60_000).toISOString(),
      }),
    );
    await api.store.insertAnomalies(many);
    await api.request('POST', '/api/anomalies/a2499/resolve', { reason: 'expected' });
    const { rows, total } = await report('?since=7d');
    expect(rows.map((r) => [r.kind, r.episodes])).toEqual([
      ['context_bloat', 1250],
      ['session_cost', 1250],
    ]);
    expect(total).toMatchObject({ episodes: 2500, resolved_expected: 1, noise_share: 0 });
  });

  it('answers 400 naming since for a period it cannot read', async () => {
    api = await apiHarness();
    for (const [query, message] of [
      ['?since=last-month', /duration such as 30d or an instant/],
      ['?since=0d', /from 1s to 400d/],
      ['?since=500d', /from 1s to 400d/],
      ['?since=2026-12-01T00:00:00Z', /in the past/],
      ['?from=30d', /not a parameter.*takes since/],
    ] as const) {
      const res = await api.request('GET', `/api/report/precision${query}`);
      expect(res.status, query).toBe(400);
      expect(res.json<{ error: { message: string } }>().error.message, query).toMatch(message);
    }
  });
});
