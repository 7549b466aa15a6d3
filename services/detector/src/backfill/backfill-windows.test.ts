import { describe, expect, it } from 'vitest';
import type { BackfillWindow } from '@burnrate/schemas';
import { BackfillWindows, MAX_WINDOWS_PER_ORG, type WindowTiming } from './backfill-windows.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse('2026-10-01T00:00:00Z');
const timing: WindowTiming = { quietMs: 30_000, maxWaitMs: 600_000, mergeGapMs: 14 * DAY };

/** A message for late events from `fromH` to `toH` hours after T0, its last event named `last`. */
function span(fromH: number, toH: number, o: Partial<BackfillWindow> & { last?: string } = {}): BackfillWindow {
  const { last = `e-${toH}`, ...rest } = o;
  return {
    org: 'acme',
    from: new Date(T0 + fromH * HOUR).toISOString(),
    to: new Date(T0 + toH * HOUR).toISOString(),
    events: 10,
    source: 'usage.events.v1:0',
    last_event: { event_id: last, occurred_at: new Date(T0 + toH * HOUR).toISOString() },
    watermark: '2026-11-28T00:00:00.000Z',
    ...rest,
  };
}

const at = (offset: number, partition = 0) => ({ partition, offset: BigInt(offset) });

describe('BackfillWindows', () => {
  it('merges the spans of an org that overlap or lie closer than the merge gap, and keeps the rest apart', () => {
    const windows = new BackfillWindows();
    windows.add(span(0, 24), at(0), 0, timing);
    windows.add(span(12, 48), at(1), 0, timing);
    // 10 days after the first window ends: within the 14-day warmup, so one replay covers both.
    windows.add(span(48 + 240, 48 + 250), at(2), 0, timing);
    // 60 days later: a window of its own.
    windows.add(span(60 * 24, 61 * 24), at(3), 0, timing);
    windows.add(span(0, 1, { org: 'globex' }), at(4), 0, timing);
    expect(windows.pending()).toBe(3);

    const first = windows.take(timing.quietMs, timing);
    expect(first).toMatchObject({ org: 'acme', from: T0, to: T0 + 298 * HOUR, events: 30 });
    expect(windows.take(timing.quietMs, timing)).toMatchObject({ org: 'acme', from: T0 + 60 * DAY, events: 10 });
    expect(windows.take(timing.quietMs, timing)).toMatchObject({ org: 'globex', events: 10 });
    expect(windows.take(timing.quietMs, timing)).toBeUndefined();
  });

  it('is due once its messages stopped for the quiet period, or after max_wait while they keep coming', () => {
    const windows = new BackfillWindows();
    windows.add(span(0, 1), at(0), 0, timing);
    windows.add(span(1, 2), at(1), 20_000, timing);
    expect(windows.take(49_999, timing)).toBeUndefined();
    expect(windows.take(50_000, timing)).toMatchObject({ events: 20, firstAt: 0, lastAt: 20_000 });

    // A steady trickle, a message every 10 s: never quiet, judged max_wait after its first message.
    const trickle = new BackfillWindows();
    for (let t = 0; t < 600_000; t += 10_000) {
      trickle.add(span(0, 1), at(t / 10_000), t, timing);
      expect(trickle.take(t, timing)).toBeUndefined();
    }
    expect(trickle.take(600_000, timing)).toMatchObject({ events: 600 });
  });

  it('holds commits at the earliest offset still waiting, while pending and while judged', () => {
    const windows = new BackfillWindows();
    windows.add(span(0, 1), at(7), 0, timing);
    windows.add(span(0, 2), at(9), 0, timing);
    windows.add(span(0, 1, { org: 'globex' }), at(3, 1), 0, timing);
    expect(windows.earliestOffset(0)).toBe(7n);
    expect(windows.earliestOffset(1)).toBe(3n);
    expect(windows.earliestOffset(2)).toBeUndefined();

    const judged = windows.take(timing.quietMs, timing);
    expect(judged?.org).toBe('acme');
    expect(windows.earliestOffset(0)).toBe(7n);
    windows.done(judged as NonNullable<typeof judged>);
    expect(windows.earliestOffset(0)).toBeUndefined();
    expect(windows.earliestOffset(1)).toBe(3n);
  });

  it('puts back a window that must wait, merged with what came meanwhile, not due before its time', () => {
    const windows = new BackfillWindows();
    windows.add(span(0, 1), at(0), 0, timing);
    const w = windows.take(30_000, timing);
    if (w === undefined) throw new Error('expected a window');
    // Judging: more late events of the same span are a window of their own.
    windows.add(span(0, 3), at(1), 31_000, timing);
    expect(windows.pending()).toBe(1);
    windows.retry(w, 40_000, timing);
    expect(windows.pending()).toBe(1);
    expect(windows.take(39_999, timing)).toBeUndefined();
    // Quiet since 31 s is not enough: the message that came at 31 s waits its own quiet period.
    expect(windows.take(60_999, timing)).toBeUndefined();
    expect(windows.take(61_000, timing)).toMatchObject({ events: 20, to: T0 + 3 * HOUR, attempts: 1, notBefore: 40_000 });
  });

  it('keeps the latest witness of each stage-A partition, whatever order windows merge in', () => {
    const windows = new BackfillWindows();
    windows.add(span(100, 101, { last: 'p0-late' }), at(5), 0, timing);
    windows.add(span(0, 1, { last: 'p0-early' }), at(2), 0, timing);
    windows.add(span(50, 51, { last: 'p3', source: 'usage.events.v1:3' }), at(3), 0, timing);
    const w = windows.take(timing.quietMs, timing);
    expect(Object.fromEntries([...(w?.witnesses ?? [])].map(([source, witness]) => [source, witness.event_id]))).toEqual({
      'usage.events.v1:0': 'p0-late',
      'usage.events.v1:3': 'p3',
    });
  });

  it('keeps at most MAX_WINDOWS_PER_ORG windows of an org, merging the closest', () => {
    const windows = new BackfillWindows();
    const apart = { ...timing, mergeGapMs: 0 };
    // Windows a month apart, but the 6th and 7th only two days apart.
    for (let i = 0; i <= MAX_WINDOWS_PER_ORG; i++) {
      const startDay = i * 30 - (i >= 6 ? 28 : 0);
      windows.add(span(startDay * 24, startDay * 24 + 1), at(i), 0, apart);
    }
    expect(windows.pending()).toBe(MAX_WINDOWS_PER_ORG);
    const taken = [];
    for (let w = windows.take(timing.quietMs, apart); w !== undefined; w = windows.take(timing.quietMs, apart)) taken.push(w);
    expect(taken.reduce((sum, w) => sum + w.events, 0)).toBe(10 * (MAX_WINDOWS_PER_ORG + 1));
    expect(taken.filter((w) => w.events === 20).map((w) => [w.from, w.to])).toEqual([[T0 + 150 * DAY, T0 + 152 * DAY + HOUR]]);
  });
});
