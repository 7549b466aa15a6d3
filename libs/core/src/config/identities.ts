import { parse } from 'csv-parse/sync';

/**
 * The people of an org across vendors, from a CSV (`identities: people.csv` in burnrate.yaml): one
 * row per person, `email` their canonical address, `team` their team (optional when teams[]
 * already lists them), and every other column an identity of theirs elsewhere: the Anthropic
 * console email, the Cursor email, the GitHub login, Claude Code's `user.id`, an API key name…
 * (the column names are for the reader; several values in a cell are separated by `;`). They
 * become members' aliases, so usage from any of those identities is that person's.
 *
 * Every problem of the file is reported at once, each with its line: a row without a valid email,
 * a team the config does not have, a person placed in two teams, or an alias that would mean two
 * people.
 */
/** A problem of the file, with where it is (as a config issue's path). */
export interface IdentityIssue {
  path: string;
  message: string;
}

/** The part of a config the CSV adds to: each team's id and members. */
export interface IdentityTeams {
  teams: readonly { id: string; members: readonly (string | { email: string; aliases: readonly string[] })[] }[];
}

export function applyIdentities<C extends IdentityTeams>(
  config: C,
  csvText: string,
  file: string,
): { config: C } | { issues: IdentityIssue[] } {
  const issues: IdentityIssue[] = [];
  const at = (line: number, message: string): void => void issues.push({ path: `identities (${file} line ${line})`, message });

  let rows: Record<string, string>[];
  try {
    rows = parse(csvText, {
      columns: (header: string[]) => header.map((h) => h.trim().toLowerCase()),
      bom: true,
      skip_empty_lines: true,
      trim: true,
    });
  } catch (err) {
    return { issues: [{ path: `identities (${file})`, message: `not a CSV file: ${(err as Error).message}` }] };
  }
  if (rows.length > 0 && !('email' in (rows[0] as Record<string, string>))) {
    return {
      issues: [
        {
          path: `identities (${file} line 1)`,
          message: 'the header needs an email column (and optionally team; other columns are aliases)',
        },
      ],
    };
  }

  const teamIds = new Set(config.teams.map((t) => t.id));
  // Who each email is and where, and whom each alias means: the config's members first.
  const placed = new Map<string, { team: string; aliases: Set<string> }>();
  const aliasOwner = new Map<string, string>();
  for (const team of config.teams) {
    for (const member of team.members) {
      const email = (typeof member === 'string' ? member : member.email).toLowerCase();
      const aliases = new Set(typeof member === 'string' ? [] : member.aliases);
      placed.set(email, { team: team.id, aliases });
      aliasOwner.set(email, email);
      for (const alias of aliases) aliasOwner.set(alias.toLowerCase(), email);
    }
  }

  rows.forEach((row, i) => {
    const line = i + 2;
    const email = (row.email ?? '').toLowerCase();
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) return at(line, `email ${JSON.stringify(row.email ?? '')} is not an email address`);
    const team = row.team?.toLowerCase() || undefined;
    if (team !== undefined && !teamIds.has(team)) return at(line, `team "${team}" is not in teams[]`);
    const current = placed.get(email);
    if (current !== undefined && team !== undefined && current.team !== team) {
      return at(line, `${email} is a member of team "${current.team}", not "${team}"; a developer belongs to one team`);
    }
    if (current === undefined && team === undefined)
      return at(line, `${email} is in no team: give the team column a value, or list them in teams[].members`);
    const person = current ?? { team: team as string, aliases: new Set<string>() };
    const owner = aliasOwner.get(email);
    if (owner !== undefined && owner !== email) return at(line, `${email} is already an alias of ${owner}`);
    for (const [column, cell] of Object.entries(row)) {
      if (column === 'email' || column === 'team') continue;
      for (const alias of cell
        .split(';')
        .map((a) => a.trim())
        .filter((a) => a !== '')) {
        const key = alias.toLowerCase();
        const other = aliasOwner.get(key);
        if (other !== undefined && other !== email) {
          at(line, `${column} "${alias}" already means ${other}; one identity is one person`);
          continue;
        }
        aliasOwner.set(key, email);
        if (key !== email) person.aliases.add(alias);
      }
    }
    placed.set(email, person);
  });
  if (issues.length > 0) return { issues };

  const teams = config.teams.map((team) => {
    const members = [...placed.entries()]
      .filter(([, p]) => p.team === team.id)
      .map(([email, p]) => (p.aliases.size === 0 ? email : { email, aliases: [...p.aliases] }));
    return { ...team, members };
  });
  return { config: { ...config, teams } };
}
