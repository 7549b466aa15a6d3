import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, formatPath, loadConfig, parseConfig } from './load.ts';
import { configuredReceivers, receiversOf } from './receivers.ts';
import { detectorSettings, sessionCostThresholds } from './lookup.ts';
import { configJsonSchema } from './json-schema.ts';

const EXAMPLE = fileURLToPath(new URL('../../../../services/cli/burnrate.example.yaml', import.meta.url));

function issuesOf(yaml: string): string[] {
  try {
    parseConfig(yaml);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('expected the config to be rejected');
}

describe('parseConfig', () => {
  it('loads the bundled example with its defaults applied', async () => {
    const config = await loadConfig(EXAMPLE);
    expect(config.org).toBe('acme');
    expect(config.teams.map((t) => t.id)).toEqual(['payments', 'research']);
    expect(config.routes.group_wait).toBe(10_000);
    expect(config.routes.escalate_after).toBe(30 * 60_000);
    expect(config.detectors.session_cost).toEqual({
      enabled: true,
      warning_usd: 25,
      critical_usd: 100,
      relative: true,
      relative_quantile: 0.95,
      relative_factor: 2,
      relative_min_sessions: 30,
    });
    expect(config.detectors.runaway_session.max_hours_without_human).toBe(4);
    expect(config.calendar.working_days).toEqual(['mon', 'tue', 'wed', 'thu', 'fri']);
  });

  it('fills every default from a minimal file', () => {
    const config = parseConfig('org: acme');
    expect(config.timezone).toBe('UTC');
    expect(config.teams).toEqual([]);
    expect(config.routes.min_severity).toBe('warning');
    expect(config.slack.interactions_path).toBe('/slack/interactions');
    expect(config.detectors.context_bloat.cool_down_hours).toBe(2);
    expect(config.detectors.cache_efficiency_drop).toMatchObject({ cool_down_hours: 6, min_season_weeks: 2 });
    expect(config.detectors.backfill).toEqual({ quiet: 30_000, max_wait: 600_000, warmup: 14 * 86_400_000 });
  });

  it('reads backfill durations', () => {
    const config = parseConfig('org: acme\ndetectors: { backfill: { quiet: 2s, max_wait: 1m, warmup: 0s } }');
    expect(config.detectors.backfill).toEqual({ quiet: 2_000, max_wait: 60_000, warmup: 0 });
  });

  it.each([
    ['a missing org', 'teams: []', ['org: is required (string)']],
    ['a wrong type', 'org: acme\nteams: payments', ['teams: Invalid input: expected array, received string']],
    [
      'a bad channel',
      'org: acme\nteams:\n  - id: payments\n    slack: { channel: payments }',
      ['teams[0].slack.channel: expected a channel like #name (or a channel id like C0123ABCD)'],
    ],
    ['an unknown key', 'org: acme\nteams:\n  - id: payments\n    colour: red', ['teams[0]: unknown key "colour"']],
    [
      'a bad timezone',
      'org: acme\ntimezone: Mars/Olympus',
      ['timezone: expected an IANA time zone such as Europe/Berlin or America/New_York'],
    ],
    ['a bad duration', 'org: acme\nroutes: { group_wait: soon }', ['routes.group_wait: expected a duration such as 10s, 5m, 4h or 1d']],
    [
      'a bad email',
      'org: acme\nteams:\n  - id: a\n    email: [not-an-email]',
      ['teams[0].email[0]: expected an email address such as alice@acme.com'],
    ],
    [
      'a negative cap',
      'org: acme\ndetectors: { session_cost: { warning_usd: -5 } }',
      ['detectors.session_cost.warning_usd: Too small: expected number to be >=0'],
    ],
    [
      'a relative quantile outside 0.5–0.999',
      'org: acme\ndetectors: { session_cost: { relative_quantile: 1 } }',
      ['detectors.session_cost.relative_quantile: Too big: expected number to be <=0.999'],
    ],
    [
      'a relative factor below 1',
      'org: acme\ndetectors: { overrides: [{ match: { team: a }, session_cost: { relative_factor: 0.5 } }] }',
      ['detectors.overrides[0].session_cost.relative_factor: Too small: expected number to be >=1'],
    ],
    [
      'a fractional relative_min_sessions',
      'org: acme\ndetectors: { session_cost: { relative_min_sessions: 2.5 } }',
      ['detectors.session_cost.relative_min_sessions: Invalid input: expected int, received number'],
    ],
    [
      'relative as text',
      "org: acme\ndetectors: { session_cost: { relative: 'off' } }",
      ['detectors.session_cost.relative: Invalid input: expected boolean, received string'],
    ],
    [
      'a context_bloat cool-down past the session idle horizon',
      'org: acme\ndetectors: { context_bloat: { cool_down_hours: 24 } }',
      ['detectors.context_bloat.cool_down_hours: Too big: expected number to be <=12'],
    ],
    [
      'a cache_efficiency_drop cool-down of no hours',
      'org: acme\ndetectors: { cache_efficiency_drop: { cool_down_hours: 0 } }',
      ['detectors.cache_efficiency_drop.cool_down_hours: Too small: expected number to be >=1'],
    ],
    [
      'a fractional number of season weeks',
      'org: acme\ndetectors: { overrides: [{ match: { team: a }, cache_efficiency_drop: { min_season_weeks: 1.5 } }] }',
      ['detectors.overrides[0].cache_efficiency_drop.min_season_weeks: Invalid input: expected int, received number'],
    ],
    [
      'spend_spike settings out of range',
      'org: acme\ndetectors: { spend_spike: { min_slot_weeks: 0, cool_down_hours: 1.5, scale_floor_usd: 0, team_dedupe_share: 1.2 } }',
      [
        'detectors.spend_spike.min_slot_weeks: Too small: expected number to be >=1',
        'detectors.spend_spike.cool_down_hours: Invalid input: expected int, received number',
        'detectors.spend_spike.scale_floor_usd: Too small: expected number to be >0',
        'detectors.spend_spike.team_dedupe_share: Too big: expected number to be <=1',
      ],
    ],
    [
      'a negative spend_spike gate in an override',
      'org: acme\ndetectors: { overrides: [{ match: { team: a }, spend_spike: { min_impact_share: -1, min_impact_floor_usd: -5, scale_floor_share: 11 } }] }',
      [
        'detectors.overrides[0].spend_spike.scale_floor_share: Too big: expected number to be <=10',
        'detectors.overrides[0].spend_spike.min_impact_share: Too small: expected number to be >=0',
        'detectors.overrides[0].spend_spike.min_impact_floor_usd: Too small: expected number to be >=0',
      ],
    ],
    [
      'backfill durations out of range',
      'org: acme\ndetectors: { backfill: { quiet: 500ms, warmup: 120d } }',
      ['detectors.backfill.quiet: must be from 1s to 1h', 'detectors.backfill.warmup: must be from 0ms to 90d'],
    ],
    [
      'a backfill max_wait shorter than quiet',
      'org: acme\ndetectors: { backfill: { quiet: 10m, max_wait: 5m } }',
      ['detectors.backfill.max_wait: must not be shorter than quiet'],
    ],
    ['a duplicate team', 'org: acme\nteams:\n  - id: a\n  - id: a', ['teams[1].id: duplicate team id "a" (also teams[0])']],
    [
      'a developer in two teams',
      'org: acme\nteams:\n  - id: a\n    members: [x@acme.com]\n  - id: b\n    members: [X@acme.com]',
      ['teams[1].members[0]: x@acme.com is already a member of team "a"; a developer belongs to one team'],
    ],
    [
      'an ownership rule for an unknown team',
      'org: acme\nownership:\n  - match: { api_key_name: "x-*" }\n    team: ghost',
      ['ownership[0].team: unknown team "ghost"; teams[] is empty'],
    ],
    [
      'a Slack interactions path that is not a path',
      'org: acme\nslack: { interactions_path: slack/interactions }',
      ['slack.interactions_path: expected an absolute path such as /slack/interactions'],
    ],
    [
      'a Slack interactions path inside the API',
      'org: acme\nslack: { interactions_path: /api/slack }',
      ['slack.interactions_path: must not overlap /api/…, /v1/…, /act/…, /anomalies/… or /healthz'],
    ],
  ])('names the path and the problem for %s', (_name, yaml, expected) => {
    expect(issuesOf(yaml)).toEqual(expected);
  });

  it('reports YAML syntax errors with the line', () => {
    try {
      parseConfig('org: acme\nteams: [\n', 'burnrate.yaml');
      throw new Error('expected a syntax error');
    } catch (err) {
      expect((err as ConfigError).issues[0]?.path).toBe('(yaml)');
      expect((err as ConfigError).message).toContain('burnrate.yaml');
    }
  });

  it('gives the line of the offending node', () => {
    try {
      parseConfig('org: acme\nteams:\n  - id: payments\n    slack: { channel: nope }\n');
    } catch (err) {
      expect((err as ConfigError).issues[0]?.line).toBe(4);
    }
  });

  it('gives a missing key the line of the object that lacks it', () => {
    try {
      parseConfig('org: acme\nownership:\n  - team: payments\n');
      throw new Error('expected the config to be rejected');
    } catch (err) {
      expect((err as ConfigError).issues.map((i) => [i.path, i.line])).toEqual([
        ['ownership[0].match', 3],
        ['ownership[0].team', 3],
      ]);
    }
  });

  it('says when the file cannot be read', async () => {
    await expect(loadConfig('/nonexistent/burnrate.yaml')).rejects.toThrow(/cannot read config file \/nonexistent\/burnrate.yaml/);
  });
});

describe('receivers', () => {
  it('lists every receiver with its path: shorthand first, then receivers, for teams, on-call and FinOps', () => {
    const config = parseConfig(`
org: acme
teams:
  - id: payments
    slack: { channel: "#payments" }
    email: [Leads@acme.com]
    receivers: [{ channel: webhook, name: ops }]
    oncall: { receivers: [{ channel: pagerduty, name: payments }] }
  - id: research
finops: { email: [finops@acme.com] }
`);
    expect(receiversOf(config.teams[0])).toEqual([
      { channel: 'slack', to: '#payments' },
      { channel: 'email', to: ['leads@acme.com'] },
      { channel: 'webhook', name: 'ops' },
    ]);
    expect(receiversOf(config.teams[1])).toEqual([]);
    expect(configuredReceivers(config).map((r) => [formatPath(r.path), r.group, r.team ?? null, r.receiver.channel])).toEqual([
      ['teams[0].slack', 'team', 'payments', 'slack'],
      ['teams[0].email', 'team', 'payments', 'email'],
      ['teams[0].receivers[0]', 'team', 'payments', 'webhook'],
      ['teams[0].oncall.receivers[0]', 'oncall', 'payments', 'pagerduty'],
      ['finops.email', 'finops', null, 'email'],
    ]);
  });

  it.each([
    [
      'a receiver without a channel',
      'teams:\n  - id: a\n    receivers: [{ to: "#x" }]',
      ['teams[0].receivers[0].channel: is required (string)'],
    ],
    [
      'one name for two receivers of a channel',
      'teams:\n  - id: a\n    receivers: [{ channel: webhook, name: ops, url: "https://a.example" }]\nfinops:\n  receivers: [{ channel: webhook, name: ops, url: "https://b.example" }]',
      [
        'finops.receivers[0].name: another webhook receiver is named "ops" with other settings (teams[0].receivers[0]); one name, one receiver',
      ],
    ],
  ])('names the path and the problem for %s', (_name, yaml, expected) => {
    expect(issuesOf(`org: acme\n${yaml}\n`)).toEqual(expected);
  });
});

describe('sessionCostThresholds', () => {
  const config = parseConfig(`
org: acme
teams:
  - id: research
  - id: payments
detectors:
  session_cost: { warning_usd: 25, critical_usd: 100 }
  overrides:
    - match: { team: research }
      session_cost: { warning_usd: 100, critical_usd: 400 }
    - match: { team: research, developer: carol@acme.com }
      session_cost: { critical_usd: 1000 }
`);

  it.each([
    [
      { team: 'payments', developer: 'alice@acme.com' },
      { warning_usd: 25, critical_usd: 100 },
    ],
    [
      { team: 'research', developer: 'dan@acme.com' },
      { warning_usd: 100, critical_usd: 400 },
    ],
    [
      { team: 'research', developer: 'carol@acme.com' },
      { warning_usd: 100, critical_usd: 1000 },
    ],
    [
      { team: 'unattributed', developer: 'x' },
      { warning_usd: 25, critical_usd: 100 },
    ],
  ])('resolves %o', (subject, expected) => {
    expect(sessionCostThresholds(config, subject)).toEqual(expected);
  });
});

describe('session_cost relative caps', () => {
  const config = parseConfig(`
org: acme
teams:
  - id: ledger
  - id: payments
detectors:
  session_cost: { relative_factor: 3 }
  overrides:
    - match: { team: ledger }
      session_cost: { relative_quantile: 0.9 }
    - match: { team: payments }
      session_cost: { relative: false }
`);

  it('fills the defaults and lets a team override one field, keeping the others', () => {
    expect(detectorSettings(config, 'session_cost', { team: 'ledger' })).toEqual({
      enabled: true,
      warning_usd: 25,
      critical_usd: 100,
      relative: true,
      relative_quantile: 0.9,
      relative_factor: 3,
      relative_min_sessions: 30,
    });
    expect(detectorSettings(config, 'session_cost', { team: 'payments' })).toMatchObject({ relative: false, relative_factor: 3 });
  });
});

describe('configJsonSchema', () => {
  it('describes the file for editors, durations as strings', async () => {
    const schema = configJsonSchema() as {
      properties: Record<string, { properties?: Record<string, { type?: string }> }>;
      required: string[];
    };
    expect(schema.required).toEqual(['org']);
    expect(schema.properties.routes?.properties?.group_wait?.type).toBe('string');
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['org', 'teams', 'ownership', 'detectors', 'routes']));
    expect(await readFile(EXAMPLE, 'utf8')).toContain('org: acme');
  });

  it('describes the cool-downs that keep an episode open', () => {
    const text = JSON.stringify(configJsonSchema());
    expect(text).toContain('Hours a session must make no call before its context_bloat episode resolves.');
    expect(text).toContain('before an open cache_efficiency_drop episode resolves');
    expect(text).toContain('distinct local weeks (Monday to Sunday) with values');
  });

  it('describes the spend_spike settings an editor shows', () => {
    const text = JSON.stringify(configJsonSchema());
    for (const setting of [
      'min_slot_weeks',
      'cool_down_hours',
      'scale_floor_usd',
      'scale_floor_share',
      'min_impact_share',
      'min_impact_floor_usd',
      'team_dedupe_share',
    ]) {
      expect(text).toMatch(new RegExp(`"${setting}":\\{[^}]*"description":"[^"]{20,}`));
    }
  });

  it('says that a planned change ends before its `to`', () => {
    const text = JSON.stringify(configJsonSchema());
    expect(text).toContain('When the change is over (exclusive): a date is the first day no longer covered');
    expect(text).toContain('When the change starts (inclusive)');
  });
});
