import { Anomaly } from '@burnrate/schemas';
import type { UsageEvent } from '@burnrate/schemas';
import { describe, expect, it } from 'vitest';
import { overEvents } from './buckets/bucket-detector.ts';
import {
  cacheEfficiencyDrop,
  teamCacheEfficiencyDrop,
  type CacheEfficiencyDropConfig,
  type CacheEfficiencyDropSettings,
  type DeveloperCacheState,
} from './cache-efficiency-drop.ts';
import { DEFAULT_CALENDAR } from './calendar.ts';
import { testEnv, runDetector } from './test-env.ts';
import { usageEvent } from '@burnrate/testing/builders';

const T0 = Date.parse('2026-11-02T00:00:00Z'); // a Monday
const H = 3_600_000;
const D = 24 * H;
const M = 60_000;
const SETTINGS: CacheEfficiencyDropSettings = {
  enabled: true,
  min_impact_usd: 20,
  min_drop_points: 30,
  baseline_days: 7,
  cool_down_hours: 6,
  min_season_weeks: 2,
};
// Day 8 is Tuesday 10 Nov; 13:00 UTC is 14:00 in Berlin.
const BREAK = T0 + 8 * D + 13 * H;

const cfg = (over: Partial<CacheEfficiencyDropSettings> = {}, planned?: [string, string, string, string][]): CacheEfficiencyDropConfig =>
  testEnv({ ...SETTINGS, ...over }, planned === undefined ? {} : { planned });

interface Stream {
  days: number;
  broken?: (atMs: number) => boolean;
  context?: number;
  developers?: string[];
  /** Weekends too (default: weekdays only). */
  weekends?: boolean;
}

/** Claude Code calls every 3 minutes in working hours (08-16 UTC, weekdays), most of the context read from the cache; priced at $5/M input. */
function stream({
  days,
  broken = () => false,
  context = 150_000,
  developers = ['alice@acme.com'],
  weekends = false,
}: Stream): UsageEvent[] {
  const out: UsageEvent[] = [];
  let n = 0;
  for (let d = 0; d < days; d++) {
    const weekday = (d + 1) % 7;
    if (!weekends && (weekday === 0 || weekday === 6)) continue;
    for (let h = 8; h < 16; h++) {
      for (let m = 1; m < 60; m += 3) {
        for (const [i, dev] of developers.entries()) {
          const at = T0 + d * D + h * H + m * M + i * 1000;
          const cached = broken(at) ? 0 : context;
          const input = 3000 + context - cached;
          const cost = 5e-6 * (input + 0.1 * cached + 1.25 * 2000 + 5 * 800);
          out.push(
            usageEvent({
              event_id: `c${n++}`,
              occurred_at: new Date(at).toISOString(),
              developer: dev,
              developer_email: dev,
              input_tokens: input,
              cache_read_tokens: cached,
              cache_write_tokens: 2000,
              output_tokens: 800,
              cost_usd: cost,
            }),
          );
        }
      }
    }
  }
  return out;
}

const brief = (a: Anomaly) => ({
  version: a.version,
  severity: a.severity,
  status: a.status,
  observed: Math.round(a.observed.value),
  detected_at: a.detected_at,
});
const isoAt = (ms: number) => new Date(ms).toISOString();
// Caching comes back the next morning (Wed 08:00 UTC).
const FIXED = T0 + 9 * D + 8 * H;

describe('cache_efficiency_drop (developer scope)', () => {
  const cases: { name: string; events: () => UsageEvent[]; cfg?: CacheEfficiencyDropConfig; want: ReturnType<typeof brief>[] }[] = [
    { name: 'stays quiet while caching works', events: () => stream({ days: 12 }), want: [] },
    {
      name: 'fires once the lost discount reaches the gate, and resolves after cool_down_hours (6) normal hours',
      events: () => stream({ days: 12, broken: (at) => at >= BREAK && at < FIXED }),
      want: [
        // 13:00 alone loses ~$13.5; with 14:00 the run passes $20 — judged when 14:00 closes (15:10).
        { version: 1, severity: 'warning', status: 'open', observed: 0, detected_at: isoAt(BREAK + 2 * H + 10 * M) },
        // Three broken hours lose ~$40, under 10x the gate: it stays a warning.
        { version: 2, severity: 'warning', status: 'resolved', observed: 97, detected_at: isoAt(FIXED + 6 * H + 10 * M) },
      ],
    },
    {
      name: 'dollar gate: a drop on small contexts stays quiet',
      events: () => stream({ days: 12, context: 4000, broken: (at) => at >= BREAK && at < FIXED }),
      want: [],
    },
    {
      name: 'warm-up: a break on the second day stays quiet',
      events: () => stream({ days: 3, broken: (at) => at >= T0 + D + 13 * H }),
      want: [],
    },
    {
      name: 'a planned change keeps it at info',
      events: () => stream({ days: 12, broken: (at) => at >= BREAK && at < FIXED }),
      cfg: cfg({}, [['payments', '2026-11-10', '2026-11-10', 'proxy migration']]),
      want: [
        { version: 1, severity: 'info', status: 'open', observed: 0, detected_at: isoAt(BREAK + 2 * H + 10 * M) },
        { version: 2, severity: 'info', status: 'resolved', observed: 97, detected_at: isoAt(FIXED + 6 * H + 10 * M) },
      ],
    },
  ];

  it.each(cases)('$name', ({ events, cfg: c, want }) => {
    const { out } = runDetector(cacheEfficiencyDrop, c ?? cfg(), events());
    expect(out.map(brief)).toEqual(want);
    for (const a of out) expect(Anomaly.parse(a)).toEqual(a);
  });

  it('names when caching broke and what it cost', () => {
    const { out } = runDetector(cacheEfficiencyDrop, cfg(), stream({ days: 12, broken: (at) => at >= BREAK && at < FIXED }));
    const a = out[0] as Anomaly;
    expect(a.subject).toEqual({ org: 'acme', team: 'payments', developer: 'alice@acme.com', model: 'claude-opus' });
    expect(a.summary).toMatch(/^Only 0% of the input tokens of alice@acme.com on claude-opus \(anthropic\) were cache reads/);
    expect(a.window.start).toBe(isoAt(BREAK));
    expect(a.advice).toMatch(/^Caching broke after 14:00 on Tue \(Europe\/Berlin\)/);
    // The baseline has taken in the first broken hour (learning follows judging), a small dent.
    expect(a.expected.value).toBeGreaterThan(90);
    // Two hours of 20 calls losing 150k cached tokens each: 40 × 150k × $5/M × 0.9 = $27.
    expect(a.impact_usd).toBeCloseTo(27, 0);
    expect(a.projected_usd).toBeCloseTo(13.5, 0);
  });

  it('escalates to critical in the same episode when the loss grows past 10x the gate', () => {
    const { out } = runDetector(cacheEfficiencyDrop, cfg({ min_impact_usd: 5 }), stream({ days: 12, broken: (at) => at >= BREAK }));
    // Never fixed: warning, then critical past $50, then a version each time the loss doubles.
    expect(out.slice(0, 2).map((a) => [a.version, a.severity, a.status])).toEqual([
      [1, 'warning', 'open'],
      [2, 'critical', 'open'],
    ]);
    expect(new Set(out.map((a) => a.id)).size).toBe(1);
    const impacts = out.slice(1).map((a) => a.impact_usd);
    for (let i = 1; i < impacts.length; i++) expect(impacts[i]).toBeGreaterThanOrEqual(2 * (impacts[i - 1] as number));
  });

  it('restores from JSON mid-stream and gives the same anomalies', () => {
    const events = stream({ days: 12, broken: (at) => at >= BREAK && at < FIXED });
    const whole = runDetector(cacheEfficiencyDrop, cfg(), events).out;
    const cut = events.findIndex((e) => Date.parse(e.occurred_at) > BREAK + 2 * H + 5 * M);
    const first = runDetector(cacheEfficiencyDrop, cfg(), events.slice(0, cut));
    const restored = JSON.parse(JSON.stringify(first.state)) as DeveloperCacheState;
    expect(restored).toEqual(first.state);
    const second = runDetector(cacheEfficiencyDrop, cfg(), events.slice(cut), restored);
    expect([...first.out, ...second.out]).toEqual(whole);
  });
});

/**
 * alice's gpt-5 calls (OpenAI) every 5 minutes of working hours (08-16 UTC) on weekdays from day
 * `fromDay`: 120k-token prompts with nothing read from a cache, batch requests unless `batch` is false.
 */
function gpt5Calls(fromDay: number, days: number, batch = true): UsageEvent[] {
  const out: UsageEvent[] = [];
  for (let d = fromDay; d < days; d++) {
    const weekday = (d + 1) % 7;
    if (weekday === 0 || weekday === 6) continue;
    for (let m = 8 * 60; m < 16 * 60; m += 5) {
      out.push(
        usageEvent({
          event_id: `g${d}-${m}`,
          occurred_at: new Date(T0 + d * D + m * M + 30_000).toISOString(),
          source: 'openai_usage',
          provider: 'openai',
          tool: 'api',
          session_id: undefined,
          model: 'gpt-5',
          model_family: 'gpt-5',
          is_batch: batch,
          input_tokens: 120_000,
          cache_read_tokens: 0,
          cache_write_tokens: 0,
          output_tokens: 2_000,
          cost_usd: (batch ? 0.5 : 1) * 1.25e-6 * (120_000 + 8 * 2_000),
        }),
      );
    }
  }
  return out;
}

describe('cache_efficiency_drop: a baseline per provider × model family', () => {
  it('does not call a gpt-5 batch job next to Claude history a cache drop', () => {
    const events = [...stream({ days: 12 }), ...gpt5Calls(8, 12)].sort(byTime);
    expect(runDetector(cacheEfficiencyDrop, cfg(), events).out).toEqual([]);
  });

  it('gives interactive gpt-5 calls without cache reads a baseline of their own', () => {
    const events = [...stream({ days: 12 }), ...gpt5Calls(8, 12, false)].sort(byTime);
    const { out, state } = runDetector(cacheEfficiencyDrop, cfg(), events);
    expect(out).toEqual([]);
    expect(state.keys.acme?.['alice@acme.com']?.map((k) => `${k.provider}/${k.family}`)).toEqual(['anthropic/claude-opus', 'openai/gpt-5']);
    expect(cacheEfficiencyDrop.size(state)).toBe(2);
  });

  it('still catches a Claude cache break with gpt-5 calls beside it', () => {
    const events = [...stream({ days: 12, broken: (at) => at >= BREAK && at < FIXED }), ...gpt5Calls(0, 12, false)].sort(byTime);
    const { out } = runDetector(cacheEfficiencyDrop, cfg(), events);
    expect(out.map((a) => [a.subject.model, a.status, a.detected_at])).toEqual([
      ['claude-opus', 'open', isoAt(BREAK + 2 * H + 10 * M)],
      ['claude-opus', 'resolved', isoAt(FIXED + 6 * H + 10 * M)],
    ]);
  });

  it('keeps an episode open before a snapshot from before families and goes on with it', () => {
    const events = stream({ days: 12, broken: (at) => at >= BREAK && at < FIXED });
    const whole = runDetector(cacheEfficiencyDrop, cfg(), events).out;
    const cut = events.findIndex((e) => Date.parse(e.occurred_at) > BREAK + 3 * H);
    const first = runDetector(cacheEfficiencyDrop, cfg(), events.slice(0, cut));
    // The shape before families: one key per developer, without provider and family.
    const old = JSON.parse(JSON.stringify(first.state)) as { keys: Record<string, Record<string, unknown[]>> };
    const byDeveloper = old.keys.acme as Record<string, unknown>;
    const { provider: _p, family: _f, ...key } = (byDeveloper['alice@acme.com'] as Record<string, unknown>[])[0] as Record<string, unknown>;
    byDeveloper['alice@acme.com'] = key;
    const upgraded = (cacheEfficiencyDrop.upgrade as (s: unknown) => DeveloperCacheState)(old);
    expect(upgraded.keys.acme?.['alice@acme.com']?.map((k) => [k.provider, k.family])).toEqual([['', '']]);
    const second = runDetector(cacheEfficiencyDrop, cfg(), events.slice(cut), upgraded);
    expect([...first.out, ...second.out]).toEqual(whole);
    expect(upgraded.keys.acme?.['alice@acme.com']?.map((k) => [k.provider, k.family])).toEqual([['anthropic', 'claude-opus']]);
  });
});

describe('cache_efficiency_drop: cool-down', () => {
  // Fixed on Wednesday at 08:00 UTC, broken again from 11:00 to 13:00: three good hours between.
  const dip = (at: number) => (at >= BREAK && at < FIXED) || (at >= FIXED + 3 * H && at < FIXED + 5 * H);

  it('keeps one episode through a recovery shorter than cool_down_hours', () => {
    const { out } = runDetector(cacheEfficiencyDrop, cfg(), stream({ days: 12, broken: dip }));
    expect(new Set(out.map((a) => a.id)).size).toBe(1);
    expect(out.map((a) => [a.version, a.status, a.detected_at])).toEqual([
      [1, 'open', isoAt(BREAK + 2 * H + 10 * M)],
      // Six good hours after the second break: 13:00-16:00 on Wednesday and 08:00-11:00 on Thursday.
      [2, 'resolved', isoAt(FIXED + D + 3 * H + 10 * M)],
    ]);
    // The second break's cost adds to the same episode.
    expect(out[1]?.impact_usd).toBeGreaterThan(60);
  });

  it('opens a second episode after a recovery as long as cool_down_hours', () => {
    const { out } = runDetector(cacheEfficiencyDrop, cfg({ cool_down_hours: 2 }), stream({ days: 12, broken: dip }));
    expect(out.map((a) => [a.version, a.status, a.detected_at])).toEqual([
      [1, 'open', isoAt(BREAK + 2 * H + 10 * M)],
      [2, 'resolved', isoAt(FIXED + 2 * H + 10 * M)],
      [1, 'open', isoAt(FIXED + 5 * H + 10 * M)],
      [2, 'resolved', isoAt(FIXED + 7 * H + 10 * M)],
    ]);
    expect(new Set(out.map((a) => a.id)).size).toBe(2);
  });
});

/** A nightly batch job (02:00 Berlin, every day) that never caches much: ~19% of its input are cache reads. */
function nightlyJob(days: number): UsageEvent[] {
  const out: UsageEvent[] = [];
  for (let d = 0; d < days; d++) {
    for (let i = 0; i < 12; i++) {
      const at = T0 + d * D + 1 * H + i * 4 * M;
      out.push(
        usageEvent({
          event_id: `n${d}-${i}`,
          occurred_at: new Date(at).toISOString(),
          developer: 'payments-reconciler',
          developer_email: undefined,
          session_id: undefined,
          input_tokens: 60_000,
          cache_read_tokens: 14_000,
          cache_write_tokens: 0,
          output_tokens: 2_000,
          cost_usd: 5e-6 * (60_000 + 0.1 * 14_000 + 5 * 2_000),
        }),
      );
    }
  }
  return out;
}

const byTime = (a: UsageEvent, b: UsageEvent): number => (a.occurred_at < b.occurred_at ? -1 : a.occurred_at > b.occurred_at ? 1 : 0);

describe('cache_efficiency_drop and planned changes', () => {
  // Caching breaks on Friday 13 Nov at 15:00 UTC, the last hour of the week (~$13.5, under the
  // gate); Monday 16 Nov is a planned proxy migration, and its first hour passes the gate.
  const friday = T0 + 11 * D + 15 * H;
  const tuesday = T0 + 15 * D + 8 * H;

  it('a run that started before a planned change and crosses the gate inside it stays at info', () => {
    const planned: [string, string, string, string][] = [['payments', '2026-11-16', '2026-11-16', 'proxy migration']];
    const { out } = runDetector(cacheEfficiencyDrop, cfg({}, planned), stream({ days: 17, broken: (at) => at >= friday && at < tuesday }));
    expect(out.map((a) => [a.severity, a.status])).toEqual([
      ['info', 'open'],
      ['info', 'resolved'],
    ]);
    // The change's note explains it; the window still starts at Friday's break.
    expect(out[0]?.advice).toContain('Planned change: proxy migration.');
    expect(out[0]?.window.start).toBe(isoAt(friday));
    // Not listed, the same break pages.
    expect(
      runDetector(cacheEfficiencyDrop, cfg(), stream({ days: 17, broken: (at) => at >= friday && at < tuesday })).out[0]?.severity,
    ).toBe('warning');
  });

  it('hours of a planned change teach the baseline nothing: a break kept past it pages after the settling day', () => {
    const planned: [string, string, string, string][] = [['payments', '2026-11-09', '2026-11-13', 'proxy migration']];
    const { out } = runDetector(cacheEfficiencyDrop, cfg({}, planned), stream({ days: 18, broken: (at) => at >= T0 + 7 * D }));
    const paged = out.filter((a) => a.severity !== 'info');
    expect(out.filter((a) => a.detected_at < '2026-11-17').every((a) => a.severity === 'info')).toBe(true);
    expect(paged[0]?.detected_at.slice(0, 10)).toBe('2026-11-17');
    // Judged against the share before the change (97%), dented only by the settling day, not by
    // the broken week.
    expect(paged[0]?.expected.value).toBeGreaterThan(60);
  });
});

describe('cache_efficiency_drop (team scope)', () => {
  it('judges each hour of the day against that hour: a nightly job that never caches is not a drop', () => {
    const events = [...stream({ days: 14 }), ...nightlyJob(14)].sort(byTime);
    expect(runDetector(overEvents(teamCacheEfficiencyDrop), cfg(), events).out).toEqual([]);
    // The job alone, as a developer key, is its own steady baseline too.
    expect(runDetector(cacheEfficiencyDrop, cfg(), events).out).toEqual([]);
  });

  it('still catches a daytime break next to the nightly job', () => {
    const events = [
      ...stream({ days: 14, developers: ['alice@acme.com', 'bob@acme.com'], broken: (at) => at >= BREAK && at < FIXED }),
      ...nightlyJob(14),
    ].sort(byTime);
    const { out } = runDetector(overEvents(teamCacheEfficiencyDrop), cfg(), events);
    expect(out.map((a) => [a.subject, a.severity, a.status])).toEqual([
      [{ org: 'acme', team: 'payments' }, 'warning', 'open'],
      [{ org: 'acme', team: 'payments' }, 'warning', 'resolved'],
    ]);
  });

  describe('warm-up per local hour × day type', () => {
    // Thursday 5 and Friday 6 Nov are holidays: with the weekend, four days off in the first week.
    const holidays = testEnv(SETTINGS, { calendar: { ...DEFAULT_CALENDAR, holidays: ['2026-11-05', '2026-11-06'] } });
    const sunday = (week: number) => (at: number) => at >= T0 + (6 + 7 * week) * D && at < T0 + (7 + 7 * week) * D;
    const team = (broken: (at: number) => boolean) =>
      stream({ days: 16, developers: ['alice@acme.com', 'bob@acme.com'], weekends: true, broken });

    it('does not judge the first weekend of a team, however many days off it had', () => {
      expect(runDetector(overEvents(teamCacheEfficiencyDrop), holidays, team(sunday(0))).out).toEqual([]);
    });

    it('judges days off once their hours have values from min_season_weeks weeks', () => {
      const second = runDetector(overEvents(teamCacheEfficiencyDrop), holidays, team(sunday(1))).out;
      // Sunday 15 Nov: Saturday 14 Nov brought each of its hours a second week.
      expect(second.map((a) => [a.version, a.status, a.window.start])).toEqual([
        [1, 'open', isoAt(T0 + 13 * D + 8 * H)],
        [2, 'open', isoAt(T0 + 13 * D + 8 * H)],
        [3, 'resolved', isoAt(T0 + 13 * D + 8 * H)],
      ]);
      const oneWeek = testEnv(
        { ...SETTINGS, min_season_weeks: 1 },
        { calendar: { ...DEFAULT_CALENDAR, holidays: ['2026-11-05', '2026-11-06'] } },
      );
      expect(runDetector(overEvents(teamCacheEfficiencyDrop), oneWeek, team(sunday(0))).out[0]?.window.start).toBe(
        isoAt(T0 + 6 * D + 8 * H),
      );
    });
  });

  it('fires for the team from hour buckets', () => {
    const devs = ['alice@acme.com', 'bob@acme.com'];
    const events = stream({ days: 12, developers: devs, broken: (at) => at >= BREAK && at < FIXED });
    const { out } = runDetector(overEvents(teamCacheEfficiencyDrop), cfg(), events);
    expect(out.map((a) => [a.subject, a.status, a.detected_at])).toEqual([
      // Two developers lose $27 in the first broken hour: over the gate when 13:00 closes.
      [{ org: 'acme', team: 'payments' }, 'open', isoAt(BREAK + H + 10 * M)],
      [{ org: 'acme', team: 'payments' }, 'resolved', isoAt(FIXED + 6 * H + 10 * M)],
    ]);
  });
});
