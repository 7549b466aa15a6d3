import { AnomalyKind, UNATTRIBUTED } from '@burnrate/schemas';
import { formatPath } from './issues.ts';

// Checks between sections of burnrate.yaml: a route rule, ownership rule or source naming a team
// that does not exist, a rule notifying a receiver group nobody
// configured, two teams claiming one developer, two sources sharing a key.
//
// They read the file as written (the YAML's plain data), not the schema's output, so they run
// even when other parts of the file are invalid: `burnrate config check` reports every problem in
// one pass instead of revealing these only once the schema errors are fixed. A value the schema
// refuses (a team id with spaces) still counts as defined here, so a typo is reported once, by
// the schema, not again at every reference to it. An override or planned change for a team that
// does not exist only never applies: a warning (warnings.ts), not an error.

/** A problem found between sections, with the path of the value that is wrong. */
export interface ReferenceIssue {
  path: (string | number)[];
  message: string;
}

type Plain = Record<string, unknown>;

const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);
const listOf = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const plainAt = (v: unknown, key: string): Plain | undefined => {
  const at = isPlain(v) ? v[key] : undefined;
  return isPlain(at) ? at : undefined;
};
const textAt = (v: unknown, key: string): string | undefined => {
  const at = isPlain(v) ? v[key] : undefined;
  return typeof at === 'string' ? at : undefined;
};

/** A field that takes one value or a list (`team: payments` or `team: [payments, research]`), with each value's path. */
function oneOrMany(holder: Plain, key: string, at: (string | number)[]): { value: string; path: (string | number)[] }[] {
  const v = holder[key];
  if (typeof v === 'string') return [{ value: v, path: [...at, key] }];
  return listOf(v).flatMap((item, i) => (typeof item === 'string' ? [{ value: item, path: [...at, key, i] }] : []));
}

/** Whether a team, its on-call or FinOps has any receiver (`slack:`, `email:` or `receivers:`). */
function hasReceivers(holder: Plain | undefined): boolean {
  if (holder === undefined) return false;
  return isPlain(holder.slack) || listOf(holder.email).length > 0 || listOf(holder.receivers).length > 0;
}

const KINDS: readonly string[] = AnomalyKind.options;

export function configReferenceIssues(raw: unknown): ReferenceIssue[] {
  const issues: ReferenceIssue[] = [];
  const add = (path: (string | number)[], message: string): void => void issues.push({ path, message });
  if (!isPlain(raw)) return issues;

  const teams = listOf(raw.teams);
  const teamIndex = new Map<string, number>();
  const memberTeam = new Map<string, string>();
  teams.forEach((team, i) => {
    const id = textAt(team, 'id');
    if (id === undefined) return;
    const first = teamIndex.get(id);
    if (first !== undefined) add(['teams', i, 'id'], `duplicate team id "${id}" (also teams[${first}])`);
    else teamIndex.set(id, i);
    listOf(isPlain(team) ? team.members : undefined).forEach((member, j) => {
      const email = (typeof member === 'string' ? member : textAt(member, 'email'))?.toLowerCase();
      if (email === undefined) return;
      const owner = memberTeam.get(email);
      if (owner !== undefined && owner !== id) {
        add(['teams', i, 'members', j], `${email} is already a member of team "${owner}"; a developer belongs to one team`);
      } else memberTeam.set(email, id);
    });
  });
  const known = [...teamIndex.keys()];
  const unknownTeam = (team: string): string =>
    `unknown team "${team}"; ${known.length === 0 ? 'teams[] is empty' : `teams[] has ${known.slice(0, 10).join(', ')}${known.length > 10 ? ', …' : ''}`}`;
  const checkTeam = (team: string | undefined, path: (string | number)[], also: readonly string[] = []): void => {
    if (team !== undefined && !teamIndex.has(team) && !also.includes(team)) add(path, unknownTeam(team));
  };

  listOf(raw.ownership).forEach((rule, i) => checkTeam(textAt(rule, 'team'), ['ownership', i, 'team']));

  const sourceIndex = new Map<string, number>();
  const keyOwner = new Map<string, string>();
  listOf(raw.sources).forEach((source, i) => {
    const name = textAt(source, 'name');
    if (name !== undefined) {
      const first = sourceIndex.get(name);
      if (first !== undefined) add(['sources', i, 'name'], `duplicate source name "${name}" (also sources[${first}])`);
      else sourceIndex.set(name, i);
    }
    checkTeam(textAt(source, 'team'), ['sources', i, 'team']);
    listOf(isPlain(source) ? source.keys : undefined).forEach((key, j) => {
      const sha256 = typeof key === 'string' ? key : textAt(key, 'sha256');
      if (sha256 === undefined) return;
      const owner = keyOwner.get(sha256);
      // One key, one source: otherwise what a request may claim would depend on lookup order.
      if (owner !== undefined) add(['sources', i, 'keys', j], `this key is already a key of source "${owner}"`);
      else keyOwner.set(sha256, name ?? `sources[${i}]`);
    });
  });

  const checkKinds = (match: Plain | undefined, at: (string | number)[]): void => {
    if (match === undefined) return;
    for (const { value, path } of oneOrMany(match, 'kind', at)) {
      if (!KINDS.includes(value)) add(path, `unknown anomaly kind "${value}"; expected one of ${KINDS.join(', ')}`);
    }
  };

  const finops = plainAt(raw, 'finops');
  listOf(plainAt(raw, 'routes')?.rules).forEach((rule, i) => {
    const at = ['routes', 'rules', i];
    const match = plainAt(rule, 'match');
    checkKinds(match, [...at, 'match']);
    const named = match === undefined ? [] : oneOrMany(match, 'team', [...at, 'match']);
    // A rule for unattributed spend is meaningful: that spend has no team entry.
    for (const { value, path } of named) checkTeam(value, path, [UNATTRIBUTED]);
    listOf(isPlain(rule) ? rule.notify : undefined).forEach((receiver, j) => {
      const path = [...at, 'notify', j];
      if (receiver === 'finops' && !hasReceivers(finops)) {
        add(path, 'notifies finops, but finops has no receivers (finops.slack, finops.email or finops.receivers)');
      }
      if (receiver !== 'oncall') return;
      // The teams this rule can reach: the ones it names, or every team.
      const reached = named.length > 0 ? named.map((n) => n.value).filter((t) => teamIndex.has(t)) : known;
      const without = reached.filter((t) => !hasReceivers(plainAt(teams[teamIndex.get(t) as number], 'oncall')));
      if (named.length > 0) {
        for (const team of without) {
          add(path, `notifies oncall, but team "${team}" has no on-call receivers (teams[${teamIndex.get(team)}].oncall)`);
        }
      } else if (reached.length > 0 && without.length === reached.length) {
        add(path, 'notifies oncall, but no team has on-call receivers (teams[].oncall)');
      }
    });
  });

  listOf(raw.inhibit).forEach((rule, i) => {
    checkKinds(plainAt(rule, 'source'), ['inhibit', i, 'source']);
    checkKinds(plainAt(rule, 'target'), ['inhibit', i, 'target']);
  });

  // A named receiver (`webhook:ops`) is one endpoint wherever it is listed: its name is its
  // identity in the delivery log, so the same name with other settings would be ambiguous.
  const namedReceivers = new Map<string, { settings: string; path: string }>();
  const holders: { holder: Plain | undefined; at: (string | number)[] }[] = [
    ...teams.flatMap((team, i) => [
      { holder: isPlain(team) ? team : undefined, at: ['teams', i] },
      { holder: plainAt(team, 'oncall'), at: ['teams', i, 'oncall'] },
    ]),
    { holder: finops, at: ['finops'] },
  ];
  for (const { holder, at } of holders) {
    listOf(holder?.receivers).forEach((receiver, j) => {
      const name = textAt(receiver, 'name');
      const channel = textAt(receiver, 'channel');
      if (name === undefined || channel === undefined || !isPlain(receiver)) return;
      const key = `${channel}:${name}`;
      const settings = JSON.stringify(receiver, Object.keys(receiver).sort());
      const path = [...at, 'receivers', j];
      const first = namedReceivers.get(key);
      if (first === undefined) namedReceivers.set(key, { settings, path: formatPath(path) });
      else if (first.settings !== settings) {
        add(
          [...path, 'name'],
          `another ${channel} receiver is named "${name}" with other settings (${first.path}); one name, one receiver`,
        );
      }
    });
  }
  return issues;
}
