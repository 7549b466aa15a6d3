import type { Anomaly } from '@burnrate/schemas';
import { anomaly } from '@burnrate/testing/builders';
import { describe, expect, it } from 'vitest';
import { byLikelyCause, follows, joinAction } from './incidents.ts';

const team = (kind: Anomaly['kind'], overrides: Parameters<typeof anomaly>[0] = {}): Anomaly =>
  anomaly({ id: `${kind}:payments`, kind, subject: { developer: undefined, session: undefined, model: undefined }, ...overrides });
const dev = (kind: Anomaly['kind'], who: string, overrides: Parameters<typeof anomaly>[0] = {}): Anomaly =>
  anomaly({ id: `${kind}:${who}`, kind, subject: { developer: who, session: undefined, model: undefined }, ...overrides });
const sess = (kind: Anomaly['kind'], who: string, session: string, overrides: Parameters<typeof anomaly>[0] = {}): Anomaly =>
  anomaly({ id: `${kind}:${session}`, kind, subject: { developer: who, session }, ...overrides });

describe('follows', () => {
  const cacheDrop = team('cache_efficiency_drop');

  it('puts the session costs, spikes, mix drift and forecast of a team under its broken cache', () => {
    for (const a of [
      sess('session_cost', 'a@acme.com', 's1'),
      sess('context_bloat', 'b@acme.com', 's2'),
      team('spend_spike'),
      dev('spend_spike', 'a@acme.com'),
      team('model_mix_drift'),
      team('budget_forecast'),
      dev('cache_efficiency_drop', 'a@acme.com'),
    ])
      expect(follows(a, cacheDrop), a.id).toBe(true);
  });

  it('never explains an agent loop or a new spender by a team-level cause', () => {
    expect(follows(sess('runaway_session', 'a@acme.com', 's1'), cacheDrop)).toBe(false);
    expect(follows(dev('new_spender', 'x@acme.com'), team('spend_spike'))).toBe(false);
  });

  it('keeps one session’s anomalies together, whatever their kinds', () => {
    const loop = sess('runaway_session', 'a@acme.com', 's1');
    expect(follows(sess('session_cost', 'a@acme.com', 's1'), loop)).toBe(true);
    expect(follows(sess('session_cost', 'a@acme.com', 's2'), loop)).toBe(false);
  });

  it('keeps a session’s lost events out of every incident, its own session’s included', () => {
    const lost = sess('lost_events', 'a@acme.com', 's1', { severity: 'info' });
    expect(follows(lost, sess('session_cost', 'a@acme.com', 's1'))).toBe(false);
    expect(follows(sess('session_cost', 'a@acme.com', 's1'), lost)).toBe(false);
    expect(follows(lost, cacheDrop)).toBe(false);
  });

  it('puts a developer’s sessions under that developer’s own spike, not another developer’s', () => {
    const spike = dev('spend_spike', 'a@acme.com');
    expect(follows(sess('session_cost', 'a@acme.com', 's1'), spike)).toBe(true);
    expect(follows(sess('session_cost', 'b@acme.com', 's2'), spike)).toBe(false);
  });

  it('puts a developer’s spike under an anomaly of one of that developer’s sessions, not another developer’s', () => {
    const bloat = sess('context_bloat', 'a@acme.com', 's1', { severity: 'warning' });
    expect(follows(dev('spend_spike', 'a@acme.com'), bloat)).toBe(true);
    expect(follows(dev('spend_spike', 'b@acme.com'), bloat)).toBe(false);
    expect(follows(dev('cache_efficiency_drop', 'a@acme.com'), bloat)).toBe(false);
  });

  it('lets a critical session explain the team’s spike, not a warning one', () => {
    expect(follows(team('spend_spike'), sess('runaway_session', 'a@acme.com', 's1', { severity: 'critical' }))).toBe(true);
    expect(follows(team('spend_spike'), sess('session_cost', 'a@acme.com', 's1', { severity: 'warning' }))).toBe(false);
  });

  it('relates only open anomalies of the same team and org', () => {
    const s = sess('session_cost', 'a@acme.com', 's1');
    expect(follows(s, team('cache_efficiency_drop', { status: 'resolved' }))).toBe(false);
    expect(follows(s, anomaly({ ...cacheDrop, subject: { ...cacheDrop.subject, team: 'search' } }))).toBe(false);
    expect(follows(s, anomaly({ ...cacheDrop, subject: { ...cacheDrop.subject, org: 'other' } }))).toBe(false);
    expect(follows(cacheDrop, cacheDrop)).toBe(false);
  });
});

describe('byLikelyCause', () => {
  it('names a broken cache before the spike and the session costs it explains', () => {
    const members = [sess('session_cost', 'a@acme.com', 's1'), team('spend_spike'), team('cache_efficiency_drop'), team('budget_forecast')];
    expect(members.sort(byLikelyCause).map((a) => a.kind)).toEqual([
      'cache_efficiency_drop',
      'spend_spike',
      'session_cost',
      'budget_forecast',
    ]);
  });

  it('puts a session’s loop before its cost, and the team scope before a developer’s', () => {
    const members = [sess('session_cost', 'a@acme.com', 's1'), sess('runaway_session', 'a@acme.com', 's1')];
    expect(members.sort(byLikelyCause).map((a) => a.kind)).toEqual(['runaway_session', 'session_cost']);
    expect([dev('spend_spike', 'a@acme.com'), team('spend_spike')].sort(byLikelyCause).map((a) => a.subject.developer)).toEqual([
      undefined,
      'a@acme.com',
    ]);
  });
});

describe('joinAction', () => {
  it('pages a critical that makes the incident critical, and only that', () => {
    expect(joinAction({ severity: 'critical', status: 'open' }, { pagedCritical: false })).toBe('page');
    expect(joinAction({ severity: 'critical', status: 'open' }, { pagedCritical: true })).toBe('attach');
    expect(joinAction({ severity: 'warning', status: 'open' }, { pagedCritical: false })).toBe('attach');
  });
});
