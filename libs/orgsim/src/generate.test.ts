import { safeParseUsageEvent } from '@burnrate/schemas';
import { describe, expect, it } from 'vitest';
import { offsetMs, shiftDay, zonedInstant } from './clock.ts';
import { generateOrgsim } from './generate.ts';

const WEEKS = 4;
const a = generateOrgsim({ seed: 11, weeks: WEEKS });
const again = generateOrgsim({ seed: 11, weeks: WEEKS });
const b = generateOrgsim({ seed: 12, weeks: WEEKS });

function localParts(ms: number, zone: string): { weekday: number; minutes: number; day: string } {
  const local = new Date(ms + offsetMs(ms, zone));
  return { weekday: local.getUTCDay(), minutes: local.getUTCHours() * 60 + local.getUTCMinutes(), day: local.toISOString().slice(0, 10) };
}

describe('generateOrgsim', () => {
  it('gives the same events, config and labels for the same seed, and another organisation for another seed', () => {
    expect(again.events).toEqual(a.events);
    expect(again.configYaml).toBe(a.configYaml);
    expect(again.labels).toEqual(a.labels);
    expect(b.labels.incidents.map((i) => i.story_start)).not.toEqual(a.labels.incidents.map((i) => i.story_start));
    expect(b.events.length).not.toBe(a.events.length);
  });

  it('writes valid, priced, time-ordered UsageEvents with unique ids', () => {
    const ids = new Set<string>();
    const invalid: string[] = [];
    const outOfOrder: string[] = [];
    let last = '';
    for (const e of a.events) {
      if (!safeParseUsageEvent(e).success) invalid.push(e.event_id);
      if (e.occurred_at < last) outOfOrder.push(e.event_id);
      last = e.occurred_at;
      ids.add(e.event_id);
    }
    expect(invalid).toEqual([]);
    expect(outOfOrder).toEqual([]);
    expect(ids.size).toBe(a.events.length);
    expect(a.events.every((e) => e.cost_usd > 0)).toBe(true);
  });

  it('draws a US and an Asian team, a heavy Opus team, a gateway stream without prompt ids and default thresholds', () => {
    const zones = a.org.teams.map((t) => t.zone);
    expect(zones.some((z) => z.startsWith('America/'))).toBe(true);
    expect(zones.some((z) => z.startsWith('Asia/'))).toBe(true);
    const heavy = a.org.teams.find((t) => t.role === 'heavy');
    const heavySessions = a.events.filter((e) => e.team === heavy?.id && e.tool === 'claude_code');
    expect(heavySessions.length).toBeGreaterThan(0);
    expect(heavySessions.every((e) => e.model.startsWith('claude-opus'))).toBe(true);
    const gateway = a.events.filter((e) => e.source === 'gateway');
    expect(gateway.length).toBeGreaterThan(0);
    expect(gateway.every((e) => e.prompt_id === undefined)).toBe(true);
    expect(a.config.detectors.overrides).toEqual([]);
    expect(a.config.teams.map((t) => t.id).sort()).toEqual(a.labels.teams.slice().sort());
  });

  it('places every incident in the last three weeks, at a seed-dependent time', () => {
    const storyFrom = Date.parse(a.labels.period.to) - 3 * 7 * 86_400_000 - 86_400_000;
    for (const labels of [a.labels, b.labels]) {
      for (const i of labels.incidents) {
        expect(Date.parse(i.story_start)).toBeGreaterThan(storyFrom);
        expect(Date.parse(i.end)).toBeLessThanOrEqual(Date.parse(labels.period.to));
        expect(Date.parse(i.start)).toBeGreaterThanOrEqual(Date.parse(i.story_start));
      }
    }
    expect(a.labels.incidents.map((i) => i.id)).toEqual([
      'cache-break/cache_efficiency_drop',
      'weekend-loop/runaway_session',
      'weekend-loop/session_cost',
      'gateway-runaway/runaway_session',
    ]);
  });

  it('starts the weekend loop on a Friday evening in its team’s zone and sets its deadline to Saturday 00:00 there', () => {
    for (const s of [a, b]) {
      const loop = s.labels.incidents.find((i) => i.id === 'weekend-loop/session_cost');
      const deadline = s.labels.deadlines[0];
      if (loop === undefined || deadline === undefined) throw new Error('no weekend loop label');
      const start = localParts(Date.parse(loop.story_start), deadline.zone);
      expect(start.weekday).toBe(5);
      expect(start.minutes).toBeGreaterThanOrEqual(17 * 60);
      expect(deadline.critical_by).toBe(new Date(zonedInstant(shiftDay(start.day, 1), 0, deadline.zone)).toISOString());
      const calls = s.events.filter((e) => e.session_id === loop.subject.session);
      expect(new Set(calls.map((e) => e.prompt_id)).size).toBe(1);
      expect(localParts(Date.parse(calls.at(-1)?.occurred_at ?? ''), deadline.zone).weekday).toBe(1);
    }
  });

  it('collapses the cache read share of the broken team inside the window only', () => {
    const label = a.labels.incidents.find((i) => i.kind === 'cache_efficiency_drop');
    if (label === undefined) throw new Error('no cache break label');
    const from = Date.parse(label.start);
    const to = Date.parse(label.end);
    const share = (inWindow: boolean): number => {
      let read = 0;
      let input = 0;
      for (const e of a.events) {
        if (e.team !== label.subject.team || e.tool !== 'claude_code') continue;
        const t = Date.parse(e.occurred_at);
        if (t >= from && t < to && e.session_id !== a.labels.deadlines[0]?.subject.session) {
          if (!inWindow) continue;
        } else if (inWindow) continue;
        read += e.cache_read_tokens;
        input += e.input_tokens + e.cache_read_tokens + e.cache_write_tokens;
      }
      return read / input;
    };
    expect(share(false)).toBeGreaterThan(0.6);
    expect(share(true)).toBe(0);
  });

  it('lists the provider migration in planned_changes and labels it and the known batch job as decoys', () => {
    const planned = a.config.detectors.planned_changes[0];
    const decoy = a.labels.decoys.find((d) => d.id === 'planned-migration');
    expect(planned?.team).toBe(decoy?.subject.team);
    const team = a.org.teams.find((t) => t.id === planned?.team);
    if (planned === undefined || decoy === undefined || team === undefined) throw new Error('no migration');
    expect(decoy.from).toBe(new Date(zonedInstant(planned.from, 0, team.zone)).toISOString());
    const before = a.events.filter(
      (e) => e.team === team.id && Date.parse(e.occurred_at) < Date.parse(decoy.from) && e.developer_email !== undefined,
    );
    const after = a.events.filter(
      (e) => e.team === team.id && Date.parse(e.occurred_at) > Date.parse(decoy.to) && e.developer_email !== undefined,
    );
    expect(before.every((e) => e.provider === 'anthropic')).toBe(true);
    expect(after.every((e) => e.provider === 'openai')).toBe(true);
    const job = a.org.batchJob;
    expect(a.labels.decoys.find((d) => d.id === 'known-batch-job')?.subject).toEqual({
      org: a.org.org,
      team: job.team,
      developer: job.keyName,
    });
    expect(a.events.filter((e) => e.api_key_id === job.keyId).every((e) => e.is_batch)).toBe(true);
  });

  it('refuses a start that is not a Monday and too few weeks', () => {
    expect(() => generateOrgsim({ start: '2026-02-24' })).toThrow(/Monday/);
    expect(() => generateOrgsim({ weeks: 3 })).toThrow(/at least 4/);
  });
});
