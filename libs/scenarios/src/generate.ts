import { createHash } from 'node:crypto';
import { type Config, detectorSettings, parseConfig, teamCalendar, teamTimezone } from '@burnrate/core';
import { createPriceCatalog } from '@burnrate/pricing';
import { UNATTRIBUTED, type UsageEvent } from '@burnrate/schemas';
import { stringify } from 'yaml';
import { type AgentCall, type AgentPlan, clamp, runAgent } from './agent.ts';
import type { DecoyLabel, IncidentLabel, ScenarioLabels } from './labels.ts';
import { type DeveloperSpec, HABITS, MODELS, ORG, ORG_TIMEZONE, SERVICE_KEYS, STRANGERS, TEAMS, type TeamSpec } from './org.ts';
import { createRng, type Rng } from './rng.ts';
import { addDays, localParts, localToUtc, weekdayOf } from './zone.ts';

/**
 * A seeded synthetic organisation: its burnrate.yaml, ~6 weeks of priced UsageEvents in event-time
 * order, and the labelled incidents and decoys the detectors are scored on. The same options give
 * byte-identical output (no clock, no Math.random, no unordered iteration).
 *
 * Timeline (weeks counted back from the end, so a shorter run keeps every story):
 * - all weeks before the last three: ordinary work, so baselines warm up;
 * - third-to-last week: Payments' planned migration week (model mix changes, listed in config);
 *   a one-off unknown API key spends cents (dollar-gate decoy);
 * - second-to-last week: a Platform holiday (Tuesday) and the return from it; a new hire joins
 *   Mobile and ramps up; an unattributed contractor starts spending (new_spender); Friday
 *   afternoon a Payments agent starts looping on a flaky test until Monday (runaway_session,
 *   session_cost);
 * - last week: Research's eval campaign pushes it over budget (budget_forecast); Mobile's PR
 *   review bot loses its prompt cache after a deploy (cache_efficiency_drop); Platform's tool
 *   default flips to the premium model (model_mix_drift); Payments' nightly reconciler
 *   reprocesses a month of backlog (spend_spike); a Mobile session with caching disabled grows
 *   to 300k tokens per call (context_bloat).
 */

export interface ScenarioOptions {
  seed?: number;
  /** First local day (a Monday), YYYY-MM-DD. */
  start?: string;
  /** At least 3. */
  weeks?: number;
  /** `small` keeps two or three developers per team (fast tests); the stories stay the same. */
  scale?: 'full' | 'small';
}

export interface Scenario {
  config: Config;
  configYaml: string;
  events: UsageEvent[];
  labels: ScenarioLabels;
  budgets: BudgetFacts[];
}

export interface BudgetFacts {
  team: string;
  budget_usd: number;
  /** Normal spend per day in the warm-up weeks (what the budget was set from). */
  warmup_daily_usd: number;
  /** Spend in the last month of the period up to its end, and that month's naive projection. */
  month: string;
  month_to_date_usd: number;
  projected_usd: number;
}

export const DEFAULT_SEED = 20261005;
export const DEFAULT_START = '2026-10-05';
export const DEFAULT_WEEKS = 6;

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

interface Emit {
  at: number;
  source: string;
  provider: string;
  tool: string;
  developer: string;
  email?: string;
  team: string;
  session?: string;
  prompt?: string;
  apiKeyId?: string;
  project?: string;
  model: string;
  requests?: number;
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  period?: { start: number; end: number };
  ingestDelayMs: number;
  attributes: Record<string, string>;
  nativeKey: string;
}

interface Timeline {
  start: string;
  weeks: number;
  /** First local day of week `w`, counting back from the end when negative. */
  week(w: number): string;
  end: string;
  migration: { from: string; to: string };
  holiday: string;
  hireJoins: string;
  hackathonDay: string;
  contractorDays: string[];
  loopFriday: string;
  lastMonday: string;
}

function timeline(start: string, weeks: number): Timeline {
  const week = (w: number): string => addDays(start, 7 * (w < 0 ? weeks + w : w));
  const secondLast = week(-2);
  return {
    start,
    weeks,
    week,
    end: addDays(start, 7 * weeks),
    migration: { from: week(-3), to: addDays(week(-3), 4) },
    holiday: addDays(secondLast, 1),
    hireJoins: secondLast,
    hackathonDay: addDays(week(-3), 1),
    contractorDays: [addDays(secondLast, 2), addDays(secondLast, 3), addDays(secondLast, 4)],
    loopFriday: addDays(secondLast, 4),
    lastMonday: week(-1),
  };
}

export function generateScenario(options: ScenarioOptions = {}): Scenario {
  const seed = options.seed ?? DEFAULT_SEED;
  const start = options.start ?? DEFAULT_START;
  const weeks = options.weeks ?? DEFAULT_WEEKS;
  if (weeks < 3) throw new Error(`weeks must be at least 3 (the stories take the last three), got ${weeks}`);
  if (weekdayOf(start) !== 1) throw new Error(`start must be a Monday, got ${start}`);
  const tl = timeline(start, weeks);
  const root = createRng(seed);
  const catalog = createPriceCatalog();
  const teams = options.scale === 'small' ? TEAMS.map((t) => ({ ...t, developers: t.developers.filter((d) => d.core) })) : TEAMS;

  const out: Array<{ at: number; event: UsageEvent }> = [];
  const emit = (e: Emit): UsageEvent => {
    const at = new Date(e.at);
    const cost = catalog.costOf({
      model: e.model,
      at,
      input_tokens: e.input,
      output_tokens: e.output,
      cache_read_tokens: e.cacheRead,
      cache_write_tokens: e.cacheWrite,
      is_batch: false,
    });
    if (!cost.ok) throw new Error(`scenario uses a model the catalog cannot price: ${cost.reason}`);
    // Field order is fixed here so the NDJSON is byte-stable.
    const event: UsageEvent = {
      event_id: `${e.source}:${createHash('sha256').update(`${seed}\u001f${e.nativeKey}`).digest('hex')}`,
      source: e.source,
      provider: e.provider,
      tool: e.tool,
      granularity: e.period ? '1h' : 'request',
      ...(e.period ? { period_start: iso(e.period.start), period_end: iso(e.period.end) } : {}),
      occurred_at: iso(e.at),
      ingested_at: iso(e.at + e.ingestDelayMs),
      org: ORG,
      developer: e.developer,
      ...(e.email !== undefined ? { developer_email: e.email } : {}),
      team: e.team,
      ...(e.session !== undefined ? { session_id: e.session } : {}),
      ...(e.prompt !== undefined ? { prompt_id: e.prompt } : {}),
      ...(e.apiKeyId !== undefined ? { api_key_id: e.apiKeyId } : {}),
      ...(e.project !== undefined ? { project: e.project } : {}),
      model: e.model,
      model_family: cost.model_family,
      tier: cost.tier,
      is_batch: false,
      requests: e.requests ?? 1,
      input_tokens: e.input,
      output_tokens: e.output,
      cache_read_tokens: e.cacheRead,
      cache_write_tokens: e.cacheWrite,
      cost_usd: cost.cost_usd,
      cost_source: 'reported',
      computed_cost_usd: cost.cost_usd,
      attributes: e.attributes,
    };
    out.push({ at: e.at, event });
    return event;
  };

  const stories: Stories = {};
  for (const team of teams) {
    for (const developer of team.developers) simulateDeveloper(root.fork(developer.email), team, developer, tl, emit, stories);
  }
  // The small org batches its reconciler's calls four to an event: same spend, a quarter of the events.
  simulateReconciler(root.fork('reconciler'), tl, emit, stories, options.scale === 'small' ? 4 : 1);
  simulatePrReviewBot(root.fork('pr-review'), tl, emit, stories);
  simulateNotebooks(root.fork('notebooks'), tl, emit);
  const research = teams.find((t) => t.id === SERVICE_KEYS.evals.team);
  if (research !== undefined) simulateEvalCampaign(root.fork('evals'), tl, emit, stories, campaignScale(out, research, tl));
  simulateContractor(root.fork('contractor'), tl, emit, stories);
  simulateHackathonKey(root.fork('hackathon'), tl, emit, stories);
  if (teams.find((t) => t.id === 'payments')?.developers.some((d) => d.email === LOOP_DEVELOPER)) {
    simulateWeekendLoop(root.fork('weekend-loop'), tl, emit, stories);
  }
  simulateContextBloat(root.fork('context-bloat'), tl, emit, stories);

  out.sort((a, b) => a.at - b.at || (a.event.event_id < b.event.event_id ? -1 : a.event.event_id > b.event.event_id ? 1 : 0));
  const events = out.map((o) => o.event);

  const budgets = budgetsFrom(events, teams, tl);
  const configInput = buildConfig(teams, tl, budgets);
  const configYaml = `# Generated by scripts/detection/scenarios.ts (seed ${seed}): a synthetic org for detector evaluation.\n${stringify(configInput, { lineWidth: 120 })}`;
  const config = parseConfig(configYaml, 'scenario burnrate.yaml');
  const labels = buildLabels(seed, config, tl, teams, stories);
  return { config, configYaml, events, labels, budgets: budgetFacts(events, budgets, tl) };
}

const iso = (ms: number): string => new Date(ms).toISOString();

// ---------------------------------------------------------------------------------------------
// Ordinary developers

const LOOP_DEVELOPER = 'lukas.becker@acme.com';
const BLOAT_DEVELOPER = 'sam.rivera@acme.com';
const TERMINALS = ['vscode', 'iTerm.app', 'Apple_Terminal', 'WarpTerminal', 'tmux'];
const PROJECTS: Record<string, string[]> = {
  payments: ['ledger-service', 'payouts-api', 'fraud-rules'],
  research: ['eval-harness', 'retrieval-lab', 'notebooks'],
  platform: ['infra-monorepo', 'k8s-operators', 'ci-runners'],
  mobile: ['ios-app', 'android-app', 'design-system'],
};

interface Stories {
  loop?: { session: string; lastHumanTurn: number; end: number; calls: AgentCall[]; storyStart: number };
  bloat?: { session: string; calls: AgentCall[]; start: number; end: number };
  driftSwitch?: number;
  /** Platform developer → their first premium call after the switch. */
  driftFirstPremium?: Record<string, number>;
  spike?: { start: number; end: number };
  cacheBreak?: { deploy: number; first: number };
  campaign?: { start: number };
  contractor?: { calls: Array<{ at: number; cost: number }>; end: number };
  hackathon?: { at: number };
}

type EmitFn = (e: Emit) => UsageEvent;

function simulateDeveloper(rng: Rng, team: TeamSpec, dev: DeveloperSpec, tl: Timeline, emit: EmitFn, stories: Stories): void {
  const habit = HABITS[dev.habit];
  const zone = team.timezone;
  const shift = rng.int(-40, 40);
  const systemPrompt = rng.int(14_000, 19_000);
  const terminal = rng.pick(TERMINALS);
  const projects = PROJECTS[team.id] ?? ['main'];
  const joins = dev.joinsWeek === undefined ? tl.start : tl.week(dev.joinsWeek);
  const driftSwitch = team.id === 'platform' ? localToUtc(addDays(tl.lastMonday, 2), 3 * 60, zone) : Infinity;
  if (team.id === 'platform') stories.driftSwitch = driftSwitch;

  for (let day = joins; day < tl.end; day = addDays(day, 1)) {
    const weekday = weekdayOf(day);
    const weekend = weekday === 0 || weekday === 6;
    const daysIn = Math.round((Date.parse(day) - Date.parse(joins)) / DAY);
    const ramping = dev.joinsWeek !== undefined && daysIn < 7;
    const holiday = team.id === 'platform' && day === tl.holiday;
    const returnDay = team.id === 'platform' && day === addDays(tl.holiday, 1);
    const migration = team.id === 'payments' && day >= tl.migration.from && day <= tl.migration.to;

    let sessions: number;
    if (holiday) sessions = rng.chance(0.08) ? 1 : 0;
    else if (weekend) sessions = rng.chance(habit.weekendChance) ? (dev.habit === 'power' ? 1 + rng.poisson(0.8) : 1) : 0;
    else if (ramping) sessions = rng.poisson(0.8 + 0.35 * daysIn);
    else {
      const factor = (weekday === 5 ? 0.85 : 1) * (returnDay ? 1.15 : 1) * (migration ? 1.3 : 1);
      sessions = rng.poisson(habit.sessionsPerWorkday * factor);
    }
    const cursorDay = rng.chance(dev.cursorShare);

    for (let i = 0; i < sessions; i++) {
      const minutes = sessionStartMinute(rng, habit.eveningShare, weekend || holiday) + (weekend ? 0 : shift);
      const at = localToUtc(day, minutes, zone) + rng.int(0, 59_999);
      // At most 3x the habit's median (about its 97th percentile): everyone stops a session some
      // time, and a power user's decoy is about being always heavy, not about one 13-hour outlier.
      let turns = clamp(Math.round(rng.logNormal(habit.turnsMedian, 0.6)), 1, 3 * habit.turnsMedian);
      if (weekend || holiday) turns = Math.max(1, Math.round(turns * 0.6));
      if (ramping) turns = Math.max(1, Math.round(turns * 0.5));
      const plan = (model: string, background: string | undefined): AgentPlan => ({
        rng,
        start: at,
        model,
        ...(background !== undefined ? { backgroundModel: background } : {}),
        systemPrompt,
        compactAt: rng.between(habit.compactAt[0], habit.compactAt[1]),
        caching: true,
        turns,
        callsPerTurn: () => 1 + rng.poisson(habit.callsPerTurnMean - 1),
        callGapMs: () => clamp(rng.logNormal(8_000, 0.8), 1_500, 5 * MINUTE),
        humanGapMs: () => clamp(rng.logNormal(100_000, 1), 10_000, 45 * MINUTE),
        growth: () => rng.logNormal(2_200, 1),
        output: () => rng.logNormal(380, 0.9),
        userTokens: () => clamp(rng.logNormal(90, 0.8), 5, 3_000),
      });

      if (cursorDay) {
        const model = rng.chance(0.7) ? MODELS.cursorSonnet : MODELS.cursorGpt;
        const run = runAgent(plan(model, undefined));
        for (const [n, c] of run.calls.entries()) {
          // Cursor's usage API is polled every five minutes.
          const polled = Math.ceil((c.at + 1) / (5 * MINUTE)) * 5 * MINUTE + 30_000 - c.at;
          emit({
            at: c.at,
            source: 'cursor_events',
            provider: 'cursor',
            tool: 'cursor',
            developer: dev.email,
            email: dev.email,
            team: team.id,
            model: c.model,
            input: c.input,
            output: c.output,
            cacheRead: c.cacheRead,
            cacheWrite: c.cacheWrite,
            ingestDelayMs: polled,
            attributes: { kind: 'agent' },
            nativeKey: `cursor\u001f${dev.email}\u001f${at}\u001f${n}`,
          });
        }
        continue;
      }

      let model: string = rng.chance(migration ? 0.85 : dev.opusShare) ? MODELS.opus : MODELS.sonnet;
      if (at >= driftSwitch) model = MODELS.opus;
      const session = rng.uuid();
      const project = rng.pick(projects);
      const run = runAgent(plan(model, MODELS.haiku));
      emitClaudeCode(emit, run.calls, { developer: dev.email, email: dev.email, team: team.id, session, project, terminal }, rng);
      if (model === MODELS.opus && at >= driftSwitch) {
        const first = run.calls.find((c) => c.model === MODELS.opus)?.at;
        const seen = (stories.driftFirstPremium ??= {});
        if (first !== undefined && (seen[dev.email] === undefined || first < (seen[dev.email] as number))) seen[dev.email] = first;
      }
    }
  }
}

function sessionStartMinute(rng: Rng, eveningShare: number, dayOff: boolean): number {
  if (dayOff) return rng.between(10 * 60, 21 * 60);
  if (rng.chance(eveningShare)) return rng.between(19 * 60, 22.5 * 60);
  const v = rng.next();
  if (v < 0.07) return rng.between(8 * 60, 9 * 60);
  if (v < 0.52) return rng.between(9 * 60, 12 * 60);
  return rng.between(13 * 60, 17.75 * 60);
}

interface ClaudeCodeWho {
  developer: string;
  email: string;
  team: string;
  session: string;
  project: string;
  terminal: string;
}

function emitClaudeCode(emit: EmitFn, calls: readonly AgentCall[], who: ClaudeCodeWho, rng: Rng): void {
  for (const [n, c] of calls.entries()) {
    emit({
      at: c.at,
      source: 'claude_code_otel',
      provider: 'anthropic',
      tool: 'claude-code',
      developer: who.developer,
      email: who.email,
      team: who.team,
      session: who.session,
      prompt: c.promptId,
      project: who.project,
      model: c.model,
      input: c.input,
      output: c.output,
      cacheRead: c.cacheRead,
      cacheWrite: c.cacheWrite,
      // OTel log batches are exported every few seconds.
      ingestDelayMs: rng.int(1_000, 8_000),
      attributes: { 'terminal.type': who.terminal, query_source: c.role },
      nativeKey: `cc\u001f${who.session}\u001f${n}`,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Service identities

/** Payments' nightly reconciler (LiteLLM, request-level): ~$20 a night, and one night of backlog. */
function simulateReconciler(rng: Rng, tl: Timeline, emit: EmitFn, stories: Stories, batch: number): void {
  const zone = 'Europe/Berlin';
  const key = SERVICE_KEYS.reconciler;
  const spikeNight = addDays(tl.lastMonday, 3);
  for (let day = tl.start; day < tl.end; day = addDays(day, 1)) {
    const spike = day === spikeNight;
    const begin = localToUtc(day, 2 * 60 + rng.int(0, 4), zone);
    // A retry bug re-queued the whole month's transactions: ~4.5 h at the job's full rate.
    const count = Math.round((spike ? rng.int(11_000, 12_000) : rng.int(550, 650)) / batch);
    const span = spike ? 4.5 * HOUR : rng.between(40, 50) * MINUTE;
    if (spike) stories.spike = { start: begin, end: begin + span };
    for (let i = 0; i < count; i++) {
      const at = begin + Math.round((span * (i + rng.next())) / count);
      emit({
        at,
        source: 'litellm',
        provider: 'anthropic',
        tool: 'api',
        developer: key.name,
        team: key.team,
        apiKeyId: key.id,
        project: 'ledger-reconciliation',
        model: MODELS.sonnet,
        requests: batch,
        input: Math.round(rng.logNormal(8_500, 0.25) * batch),
        output: Math.round(rng.logNormal(380, 0.4) * batch),
        cacheRead: i === 0 ? 2_100 * (batch - 1) : 2_100 * batch,
        cacheWrite: i === 0 ? 2_100 : 0,
        ingestDelayMs: rng.int(200, 2_000),
        attributes: { api_key_name: key.name },
        nativeKey: `recon\u001f${day}\u001f${i}`,
      });
    }
  }
}

/** Mobile's PR review bot: cached system prompt and repo guide, until a deploy breaks the cache. */
function simulatePrReviewBot(rng: Rng, tl: Timeline, emit: EmitFn, stories: Stories): void {
  const zone = 'America/New_York';
  const key = SERVICE_KEYS.prReview;
  // The deploy put the current time at the top of the system prompt: every call now rewrites the cache.
  const deploy = localToUtc(addDays(tl.lastMonday, 1), 11 * 60, zone);
  stories.cacheBreak = { deploy, first: Infinity };
  const guide = 28_000;
  let lastCall = -Infinity;
  for (let day = tl.start; day < tl.end; day = addDays(day, 1)) {
    const weekday = weekdayOf(day);
    const reviews = weekday === 0 || weekday === 6 ? rng.poisson(2) : rng.poisson(22);
    const starts = Array.from({ length: reviews }, () => localToUtc(day, rng.between(9.5 * 60, 19 * 60), zone)).sort((a, b) => a - b);
    for (const [r, reviewStart] of starts.entries()) {
      let at = Math.max(reviewStart, lastCall + 1_000);
      let prompt = guide + Math.round(clamp(rng.logNormal(6_000, 0.7), 1_000, 40_000));
      const calls = rng.int(7, 11);
      for (let c = 0; c < calls; c++) {
        const broken = at >= deploy;
        const warm = at - lastCall < 5 * MINUTE;
        let read: number;
        if (broken) read = 0;
        else if (c === 0) read = warm ? guide : 0;
        else read = prompt - Math.round(rng.logNormal(1_500, 0.6));
        read = Math.max(0, Math.min(read, prompt));
        const uncached = rng.int(5, 30);
        if (broken && stories.cacheBreak.first === Infinity) stories.cacheBreak.first = at;
        emit({
          at,
          source: 'litellm',
          provider: 'anthropic',
          tool: 'api',
          developer: key.name,
          team: key.team,
          apiKeyId: key.id,
          project: 'ios-app',
          model: MODELS.sonnet,
          input: uncached,
          output: Math.round(rng.logNormal(700, 0.6)),
          cacheRead: read,
          cacheWrite: Math.max(0, prompt - read - uncached),
          ingestDelayMs: rng.int(200, 2_000),
          attributes: { api_key_name: key.name },
          nativeKey: `review\u001f${day}\u001f${r}\u001f${c}`,
        });
        lastCall = at;
        prompt += Math.round(rng.logNormal(1_500, 0.6));
        at += Math.round(clamp(rng.logNormal(12_000, 0.5), 2_000, 90_000));
      }
    }
  }
}

/** Research notebooks on the OpenAI usage report: hourly buckets on working afternoons. */
function simulateNotebooks(rng: Rng, tl: Timeline, emit: EmitFn): void {
  const zone = 'America/Los_Angeles';
  const key = SERVICE_KEYS.notebooks;
  for (let day = tl.start; day < tl.end; day = addDays(day, 1)) {
    const weekday = weekdayOf(day);
    if (weekday === 0 || weekday === 6) continue;
    for (let hour = 10; hour < 17; hour++) {
      if (!rng.chance(0.5)) continue;
      const startMs = localToUtc(day, hour * 60, zone);
      const input = Math.round(rng.logNormal(120_000, 0.5));
      const cached = Math.round(input * rng.between(0.1, 0.3));
      emitBucket(emit, rng, {
        at: startMs,
        developer: key.name,
        team: key.team,
        apiKeyId: key.id,
        model: rng.chance(0.7) ? MODELS.gpt5 : MODELS.gpt5mini,
        requests: rng.int(20, 80),
        input: input - cached,
        cacheRead: cached,
        output: Math.round(rng.logNormal(25_000, 0.5)),
        nativeKey: `notebooks\u001f${day}\u001f${hour}`,
      });
    }
  }
}

const CAMPAIGN_BEGIN_MINUTE = 9 * 60;
const CAMPAIGN_ZONE = 'America/Los_Angeles';
/** What one hour of the eval harness costs at scale 1 (gpt-5, the token sizes below). */
const CAMPAIGN_HOURLY_USD = 1.65;

/**
 * How hard Research's eval campaign runs: at least ~$1.65 an hour, and enough that the month, at
 * the team's usual rate (the lower of the warm-up's and this month's so far) plus the campaign,
 * ends 15% over the budget a practitioner sets from the warm-up weeks (budgetsFrom). Seeds differ
 * in how much of the month is spent when it starts, and the incident is labelled as a month
 * heading over budget: it must be one on every seed.
 */
function campaignScale(sofar: readonly { at: number; event: UsageEvent }[], team: TeamSpec, tl: Timeline): number {
  const warmupWeeks = Math.max(1, tl.weeks - 3);
  const from = Date.parse(`${tl.start}T00:00:00Z`);
  const until = Date.parse(`${addDays(tl.start, 7 * warmupWeeks)}T00:00:00Z`);
  const begin = localToUtc(tl.lastMonday, CAMPAIGN_BEGIN_MINUTE, CAMPAIGN_ZONE);
  const month = tl.lastMonday.slice(0, 7);
  const monthStart = Date.parse(`${month}-01T00:00:00Z`);
  const [y, m] = month.split('-').map(Number) as [number, number];
  const monthEnd = Date.UTC(y, m, 1);
  let warmup = 0;
  let monthToDate = 0;
  for (const { at, event } of sofar) {
    if (event.team !== team.id) continue;
    if (at >= from && at < until) warmup += event.cost_usd;
    if (at >= monthStart && at < begin) monthToDate += event.cost_usd;
  }
  const daily = warmup / (7 * warmupWeeks);
  const budget = Math.max(100, Math.round((daily * 30.4) / team.budgetShare / 100) * 100);
  const usual = Math.min(daily, monthToDate / Math.max(1, (begin - monthStart) / DAY));
  const daysLeft = (monthEnd - begin) / DAY;
  const needed = (1.15 * budget - monthToDate) / daysLeft - usual;
  return Math.max(1, needed / (24 * CAMPAIGN_HOURLY_USD));
}

/** Research's eval harness, new in the last week: runs around the clock on gpt-5 (~$1.65 an hour × scale). */
function simulateEvalCampaign(rng: Rng, tl: Timeline, emit: EmitFn, stories: Stories, scale: number): void {
  const key = SERVICE_KEYS.evals;
  const begin = localToUtc(tl.lastMonday, CAMPAIGN_BEGIN_MINUTE, CAMPAIGN_ZONE);
  const end = localToUtc(tl.end, 0, CAMPAIGN_ZONE);
  stories.campaign = { start: begin };
  for (let at = begin; at < end; at += HOUR) {
    const input = Math.round(rng.logNormal(700_000 * scale, 0.15));
    const cached = Math.round(input * 0.25);
    emitBucket(emit, rng, {
      at,
      developer: key.name,
      team: key.team,
      apiKeyId: key.id,
      model: MODELS.gpt5,
      requests: Math.round(rng.int(350, 450) * scale),
      input: input - cached,
      cacheRead: cached,
      output: Math.round(rng.logNormal(95_000 * scale, 0.15)),
      nativeKey: `evals\u001f${at}`,
    });
  }
}

interface Bucket {
  at: number;
  developer: string;
  team: string;
  apiKeyId: string;
  model: string;
  requests: number;
  input: number;
  cacheRead: number;
  output: number;
  nativeKey: string;
}

function emitBucket(emit: EmitFn, rng: Rng, b: Bucket): void {
  emit({
    at: b.at,
    source: 'openai_usage',
    provider: 'openai',
    tool: 'api',
    developer: b.developer,
    team: b.team,
    apiKeyId: b.apiKeyId,
    model: b.model,
    requests: b.requests,
    input: b.input,
    output: b.output,
    cacheRead: b.cacheRead,
    cacheWrite: 0,
    period: { start: b.at, end: b.at + HOUR },
    // The usage report is polled a while after the hour closes.
    ingestDelayMs: HOUR + rng.int(10, 25) * MINUTE,
    attributes: { api_key_name: b.developer },
    nativeKey: b.nativeKey,
  });
}

// ---------------------------------------------------------------------------------------------
// Incidents and one-off identities

/** A contractor on a personal domain, not in burnrate.yaml, using Claude Code on the org account. */
function simulateContractor(rng: Rng, tl: Timeline, emit: EmitFn, stories: Stories): void {
  const email = STRANGERS.contractor;
  const habit = HABITS.normal;
  const calls: Array<{ at: number; cost: number }> = [];
  let end = 0;
  for (const day of tl.contractorDays) {
    const sessions = rng.int(2, 3);
    for (let i = 0; i < sessions; i++) {
      const at = localToUtc(day, rng.between(13 * 60, 17 * 60), 'America/New_York');
      const run = runAgent({
        rng,
        start: at,
        model: MODELS.sonnet,
        backgroundModel: MODELS.haiku,
        systemPrompt: 16_500,
        compactAt: rng.between(habit.compactAt[0], habit.compactAt[1]),
        caching: true,
        turns: Math.max(2, Math.round(rng.logNormal(10, 0.4))),
        callsPerTurn: () => 1 + rng.poisson(2.5),
        callGapMs: () => clamp(rng.logNormal(8_000, 0.8), 1_500, 5 * MINUTE),
        humanGapMs: () => clamp(rng.logNormal(100_000, 1), 10_000, 45 * MINUTE),
        growth: () => rng.logNormal(1_800, 1),
        output: () => rng.logNormal(350, 0.9),
        userTokens: () => clamp(rng.logNormal(90, 0.8), 5, 3_000),
      });
      const session = rng.uuid();
      for (const [n, c] of run.calls.entries()) {
        const e = emit({
          at: c.at,
          source: 'claude_code_otel',
          provider: 'anthropic',
          tool: 'claude-code',
          developer: email,
          email,
          team: UNATTRIBUTED,
          session,
          prompt: c.promptId,
          model: c.model,
          input: c.input,
          output: c.output,
          cacheRead: c.cacheRead,
          cacheWrite: c.cacheWrite,
          ingestDelayMs: rng.int(1_000, 8_000),
          attributes: { 'terminal.type': 'vscode', query_source: c.role },
          nativeKey: `cc\u001f${session}\u001f${n}`,
        });
        calls.push({ at: c.at, cost: e.cost_usd });
      }
      end = Math.max(end, run.end);
    }
  }
  calls.sort((a, b) => a.at - b.at);
  stories.contractor = { calls, end };
}

/** Someone tried an API key from a hackathon once: cents of spend, below any dollar gate. */
function simulateHackathonKey(rng: Rng, tl: Timeline, emit: EmitFn, stories: Stories): void {
  const at = localToUtc(tl.hackathonDay, 15 * 60, 'America/New_York');
  stories.hackathon = { at };
  emit({
    at,
    source: 'anthropic_usage',
    provider: 'anthropic',
    tool: 'api',
    developer: STRANGERS.hackathonKey,
    team: UNATTRIBUTED,
    apiKeyId: STRANGERS.hackathonKey,
    model: MODELS.sonnet,
    requests: 12,
    input: rng.int(35_000, 45_000),
    output: rng.int(5_000, 7_000),
    cacheRead: 0,
    cacheWrite: 0,
    period: { start: at, end: at + HOUR },
    ingestDelayMs: HOUR + 15 * MINUTE,
    attributes: {},
    nativeKey: `hackathon\u001f${at}`,
  });
}

/**
 * The weekend agent loop: Friday afternoon a Payments developer asks Claude Code (Opus, auto-accept)
 * to make a flaky ledger test pass and leaves. The agent reruns the test every ~30 s, appends each
 * failure log, auto-compacts near 155k tokens and carries on, with no human turn, until Monday
 * 09:20 Berlin when the developer comes back and stops it.
 */
function simulateWeekendLoop(rng: Rng, tl: Timeline, emit: EmitFn, stories: Stories): void {
  const zone = 'Europe/Berlin';
  const start = localToUtc(tl.loopFriday, 15 * 60 + 20, zone) + rng.int(0, 59_999);
  const until = localToUtc(addDays(tl.loopFriday, 3), 9 * 60 + 20, zone);
  const run = runAgent({
    rng,
    start,
    model: MODELS.opus,
    backgroundModel: MODELS.haiku,
    systemPrompt: 17_200,
    compactAt: 155_000,
    caching: true,
    turns: 5,
    callsPerTurn: () => 2 + rng.poisson(2),
    callGapMs: () => clamp(rng.logNormal(28_000, 0.5), 8_000, 4 * MINUTE),
    humanGapMs: () => clamp(rng.logNormal(6 * MINUTE, 0.3), 2 * MINUTE, 15 * MINUTE),
    growth: () => rng.logNormal(2_800, 0.5),
    output: () => rng.logNormal(900, 0.6),
    userTokens: () => clamp(rng.logNormal(150, 0.5), 20, 2_000),
    loopUntil: until,
  });
  const session = rng.uuid();
  emitClaudeCode(
    emit,
    run.calls,
    { developer: LOOP_DEVELOPER, email: LOOP_DEVELOPER, team: 'payments', session, project: 'ledger-service', terminal: 'iTerm.app' },
    rng,
  );
  stories.loop = { session, lastHumanTurn: run.lastHumanTurn, end: run.end, calls: run.calls, storyStart: run.lastHumanTurn };
}

/**
 * Context bloat: a Mobile developer debugging a crash in Claude Code with the 1M-context Sonnet,
 * DISABLE_PROMPT_CACHING=1 left set from an earlier experiment, and auto-compact off. Each turn
 * pastes device logs; every call resends the whole conversation uncached, so by mid-afternoon one
 * call costs more than ten of the first ones.
 */
function simulateContextBloat(rng: Rng, tl: Timeline, emit: EmitFn, stories: Stories): void {
  const zone = 'America/New_York';
  const start = localToUtc(addDays(tl.lastMonday, 3), 13 * 60 + 30, zone) + rng.int(0, 59_999);
  const run = runAgent({
    rng,
    start,
    model: MODELS.sonnet1m,
    backgroundModel: MODELS.haiku,
    systemPrompt: 17_800,
    compactAt: Infinity,
    caching: false,
    turns: 80,
    callsPerTurn: () => 2 + rng.poisson(2),
    callGapMs: () => clamp(rng.logNormal(9_000, 0.6), 2_000, 2 * MINUTE),
    humanGapMs: () => clamp(rng.logNormal(150_000, 0.5), 30_000, 15 * MINUTE),
    growth: () => rng.logNormal(4_200, 0.5),
    output: () => rng.logNormal(500, 0.7),
    userTokens: () => clamp(rng.logNormal(400, 0.8), 20, 8_000),
    stopAtContext: 330_000,
  });
  const session = rng.uuid();
  emitClaudeCode(
    emit,
    run.calls,
    { developer: BLOAT_DEVELOPER, email: BLOAT_DEVELOPER, team: 'mobile', session, project: 'ios-app', terminal: 'vscode' },
    rng,
  );
  stories.bloat = { session, calls: run.calls, start, end: run.end };
}

// ---------------------------------------------------------------------------------------------
// Config and labels

interface Budget {
  team: string;
  monthly_usd: number;
  warmupDaily: number;
}

/**
 * Budgets are set the way a FinOps practitioner would: from the warm-up weeks' run-rate with
 * headroom (each team's budgetShare), so only a real change pushes a projection past 90%.
 */
function budgetsFrom(events: readonly UsageEvent[], teams: readonly TeamSpec[], tl: Timeline): Budget[] {
  const warmupWeeks = Math.max(1, tl.weeks - 3);
  const until = Date.parse(`${addDays(tl.start, 7 * warmupWeeks)}T00:00:00Z`);
  const from = Date.parse(`${tl.start}T00:00:00Z`);
  const spend = new Map<string, number>();
  for (const e of events) {
    const at = Date.parse(e.occurred_at);
    if (at >= until) break;
    if (at < from) continue;
    spend.set(e.team, (spend.get(e.team) ?? 0) + e.cost_usd);
  }
  return teams.map((t) => {
    const daily = (spend.get(t.id) ?? 0) / (7 * warmupWeeks);
    return { team: t.id, warmupDaily: daily, monthly_usd: Math.max(100, Math.round((daily * 30.4) / t.budgetShare / 100) * 100) };
  });
}

function budgetFacts(events: readonly UsageEvent[], budgets: readonly Budget[], tl: Timeline): BudgetFacts[] {
  const lastDay = addDays(tl.end, -1);
  const month = lastDay.slice(0, 7);
  const monthStart = Date.parse(`${month}-01T00:00:00Z`);
  const [y, m] = month.split('-').map(Number) as [number, number];
  const daysInMonth = new Date(Date.UTC(y, m, 0)).getUTCDate();
  const elapsedDays = Number(lastDay.slice(8, 10));
  const lastWeekFrom = Date.parse(`${addDays(tl.end, -7)}T00:00:00Z`);
  const mtd = new Map<string, number>();
  const lastWeek = new Map<string, number>();
  for (const e of events) {
    const at = Date.parse(e.occurred_at);
    if (at >= monthStart) mtd.set(e.team, (mtd.get(e.team) ?? 0) + e.cost_usd);
    if (at >= lastWeekFrom) lastWeek.set(e.team, (lastWeek.get(e.team) ?? 0) + e.cost_usd);
  }
  return budgets.map((b) => {
    const spent = mtd.get(b.team) ?? 0;
    // Month to date plus the last week's daily rate for the rest of the month.
    const projected = spent + ((lastWeek.get(b.team) ?? 0) / 7) * (daysInMonth - elapsedDays);
    return {
      team: b.team,
      budget_usd: b.monthly_usd,
      warmup_daily_usd: round2(b.warmupDaily),
      month,
      month_to_date_usd: round2(spent),
      projected_usd: round2(projected),
    };
  });
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

function buildConfig(teams: readonly TeamSpec[], tl: Timeline, budgets: readonly Budget[]): Record<string, unknown> {
  const budgetOf = (team: string): number => budgets.find((b) => b.team === team)?.monthly_usd ?? 1_000;
  return {
    org: ORG,
    timezone: ORG_TIMEZONE,
    teams: teams.map((t) => ({
      id: t.id,
      name: t.name,
      timezone: t.timezone,
      members: t.developers.map((d) => d.email),
      slack: { channel: `#${t.id}-ai-spend` },
      email: [`${t.id}-leads@acme.com`],
      oncall: { email: [`oncall-${t.id}@acme.com`] },
      budget: { monthly_usd: budgetOf(t.id) },
      ...(t.id === 'platform' ? { calendar: { holidays: [tl.holiday] } } : {}),
    })),
    ownership: [
      { match: { api_key_name: 'payments-*' }, team: 'payments' },
      { match: { api_key_name: 'mobile-*' }, team: 'mobile' },
      { match: { api_key_name: 'research-*' }, team: 'research' },
      { match: { project: 'infra-*' }, team: 'platform' },
    ],
    calendar: {
      working_hours: { start: '09:00', end: '18:00' },
      working_days: ['mon', 'tue', 'wed', 'thu', 'fri'],
      holidays: [],
    },
    detectors: {
      session_cost: { warning_usd: 25, critical_usd: 100 },
      runaway_session: { max_hours_without_human: 4 },
      overrides: [
        // Research runs long agent sessions on purpose; its caps were raised after a review.
        { match: { team: 'research' }, session_cost: { warning_usd: 100, critical_usd: 400 } },
        // Platform spends ~$100 a week: a gate of a quarter of that, not the org's $50.
        { match: { team: 'platform' }, model_mix_drift: { min_impact_usd: 25 } },
      ],
      planned_changes: [
        {
          team: 'payments',
          from: tl.migration.from,
          // `to` is exclusive: the Saturday after the Monday-to-Friday migration week.
          to: addDays(tl.migration.to, 1),
          kinds: ['model_mix_drift', 'spend_spike', 'cache_efficiency_drop'],
          note: 'Ledger migration to Java 21: the team uses Opus for the week',
        },
      ],
    },
    routes: {
      group_wait: '10s',
      escalate_after: '30m',
      rules: [
        { match: { kind: ['budget_forecast', 'new_spender'] }, notify: ['finops'], continue: true },
        { match: { severity: 'critical' }, notify: ['team', 'oncall'] },
        { match: { severity: 'warning' }, notify: ['team'] },
      ],
    },
    finops: { slack: { channel: '#finops' }, email: ['finops@acme.com'] },
  };
}

const HALF_HOUR = 30 * MINUTE;

function buildLabels(seed: number, config: Config, tl: Timeline, teams: readonly TeamSpec[], s: Stories): ScenarioLabels {
  const periodFrom = localToUtc(tl.start, 0, 'Asia/Tokyo');
  const periodTo = localToUtc(tl.end, 0, 'America/Los_Angeles');
  const subject = (team: string, extra: { developer?: string; session?: string } = {}) => ({ org: ORG, team, ...extra });
  const incidents: IncidentLabel[] = [];
  const decoys: DecoyLabel[] = [];

  if (s.loop) {
    const loop = s.loop;
    const who = { team: 'payments', developer: LOOP_DEVELOPER };
    const runaway = detectorSettings(config, 'runaway_session', who);
    const cal = teamCalendar(config, 'payments');
    const zone = teamTimezone(config, 'payments');
    const onset = loop.calls.find((c) => {
      if (c.at <= loop.lastHumanTurn) return false;
      const factor = isOffHours(c.at, zone, cal) ? runaway.off_hours_factor : 1;
      return c.at - loop.lastHumanTurn >= runaway.max_hours_without_human * factor * HOUR;
    });
    const caps = detectorSettings(config, 'session_cost', who);
    const crossing = firstCumulative(loop.calls, caps.warning_usd);
    const base = {
      story: 'weekend-loop',
      subject: subject('payments', { developer: LOOP_DEVELOPER, session: loop.session }),
      also_accept: [],
      story_start: iso(loop.storyStart),
      end: iso(loop.end),
      within_ms: HALF_HOUR,
    };
    incidents.push({
      ...base,
      id: 'weekend-loop/runaway_session',
      kind: 'runaway_session',
      start: iso(onset?.at ?? loop.end),
      note: `agent looping on a flaky test from Friday's last prompt to Monday 09:20 Berlin; start = first call ${runaway.max_hours_without_human} h (x${runaway.off_hours_factor} off-hours) after the last human turn`,
    });
    incidents.push({
      ...base,
      id: 'weekend-loop/session_cost',
      kind: 'session_cost',
      start: iso(crossing ?? loop.end),
      note: `same session; start = its cumulative cost crossing the $${caps.warning_usd} warning cap`,
    });
  }

  // One developer on the premium model is indistinguishable from a choice (anyone may pick Opus for
  // a hard task); the team's default has moved once a second developer's sessions land on it too.
  const movers = Object.values(s.driftFirstPremium ?? {}).sort((a, b) => a - b);
  if (s.driftSwitch !== undefined && movers.length >= 2) {
    incidents.push({
      id: 'model-mix-drift/model_mix_drift',
      story: 'model-mix-drift',
      kind: 'model_mix_drift',
      subject: subject('platform'),
      also_accept: [],
      story_start: iso(s.driftSwitch),
      start: iso(movers[1] as number),
      end: iso(periodTo),
      within_ms: HALF_HOUR,
      note: "a Claude Code update overnight (03:00 Tokyo) made Opus the default: every Platform session started after it runs on Opus instead of Sonnet; start = the second developer's first call on it (one developer on Opus is a choice, two are the team's default moving)",
    });
  }

  if (s.bloat) {
    const b = s.bloat;
    const who = { team: 'mobile', developer: BLOAT_DEVELOPER };
    const cfg = detectorSettings(config, 'context_bloat', who);
    const main = b.calls.filter((c) => c.role === 'main');
    const catalog = createPriceCatalog();
    const costOf = (c: AgentCall): number => {
      const r = catalog.costOf({
        model: c.model,
        at: new Date(c.at),
        input_tokens: c.input,
        output_tokens: c.output,
        cache_read_tokens: c.cacheRead,
        cache_write_tokens: c.cacheWrite,
        is_batch: false,
      });
      return r.ok ? r.cost_usd : 0;
    };
    const firstTurns = main.slice(0, cfg.baseline_turns);
    const baseline = firstTurns.reduce((sum, c) => sum + costOf(c), 0) / Math.max(1, firstTurns.length);
    const onset = main.find(
      (c) => c.input + c.cacheRead + c.cacheWrite > cfg.max_input_tokens_per_call || costOf(c) > cfg.cost_per_turn_factor * baseline,
    );
    incidents.push({
      id: 'context-bloat/context_bloat',
      story: 'context-bloat',
      kind: 'context_bloat',
      subject: subject('mobile', { developer: BLOAT_DEVELOPER, session: b.session }),
      also_accept: [],
      story_start: iso(b.start),
      start: iso(onset?.at ?? b.end),
      end: iso(b.end),
      within_ms: HALF_HOUR,
      note: `1M-context Sonnet session with prompt caching disabled and no compaction; start = first call above ${cfg.max_input_tokens_per_call} input tokens or ${cfg.cost_per_turn_factor}x the first ${cfg.baseline_turns} calls' cost`,
    });
  }

  if (s.spike) {
    incidents.push({
      id: 'batch-spike/spend_spike',
      story: 'batch-spike',
      kind: 'spend_spike',
      subject: subject('payments', { developer: SERVICE_KEYS.reconciler.name }),
      also_accept: [subject('payments')],
      story_start: iso(s.spike.start),
      start: iso(s.spike.start),
      end: iso(s.spike.end),
      within_ms: null,
      note: 'the nightly reconciler (normally ~$20 in 45 min at 02:00 Berlin) reprocesses a month of backlog for 4.5 h',
    });
  }

  if (s.contractor) {
    const gate = detectorSettings(config, 'new_spender', { team: UNATTRIBUTED, developer: STRANGERS.contractor }).min_impact_usd;
    const first = s.contractor.calls[0]?.at ?? 0;
    incidents.push({
      id: 'shadow-contractor/new_spender',
      story: 'shadow-contractor',
      kind: 'new_spender',
      subject: subject(UNATTRIBUTED, { developer: STRANGERS.contractor }),
      also_accept: [],
      story_start: iso(first),
      start: iso(firstCumulative(s.contractor.calls, gate) ?? first),
      end: iso(s.contractor.end),
      within_ms: null,
      note: `a contractor not in burnrate.yaml uses Claude Code on the org account for three afternoons; start = cumulative spend above $${gate}`,
    });
  }

  if (s.cacheBreak && s.cacheBreak.first !== Infinity) {
    incidents.push({
      id: 'cache-break/cache_efficiency_drop',
      story: 'cache-break',
      kind: 'cache_efficiency_drop',
      subject: subject('mobile', { developer: SERVICE_KEYS.prReview.name }),
      also_accept: [subject('mobile')],
      story_start: iso(s.cacheBreak.deploy),
      start: iso(s.cacheBreak.first),
      end: iso(periodTo),
      within_ms: null,
      note: 'a deploy of the PR review bot put a timestamp at the top of its system prompt: cache reads fall from ~85% of input to 0 and every call rewrites the cache',
    });
  }

  if (s.campaign) {
    incidents.push({
      id: 'over-budget/budget_forecast',
      story: 'over-budget',
      kind: 'budget_forecast',
      subject: subject('research'),
      also_accept: [],
      story_start: iso(s.campaign.start),
      start: iso(s.campaign.start),
      end: iso(periodTo),
      within_ms: null,
      note: "Research's eval harness starts running around the clock on gpt-5 (~$40 a day or more on top of its normal spend, sized so the month ends 15% over budget); the month-end projection passes 90% of budget",
    });
  }

  const teamIds = new Set(teams.map((t) => t.id));
  const power = teams.flatMap((t) => t.developers.filter((d) => d.habit === 'power').map((d) => ({ team: t.id, dev: d })));
  for (const p of power) {
    decoys.push({
      id: 'power-user',
      subject: subject(p.team, { developer: p.dev.email }),
      from: iso(periodFrom),
      to: iso(periodTo),
      note: 'always heavy: ~6 long Opus sessions a workday, evenings and weekends too',
    });
  }
  if (teamIds.has('payments')) {
    decoys.push({
      id: 'planned-migration',
      subject: subject('payments'),
      from: iso(localToUtc(tl.migration.from, 0, 'Europe/Berlin')),
      to: iso(localToUtc(addDays(tl.migration.to, 3), 12 * 60, 'Europe/Berlin')),
      note: 'migration week listed in detectors.planned_changes: Opus for most sessions, 30% more of them',
    });
  }
  if (teamIds.has('platform')) {
    decoys.push({
      id: 'holiday-lull',
      subject: subject('platform'),
      from: iso(localToUtc(tl.holiday, 0, 'Asia/Tokyo')),
      to: iso(localToUtc(addDays(tl.holiday, 2), 0, 'Asia/Tokyo')),
      note: `${tl.holiday === '2026-11-03' ? 'Bunka no Hi (Culture Day)' : 'a team holiday'} in Platform's calendar: nearly no spend, then a busier than usual return day`,
    });
  }
  const hire = teams.flatMap((t) => t.developers.filter((d) => d.joinsWeek !== undefined).map((d) => ({ team: t.id, dev: d })));
  for (const h of hire) {
    decoys.push({
      id: 'new-hire',
      subject: subject(h.team, { developer: h.dev.email }),
      from: iso(localToUtc(tl.week(h.dev.joinsWeek ?? 0), 0, teamTimezone(config, h.team))),
      to: iso(periodTo),
      note: 'listed in burnrate.yaml, first usage on their first Monday, ramping up over the week',
    });
  }
  if (s.hackathon) {
    decoys.push({
      id: 'one-off-key',
      subject: subject(UNATTRIBUTED, { developer: STRANGERS.hackathonKey }),
      from: iso(s.hackathon.at),
      to: iso(s.hackathon.at + 2 * DAY),
      note: 'an unknown API key spends about $0.20 once: below the new_spender dollar gate',
    });
  }

  return {
    seed,
    org: ORG,
    period: { from: iso(periodFrom), to: iso(periodTo) },
    weeks: tl.weeks,
    teams: [...teams.map((t) => t.id), UNATTRIBUTED],
    incidents,
    decoys,
  };
}

function firstCumulative(calls: ReadonlyArray<{ at: number; cost?: number } | AgentCall>, threshold: number): number | undefined {
  const catalog = createPriceCatalog();
  let sum = 0;
  for (const c of calls) {
    if ('cost' in c && c.cost !== undefined) sum += c.cost;
    else if ('model' in c) {
      const r = catalog.costOf({
        model: c.model,
        at: new Date(c.at),
        input_tokens: c.input,
        output_tokens: c.output,
        cache_read_tokens: c.cacheRead,
        cache_write_tokens: c.cacheWrite,
        is_batch: false,
      });
      if (r.ok) sum += r.cost_usd;
    }
    if (sum > threshold) return c.at;
  }
  return undefined;
}

const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

function isOffHours(at: number, zone: string, cal: Config['calendar']): boolean {
  const local = localParts(at, zone);
  if (cal.holidays.includes(local.day)) return true;
  if (!cal.working_days.includes(DAY_NAMES[local.weekday] as (typeof cal.working_days)[number])) return true;
  const minutes = local.hour * 60 + local.minute;
  const [sh, sm] = cal.working_hours.start.split(':').map(Number) as [number, number];
  const [eh, em] = cal.working_hours.end.split(':').map(Number) as [number, number];
  return minutes < sh * 60 + sm || minutes >= eh * 60 + em;
}
