import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from './load.ts';

/** Every problem parseConfig reports for `yaml`, as `path: message`; [] when it loads. */
function problems(yaml: string): string[] {
  try {
    parseConfig(yaml);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.issues.map((i) => `${i.path}: ${i.message}`);
  }
}

const TEAMS = `
org: acme
teams:
  - id: payments
    email: [p@acme.com]
    oncall: { email: [oncall@acme.com] }
  - id: research
    email: [r@acme.com]
`;

describe('references between sections', () => {
  it('refuses a route rule naming a team that does not exist, alone or in a list', () => {
    expect(
      problems(`${TEAMS}
routes:
  rules:
    - { match: { team: paymnets }, notify: [team] }
    - { match: { team: [research, reserch] }, notify: [team] }
    - { match: { team: unattributed }, notify: [team] }
`),
    ).toEqual([
      'routes.rules[0].match.team: unknown team "paymnets"; teams[] has payments, research',
      'routes.rules[1].match.team[1]: unknown team "reserch"; teams[] has payments, research',
    ]);
  });

  it('refuses notify: [finops] without a finops receiver, and accepts it with one', () => {
    const rule = `
routes:
  rules:
    - { match: { severity: critical }, notify: [team, finops] }
`;
    expect(problems(`${TEAMS}${rule}`)).toEqual([
      'routes.rules[0].notify[1]: notifies finops, but finops has no receivers (finops.slack, finops.email or finops.receivers)',
    ]);
    expect(problems(`${TEAMS}${rule}finops: { email: [finops@acme.com] }\n`)).toEqual([]);
    expect(problems(`${TEAMS}${rule}finops: { email: [] }\n`)).toHaveLength(1);
  });

  it('refuses notify: [oncall] for a named team without on-call receivers, or when no team has any', () => {
    expect(
      problems(`${TEAMS}
routes:
  rules:
    - { match: { team: [payments, research] }, notify: [oncall] }
    - { match: { severity: critical }, notify: [oncall] }
`),
    ).toEqual(['routes.rules[0].notify[0]: notifies oncall, but team "research" has no on-call receivers (teams[1].oncall)']);
    expect(
      problems(`
org: acme
teams: [{ id: payments, email: [p@acme.com] }]
routes:
  rules: [{ match: { severity: critical }, notify: [oncall] }]
`),
    ).toEqual(['routes.rules[0].notify[0]: notifies oncall, but no team has on-call receivers (teams[].oncall)']);
  });

  it('refuses ownership rules and sources for teams that do not exist', () => {
    expect(
      problems(`${TEAMS}
ownership:
  - { match: { api_key_name: "pay-*" }, team: payments }
  - { match: { project: lab }, team: lab }
sources:
  - { name: laptops, keys: ['${'a'.repeat(64)}'], team: platform }
`),
    ).toEqual([
      'ownership[1].team: unknown team "lab"; teams[] has payments, research',
      'sources[0].team: unknown team "platform"; teams[] has payments, research',
    ]);
  });

  it('refuses anomaly kinds that do not exist in routes and inhibit rules', () => {
    expect(
      problems(`${TEAMS}
routes:
  rules: [{ match: { kind: [session_cost, sesion_cost] }, notify: [team] }]
inhibit:
  - { source: { kind: spend_spike }, target: { kind: runaway }, equal: [team] }
`),
    ).toEqual([
      'routes.rules[0].match.kind[1]: unknown anomaly kind "sesion_cost"; expected one of session_cost, runaway_session, context_bloat, model_mix_drift, spend_spike, budget_forecast, new_spender, cache_efficiency_drop, lost_events',
      'inhibit[0].target.kind: unknown anomaly kind "runaway"; expected one of session_cost, runaway_session, context_bloat, model_mix_drift, spend_spike, budget_forecast, new_spender, cache_efficiency_drop, lost_events',
    ]);
  });

  it('refuses one key in two sources, two sources of one name, and one receiver name with two settings', () => {
    expect(
      problems(`
org: acme
teams:
  - id: payments
    receivers: [{ channel: webhook, name: ops, url: "https://a.example/x" }]
finops:
  receivers: [{ channel: webhook, name: ops, url: "https://b.example/y" }]
sources:
  - { name: laptops, keys: ['${'a'.repeat(64)}'] }
  - { name: laptops, keys: [{ sha256: '${'a'.repeat(64)}' }] }
`),
    ).toEqual([
      'finops.receivers[0].name: another webhook receiver is named "ops" with other settings (teams[0].receivers[0]); one name, one receiver',
      'sources[1].name: duplicate source name "laptops" (also sources[0])',
      'sources[1].keys[0]: this key is already a key of source "laptops"',
    ]);
  });

  it('reports references together with schema problems elsewhere in the file, in file order', () => {
    expect(
      problems(`
org: Acme Corp
teams:
  - id: payments
    slack: { channel: payments }
routes:
  group_wait: soon
  rules: [{ match: { team: ghost }, notify: [finops] }]
`),
    ).toEqual([
      'org: expected a lowercase id of letters, digits, - and _ (e.g. payments)',
      'teams[0].slack.channel: expected a channel like #name (or a channel id like C0123ABCD)',
      'routes.group_wait: expected a duration such as 10s, 5m, 4h or 1d',
      'routes.rules[0].match.team: unknown team "ghost"; teams[] has payments',
      'routes.rules[0].notify[0]: notifies finops, but finops has no receivers (finops.slack, finops.email or finops.receivers)',
    ]);
  });

  it('checks an object across its fields even when another of its fields is invalid', () => {
    expect(
      problems(`
org: acme
detectors:
  backfill: { quiet: 10m, max_wait: 5m, warmup: 100d }
ingest:
  limits: { max_age: 500d, max_text_length: 10, max_future: 45d }
sources:
  - { name: laptops, keys: [nothex], team: payments, trust_team_id: true }
`),
    ).toEqual([
      'detectors.backfill.warmup: must be from 0ms to 90d',
      'detectors.backfill.max_wait: must not be shorter than quiet',
      'ingest.limits.max_age: must be at most 400d: the store keeps raw events 400 days, so an older event would be deleted on arrival while the hourly spend kept it',
      'ingest.limits.max_future: must be at most 30d, got 45d',
      'ingest.limits.max_text_length: Too small: expected number to be >=64',
      'sources[0].keys[0]: expected the SHA-256 of the key as 64 lower-case hex digits (burnrate keys new prints it)',
      'sources[0].trust_team_id: source "laptops" speaks for team "payments" already; trust_team_id would never apply, remove one',
      'sources[0].team: unknown team "payments"; teams[] is empty',
    ]);
  });
});
