import { parseConfig } from '@burnrate/core';
import { describe, expect, it } from 'vitest';
import { type Attribution, createAttributor, type Identity } from './attribution.ts';

const config = parseConfig(`
org: acme
teams:
  - id: payments
    members:
      - alice@acme.com
      - email: bob@acme.com
        aliases: [bobby, user_01BOB]
  - id: research
    members: [carol@acme.com]
  - id: platform
ownership:
  - match: { api_key_name: "payments-*" }
    team: payments
  - match: { email: "*@research.acme.com" }
    team: research
  - match: { team_id: platform }
    team: platform
  - match: { tool: cursor, project: "infra-*" }
    team: platform
  - match: { account_id: user_01SVC }
    team: research
`);

const attribute = createAttributor(config);

const cases: [string, Identity, Attribution][] = [
  [
    'a member email, any case',
    { email: 'Alice@ACME.com' },
    { developer: 'alice@acme.com', developer_email: 'alice@acme.com', team: 'payments', matched_by: 'member' },
  ],
  [
    'a member alias given as developer',
    { developer: 'bobby' },
    { developer: 'bob@acme.com', developer_email: 'bob@acme.com', team: 'payments', matched_by: 'alias' },
  ],
  [
    'a member alias given as account id',
    { account_id: 'user_01bob' },
    { developer: 'bob@acme.com', developer_email: 'bob@acme.com', team: 'payments', matched_by: 'alias' },
  ],
  [
    'a member email given as developer',
    { developer: 'carol@acme.com' },
    { developer: 'carol@acme.com', developer_email: 'carol@acme.com', team: 'research', matched_by: 'alias' },
  ],
  ['an API key name glob', { api_key_name: 'payments-ci' }, { developer: 'payments-ci', team: 'payments', matched_by: 'ownership' }],
  [
    'an email glob',
    { email: 'dan@research.acme.com' },
    { developer: 'dan@research.acme.com', developer_email: 'dan@research.acme.com', team: 'research', matched_by: 'ownership' },
  ],
  [
    'a declared team.id',
    { developer: 'c4df2390', team_id: 'platform' },
    { developer: 'c4df2390', team: 'platform', matched_by: 'ownership' },
  ],
  [
    'all fields of a rule',
    { developer: 'x', tool: 'cursor', project: 'infra-db' },
    { developer: 'x', team: 'platform', matched_by: 'ownership' },
  ],
  [
    'only some fields of a rule',
    { developer: 'x', tool: 'cursor', project: 'web' },
    { developer: 'x', team: 'unattributed', matched_by: 'unattributed' },
  ],
  ['an account id rule', { account_id: 'user_01SVC' }, { developer: 'user_01SVC', team: 'research', matched_by: 'ownership' }],
  [
    'the first matching rule',
    { email: 'eve@research.acme.com', api_key_name: 'payments-x' },
    { developer: 'eve@research.acme.com', developer_email: 'eve@research.acme.com', team: 'payments', matched_by: 'ownership' },
  ],
  [
    'a member before any rule',
    { email: 'alice@acme.com', team_id: 'platform' },
    { developer: 'alice@acme.com', developer_email: 'alice@acme.com', team: 'payments', matched_by: 'member' },
  ],
  [
    'an unknown email',
    { email: 'mallory@other.com' },
    { developer: 'mallory@other.com', developer_email: 'mallory@other.com', team: 'unattributed', matched_by: 'unattributed' },
  ],
  ['an unknown API key id', { api_key_id: 'key_123' }, { developer: 'key_123', team: 'unattributed', matched_by: 'unattributed' }],
  ['no identity at all', {}, { developer: 'unattributed', team: 'unattributed', matched_by: 'unattributed' }],
  ['blank identities', { email: ' ', developer: '' }, { developer: 'unattributed', team: 'unattributed', matched_by: 'unattributed' }],
];

describe('createAttributor', () => {
  it.each(cases)('resolves %s', (_name, identity, expected) => {
    expect(attribute(identity)).toEqual(expected);
  });

  it('does not treat glob characters other than * as patterns', () => {
    const strict = createAttributor(parseConfig('org: acme\nteams: [{ id: t }]\nownership: [{ match: { api_key_name: "a.b" }, team: t }]'));
    expect(strict({ api_key_name: 'axb' }).team).toBe('unattributed');
    expect(strict({ api_key_name: 'A.B' }).team).toBe('t');
  });
});
