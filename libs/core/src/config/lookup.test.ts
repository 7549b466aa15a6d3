import { describe, expect, it } from 'vitest';
import { parseConfig } from './load.ts';
import { detectorSettings, plannedSpans, teamCalendar } from './lookup.ts';
import { configWarnings } from './warnings.ts';

const config = parseConfig(`
org: acme
sources:
  - name: claude-code
    keys: ['${'a'.repeat(64)}']
calendar: { working_hours: { start: "08:30", end: "17:30" }, holidays: [2026-12-25] }
teams:
  - id: payments
    slack: { channel: "#payments" }
  - id: research
    email: [r@acme.com]
    calendar: { working_days: [mon, tue, wed, thu] }
detectors:
  spend_spike: { min_score: 4 }
  overrides:
    - match: { team: research }
      spend_spike: { min_impact_usd: 200 }
      runaway_session: { max_hours_without_human: 8 }
    - match: { team: research, developer: carol@acme.com }
      spend_spike: { min_score: 6 }
  planned_changes:
    - { team: research, from: 2026-11-02, to: 2026-11-08, kinds: [model_mix_drift, spend_spike], note: "Opus migration week" }
    - { from: "2026-11-10T14:00:00+01:00", to: 2026-11-11, kinds: [spend_spike], note: "load test" }
`);

// The spend_spike defaults the cases below do not change.
const SPIKE = {
  min_slot_weeks: 2,
  cool_down_hours: 3,
  scale_floor_usd: 1,
  scale_floor_share: 0.3,
  min_impact_share: 1,
  min_impact_floor_usd: 20,
  team_dedupe_share: 0.7,
};

describe('detectorSettings', () => {
  it.each([
    [
      'defaults with the file on top',
      'payments',
      undefined,
      { enabled: true, min_impact_usd: 50, min_score: 4, min_history_hours: 72, ...SPIKE },
    ],
    [
      'a team override changes only what it names',
      'research',
      'dan@acme.com',
      { enabled: true, min_impact_usd: 200, min_score: 4, min_history_hours: 72, ...SPIKE },
    ],
    [
      'a developer override refines the team one',
      'research',
      'carol@acme.com',
      { enabled: true, min_impact_usd: 200, min_score: 6, min_history_hours: 72, ...SPIKE },
    ],
    [
      'a team-level subject takes team overrides only',
      'research',
      undefined,
      { enabled: true, min_impact_usd: 200, min_score: 4, min_history_hours: 72, ...SPIKE },
    ],
  ])('%s', (_name, team, developer, expected) => {
    expect(detectorSettings(config, 'spend_spike', { team, developer })).toEqual(expected);
  });

  it('keeps the defaults of fields an override leaves out', () => {
    expect(detectorSettings(config, 'runaway_session', { team: 'research' })).toEqual({
      enabled: true,
      min_impact_usd: 10,
      max_hours_without_human: 8,
      off_hours_factor: 0.5,
      critical_factor: 3,
      critical_projected_usd: 100,
    });
  });
});

describe('calendars and planned changes', () => {
  it('layers a team calendar over the org one', () => {
    expect(teamCalendar(config, 'research')).toEqual({
      working_hours: { start: '08:30', end: '17:30' },
      working_days: ['mon', 'tue', 'wed', 'thu'],
      holidays: ['2026-12-25'],
    });
    expect(teamCalendar(config, 'payments').working_days).toEqual(['mon', 'tue', 'wed', 'thu', 'fri']);
  });

  it('gives the planned changes of a kind and team as instants, dates at local midnight and instants as written', () => {
    const midnight = (date: string) => Date.parse(`${date}T00:00:00-05:00`);
    expect(plannedSpans(config, 'model_mix_drift', 'research', midnight)).toEqual([
      { from: midnight('2026-11-02'), to: midnight('2026-11-08'), note: 'Opus migration week' },
    ]);
    expect(plannedSpans(config, 'spend_spike', 'payments', midnight)).toEqual([
      { from: Date.parse('2026-11-10T13:00:00Z'), to: midnight('2026-11-11'), note: 'load test' },
    ]);
    expect(plannedSpans(config, 'session_cost', 'research', midnight)).toEqual([]);
  });

  it('refuses a bound that is neither a date nor an instant with its offset, and a from after to', () => {
    const bad = (from: string, to: string) => () =>
      parseConfig(`org: acme\ndetectors:\n  planned_changes:\n    - { from: "${from}", to: "${to}", kinds: [spend_spike], note: x }\n`);
    expect(bad('2026-11-02', '2026-11-08T18:00:00')).toThrow(
      /detectors\.planned_changes\[0\]\.to \(line 4\): expected a date such as 2026-10-24 or an instant with its offset .*not "2026-11-08T18:00:00" \(a time without Z or an offset is ambiguous\)/,
    );
    expect(bad('2026-11-02', '2026-11-31')).toThrow(/planned_changes\[0\]\.to \(line 4\): expected a date/);
    expect(bad('2026-11-08', '2026-11-02')).toThrow(/planned_changes\[0\]\.to \(line 4\): from must be before to/);
    expect(bad('2026-11-02T10:00:00Z', '2026-11-02T09:00:00+00:00')).toThrow(/from must be before to/);
    expect(bad('2026-11-02T10:00:00Z', '2026-11-02T12:00:00+01:00')).not.toThrow();
  });
});

describe('configWarnings', () => {
  it('is quiet for a consistent config', () => {
    expect(configWarnings(config)).toEqual([]);
  });

  it('warns about inconsistent thresholds and overrides for teams that do not exist', () => {
    const odd = parseConfig(`
org: acme
teams:
  - id: payments
detectors:
  session_cost: { warning_usd: 150, critical_usd: 100 }
  budget_forecast: { warning_share: 1.2 }
  new_spender: { enabled: false }
  overrides:
    - match: { team: ghost }
      session_cost: { warning_usd: 10 }
    - match: { team: payments }
      session_cost: { warning_usd: 500 }
  planned_changes:
    - { team: phantom, from: 2026-11-02, to: 2026-11-08, kinds: [spend_spike], note: x }
    - { team: payments, from: 2026-10-24, to: 2026-10-24, kinds: [spend_spike], note: one day }
`);
    expect(configWarnings(odd, Date.parse('2026-12-01T00:00:00Z')).map((w) => `${w.path}: ${w.message}`)).toEqual([
      'detectors.session_cost: warning_usd (150) is not below critical_usd (100), so the warning never fires on its own',
      'detectors.budget_forecast: warning_share (1.2) is not below critical_share (1.1)',
      'detectors.overrides[0].match.team: no team "ghost" in teams; this override never applies',
      'detectors.overrides[1].session_cost: warning_usd (500) is not below critical_usd (100), so the warning never fires on its own',
      'detectors.planned_changes[0].team: no team "phantom" in teams',
      'detectors.planned_changes[1].to: to (2026-10-24) is the same day as from: to is exclusive (the first day the change is over), so this covers nothing; for the one day 2026-10-24 write to: 2026-10-25',
      'detectors.new_spender.enabled: new_spender is off for every team',
      'teams[0]: team "payments" has no receivers (slack, email or receivers): its anomalies reach nobody',
      'sources: ingest.auth is keys but no source has a key: every post is refused (burnrate keys new makes one)',
    ]);
  });

  it('warns about sources that cannot post and open ingest beside configured keys', () => {
    const keys = parseConfig(`
org: acme
ingest: { auth: none }
sources:
  - name: current
    keys: ['${'a'.repeat(64)}', { sha256: '${'b'.repeat(64)}', expires_at: 2026-11-01T00:00:00Z }]
  - name: old
    keys: [{ sha256: '${'c'.repeat(64)}', revoked_at: 2026-11-20T00:00:00Z }, { sha256: '${'d'.repeat(64)}', expires_at: 2026-11-30T00:00:00Z }]
`);
    expect(configWarnings(keys, Date.parse('2026-12-01T00:00:00Z')).map((w) => `${w.path}: ${w.message}`)).toEqual([
      'ingest.auth: ingest.auth is none: the sources and their keys are not checked, anyone who reaches the port may post',
      'sources[1].keys: source "old" has no key that is neither revoked nor expired',
    ]);
  });
});
