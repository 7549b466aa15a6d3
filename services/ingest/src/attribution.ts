import type { Config, OwnershipRuleConfig } from '@burnrate/core';
import { UNATTRIBUTED } from '@burnrate/schemas';

/** Everything a source tells us about who spent. Any field may be missing. */
export interface Identity {
  email?: string;
  /** A name the source uses for the person: a login, an alias, Claude Code's `user.id`. */
  developer?: string;
  /** Anthropic account id (`user_…`), the join key between Claude Code OTel and the Admin API. */
  account_id?: string;
  api_key_id?: string;
  api_key_name?: string;
  project?: string;
  tool?: string;
  /** The team the emitter declares itself, e.g. OTel resource attribute `team.id`. */
  team_id?: string;
}

export interface Attribution {
  developer: string;
  developer_email?: string;
  team: string;
  /** How the team was found (`source`: the sending key speaks for the team); `unattributed` is itself a signal (shadow AI). */
  matched_by: 'member' | 'alias' | 'ownership' | 'source' | 'unattributed';
}

export type Attributor = (identity: Identity) => Attribution;

type MatchField = keyof OwnershipRuleConfig['match'];

const nonBlank = (s: string | undefined): string | undefined => (s === undefined || s.trim() === '' ? undefined : s.trim());
const lower = (s: string | undefined): string | undefined => nonBlank(s)?.toLowerCase();

function globToRegExp(glob: string): RegExp {
  const escaped = glob.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`, 'i');
}

/**
 * Resolves identity → developer → team from the config, in this order, first match wins:
 * a listed member's email; a member alias (or email) equal to any identity the source gave
 * (developer name, account id, API key name or id); then the ownership rules in file order, each
 * requiring all of its fields to match (globs with `*`). Nothing matched → team `unattributed`
 * and the developer is the most specific raw identity, so the spend is kept and stays visible.
 */
export function createAttributor(config: Pick<Config, 'teams' | 'ownership'>): Attributor {
  const byEmail = new Map<string, string>();
  const byAlias = new Map<string, { email: string; team: string }>();
  for (const team of config.teams) {
    for (const member of team.members) {
      const email = (typeof member === 'string' ? member : member.email).toLowerCase();
      byEmail.set(email, team.id);
      byAlias.set(email, { email, team: team.id });
      if (typeof member !== 'string') {
        for (const alias of member.aliases) byAlias.set(alias.toLowerCase(), { email, team: team.id });
      }
    }
  }
  const rules = config.ownership.map((rule) => ({
    team: rule.team,
    tests: (Object.entries(rule.match) as [MatchField, string | undefined][])
      .filter((entry): entry is [MatchField, string] => entry[1] !== undefined)
      .map(([field, pattern]) => ({ field, re: globToRegExp(pattern) })),
  }));

  return (identity) => {
    const email = lower(identity.email);
    if (email !== undefined) {
      const team = byEmail.get(email);
      if (team !== undefined) return { developer: email, developer_email: email, team, matched_by: 'member' };
    }
    for (const candidate of [identity.developer, identity.account_id, identity.api_key_name, identity.api_key_id]) {
      const key = lower(candidate);
      const member = key === undefined ? undefined : byAlias.get(key);
      if (member) return { developer: member.email, developer_email: member.email, team: member.team, matched_by: 'alias' };
    }

    const developer =
      email ??
      nonBlank(identity.developer) ??
      nonBlank(identity.account_id) ??
      nonBlank(identity.api_key_name) ??
      nonBlank(identity.api_key_id);
    const base = { developer: developer ?? UNATTRIBUTED, ...(email !== undefined ? { developer_email: email } : {}) };
    const values: Record<MatchField, string | undefined> = {
      email,
      api_key_name: identity.api_key_name,
      api_key_id: identity.api_key_id,
      account_id: identity.account_id,
      project: identity.project,
      tool: identity.tool,
      team_id: identity.team_id,
    };
    for (const rule of rules) {
      const matches = rule.tests.every(({ field, re }) => {
        const value = values[field];
        return value !== undefined && re.test(value);
      });
      if (matches) return { ...base, team: rule.team, matched_by: 'ownership' };
    }
    return { ...base, team: UNATTRIBUTED, matched_by: 'unattributed' };
  };
}
