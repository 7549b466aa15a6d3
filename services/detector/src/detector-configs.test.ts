import { parseConfig } from '@burnrate/core';
import { describe, expect, it } from 'vitest';
import { detectorConfigs } from './detector.ts';

const config = parseConfig(`
org: acme
timezone: America/New_York
teams:
  - id: payments
    timezone: Europe/Berlin
    members: [alice@acme.com]
    calendar: { working_days: [mon, tue, wed, thu], holidays: ["2026-12-24"] }
  - id: research
    members: [rita@acme.com]
    oncall: { email: [oncall-research@acme.com] }
routes:
  oncall_response: 45m
detectors:
  runaway_session: { max_hours_without_human: 6 }
  context_bloat: { enabled: false }
  overrides:
    - match: { team: research }
      runaway_session: { max_hours_without_human: 12 }
    - match: { developer: rita@acme.com }
      runaway_session: { off_hours_factor: 1 }
  planned_changes:
    - { team: payments, from: "2026-11-30", to: "2026-12-04", kinds: [session_cost], note: opus migration }
    - { team: research, from: "2026-12-07T14:00:00+01:00", to: "2026-12-08T09:30:00Z", kinds: [spend_spike], note: load test }
`);

describe('detectorConfigs', () => {
  const cfgs = detectorConfigs(config);

  it('resolves settings with defaults, the detector block and overrides in file order', () => {
    expect(cfgs.runaway_session.settingsFor({ team: 'payments', developer: 'alice@acme.com' })).toEqual({
      enabled: true,
      min_impact_usd: 10,
      max_hours_without_human: 6,
      off_hours_factor: 0.5,
      critical_factor: 3,
      critical_projected_usd: 100,
    });
    expect(cfgs.runaway_session.settingsFor({ team: 'research', developer: 'rita@acme.com' })).toMatchObject({
      max_hours_without_human: 12,
      off_hours_factor: 1,
    });
    expect(cfgs.runaway_session.settingsFor({ team: 'research' })).toMatchObject({ off_hours_factor: 0.5 });
    expect(cfgs.context_bloat.settingsFor({ team: 'payments' }).enabled).toBe(false);
    expect(cfgs.session_cost.settingsFor({ team: 'payments' })).toMatchObject({
      enabled: true,
      warning_usd: 25,
      critical_usd: 100,
      relative: true,
    });
  });

  it('memoises per subject and gives each team its calendar in its zone', () => {
    expect(cfgs.session_cost.settingsFor({ team: 'payments', developer: 'a' })).toBe(
      cfgs.session_cost.settingsFor({ team: 'payments', developer: 'a' }),
    );
    const payments = cfgs.runaway_session.calendarFor('payments');
    expect(payments.timeZone).toBe('Europe/Berlin');
    expect(payments.days).toEqual([false, true, true, true, true, false, false]);
    expect(payments.holidays.has('2026-12-24')).toBe(true);
    expect(cfgs.runaway_session.calendarFor('research').timeZone).toBe('America/New_York');
    expect(cfgs.runaway_session.calendarFor('unattributed').timeZone).toBe('America/New_York');
  });

  it('shares one settings object and one calendar among subjects that resolve alike, and keeps apart those that do not', () => {
    // Teams not in the config (stage B sees every team that spends) all take the org's settings and calendar.
    const spike = cfgs.spend_spike;
    expect(spike.settingsFor({ team: 'new-team-1' })).toBe(spike.settingsFor({ team: 'new-team-2' }));
    expect(spike.settingsFor({ team: 'new-team-1' })).toBe(spike.settingsFor({ team: 'payments', developer: 'alice@acme.com' }));
    expect(spike.calendarFor('new-team-1')).toBe(spike.calendarFor('new-team-2'));
    expect(spike.calendarFor('new-team-1')).not.toBe(spike.calendarFor('payments'));
    // research differs by its on-call receiver alone.
    expect(spike.calendarFor('new-team-1')).not.toBe(spike.calendarFor('research'));
    const runaway = cfgs.runaway_session;
    expect(runaway.settingsFor({ team: 'new-team-1' })).toBe(runaway.settingsFor({ team: 'payments' }));
    expect(runaway.settingsFor({ team: 'research' })).not.toBe(runaway.settingsFor({ team: 'payments' }));
    expect(runaway.settingsFor({ team: 'research', developer: 'rita@acme.com' })).not.toBe(runaway.settingsFor({ team: 'research' }));
    expect(runaway.settingsFor({ team: 'research', developer: 'ravi@acme.com' })).toBe(runaway.settingsFor({ team: 'research' }));
  });

  it('gives a team with an on-call receiver routes.oncall_response as its out-of-hours horizon, and others none', () => {
    expect(cfgs.session_cost.calendarFor('research').oncallResponseHours).toBe(0.75);
    expect(cfgs.session_cost.calendarFor('payments').oncallResponseHours).toBeUndefined();
    expect(parseConfig('org: acme').routes.oncall_response).toBe(30 * 60_000);
  });

  it('finds planned changes by kind, team and local date', () => {
    // 2026-11-29T23:30Z is already Monday the 30th in Berlin.
    expect(cfgs.session_cost.plannedChange('payments', Date.parse('2026-11-29T23:30:00Z'))).toBe('opus migration');
    expect(cfgs.session_cost.plannedChange('payments', Date.parse('2026-11-29T22:30:00Z'))).toBeUndefined();
    expect(cfgs.session_cost.plannedChange('research', Date.parse('2026-12-01T12:00:00Z'))).toBeUndefined();
    expect(cfgs.runaway_session.plannedChange('payments', Date.parse('2026-12-01T12:00:00Z'))).toBeUndefined();
  });

  it('reads `to` as exclusive: the change is over from local midnight of that date, or from that instant', () => {
    // Thursday 3 December 23:30 in Berlin is still covered; Friday the 4th, from 00:00 Berlin, is not.
    expect(cfgs.session_cost.plannedChange('payments', Date.parse('2026-12-03T22:30:00Z'))).toBe('opus migration');
    expect(cfgs.session_cost.plannedChange('payments', Date.parse('2026-12-03T22:59:59.999Z'))).toBe('opus migration');
    expect(cfgs.session_cost.plannedChange('payments', Date.parse('2026-12-03T23:00:00Z'))).toBeUndefined();
    expect(cfgs.session_cost.plannedChange('payments', Date.parse('2026-12-04T12:00:00Z'))).toBeUndefined();
    const spike = cfgs.spend_spike;
    expect(spike.plannedChange('research', Date.parse('2026-12-07T12:59:59Z'))).toBeUndefined();
    expect(spike.plannedChange('research', Date.parse('2026-12-07T13:00:00Z'))).toBe('load test');
    expect(spike.plannedChange('research', Date.parse('2026-12-08T09:29:59Z'))).toBe('load test');
    expect(spike.plannedChange('research', Date.parse('2026-12-08T09:30:00Z'))).toBeUndefined();
  });
});
