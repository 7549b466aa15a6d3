import { type Config, parseConfig } from '@burnrate/core';
import { createPriceCatalog } from '@burnrate/pricing';
import type { DecoyLabel, IncidentLabel, LabelSubject, ScenarioLabels } from '@burnrate/scenarios';
import type { UsageEvent } from '@burnrate/schemas';
import { stringify } from 'yaml';
import { shiftDay, weekdayOf, zonedInstant } from './clock.ts';
import { drawOrg, MODELS, type OrgChart, type Person, type Team } from './org.ts';
import { Random } from './random.ts';

/**
 * One organisation of @burnrate/orgsim: its burnrate.yaml (written from the org chart with the
 * default thresholds), a few weeks of priced UsageEvents, and labels. The incidents are placed at
 * random days and hours of the last three weeks, drawn from the seed; the weeks before warm the
 * baselines up. The same options give the same events, config and labels.
 */

export const ORGSIM_DEFAULT_SEED = 1;
// Crosses the US (March 8) and European (March 29) DST changes, and no month of the other generator.
export const ORGSIM_DEFAULT_START = '2026-02-23';
export const ORGSIM_DEFAULT_WEEKS = 6;

const SECOND = 1_000;
const MINUTE = 60_000;
const HOUR = 3_600_000;

export interface OrgsimOptions {
  seed?: number;
  /** A Monday (YYYY-MM-DD). */
  start?: string;
  weeks?: number;
}

/** By when an incident must have reached critical on its subject: the weekend loop before Saturday 00:00 in its team's zone. */
export interface CriticalDeadline {
  incident: string;
  subject: LabelSubject;
  zone: string;
  critical_by: string;
}

export interface OrgsimLabels extends ScenarioLabels {
  deadlines: CriticalDeadline[];
}

export interface OrgsimScenario {
  org: OrgChart;
  configYaml: string;
  config: Config;
  events: UsageEvent[];
  labels: OrgsimLabels;
}

interface Call {
  at: number;
  team: string;
  developer: string;
  email?: string;
  session?: string;
  prompt?: string;
  apiKeyId?: string;
  source: string;
  provider: string;
  tool: string;
  model: string;
  batch?: boolean;
  requests?: number;
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  attributes?: Record<string, string>;
}

type CacheMode = 'anthropic' | 'openai' | 'broken';

interface SessionShape {
  team: Team;
  who: Person;
  start: number;
  stream: 'claude_code' | 'openai_agent' | 'gateway';
  model: string;
  sessionId: string;
  /** Human turns; each is a new prompt id on Claude Code. */
  turns: number;
  cacheBrokenAt: (at: number) => boolean;
}

interface Placement {
  cacheBreak: { team: Team; from: number; to: number };
  loop: { team: Team; who: Person; friday: string; from: number; to: number; sessionId: string };
  runaway: { team: Team; who: Person; from: number; to: number; sessionId: string };
  migration: { team: Team; day: string };
}

export function generateOrgsim(options: OrgsimOptions = {}): OrgsimScenario {
  const seed = options.seed ?? ORGSIM_DEFAULT_SEED;
  const start = options.start ?? ORGSIM_DEFAULT_START;
  const weeks = options.weeks ?? ORGSIM_DEFAULT_WEEKS;
  if (!Number.isInteger(weeks) || weeks < 4)
    throw new Error(`weeks must be an integer of at least 4 (incidents use the last three), got ${weeks}`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(start) || weekdayOf(start) !== 1) throw new Error(`start must be a Monday as YYYY-MM-DD, got ${start}`);

  const root = new Random(`orgsim:${seed}`);
  const org = drawOrg(root.stream('org'));
  const place = placeIncidents(root.stream('placement'), org, start, weeks);
  const calls: Call[] = [];

  for (const team of org.teams) {
    const sprintDays = new Map<number, Set<number>>();
    const tr = root.stream(`sprints-${team.id}`);
    for (let w = 0; w < weeks; w++) {
      const first = tr.int(1, 5);
      sprintDays.set(w, new Set(tr.chance(0.5) ? [first, 1 + (first % 5)] : [first]));
    }
    for (const who of team.people) {
      simulatePerson(root.stream(`person-${who.email}`), team, who, start, weeks, sprintDays, place, calls);
    }
  }
  simulateWeekendLoop(root.stream('weekend-loop'), place, calls);
  simulateGatewayRunaway(root.stream('gateway-runaway'), place, calls);
  simulateBatchJob(root.stream('batch-job'), org, start, weeks, calls);

  const periodFrom = zonedInstant(start, 0, 'Pacific/Kiritimati');
  const periodTo = zonedInstant(shiftDay(start, 7 * weeks), 0, 'Pacific/Pago_Pago');
  const inPeriod = calls.filter((c) => c.at >= periodFrom && c.at < periodTo);
  inPeriod.sort((a, b) => a.at - b.at);
  const events = toEvents(seed, org, inPeriod);

  const configYaml = stringify(configOf(org, place));
  const config = parseConfig(configYaml, 'orgsim burnrate.yaml');
  const labels = labelsOf(seed, org, place, weeks, periodFrom, periodTo, inPeriod);
  return { org, configYaml, config, events, labels };
}

/** Random days and hours in the last three weeks, per seed. */
function placeIncidents(r: Random, org: OrgChart, start: string, weeks: number): Placement {
  const team = (role: Team['role']): Team => org.teams.find((t) => t.role === role) as Team;
  const storyWeek = (w: number): string => shiftDay(start, 7 * (weeks - 3 + w));

  const cacheTeam = r.pick([team('heavy'), team('bursty'), team('americas')]);
  const cacheDay = shiftDay(storyWeek(r.int(0, 2)), r.int(0, 3));
  const cacheFrom = zonedInstant(cacheDay, r.int(7 * 60, 15 * 60), cacheTeam.zone);
  const cacheTo = cacheFrom + r.between(40, 80) * HOUR;

  const loopTeam = r.pick([team('heavy'), team('bursty'), team('americas')]);
  const loopWho = r.pick(loopTeam.people.filter((p) => p.stream === 'claude_code'));
  // The final Friday's loop would run past the period, so one of the two before it.
  const friday = shiftDay(storyWeek(r.int(0, 1)), 4);
  const loopFrom = zonedInstant(friday, r.int(17 * 60, 21 * 60 + 30), loopTeam.zone);
  const loopTo = zonedInstant(shiftDay(friday, 3), r.int(9 * 60, 9 * 60 + 50), loopTeam.zone);

  const gw = team('asia');
  const runawayDay = shiftDay(storyWeek(r.int(0, 2)), r.int(0, 3));
  const runawayFrom = zonedInstant(runawayDay, r.int(10 * 60, 19 * 60), gw.zone);
  const runawayTo = runawayFrom + r.between(10, 22) * HOUR;

  const migrationDay = shiftDay(storyWeek(r.int(0, 2)), r.int(0, 2));
  return {
    cacheBreak: { team: cacheTeam, from: cacheFrom, to: cacheTo },
    loop: { team: loopTeam, who: loopWho, friday, from: loopFrom, to: loopTo, sessionId: `cc-${r.hex(12)}` },
    runaway: { team: gw, who: r.pick(gw.people), from: runawayFrom, to: runawayTo, sessionId: `gw-${r.hex(12)}` },
    migration: { team: team('migrating'), day: migrationDay },
  };
}

function simulatePerson(
  r: Random,
  team: Team,
  who: Person,
  start: string,
  weeks: number,
  sprintDays: Map<number, Set<number>>,
  place: Placement,
  out: Call[],
): void {
  const migrationStart = zonedInstant(place.migration.day, 0, team.zone) + (r.chance(0.5) ? 24 * HOUR : 0);
  for (let d = 0; d < 7 * weeks; d++) {
    const day = shiftDay(start, d);
    const weekday = weekdayOf(day);
    const weekend = weekday === 0 || weekday === 6;
    let mean: number;
    if (weekend) mean = who.weekendWorker ? 0.7 : 0.03;
    else if (team.role === 'bursty') mean = who.sessionsPerDay * (sprintDays.get(Math.floor(d / 7))?.has(weekday) ? 3 : 0.3);
    else mean = who.sessionsPerDay * (weekday === 5 ? 0.7 : 1);
    const sessions = r.poisson(mean);
    for (let s = 0; s < sessions; s++) {
      const evening = r.chance(0.08);
      const minute = evening ? r.int(19 * 60, 23 * 60) : r.int(8 * 60 + 30, 17 * 60 + 30);
      const at = zonedInstant(day, minute, team.zone) + r.int(0, 59) * SECOND;
      const migrated = team === place.migration.team && at >= migrationStart;
      const stream = migrated ? 'openai_agent' : who.stream;
      const model = stream === 'openai_agent' ? (r.chance(0.2) ? MODELS.gpt5mini : MODELS.gpt5) : team.model;
      const turns = Math.max(1, Math.round(r.logNormal(who.turns, 0.6)));
      const cb = place.cacheBreak;
      runSession(
        r,
        {
          team,
          who,
          start: at,
          stream,
          model,
          sessionId: `${stream === 'gateway' ? 'gw' : stream === 'claude_code' ? 'cc' : 'oa'}-${r.hex(12)}`,
          turns,
          cacheBrokenAt: (t) => team === cb.team && stream === 'claude_code' && t >= cb.from && t < cb.to,
        },
        out,
      );
    }
  }
}

function streamFields(s: SessionShape): Pick<Call, 'source' | 'provider' | 'tool'> {
  if (s.stream === 'claude_code') return { source: 'claude_code_otel', provider: 'anthropic', tool: 'claude_code' };
  if (s.stream === 'openai_agent') return { source: 'openai_api', provider: 'openai', tool: 'codex' };
  return { source: 'gateway', provider: s.model.startsWith('gpt') ? 'openai' : 'anthropic', tool: 'gateway' };
}

/** A conversation that grows with tool results, is cached between close calls, and is compacted when long. */
class Conversation {
  context: number;
  private lastAt = -Infinity;
  private readonly compactAt: number;

  private readonly r: Random;
  private readonly mode: () => CacheMode;

  constructor(r: Random, mode: () => CacheMode) {
    this.r = r;
    this.mode = mode;
    this.context = r.int(9_000, 22_000);
    this.compactAt = r.int(130_000, 175_000);
  }

  call(at: number): Pick<Call, 'input' | 'output' | 'cacheRead' | 'cacheWrite'> {
    const previous = this.context;
    this.context += this.r.int(600, 7_000);
    if (this.context > this.compactAt) this.context = this.r.int(18_000, 40_000);
    const warm = at - this.lastAt < 5 * MINUTE && this.context > previous;
    this.lastAt = at;
    const output = Math.round(this.r.logNormal(700, 0.7));
    const mode = this.mode();
    if (mode === 'broken') return { input: this.context, output, cacheRead: 0, cacheWrite: 0 };
    if (mode === 'openai') {
      const read = warm ? Math.floor(previous / 1024) * 1024 : 0;
      return { input: this.context - read, output, cacheRead: read, cacheWrite: 0 };
    }
    const fresh = this.r.int(5, 300);
    return warm
      ? { input: fresh, output, cacheRead: previous, cacheWrite: this.context - previous - fresh > 0 ? this.context - previous - fresh : 0 }
      : { input: fresh, output, cacheRead: 0, cacheWrite: Math.max(0, this.context - fresh) };
  }
}

function runSession(r: Random, s: SessionShape, out: Call[]): void {
  const fields = streamFields(s);
  let at = s.start;
  const conv = new Conversation(r, () => (s.cacheBrokenAt(at) ? 'broken' : s.stream === 'openai_agent' ? 'openai' : 'anthropic'));
  for (let turn = 0; turn < s.turns; turn++) {
    if (turn > 0) at += Math.min(45 * MINUTE, r.logNormal(2.5 * MINUTE, 0.9));
    const prompt = s.stream === 'claude_code' ? `p-${r.hex(10)}` : undefined;
    const calls = 1 + r.poisson(2.2);
    for (let c = 0; c < calls; c++) {
      if (c > 0) at += r.int(3, 50) * SECOND;
      out.push({
        at,
        team: s.team.id,
        developer: s.who.email,
        email: s.who.email,
        session: s.sessionId,
        ...(prompt !== undefined ? { prompt } : {}),
        ...fields,
        model: s.model,
        ...conv.call(at),
      });
    }
  }
}

/** Friday evening: one last instruction, then an agent that retries its task all weekend on a single prompt id. */
function simulateWeekendLoop(r: Random, place: Placement, out: Call[]): void {
  const { team, who, from, to, sessionId } = place.loop;
  const prompt = `p-${r.hex(10)}`;
  const conv = new Conversation(r, () => 'anthropic');
  for (let at = from; at < to; at += r.int(14, 45) * SECOND) {
    out.push({
      at,
      team: team.id,
      developer: who.email,
      email: who.email,
      session: sessionId,
      prompt,
      source: 'claude_code_otel',
      provider: 'anthropic',
      tool: 'claude_code',
      model: team.model,
      ...conv.call(at),
    });
  }
}

/** An agent behind the gateway that never stops: steady calls, no idle gaps, and no prompt ids on the stream. */
function simulateGatewayRunaway(r: Random, place: Placement, out: Call[]): void {
  const { team, who, from, to, sessionId } = place.runaway;
  const conv = new Conversation(r, () => 'anthropic');
  for (let at = from; at < to; at += r.int(8, 30) * SECOND) {
    out.push({
      at,
      team: team.id,
      developer: who.email,
      email: who.email,
      session: sessionId,
      source: 'gateway',
      provider: 'anthropic',
      tool: 'gateway',
      model: team.model,
      ...conv.call(at),
    });
  }
}

/** The nightly digest: batch API, a few aggregated events a night, a bigger run on Sundays. Known to everyone; never news. */
function simulateBatchJob(r: Random, org: OrgChart, start: string, weeks: number, out: Call[]): void {
  const job = org.batchJob;
  for (let d = 0; d < 7 * weeks; d++) {
    const day = shiftDay(start, d);
    const scale = (weekdayOf(day) === 0 ? 2.5 : 1) * r.between(0.8, 1.25);
    const begin = Date.parse(`${day}T01:30:00Z`) + r.int(0, 600) * SECOND;
    for (let i = 0; i < 4; i++) {
      const requests = Math.round(400 * scale);
      out.push({
        at: begin + i * 12 * MINUTE,
        team: job.team,
        developer: job.keyName,
        apiKeyId: job.keyId,
        source: 'openai_batch',
        provider: 'openai',
        tool: 'batch_api',
        model: MODELS.gpt5mini,
        batch: true,
        requests,
        input: requests * r.int(150_000, 210_000),
        output: requests * r.int(4_000, 9_000),
        cacheRead: 0,
        cacheWrite: 0,
        attributes: { api_key_name: job.keyName },
      });
    }
  }
}

function toEvents(seed: number, org: OrgChart, calls: readonly Call[]): UsageEvent[] {
  const catalog = createPriceCatalog();
  return calls.map((c, i) => {
    const cost = catalog.costOf({
      model: c.model,
      at: new Date(c.at),
      input_tokens: c.input,
      output_tokens: c.output,
      cache_read_tokens: c.cacheRead,
      cache_write_tokens: c.cacheWrite,
      is_batch: c.batch === true,
    });
    if (!cost.ok) throw new Error(`orgsim uses a model the catalog cannot price: ${cost.reason}`);
    const at = new Date(c.at).toISOString();
    return {
      event_id: `orgsim-${seed}-${i.toString(36)}`,
      source: c.source,
      provider: c.provider,
      tool: c.tool,
      granularity: 'request',
      occurred_at: at,
      ingested_at: new Date(c.at + 2 * SECOND).toISOString(),
      org: org.org,
      developer: c.developer,
      ...(c.email !== undefined ? { developer_email: c.email } : {}),
      team: c.team,
      ...(c.session !== undefined ? { session_id: c.session } : {}),
      ...(c.prompt !== undefined ? { prompt_id: c.prompt } : {}),
      ...(c.apiKeyId !== undefined ? { api_key_id: c.apiKeyId } : {}),
      model: c.model,
      model_family: cost.model_family,
      tier: cost.tier,
      is_batch: c.batch === true,
      requests: c.requests ?? 1,
      input_tokens: c.input,
      output_tokens: c.output,
      cache_read_tokens: c.cacheRead,
      cache_write_tokens: c.cacheWrite,
      cost_usd: cost.cost_usd,
      cost_source: 'computed',
      attributes: c.attributes ?? {},
    };
  });
}

/** burnrate.yaml as a lead would write it from the org chart: members, channels, budgets from headcount, default thresholds. */
function configOf(org: OrgChart, place: Placement): Record<string, unknown> {
  const m = place.migration;
  return {
    org: org.org,
    timezone: org.zone,
    teams: org.teams.map((t) => ({
      id: t.id,
      timezone: t.zone,
      members: t.people.map((p) => p.email),
      slack: { channel: `#${t.id}-spend` },
      budget: { monthly_usd: t.monthlyBudgetUsd },
    })),
    ownership: [{ match: { api_key_name: org.batchJob.keyName }, team: org.batchJob.team }],
    detectors: {
      planned_changes: [
        {
          team: m.team.id,
          from: m.day,
          to: shiftDay(m.day, 4),
          kinds: ['model_mix_drift', 'spend_spike', 'cache_efficiency_drop'],
          note: 'moving the team from Claude Code to the OpenAI agent',
        },
      ],
    },
    finops: { slack: { channel: '#finops' } },
  };
}

function labelsOf(
  seed: number,
  org: OrgChart,
  place: Placement,
  weeks: number,
  from: number,
  to: number,
  calls: readonly Call[],
): OrgsimLabels {
  const iso = (ms: number): string => new Date(ms).toISOString();
  const subject = (team: string, extra: { developer?: string; session?: string } = {}): LabelSubject => ({ org: org.org, team, ...extra });
  const firstCall = (pred: (c: Call) => boolean, fallback: number): number => calls.find(pred)?.at ?? fallback;
  const incidents: IncidentLabel[] = [];
  const decoys: DecoyLabel[] = [];

  const cb = place.cacheBreak;
  const cbOnset = firstCall((c) => c.team === cb.team.id && c.source === 'claude_code_otel' && c.at >= cb.from, cb.from);
  incidents.push({
    id: 'cache-break/cache_efficiency_drop',
    story: 'cache-break',
    kind: 'cache_efficiency_drop',
    subject: subject(cb.team.id),
    also_accept: cb.team.people.map((p) => subject(cb.team.id, { developer: p.email })),
    story_start: iso(cb.from),
    start: iso(cbOnset),
    end: iso(cb.to),
    within_ms: null,
    note: `${cb.team.id} (${cb.team.role}, ${cb.team.zone}): prompt caching stops for every Claude Code session; each call pays full input`,
  });

  const loop = place.loop;
  const loopSubject = subject(loop.team.id, { developer: loop.who.email, session: loop.sessionId });
  for (const kind of ['runaway_session', 'session_cost'] as const) {
    incidents.push({
      id: `weekend-loop/${kind}`,
      story: 'weekend-loop',
      kind,
      subject: loopSubject,
      also_accept: [],
      story_start: iso(loop.from),
      start: iso(loop.from),
      end: iso(loop.to),
      within_ms: null,
      note: `${loop.team.id} (${loop.team.zone}): an agent loops on one prompt from Friday ${loop.friday} evening until Monday morning`,
    });
  }

  const ra = place.runaway;
  incidents.push({
    id: 'gateway-runaway/runaway_session',
    story: 'gateway-runaway',
    kind: 'runaway_session',
    subject: subject(ra.team.id, { developer: ra.who.email, session: ra.sessionId }),
    also_accept: [],
    story_start: iso(ra.from),
    start: iso(ra.from),
    end: iso(ra.to),
    within_ms: null,
    note: `${ra.team.id} (${ra.team.zone}): an agent behind the gateway calls every 8-30 s for ${((ra.to - ra.from) / HOUR).toFixed(1)} h; the stream has no prompt ids`,
  });

  const m = place.migration;
  decoys.push({
    id: 'planned-migration',
    subject: subject(m.team.id),
    from: iso(zonedInstant(m.day, 0, m.team.zone)),
    // The end of the day before `to`: quiet under either reading of the planned change's `to`.
    to: iso(zonedInstant(shiftDay(m.day, 4), 0, m.team.zone)),
    note: `${m.team.id} moves from Claude Code (Sonnet) to the OpenAI agent over two days, listed in planned_changes`,
  });
  const job = org.batchJob;
  decoys.push({
    id: 'known-batch-job',
    subject: subject(job.team, { developer: job.keyName }),
    from: iso(to - 21 * 24 * HOUR),
    to: iso(to),
    note: 'the nightly digest on the batch API, every night since the start and bigger on Sundays',
  });

  const saturday = shiftDay(loop.friday, 1);
  return {
    seed,
    org: org.org,
    period: { from: iso(from), to: iso(to) },
    weeks,
    teams: org.teams.map((t) => t.id),
    incidents,
    decoys,
    deadlines: [
      {
        incident: 'weekend-loop',
        subject: loopSubject,
        zone: loop.team.zone,
        critical_by: iso(zonedInstant(saturday, 0, loop.team.zone)),
      },
    ],
  };
}
