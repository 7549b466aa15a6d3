import { afterEach, describe, expect, it } from 'vitest';
import type { Producer } from '@burnrate/bus';
import { BurnrateError } from '@burnrate/core';
import type { Anomaly } from '@burnrate/schemas';
import { anomaly } from '@burnrate/testing/builders';
import { apiHarness, type ApiHarness, NOW } from '../test-support/api-harness.ts';
import type { AnomalyEntry } from './anomaly-list.ts';

let api: ApiHarness;
afterEach(async () => {
  await api?.close();
});

const at = (minutesBeforeNow: number): string => new Date(NOW.getTime() - minutesBeforeNow * 60_000).toISOString();
const list = async (query = ''): Promise<AnomalyEntry[]> => {
  const res = await api.request('GET', `/api/anomalies${query}`);
  expect(res.status, res.text()).toBe(200);
  return res.json<{ anomalies: AnomalyEntry[] }>().anomalies;
};
const errorOf = (res: { json<T>(): T }) => res.json<{ error: { code: string; message: string; details?: { field?: string } } }>().error;

/** Five anomalies, newest first: open, acknowledged, snoozed, resolved by a human, resolved by the detector. */
async function seedStates(): Promise<Record<'open' | 'acked' | 'snoozed' | 'resolved' | 'closed', Anomaly>> {
  const make = (id: string, minutes: number, overrides: Partial<Anomaly> = {}) =>
    anomaly({ id, detected_at: at(minutes), subject: { session: `s-${id}` }, ...overrides });
  const seeded = {
    open: make('open', 10),
    acked: make('acked', 20),
    snoozed: make('snoozed', 30),
    resolved: make('resolved', 40),
    closed: make('closed', 50, { status: 'resolved', version: 2 }),
  };
  await api.store.insertAnomalies(Object.values(seeded));
  expect((await api.request('POST', '/api/anomalies/acked/ack', { by: 'bob@acme.com' })).status).toBe(200);
  expect((await api.request('POST', '/api/anomalies/snoozed/snooze', { for: '2h' })).status).toBe(200);
  expect((await api.request('POST', '/api/anomalies/resolved/resolve', { reason: 'noise' })).status).toBe(200);
  return seeded;
}

describe('GET /api/anomalies', () => {
  it('lists the latest version with where it stands: first detection, window, advice, evidence, who acknowledged, until when snoozed', async () => {
    api = await apiHarness();
    const v1 = anomaly({ id: 'a1', version: 1, detected_at: at(90) });
    const v2 = anomaly({ id: 'a1', version: 2, severity: 'critical', detected_at: at(30) });
    await api.store.insertAnomalies([v1, v2]);
    expect(await list()).toEqual([
      expect.objectContaining({
        id: 'a1',
        version: 2,
        severity: 'critical',
        state: 'open',
        first_detected_at: at(90),
        detected_at: at(30),
        window: v2.window,
        advice: v2.advice,
        evidence: v2.evidence,
        acknowledged_by: null,
        acknowledged_at: null,
        snoozed_until: null,
        reason: null,
        last_decision: null,
        historical: false,
      }),
    ]);

    api.clock.advance(60_000);
    await api.request('POST', '/api/anomalies/a1/ack', { by: 'bob@acme.com' });
    api.clock.advance(60_000);
    await api.request('POST', '/api/anomalies/a1/snooze', { for: '1h' });
    const [entry] = await list();
    // A snooze after an acknowledgement keeps who acknowledged.
    expect(entry).toMatchObject({
      state: 'snoozed',
      acknowledged_by: 'bob@acme.com',
      acknowledged_at: new Date(NOW.getTime() + 60_000).toISOString(),
      snoozed_until: new Date(NOW.getTime() + 120_000 + 3_600_000).toISOString(),
      last_decision: { action: 'snoozed', by: 'api', channel: 'api' },
    });
  });

  it('filters by state, and takes status=acknowledged|snoozed as the state', async () => {
    api = await apiHarness();
    await seedStates();
    const ids = async (q: string) => (await list(q)).map((a) => a.id);
    expect(await ids('')).toEqual(['open', 'acked', 'snoozed', 'resolved', 'closed']);
    expect(await ids('?state=open')).toEqual(['open']);
    expect(await ids('?state=acknowledged')).toEqual(['acked']);
    expect(await ids('?status=acknowledged')).toEqual(['acked']);
    expect(await ids('?state=snoozed')).toEqual(['snoozed']);
    expect(await ids('?status=snoozed')).toEqual(['snoozed']);
    // Resolved by a human or by the detector (the signal went back to normal).
    expect(await ids('?state=resolved')).toEqual(['resolved', 'closed']);
    // status stays the detector's view: a human's resolution is not the detector's.
    expect(await ids('?status=open')).toEqual(['open', 'acked', 'snoozed', 'resolved']);
    expect(await ids('?status=resolved')).toEqual(['closed']);
    expect(await ids('?status=open&state=resolved')).toEqual(['resolved']);
  });

  it('a snooze that has ended is open again', async () => {
    api = await apiHarness();
    await seedStates();
    api.clock.advance(2 * 3_600_000);
    expect((await list('?state=open')).map((a) => a.id)).toEqual(['open', 'snoozed']);
    expect(await list('?state=snoozed')).toEqual([]);
  });

  it('finds the newest matches of a state filter past the first page of anomalies', async () => {
    api = await apiHarness();
    // 1200 open anomalies, one a minute; the three oldest are acknowledged, far past the first page read.
    const many = Array.from({ length: 1200 }, (_, i) => anomaly({ id: `a${String(i).padStart(4, '0')}`, detected_at: at(i + 1) }));
    await api.store.insertAnomalies(many);
    for (const id of ['a1197', 'a1198', 'a1199']) expect((await api.request('POST', `/api/anomalies/${id}/ack`)).status).toBe(200);
    expect((await list('?state=acknowledged&limit=2')).map((a) => a.id)).toEqual(['a1197', 'a1198']);
    expect((await list('?state=acknowledged')).map((a) => a.id)).toEqual(['a1197', 'a1198', 'a1199']);
    expect(await list('?state=open&limit=3')).toHaveLength(3);
  });

  it('filters by team, kind and limit', async () => {
    api = await apiHarness();
    await api.store.insertAnomalies([
      anomaly({ id: 'p1', detected_at: at(1) }),
      anomaly({ id: 'p2', kind: 'spend_spike', detected_at: at(2) }),
      anomaly({ id: 'r1', subject: { team: 'research' }, detected_at: at(3) }),
    ]);
    expect((await list('?team=payments')).map((a) => a.id)).toEqual(['p1', 'p2']);
    expect((await list('?kind=spend_spike')).map((a) => a.id)).toEqual(['p2']);
    expect((await list('?limit=1')).map((a) => a.id)).toEqual(['p1']);
  });

  it('lists what a backfill found beside what live detection found, says which, and filters on it', async () => {
    api = await apiHarness();
    await api.store.insertAnomalies([
      anomaly({ id: 'live', detected_at: at(1) }),
      anomaly({ id: 'found', historical: true, detected_at: at(30 * 24 * 60) }),
    ]);
    expect((await list()).map((a) => [a.id, a.historical])).toEqual([
      ['live', false],
      ['found', true],
    ]);
    expect((await list('?historical=true')).map((a) => a.id)).toEqual(['found']);
    expect((await list('?historical=false')).map((a) => a.id)).toEqual(['live']);
  });

  it('answers 400 naming the parameter for a bad filter', async () => {
    api = await apiHarness();
    const cases: [string, string, RegExp][] = [
      ['?status=acked', 'status', /open or resolved.*acknowledged or snoozed.*state=/],
      ['?state=closed', 'state', /open, acknowledged, snoozed, resolved/],
      ['?state=open&status=acknowledged', 'state', /give one of them/],
      ['?kind=session_costs', 'kind', /session_cost, runaway_session/],
      ['?limit=0', 'limit', /1 to 1000/],
      ['?limit=abc', 'limit', /1 to 1000/],
      ['?team=', 'team', /empty/],
      ['?historical=yes', 'historical', /true .* or false/],
      ['?stat=open', 'stat', /not a filter.*status, state, team, kind, historical, limit/],
    ];
    for (const [query, field, message] of cases) {
      const res = await api.request('GET', `/api/anomalies${query}`);
      expect(res.status, query).toBe(400);
      expect(errorOf(res), query).toMatchObject({ code: 'INPUT_INVALID', details: { field } });
      expect(errorOf(res).message, query).toMatch(message);
    }
  });
});

describe('GET /api/anomalies/:id', () => {
  it('shows every version, every decision and every delivery', async () => {
    api = await apiHarness();
    const v1 = anomaly({ id: 'a1', version: 1, detected_at: at(90) });
    const v2 = anomaly({ id: 'a1', version: 2, severity: 'critical', detected_at: at(30) });
    await api.store.insertAnomalies([v2, v1]);
    await api.store.insertDeliveries([
      {
        anomaly_id: 'a1',
        version: 1,
        receiver: 'slack:#payments',
        channel: 'slack',
        status: 'sent',
        detail: 'C1:1.1',
        attempts: 1,
        at: at(89),
      },
    ]);
    await api.request('POST', '/api/anomalies/a1/ack', { by: 'bob@acme.com', note: 'on it' });
    api.clock.advance(1000);
    await api.request('POST', '/api/anomalies/a1/resolve', { reason: 'real', by: 'bob@acme.com' });

    const res = await api.request('GET', '/api/anomalies/a1');
    expect(res.status).toBe(200);
    const body = res.json<AnomalyEntry & { versions: Anomaly[]; decisions: unknown[]; deliveries: unknown[] }>();
    expect(body).toMatchObject({
      id: 'a1',
      version: 2,
      state: 'resolved',
      reason: 'real',
      acknowledged_by: 'bob@acme.com',
      first_detected_at: at(90),
    });
    expect(body.versions).toEqual([v1, v2]);
    expect(body.decisions).toEqual([
      { anomaly_id: 'a1', action: 'acknowledged', by: 'bob@acme.com', channel: 'api', at: NOW.toISOString(), note: 'on it' },
      {
        anomaly_id: 'a1',
        action: 'resolved',
        by: 'bob@acme.com',
        channel: 'api',
        at: new Date(NOW.getTime() + 1000).toISOString(),
        reason: 'real',
      },
    ]);
    expect(body.deliveries).toEqual([expect.objectContaining({ receiver: 'slack:#payments', status: 'sent' })]);
  });

  it('answers 404 for an unknown id', async () => {
    api = await apiHarness();
    const res = await api.request('GET', '/api/anomalies/nope');
    expect(res.status).toBe(404);
    expect(errorOf(res).message).toBe('no anomaly with id "nope"');
  });
});

describe('POST /api/anomalies/:id/ack|unack|snooze|resolve', () => {
  it('records each decision on anomaly-state.v1 and in the store, and answers with where the anomaly now stands', async () => {
    api = await apiHarness();
    await api.store.insertAnomalies([anomaly({ id: 'a1' })]);

    const ack = await api.request('POST', '/api/anomalies/a1/ack');
    expect(ack.status).toBe(200);
    const decision = { anomaly_id: 'a1', action: 'acknowledged', by: 'api', channel: 'api', at: NOW.toISOString() };
    expect(ack.json()).toMatchObject({ decision, anomaly: { id: 'a1', state: 'acknowledged', acknowledged_by: 'api' } });
    // Durable on the topic before the answer: the notifier and the sink read it from there.
    await api.waitForPublished(1);
    expect(api.published).toEqual([decision]);
    expect(await api.store.listAnomalyStates({ anomaly_id: 'a1' })).toEqual([decision]);

    api.clock.advance(1000);
    const unack = await api.request('POST', '/api/anomalies/a1/unack', { by: 'alice@acme.com', channel: 'cli', note: 'not mine' });
    expect(unack.json()).toMatchObject({
      decision: { action: 'unacknowledged', by: 'alice@acme.com', channel: 'cli', note: 'not mine' },
      anomaly: { state: 'open', acknowledged_by: null },
    });

    api.clock.advance(1000);
    const snooze = await api.request('POST', '/api/anomalies/a1/snooze', { until: '2026-11-28T09:00:00+01:00' });
    expect(snooze.json()).toMatchObject({
      decision: { action: 'snoozed', snoozed_until: '2026-11-28T08:00:00.000Z' },
      anomaly: { state: 'snoozed', snoozed_until: '2026-11-28T08:00:00.000Z' },
    });

    api.clock.advance(1000);
    const resolve = await api.request('POST', '/api/anomalies/a1/resolve', { reason: 'expected', note: 'load test' });
    expect(resolve.json()).toMatchObject({
      decision: { action: 'resolved', reason: 'expected' },
      anomaly: { state: 'resolved', reason: 'expected' },
    });

    await api.waitForPublished(4);
    expect(api.published.map((d) => d.action)).toEqual(['acknowledged', 'unacknowledged', 'snoozed', 'resolved']);
    expect((await api.store.listAnomalyStates({ anomaly_id: 'a1' })).map((d) => d.action)).toEqual(api.published.map((d) => d.action));
  });

  it('snoozes for a duration', async () => {
    api = await apiHarness();
    await api.store.insertAnomalies([anomaly({ id: 'a1' })]);
    const res = await api.request('POST', '/api/anomalies/a1/snooze', { for: '4h' });
    expect(res.json()).toMatchObject({ decision: { snoozed_until: '2026-11-27T16:00:00.000Z' } });
  });

  it('answers 400 naming the field for a bad body, and records nothing', async () => {
    api = await apiHarness();
    await api.store.insertAnomalies([anomaly({ id: 'a1' })]);
    const cases: [string, unknown, string, RegExp][] = [
      ['snooze', {}, 'until', /until or for is needed/],
      ['snooze', { for: 'soon' }, 'for', /duration such as 30m/],
      ['snooze', { for: '0s' }, 'for', /duration/],
      ['snooze', { for: '31d' }, 'for', /at most 30d.*resolve it/],
      ['snooze', { until: 'tomorrow' }, 'until', /ISO-8601 instant/],
      ['snooze', { until: '2026-11-27T11:00:00Z' }, 'until', /in the future/],
      ['snooze', { until: '2026-11-28T09:00:00Z', for: '1h' }, 'until', /cannot both/],
      ['resolve', { reason: 'bogus' }, 'reason', /expected, real, noise/],
      ['ack', { reason: 'noise' }, 'reason', /does not take "reason"; it takes by, note, channel/],
      ['ack', { by: 42 }, 'by', /must be a string/],
      ['ack', { by: '  ' }, 'by', /must not be empty/],
      ['ack', { note: 'x'.repeat(2001) }, 'note', /at most 2000/],
      ['ack', { channel: 'slack' }, 'channel', /api, cli, console/],
    ];
    for (const [verb, body, field, message] of cases) {
      const res = await api.request('POST', `/api/anomalies/a1/${verb}`, body);
      const label = `${verb} ${JSON.stringify(body).slice(0, 60)}`;
      expect(res.status, label).toBe(400);
      const error = errorOf(res);
      expect(error.message, label).toMatch(message);
      expect(error.details?.field ?? (error.details as { fields?: string[] } | undefined)?.fields?.[0], label).toBe(field);
    }
    for (const [body, status, message] of [
      ['{"by":', 400, /not valid JSON/],
      ['[1]', 400, /must be a JSON object/],
      ['null', 400, /must be a JSON object/],
    ] as const) {
      const res = await api.request('POST', '/api/anomalies/a1/ack', body);
      expect(res.status, body).toBe(status);
      expect(errorOf(res).message).toMatch(message);
    }
    const form = await api.request('POST', '/api/anomalies/a1/ack', 'by=bob', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
    expect(errorOf(form).message).toMatch(/Content-Type: application\/json/);
    expect(await api.store.listAnomalyStates({ anomaly_id: 'a1' })).toEqual([]);
  });

  it('answers 404 for an unknown anomaly and publishes nothing', async () => {
    api = await apiHarness();
    await api.store.insertAnomalies([anomaly({ id: 'a1' })]);
    const res = await api.request('POST', '/api/anomalies/nope/ack');
    expect(res.status).toBe(404);
    expect(errorOf(res).message).toMatch(/no anomaly with id "nope"/);
    // A decision that does go through is read back alone: nothing was published for "nope".
    await api.request('POST', '/api/anomalies/a1/ack');
    await api.waitForPublished(1);
    expect(api.published.map((d) => d.anomaly_id)).toEqual(['a1']);
    expect(await api.store.listAnomalyStates({})).toHaveLength(1);
  });

  it('answers 503 and stores nothing when the decision cannot be put on the bus', async () => {
    const down: Producer = {
      send: async () => {
        throw new BurnrateError('BUS_UNAVAILABLE', 'kafka is down');
      },
    };
    api = await apiHarness({ producer: down });
    await api.store.insertAnomalies([anomaly({ id: 'a1' })]);
    const res = await api.request('POST', '/api/anomalies/a1/ack');
    expect(res.status).toBe(503);
    expect(errorOf(res)).toMatchObject({ code: 'BUS_UNAVAILABLE', retriable: true });
    expect(await api.store.listAnomalyStates({ anomaly_id: 'a1' })).toEqual([]);
  });

  it('is a 405 naming POST for another method', async () => {
    api = await apiHarness();
    const res = await api.request('GET', '/api/anomalies/a1/ack');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('POST');
  });
});

describe('with BURNRATE_API_TOKEN', () => {
  it('refuses every route without the token or with another one', async () => {
    api = await apiHarness({ apiToken: 'secret-token' });
    await api.store.insertAnomalies([anomaly({ id: 'a1' })]);
    for (const [method, url] of [
      ['GET', '/api/anomalies'],
      ['GET', '/api/anomalies/a1'],
      ['POST', '/api/anomalies/a1/ack'],
    ] as const) {
      for (const headers of [{}, { authorization: 'Bearer wrong-token!' }, { authorization: 'secret-token' }] as Record<string, string>[]) {
        const res = await api.request(method, url, undefined, headers);
        expect(res.status, `${method} ${url} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.headers['www-authenticate']).toBe('Bearer');
        expect(errorOf(res).message).toMatch(/Authorization: Bearer <BURNRATE_API_TOKEN>/);
      }
      const ok = await api.request(method, url, undefined, { authorization: 'Bearer secret-token' });
      expect(ok.status, `${method} ${url}`).toBe(200);
    }
    expect(await api.store.listAnomalyStates({ anomaly_id: 'a1' })).toHaveLength(1);
  });
});
