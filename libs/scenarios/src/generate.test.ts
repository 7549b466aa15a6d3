import { createPriceCatalog } from '@burnrate/pricing';
import { UNATTRIBUTED, UsageEvent } from '@burnrate/schemas';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateScenario, type Scenario } from './generate.ts';
import { MODELS, SERVICE_KEYS, STRANGERS } from './org.ts';
import { createRng } from './rng.ts';

// A small org over three weeks keeps every story and decoy and runs in about a second.
const OPTIONS = { seed: 42, weeks: 3, scale: 'small' } as const;

let scenario: Scenario;
// Generous limits: the suite shares CI machines and generation takes a second or two.
beforeAll(() => {
  scenario = generateScenario(OPTIONS);
}, 60_000);

const ndjson = (s: Scenario): string => s.events.map((e) => JSON.stringify(e)).join('\n');

describe('generateScenario', { timeout: 60_000 }, () => {
  it('is deterministic: the same seed gives byte-identical files', () => {
    const again = generateScenario(OPTIONS);
    expect(ndjson(again)).toBe(ndjson(scenario));
    expect(again.configYaml).toBe(scenario.configYaml);
    expect(JSON.stringify(again.labels)).toBe(JSON.stringify(scenario.labels));
  });

  it('draws differently from another seed', () => {
    const a = createRng(42);
    const b = createRng(43);
    expect(Array.from({ length: 4 }, () => a.uuid())).not.toEqual(Array.from({ length: 4 }, () => b.uuid()));
    expect(createRng(42).fork('x').next()).toBe(createRng(42).fork('x').next());
  });

  it('writes only valid, already-normalised UsageEvents, unique ids, in event-time order', () => {
    expect(scenario.events.length).toBeGreaterThan(10_000);
    const ids = new Set<string>();
    let previous = '';
    for (const e of scenario.events) {
      const parsed = UsageEvent.safeParse(e);
      if (!parsed.success) throw new Error(`${e.event_id}: ${parsed.error.message}`);
      expect(JSON.stringify(parsed.data)).toBe(JSON.stringify(e));
      expect(e.occurred_at >= previous).toBe(true);
      previous = e.occurred_at;
      ids.add(e.event_id);
    }
    expect(ids.size).toBe(scenario.events.length);
  });

  it('prices every event from its tokens with the catalog', () => {
    const catalog = createPriceCatalog();
    for (const e of scenario.events) {
      const cost = catalog.costOf({
        model: e.model,
        at: new Date(e.occurred_at),
        input_tokens: e.input_tokens,
        output_tokens: e.output_tokens,
        cache_read_tokens: e.cache_read_tokens,
        cache_write_tokens: e.cache_write_tokens,
        is_batch: e.is_batch,
      });
      if (!cost.ok) throw new Error(cost.reason);
      expect(Math.abs(cost.cost_usd - e.cost_usd)).toBeLessThan(1e-9);
      expect(e.computed_cost_usd).toBe(e.cost_usd);
      expect(e.tier).toBe(cost.tier);
      expect(e.model_family).toBe(cost.model_family);
    }
  });

  it('writes a valid config with teams in four zones, budgets, a planned migration week and a holiday', () => {
    const { config, labels } = scenario;
    expect(new Set(config.teams.map((t) => t.timezone)).size).toBe(4);
    for (const t of config.teams) {
      expect(t.budget?.monthly_usd).toBeGreaterThan(0);
      expect(t.slack?.channel).toMatch(/^#/);
    }
    const migration = config.detectors.planned_changes[0];
    expect(migration?.team).toBe('payments');
    expect(migration?.kinds).toContain('model_mix_drift');
    const platform = config.teams.find((t) => t.id === 'platform');
    expect(platform?.calendar?.holidays).toHaveLength(1);
    const members = config.teams.flatMap((t) => t.members.map((m) => (typeof m === 'string' ? m : m.email)));
    expect(members).toContain('nina.patel@acme.com');
    expect(members).not.toContain(STRANGERS.contractor);
    expect(labels.teams).toEqual(['payments', 'research', 'platform', 'mobile', UNATTRIBUTED]);
  });

  it('labels every incident kind once per story, with onsets inside the story, and every decoy', () => {
    const { incidents, decoys } = scenario.labels;
    expect(incidents.map((i) => i.id)).toEqual([
      'weekend-loop/runaway_session',
      'weekend-loop/session_cost',
      'model-mix-drift/model_mix_drift',
      'context-bloat/context_bloat',
      'batch-spike/spend_spike',
      'shadow-contractor/new_spender',
      'cache-break/cache_efficiency_drop',
      'over-budget/budget_forecast',
    ]);
    for (const i of incidents) {
      expect(Date.parse(i.start)).toBeGreaterThanOrEqual(Date.parse(i.story_start));
      expect(Date.parse(i.start)).toBeLessThan(Date.parse(i.end));
    }
    const within = incidents.filter((i) => i.within_ms !== null).map((i) => i.story);
    expect(new Set(within)).toEqual(new Set(['weekend-loop', 'model-mix-drift', 'context-bloat']));
    expect(decoys.map((d) => d.id)).toEqual(['power-user', 'planned-migration', 'holiday-lull', 'new-hire', 'one-off-key']);
  });

  it('makes Claude Code sessions of several human turns, each of several calls, whose context grows and gets compacted', () => {
    const sessions = new Map<string, UsageEvent[]>();
    for (const e of scenario.events) {
      if (e.tool !== 'claude-code' || e.session_id === undefined) continue;
      const list = sessions.get(e.session_id) ?? [];
      list.push(e);
      sessions.set(e.session_id, list);
    }
    const sent = (e: UsageEvent): number => e.input_tokens + e.cache_read_tokens + e.cache_write_tokens;
    let compacted = 0;
    let multiTurn = 0;
    for (const events of sessions.values()) {
      const main = events.filter((e) => e.model !== MODELS.haiku);
      const prompts = new Set(main.map((e) => e.prompt_id));
      if (prompts.size > 1 && main.length > prompts.size * 2) multiTurn += 1;
      if (main.some((e, i) => i > 0 && sent(e) < sent(main[i - 1] as UsageEvent) / 2 && sent(main[i - 1] as UsageEvent) > 60_000))
        compacted += 1;
    }
    expect(multiTurn).toBeGreaterThan(sessions.size / 2);
    expect(compacted).toBeGreaterThan(5);
    expect(new Set(scenario.events.map((e) => e.tool))).toEqual(new Set(['claude-code', 'cursor', 'api']));
  });

  it('contains the stories the labels describe', () => {
    const { events, labels } = scenario;
    const loop = labels.incidents.find((i) => i.story === 'weekend-loop');
    const loopEvents = events.filter((e) => e.session_id === loop?.subject.session);
    const loopTail = loopEvents.filter((e) => e.occurred_at > (loop?.story_start ?? ''));
    expect(new Set(loopTail.map((e) => e.prompt_id)).size).toBe(1);
    expect(Date.parse(loop?.end ?? '') - Date.parse(loop?.story_start ?? '')).toBeGreaterThan(60 * 3_600_000);
    expect(loopEvents.reduce((s, e) => s + e.cost_usd, 0)).toBeGreaterThan(300);

    const bloat = labels.incidents.find((i) => i.story === 'context-bloat');
    const bloatEvents = events.filter((e) => e.session_id === bloat?.subject.session && e.model === MODELS.sonnet1m);
    expect(Math.max(...bloatEvents.map((e) => e.input_tokens))).toBeGreaterThan(300_000);
    expect((bloatEvents.at(-1)?.cost_usd ?? 0) / (bloatEvents[0]?.cost_usd ?? 1)).toBeGreaterThan(8);

    const drift = labels.incidents.find((i) => i.story === 'model-mix-drift');
    const switchAt = drift?.story_start ?? '';
    const premiumShare = (list: UsageEvent[]): number =>
      list.filter((e) => e.tier === 'premium').reduce((s, e) => s + e.cost_usd, 0) / list.reduce((s, e) => s + e.cost_usd, 0);
    const platform = events.filter((e) => e.team === 'platform');
    expect(premiumShare(platform.filter((e) => e.occurred_at < switchAt))).toBeLessThan(0.3);
    expect(premiumShare(platform.filter((e) => e.occurred_at >= switchAt))).toBeGreaterThan(0.8);

    const bot = events.filter((e) => e.developer === SERVICE_KEYS.prReview.name);
    const breakAt = labels.incidents.find((i) => i.story === 'cache-break')?.start ?? '';
    const readShare = (list: UsageEvent[]): number =>
      list.reduce((s, e) => s + e.cache_read_tokens, 0) /
      list.reduce((s, e) => s + e.input_tokens + e.cache_read_tokens + e.cache_write_tokens, 0);
    expect(readShare(bot.filter((e) => e.occurred_at < breakAt))).toBeGreaterThan(0.6);
    expect(readShare(bot.filter((e) => e.occurred_at >= breakAt))).toBe(0);

    const contractor = events.filter((e) => e.developer === STRANGERS.contractor);
    expect(contractor.every((e) => e.team === UNATTRIBUTED)).toBe(true);
    expect(contractor.reduce((s, e) => s + e.cost_usd, 0)).toBeGreaterThan(5);

    const spike = labels.incidents.find((i) => i.story === 'batch-spike');
    const night = (day: string): number =>
      events
        .filter((e) => e.developer === SERVICE_KEYS.reconciler.name && e.occurred_at.startsWith(day))
        .reduce((s, e) => s + e.cost_usd, 0);
    const spikeDay = spike?.start.slice(0, 10) ?? '';
    const dayBefore = new Date(Date.parse(spikeDay) - 86_400_000).toISOString().slice(0, 10);
    expect(night(spikeDay)).toBeGreaterThan(10 * night(dayBefore));
  });

  it('keeps the new hire quiet at first and the holiday nearly empty', () => {
    const { events, labels } = scenario;
    const hire = labels.decoys.find((d) => d.id === 'new-hire');
    const hireEvents = events.filter((e) => e.developer === hire?.subject.developer);
    expect(hireEvents[0]?.occurred_at.localeCompare(hire?.from ?? '')).toBeGreaterThanOrEqual(0);
    const holiday = labels.decoys.find((d) => d.id === 'holiday-lull');
    const platformHuman = events.filter((e) => e.team === 'platform' && e.tool === 'claude-code');
    const from = Date.parse(holiday?.from ?? '');
    const onHoliday = platformHuman.filter((e) => Date.parse(e.occurred_at) >= from && Date.parse(e.occurred_at) < from + 86_400_000);
    const weekBefore = platformHuman.filter(
      (e) => Date.parse(e.occurred_at) >= from - 7 * 86_400_000 && Date.parse(e.occurred_at) < from - 6 * 86_400_000,
    );
    expect(onHoliday.length).toBeLessThan(weekBefore.length / 4);
  });
});
