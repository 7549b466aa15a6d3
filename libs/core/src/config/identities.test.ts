import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from './load.ts';

const CONFIG = `
org: acme
identities: people.csv
teams:
  - id: payments
    members: [alice@acme.com, { email: bob@acme.com, aliases: [bob-laptop] }]
  - id: research
`;

describe('identities: people.csv', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'burnrate-identities-'));
    await writeFile(join(dir, 'burnrate.yaml'), CONFIG);
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it("adds each person's identities at other vendors as aliases, and places people the teams do not list", async () => {
    await writeFile(
      join(dir, 'people.csv'),
      [
        'Email,Team,anthropic_console_email,cursor_email,github_login,claude_user_id',
        'alice@acme.com,,alice.w@acme-console.com,alice@acme.dev,alicew,c0ffee42',
        'bob@acme.com,payments,,,bobby;bob-gh,',
        'carol@acme.com,research,,carol@acme.dev,,',
        '',
      ].join('\n'),
    );
    const config = await loadConfig(join(dir, 'burnrate.yaml'));
    expect(config.teams.map((t) => [t.id, t.members])).toEqual([
      [
        'payments',
        [
          { email: 'alice@acme.com', aliases: ['alice.w@acme-console.com', 'alice@acme.dev', 'alicew', 'c0ffee42'] },
          { email: 'bob@acme.com', aliases: ['bob-laptop', 'bobby', 'bob-gh'] },
        ],
      ],
      ['research', [{ email: 'carol@acme.com', aliases: ['carol@acme.dev'] }]],
    ]);
  });

  it('reports every problem of the file in one pass, each with its line', async () => {
    await writeFile(
      join(dir, 'people.csv'),
      [
        'email,team,github_login',
        'not-an-email,payments,x',
        'dan@acme.com,growth,dan',
        'alice@acme.com,research,',
        'erin@acme.com,,erin',
        'frank@acme.com,research,bob-laptop',
      ].join('\n'),
    );
    await expect(loadConfig(join(dir, 'burnrate.yaml'))).rejects.toThrow(
      [
        `${join(dir, 'burnrate.yaml')} is not a valid Burnrate config:`,
        '  identities (people.csv line 2): email "not-an-email" is not an email address',
        '  identities (people.csv line 3): team "growth" is not in teams[]',
        '  identities (people.csv line 4): alice@acme.com is a member of team "payments", not "research"; a developer belongs to one team',
        '  identities (people.csv line 5): erin@acme.com is in no team: give the team column a value, or list them in teams[].members',
        '  identities (people.csv line 6): github_login "bob-laptop" already means bob@acme.com; one identity is one person',
      ].join('\n'),
    );
  });

  it('names a file it cannot read and a header without email', async () => {
    await expect(loadConfig(join(dir, 'burnrate.yaml'))).rejects.toThrow(`identities: cannot read ${join(dir, 'people.csv')}: ENOENT`);
    await writeFile(join(dir, 'people.csv'), 'login,team\nalice,payments\n');
    await expect(loadConfig(join(dir, 'burnrate.yaml'))).rejects.toThrow(
      'identities (people.csv line 1): the header needs an email column (and optionally team; other columns are aliases)',
    );
  });
});
