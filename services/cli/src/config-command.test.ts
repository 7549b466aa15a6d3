import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, type TempDir } from '@burnrate/testing';
import { configCheck, configSchema } from './config-command.ts';

describe('burnrate config check', () => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await tempDir();
  });
  afterAll(() => dir.cleanup());

  async function check(yaml: string): Promise<{ code: number; out: string[]; err: string[] }> {
    const path = join(dir.path, `c${Math.random().toString(36).slice(2)}.yaml`);
    await writeFile(path, yaml);
    const out: string[] = [];
    const err: string[] = [];
    const code = await configCheck(path, { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out, err };
  }

  it('exits 0 and summarises a valid file', async () => {
    const r = await check(
      `org: acme\nteams:\n  - id: payments\n    email: [p@acme.com]\nsources:\n  - { name: laptops, keys: ['${'e'.repeat(64)}'] }\n`,
    );
    expect(r.code).toBe(0);
    expect(r.out.join('\n')).toMatch(/ok \(org acme, 1 team, 0 ownership rules, 1 source\)/);
    expect(r.err).toEqual([]);
  });

  it('exits 1 listing every problem with its path', async () => {
    const r = await check('org: Acme Corp\nteams:\n  - id: payments\n    slack: { channel: payments }\n');
    expect(r.code).toBe(1);
    const text = r.err.join('\n');
    expect(text).toContain('org (line 1): expected a lowercase id');
    expect(text).toContain('teams[0].slack.channel (line 4): expected a channel like #name');
    expect(text).toContain('2 problems found.');
  });

  it('prints warnings for inconsistent thresholds but still exits 0', async () => {
    const r = await check(
      'org: acme\nteams:\n  - id: payments\n    email: [p@acme.com]\ndetectors:\n  session_cost: { warning_usd: 200 }\n',
    );
    expect(r.code).toBe(0);
    expect(r.err.join('\n')).toContain('detectors.session_cost: warning_usd (200) is not below critical_usd (100)');
  });

  it('checks each receiver against its channel, as start does, with the line', async () => {
    const r = await check(
      'org: acme\nteams:\n  - id: payments\n    receivers:\n      - { channel: pagerduty, name: payments, routing_key: R0123 }\n      - { channel: pagerdty, name: x }\n',
    );
    expect(r.code).toBe(1);
    expect(r.err.join('\n')).toContain(
      [
        '  teams[0].receivers[0].routing_key_env (line 5): is required (string)',
        '  teams[0].receivers[0] (line 5): unknown key "routing_key"',
        '  teams[0].receivers[1].channel (line 6): unknown channel "pagerdty"; expected one of slack, email, webhook, pagerduty, msteams',
      ].join('\n'),
    );
  });

  it('accepts receivers of every channel without their secrets: those are checked at start', async () => {
    const r = await check(`org: acme
teams:
  - id: payments
    receivers:
      - { channel: slack, to: "#payments" }
      - { channel: email, to: [p@acme.com] }
      - { channel: webhook, name: ops-bus, url: "https://hooks.acme.internal/burnrate", secret_env: OPS_WEBHOOK_SECRET }
      - { channel: pagerduty, name: payments, routing_key_env: PD_PAYMENTS }
      - { channel: msteams, name: payments, url_env: TEAMS_PAYMENTS_URL }
`);
    expect(r.code).toBe(0);
    expect(r.err.join('\n')).not.toMatch(/receiver|_env/);
  });

  it('reports the problems of every stage in one run, so fixing them all gives a valid file', async () => {
    const csv = join(dir.path, 'people.csv');
    await writeFile(csv, 'email,team,github_login\ncarol@acme.com,paymnets,carol-gh\n');
    const broken = `org: acme
ingest: { auth: none }
identities: people.csv
teams:
  - id: payments
    slack: { channel: payments }
detectors:
  backfill: { quiet: 10m, max_wait: 5m }
routes:
  rules:
    - { match: { team: paymnets, kind: sesion_cost }, notify: [team, finops] }
`;
    const r = await check(broken);
    expect(r.code).toBe(1);
    const text = r.err.join('\n');
    for (const problem of [
      'teams[0].slack.channel (line 6): expected a channel like #name',
      'detectors.backfill.max_wait (line 8): must not be shorter than quiet',
      'routes.rules[0].match.team (line 11): unknown team "paymnets"; teams[] has payments',
      'routes.rules[0].match.kind (line 11): unknown anomaly kind "sesion_cost"',
      'routes.rules[0].notify[1] (line 11): notifies finops, but finops has no receivers',
      'identities (people.csv line 2): team "paymnets" is not in teams[]',
    ])
      expect(text).toContain(problem);
    expect(text).toContain('6 problems found.');

    await writeFile(csv, 'email,team,github_login\ncarol@acme.com,payments,carol-gh\n');
    const fixed = await check(
      broken
        .replace('channel: payments', 'channel: "#payments"')
        .replace('max_wait: 5m', 'max_wait: 15m')
        .replace('team: paymnets, kind: sesion_cost', 'team: payments, kind: session_cost')
        .replace('notify: [team, finops]', 'notify: [team]'),
    );
    expect(fixed.err).toEqual([]);
    expect(fixed.code).toBe(0);
  });

  it('says when the file is missing', async () => {
    const out: string[] = [];
    const err: string[] = [];
    expect(await configCheck(join(dir.path, 'nope.yaml'), { out: (l) => out.push(l), err: (l) => err.push(l) })).toBe(1);
    expect(err.join('\n')).toMatch(/cannot read config file/);
  });
});

/** Each property in a JSON Schema without a description, by its path (`teams[].receivers[].url`). */
function undescribed(node: unknown, path = ''): string[] {
  if (Array.isArray(node)) return node.flatMap((n) => undescribed(n, path));
  if (typeof node !== 'object' || node === null) return [];
  const schema = node as Record<string, unknown>;
  const missing: string[] = [];
  for (const [key, value] of Object.entries((schema.properties ?? {}) as Record<string, unknown>)) {
    const at = path === '' ? key : `${path}.${key}`;
    if (typeof (value as { description?: unknown }).description !== 'string') missing.push(at);
    missing.push(...undescribed(value, at));
  }
  for (const key of ['items', 'anyOf', 'oneOf', 'allOf', 'additionalProperties', '$defs']) {
    if (key in schema) missing.push(...undescribed(schema[key], key === 'items' ? `${path}[]` : path));
  }
  return missing;
}

describe('burnrate config schema', () => {
  it('describes every field, receivers of every channel included, for editors', async () => {
    const out: string[] = [];
    expect(await configSchema({ out: (l) => out.push(l), err: () => {} })).toBe(0);
    const schema = JSON.parse(out.join('\n')) as {
      properties: Record<string, { description?: string; examples?: unknown[]; properties?: Record<string, unknown> }>;
    };
    expect(undescribed(schema)).toEqual([]);
    // The walk reaches the deep ends: a receiver's setting, an override's threshold.
    const text = JSON.stringify(schema);
    expect(text).toContain("The environment variable that holds the PagerDuty service's Events API v2 routing key.");
    expect(text).toContain('Changes to detectors.spend_spike: only the fields given.');
    expect(schema.properties.org).toMatchObject({ description: 'The organisation id, stamped on every event.', examples: ['acme'] });
  });

  it('finds a field without a description', () => {
    expect(
      undescribed({
        type: 'object',
        properties: {
          a: { type: 'string', description: 'described' },
          b: { type: 'array', description: 'list', items: { anyOf: [{ type: 'object', properties: { c: { type: 'number' } } }] } },
        },
      }),
    ).toEqual(['b[].c']);
  });

  it('describes every channel’s receiver settings for editors', async () => {
    const out: string[] = [];
    expect(await configSchema({ out: (l) => out.push(l), err: () => {} })).toBe(0);
    const schema = JSON.stringify(JSON.parse(out.join('\n')));
    for (const field of ['routing_key_env', 'secret_env', 'url_env']) expect(schema).toContain(`"${field}"`);
    for (const channel of ['slack', 'email', 'webhook', 'pagerduty', 'msteams']) expect(schema).toContain(`"const":"${channel}"`);
  });
});
