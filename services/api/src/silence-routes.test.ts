import { afterEach, describe, expect, it } from 'vitest';
import { silenceMatches } from '@burnrate/schemas';
import { anomaly } from '@burnrate/testing/builders';
import { apiHarness, type ApiHarness, NOW } from '../test-support/api-harness.ts';
import type { SilenceEntry } from './silence-routes.ts';

let api: ApiHarness;
afterEach(async () => {
  await api?.close();
});

const errorOf = (res: { json<T>(): T }) => res.json<{ error: { code: string; message: string; details?: { field?: string } } }>().error;
const add = async (body: Record<string, unknown>): Promise<SilenceEntry> => {
  const res = await api.request('POST', '/api/silences', body);
  expect(res.status, res.text()).toBe(201);
  return res.json<{ silence: SilenceEntry }>().silence;
};
const list = async (query = ''): Promise<SilenceEntry[]> => {
  const res = await api.request('GET', `/api/silences${query}`);
  expect(res.status, res.text()).toBe(200);
  return res.json<{ silences: SilenceEntry[] }>().silences;
};

describe('POST /api/silences', () => {
  it('adds a silence from matchers as typed, for a duration from now, and the store has it', async () => {
    api = await apiHarness();
    const silence = await add({
      matchers: ['team=payments', 'kind=session_cost'],
      for: '4h',
      comment: 'load test',
      created_by: 'bob@acme.com',
    });
    expect(silence).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown,
      matchers: [
        { label: 'team', value: 'payments' },
        { label: 'kind', value: 'session_cost' },
      ],
      starts_at: NOW.toISOString(),
      ends_at: '2026-11-27T16:00:00.000Z',
      created_by: 'bob@acme.com',
      comment: 'load test',
      created_at: NOW.toISOString(),
      state: 'active',
    });
    const [stored] = await api.store.listSilences({ active_at: NOW.toISOString() });
    expect(stored?.id).toBe(silence.id);
    // What the notifier does with it.
    expect(silenceMatches(stored!, anomaly({ kind: 'session_cost' }), NOW)).toBe(true);
    expect(silenceMatches(stored!, anomaly({ kind: 'spend_spike' }), NOW)).toBe(false);
  });

  it('takes matcher objects, a later start and an end instant; by defaults to the token identity', async () => {
    api = await apiHarness();
    const silence = await add({
      matchers: [{ label: 'severity', value: 'critical', op: '!=' }],
      starts_at: '2026-11-28T08:00:00+01:00',
      ends_at: '2026-11-28T18:00:00+01:00',
      comment: 'maintenance window',
    });
    expect(silence).toMatchObject({
      starts_at: '2026-11-28T07:00:00.000Z',
      ends_at: '2026-11-28T17:00:00.000Z',
      created_by: 'api',
      state: 'pending',
    });
  });

  it('answers 400 naming the field', async () => {
    api = await apiHarness();
    const ok = { matchers: ['team=payments'], for: '1h', comment: 'why' };
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ ...ok, matchers: [] }, 'matchers', /non-empty array.*silence everything/],
      [{ ...ok, matchers: 'team=payments' }, 'matchers', /non-empty array/],
      [{ ...ok, matchers: ['team'] }, 'matchers[0]', /not a matcher: write label=value/],
      [{ ...ok, matchers: ['team=payments', 'org=acme'] }, 'matchers[1]', /label must be one of team, kind/],
      [{ ...ok, matchers: ['kind=session-cost'] }, 'matchers[0]', /kind must be one of session_cost/],
      [{ ...ok, matchers: [{ label: 'team' }] }, 'matchers[0]', /value/],
      [{ ...ok, for: undefined }, 'ends_at', /or for is needed/],
      [{ ...ok, for: 'a while' }, 'for', /duration such as 30m/],
      [{ ...ok, ends_at: '2026-11-28T00:00:00Z' }, 'ends_at', /cannot both/],
      [{ matchers: ['team=payments'], ends_at: 'tomorrow', comment: 'x' }, 'ends_at', /ISO-8601 instant/],
      [{ matchers: ['team=payments'], ends_at: '2026-11-27T11:00:00Z', comment: 'x' }, 'ends_at', /after starts_at/],
      [{ matchers: ['team=payments'], starts_at: '2026-11-27T08:00:00Z', for: '1h', comment: 'x' }, 'for', /already ended/],
      [{ ...ok, comment: undefined }, 'comment', /is needed: say why/],
      [{ ...ok, comment: ' ' }, 'comment', /must not be empty/],
      [{ ...ok, reason: 'x' }, 'reason', /does not take "reason"/],
    ];
    for (const [body, field, message] of cases) {
      const res = await api.request('POST', '/api/silences', body);
      const label = JSON.stringify(body);
      expect(res.status, label).toBe(400);
      const error = errorOf(res);
      expect(error.message, label).toMatch(message);
      expect(error.details?.field ?? (error.details as { fields?: string[] } | undefined)?.fields?.[0], label).toBe(field);
    }
    expect(await api.store.listSilences()).toEqual([]);
  });
});

describe('GET /api/silences and DELETE /api/silences/:id', () => {
  it('lists active and pending silences, expires one early, and lists expired ones on request', async () => {
    api = await apiHarness();
    const active = await add({ matchers: ['team=payments'], for: '4h', comment: 'a' });
    api.clock.advance(1000);
    const pending = await add({ matchers: ['team=research'], starts_at: '2026-11-28T00:00:00Z', for: '1h', comment: 'b' });
    api.clock.advance(1000);
    const short = await add({ matchers: ['kind=spend_spike'], for: '1m', comment: 'c' });
    expect((await list()).map((s) => [s.id, s.state])).toEqual([
      [short.id, 'active'],
      [pending.id, 'pending'],
      [active.id, 'active'],
    ]);

    // Expired by time.
    api.clock.advance(60_000);
    expect((await list()).map((s) => s.id)).toEqual([pending.id, active.id]);
    expect((await list('?state=expired')).map((s) => s.id)).toEqual([short.id]);

    // Expired by hand: the active one now, the pending one before it ever starts.
    const expired = await api.request('DELETE', `/api/silences/${active.id}`);
    expect(expired.status).toBe(200);
    expect(expired.json()).toMatchObject({ silence: { id: active.id, state: 'expired', ends_at: api.clock.now().toISOString() } });
    const expiredPending = await api.request('DELETE', `/api/silences/${pending.id}`);
    expect(expiredPending.json()).toMatchObject({ silence: { state: 'expired', starts_at: api.clock.now().toISOString() } });
    expect(await list()).toEqual([]);
    expect((await list('?state=all')).map((s) => [s.id, s.state])).toEqual([
      [short.id, 'expired'],
      [pending.id, 'expired'],
      [active.id, 'expired'],
    ]);
    expect(await api.store.listSilences({ active_at: api.clock.now().toISOString() })).toEqual([]);
    expect(await api.store.listSilences({ active_at: '2026-11-28T00:30:00Z' })).toEqual([]);

    // Expiring again changes nothing.
    api.clock.advance(1000);
    const again = await api.request('DELETE', `/api/silences/${active.id}`);
    expect(again.json<{ silence: SilenceEntry }>().silence.ends_at).toBe(expired.json<{ silence: SilenceEntry }>().silence.ends_at);
  });

  it('404 for an unknown silence, 400 for an unknown filter, 401 without the token', async () => {
    api = await apiHarness({ apiToken: 'tok' });
    const auth = { authorization: 'Bearer tok' };
    expect((await api.request('DELETE', '/api/silences/nope', undefined, auth)).status).toBe(404);
    const bad = await api.request('GET', '/api/silences?state=live', undefined, auth);
    expect(bad.status).toBe(400);
    expect(errorOf(bad).message).toMatch(/active, pending, expired, all/);
    expect((await api.request('GET', '/api/silences?active=1', undefined, auth)).status).toBe(400);
    expect((await api.request('GET', '/api/silences')).status).toBe(401);
    expect((await api.request('POST', '/api/silences', { matchers: ['team=a'], for: '1h', comment: 'x' })).status).toBe(401);
    expect((await api.request('DELETE', '/api/silences/nope')).status).toBe(401);
  });
});
