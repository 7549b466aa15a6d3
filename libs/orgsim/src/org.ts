import type { Random } from './random.ts';

/**
 * The org chart of one seed: five teams with roles that stress different detectors, drawn with
 * their zones, sizes and names from the seed. Nothing here is shared with @burnrate/scenarios.
 *
 * - heavy: Claude Code on Opus for every session, every working day (expensive and steady);
 * - bursty: Claude Code on Sonnet, most of the week's work on one or two sprint days;
 * - americas: a US team, half on Claude Code, half on an OpenAI coding agent over the API;
 * - asia: an Asian team whose traffic goes through an LLM gateway that reports no prompt ids;
 * - migrating: Claude Code on Sonnet until a planned move to OpenAI models.
 */

export type Role = 'heavy' | 'bursty' | 'americas' | 'asia' | 'migrating';
export type Stream = 'claude_code' | 'openai_agent' | 'gateway';

export interface Person {
  email: string;
  /** Sessions on an ordinary working day (a mean). */
  sessionsPerDay: number;
  /** How long their sessions run, in human turns (a median). */
  turns: number;
  stream: Stream;
  weekendWorker: boolean;
}

export interface Team {
  id: string;
  role: Role;
  zone: string;
  people: Person[];
  /** The model a session starts on. */
  model: string;
  /** What the team's lead would write as its monthly budget from headcount. */
  monthlyBudgetUsd: number;
}

export interface OrgChart {
  org: string;
  zone: string;
  teams: Team[];
  /** The nightly batch job everybody knows about, owned by one team through an API key name. */
  batchJob: { keyName: string; keyId: string; team: string };
}

export const MODELS = {
  opus: 'claude-opus-4-5-20251101',
  sonnet: 'claude-sonnet-4-5-20250929',
  gpt5: 'gpt-5',
  gpt5mini: 'gpt-5-mini',
} as const;

const ZONES: Record<Role, readonly string[]> = {
  heavy: ['Europe/London', 'Europe/Paris', 'Europe/Stockholm'],
  bursty: ['Europe/Madrid', 'America/Sao_Paulo', 'Australia/Sydney'],
  americas: ['America/Chicago', 'America/Denver', 'America/Los_Angeles'],
  asia: ['Asia/Singapore', 'Asia/Kolkata', 'Asia/Seoul'],
  migrating: ['Europe/Warsaw', 'America/Toronto', 'Africa/Johannesburg'],
};

const SIZES: Record<Role, [number, number]> = {
  heavy: [3, 6],
  bursty: [4, 10],
  americas: [6, 13],
  asia: [2, 5],
  migrating: [3, 8],
};

const NAMES: Record<Role, readonly string[]> = {
  heavy: ['ledger', 'compiler', 'risk-models'],
  bursty: ['growth', 'hackweek', 'content'],
  americas: ['checkout', 'search', 'identity'],
  asia: ['infra-apac', 'data-apac', 'ops-apac'],
  migrating: ['billing', 'docs', 'support-tools'],
};

const FIRST = [
  'ana',
  'bo',
  'chen',
  'dara',
  'eli',
  'femi',
  'gus',
  'hana',
  'ivo',
  'jae',
  'kit',
  'lea',
  'max',
  'noor',
  'oli',
  'pia',
  'raj',
  'sol',
  'tam',
  'uma',
  'vik',
  'wen',
  'xia',
  'yan',
  'zoe',
];
const LAST = [
  'ng',
  'okafor',
  'park',
  'quist',
  'rossi',
  'sato',
  'tran',
  'ueda',
  'varga',
  'wolf',
  'xu',
  'yilmaz',
  'zhou',
  'abe',
  'brun',
  'costa',
];

export const ORG_ID = 'northwind';

export function drawOrg(rng: Random): OrgChart {
  const used = new Set<string>();
  const teams: Team[] = (['heavy', 'bursty', 'americas', 'asia', 'migrating'] as const).map((role) => {
    const r = rng.stream(`team-${role}`);
    const id = r.pick(NAMES[role]);
    const [lo, hi] = SIZES[role];
    const size = r.int(lo, hi);
    const people: Person[] = [];
    for (let i = 0; i < size; i++) {
      let email: string;
      do email = `${r.pick(FIRST)}.${r.pick(LAST)}@northwind.dev`;
      while (used.has(email));
      used.add(email);
      const stream: Stream = role === 'asia' ? 'gateway' : role === 'americas' && i % 2 === 1 ? 'openai_agent' : 'claude_code';
      people.push({
        email,
        sessionsPerDay: role === 'heavy' ? r.between(3, 6) : r.between(1, 4),
        turns: role === 'heavy' ? r.between(12, 24) : r.between(5, 14),
        stream,
        weekendWorker: r.chance(0.15),
      });
    }
    const model = role === 'heavy' ? MODELS.opus : role === 'americas' || role === 'asia' ? MODELS.sonnet : MODELS.sonnet;
    // Written by hand from headcount: a seat allowance per developer, more for the Opus team.
    const seat = role === 'heavy' ? 1_800 : 300;
    return { id, role, zone: r.pick(ZONES[role]), people, model, monthlyBudgetUsd: seat * size };
  });
  const owner = rng.stream('batch').pick(teams.filter((t) => t.role !== 'asia'));
  return {
    org: ORG_ID,
    zone: 'UTC',
    teams,
    batchJob: { keyName: `${owner.id}-nightly-digest`, keyId: `key-nd-${rng.stream('batch-key').hex(8)}`, team: owner.id },
  };
}
