/**
 * The synthetic organisation: four teams in four time zones, developers with different habits, and
 * the service identities (API keys) that spend on their behalf. Kept apart from the generator so
 * the cast can be read in one place.
 */

export type Habit = 'light' | 'normal' | 'power';

export interface DeveloperSpec {
  email: string;
  habit: Habit;
  /** Share of working days spent in Cursor rather than Claude Code. */
  cursorShare: number;
  /** Share of Claude Code sessions started on the premium model. */
  opusShare: number;
  /** Week index (0-based) the developer joins; absent = there from the start. */
  joinsWeek?: number;
  /** Kept in the small test org. */
  core?: boolean;
}

export interface TeamSpec {
  id: string;
  name: string;
  timezone: string;
  developers: DeveloperSpec[];
  /** What share of its monthly budget the team's normal spend runs at. */
  budgetShare: number;
}

export interface HabitParams {
  sessionsPerWorkday: number;
  turnsMedian: number;
  callsPerTurnMean: number;
  weekendChance: number;
  eveningShare: number;
  compactAt: [number, number];
}

export const HABITS: Record<Habit, HabitParams> = {
  light: {
    sessionsPerWorkday: 1.6,
    turnsMedian: 5,
    callsPerTurnMean: 2.2,
    weekendChance: 0.02,
    eveningShare: 0.03,
    compactAt: [70_000, 120_000],
  },
  normal: {
    sessionsPerWorkday: 3.4,
    turnsMedian: 9,
    callsPerTurnMean: 3,
    weekendChance: 0.06,
    eveningShare: 0.08,
    compactAt: [80_000, 140_000],
  },
  power: {
    sessionsPerWorkday: 7,
    turnsMedian: 20,
    callsPerTurnMean: 4.5,
    weekendChance: 0.4,
    eveningShare: 0.25,
    compactAt: [120_000, 145_000],
  },
};

export const ORG = 'acme';
export const ORG_TIMEZONE = 'America/New_York';

export const MODELS = {
  sonnet: 'claude-sonnet-4-5-20250929',
  opus: 'claude-opus-4-5-20251101',
  haiku: 'claude-haiku-4-5-20251001',
  // Claude Code reports the 1M-context beta with this suffix.
  sonnet1m: 'claude-sonnet-4-5-20250929[1m]',
  cursorSonnet: 'claude-4.5-sonnet',
  cursorGpt: 'gpt-5',
  gpt5: 'gpt-5',
  gpt5mini: 'gpt-5-mini',
} as const;

const dev = (email: string, habit: Habit, extra: Partial<DeveloperSpec> = {}): DeveloperSpec => ({
  email,
  habit,
  cursorShare: 0,
  opusShare: 0.1,
  ...extra,
});

export const TEAMS: TeamSpec[] = [
  {
    id: 'payments',
    name: 'Payments',
    timezone: 'Europe/Berlin',
    budgetShare: 0.6,
    developers: [
      dev('lukas.becker@acme.com', 'normal', { opusShare: 0.15, core: true }),
      dev('anna.schmidt@acme.com', 'normal', { core: true }),
      dev('jonas.weber@acme.com', 'light'),
      dev('mia.fischer@acme.com', 'normal'),
      dev('felix.wagner@acme.com', 'light'),
      dev('sophie.hoffmann@acme.com', 'normal'),
    ],
  },
  {
    id: 'research',
    name: 'Research',
    timezone: 'America/Los_Angeles',
    budgetShare: 0.75,
    developers: [
      dev('priya.raman@acme.com', 'power', { opusShare: 0.8, core: true }),
      dev('david.kim@acme.com', 'normal', { opusShare: 0.15, core: true }),
      dev('emily.chen@acme.com', 'normal', { opusShare: 0.15 }),
      dev('kevin.obrien@acme.com', 'light'),
      dev('grace.lee@acme.com', 'normal'),
    ],
  },
  {
    id: 'platform',
    name: 'Platform',
    timezone: 'Asia/Tokyo',
    budgetShare: 0.6,
    developers: [
      dev('haruto.sato@acme.com', 'normal', { opusShare: 0.05, core: true }),
      dev('yuki.tanaka@acme.com', 'normal', { opusShare: 0.05, core: true }),
      dev('sora.suzuki@acme.com', 'normal', { opusShare: 0.05, core: true }),
      dev('ren.takahashi@acme.com', 'light', { opusShare: 0.05 }),
      dev('aoi.watanabe@acme.com', 'normal', { opusShare: 0.05 }),
      dev('kaito.ito@acme.com', 'light', { opusShare: 0.05 }),
      dev('mei.yamamoto@acme.com', 'normal', { opusShare: 0.05 }),
    ],
  },
  {
    id: 'mobile',
    name: 'Mobile',
    timezone: 'America/New_York',
    budgetShare: 0.6,
    developers: [
      dev('sam.rivera@acme.com', 'normal', { cursorShare: 0.2, core: true }),
      dev('olivia.brown@acme.com', 'normal', { cursorShare: 0.7, core: true }),
      dev('ethan.miller@acme.com', 'normal', { cursorShare: 0.7 }),
      dev('chloe.davis@acme.com', 'light', { cursorShare: 0.3 }),
      // The new hire: joins in the second-to-last week and ramps up (a decoy).
      dev('nina.patel@acme.com', 'normal', { cursorShare: 0.3, joinsWeek: -2, core: true }),
    ],
  },
];

/** API keys named by team convention; burnrate.yaml's ownership rules give them their team. */
export const SERVICE_KEYS = {
  reconciler: { name: 'payments-reconciler', id: 'key_01JB7PAYRECON', team: 'payments' },
  prReview: { name: 'mobile-pr-review', id: 'key_01JB7MOBREVIEW', team: 'mobile' },
  notebooks: { name: 'research-notebooks', id: 'key-rn-7f3a2c', team: 'research' },
  evals: { name: 'research-evals', id: 'key-re-91bd04', team: 'research' },
} as const;

/** Identities nobody put in burnrate.yaml. */
export const STRANGERS = {
  contractor: 'j.ortega@ortega-consulting.io',
  hackathonKey: 'key_01JC2HACKDEMO',
} as const;
