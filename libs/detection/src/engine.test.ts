import type { Anomaly, UsageEvent } from '@burnrate/schemas';
import { describe, expect, it } from 'vitest';
import type { Detector } from './detector.ts';
import { createDetectionEngine, type DETECTORS, type DetectorConfigs, type EngineOptions, type EngineSnapshot } from './engine.ts';
import { sessionCost } from './session-cost.ts';
import { at, usageEvent } from './test-events.ts';

const T0 = '2026-11-25T10:00:00.000Z';

const configs: DetectorConfigs = {
  session_cost: {
    thresholdsFor: () => ({ warning_usd: 25, critical_usd: 100 }),
    timeZoneFor: () => 'Europe/Berlin',
  },
};

const engine = (options: Omit<EngineOptions<typeof DETECTORS>, 'detectors'> = {}) => createDetectionEngine(() => configs, options);

/** A busy mixed stream: 3 developers, 6 sessions, some events without a session, over 5 hours. */
function stream(): UsageEvent[] {
  return Array.from({ length: 300 }, (_, i) => {
    const dev = ['alice', 'bob', 'carol'][i % 3] as string;
    return usageEvent({
      event_id: `evt-${i}`,
      occurred_at: at(T0, i),
      developer: `${dev}@acme.com`,
      developer_email: `${dev}@acme.com`,
      session_id: i % 10 === 9 ? undefined : `sess-${dev}-${Math.floor(i / 150)}`,
      cost_usd: 0.35 + (i % 11) * 0.21,
    });
  });
}

function processAll(e: ReturnType<typeof engine>, evs: readonly UsageEvent[]): Anomaly[] {
  return evs.flatMap((ev) => e.process(ev).anomalies);
}

describe('createDetectionEngine', () => {
  it('runs session_cost over events', () => {
    const out = processAll(engine(), stream());
    expect(out.map((a) => `${a.subject.session}:${a.version}:${a.severity}`).sort()).toEqual([
      'sess-alice-0:1:warning',
      'sess-alice-1:1:warning',
      'sess-bob-0:1:warning',
      'sess-bob-1:1:warning',
      'sess-carol-0:1:warning',
      'sess-carol-1:1:warning',
    ]);
  });

  it('gives the same output after a snapshot, a JSON round trip and a restore mid-stream', () => {
    const evs = stream().concat(
      // Push one session over the critical cap after the cut, so a version 2 depends on restored state.
      Array.from({ length: 10 }, (_, i) =>
        usageEvent({ event_id: `big-${i}`, occurred_at: at(T0, 300 + i), session_id: 'sess-alice-1', cost_usd: 12 }),
      ),
    );
    const uninterrupted = processAll(engine(), evs);
    expect(uninterrupted.some((a) => a.severity === 'critical' && a.version === 2)).toBe(true);

    for (const cut of [1, 77, 151, 299, 305]) {
      const first = engine();
      const before = processAll(first, evs.slice(0, cut));
      const saved = JSON.stringify(first.snapshot());
      const second = engine();
      second.restore(JSON.parse(saved) as EngineSnapshot);
      const after = processAll(second, evs.slice(cut));
      expect([...before, ...after]).toEqual(uninterrupted);
    }
  });

  it('keeps state that survives a JSON round trip exactly', () => {
    const e = engine();
    processAll(e, stream());
    const snap = e.snapshot();
    expect(JSON.parse(JSON.stringify(snap))).toStrictEqual(snap);
  });

  it('returns snapshots that later events do not change', () => {
    const e = engine();
    const evs = stream();
    processAll(e, evs.slice(0, 100));
    const snap = e.snapshot();
    const text = JSON.stringify(snap);
    processAll(e, evs.slice(100));
    expect(JSON.stringify(snap)).toBe(text);
  });

  describe('duplicate event ids', () => {
    it('ignores a redelivered event so its cost counts once', () => {
      const e = engine();
      const first = usageEvent({ event_id: 'dup-1', occurred_at: T0, cost_usd: 20 });
      expect(e.process(first)).toEqual({ anomalies: [], duplicate: false });
      expect(e.process(first)).toEqual({ anomalies: [], duplicate: true });
      expect(e.process({ ...first, occurred_at: at(T0, 1) })).toMatchObject({ duplicate: true });
      const next = e.process(usageEvent({ event_id: 'dup-2', occurred_at: at(T0, 2), cost_usd: 6 }));
      expect(next.anomalies.map((a) => a.observed.value)).toEqual([26]);
    });

    it('remembers ids per org:developer, so another developer with the same id is not a duplicate', () => {
      const e = engine();
      e.process(usageEvent({ event_id: 'same', occurred_at: T0 }));
      expect(e.process(usageEvent({ event_id: 'same', occurred_at: T0, developer: 'bob@acme.com' })).duplicate).toBe(false);
    });

    it('remembers the last dedupeCapacity ids per key and no more', () => {
      const e = engine({ dedupeCapacity: 3 });
      for (const id of ['a', 'b', 'c', 'd']) e.process(usageEvent({ event_id: id, occurred_at: T0, cost_usd: 0 }));
      expect(e.process(usageEvent({ event_id: 'b', occurred_at: T0, cost_usd: 0 })).duplicate).toBe(true);
      // 'a' fell out of the ring when 'd' came in.
      expect(e.process(usageEvent({ event_id: 'a', occurred_at: T0, cost_usd: 0 })).duplicate).toBe(false);
    });

    it('still recognises duplicates after a restore', () => {
      const e = engine();
      const ev = usageEvent({ event_id: 'dup-r', occurred_at: T0, cost_usd: 20 });
      e.process(ev);
      const restored = engine();
      restored.restore(JSON.parse(JSON.stringify(e.snapshot())) as EngineSnapshot);
      expect(restored.process(ev).duplicate).toBe(true);
    });
  });

  describe('eviction', () => {
    it('forgets sessions and dedupe keys idle beyond the horizon as event time advances', () => {
      const e = engine({ idleHorizonMs: 24 * 3_600_000, sweepEveryMs: 15 * 60_000 });
      e.process(usageEvent({ event_id: 'old', occurred_at: T0, session_id: 'idle', cost_usd: 20 }));
      e.process(usageEvent({ event_id: 'b-1', occurred_at: at(T0, 60), developer: 'bob@acme.com', session_id: 'live', cost_usd: 1 }));
      expect(e.stats().keys).toEqual({ session_cost: 2 });

      // 23h later: nobody is idle for 24h yet.
      e.process(usageEvent({ event_id: 'b-2', occurred_at: at(T0, 23 * 60), developer: 'bob@acme.com', session_id: 'live', cost_usd: 1 }));
      expect(e.stats()).toMatchObject({ keys: { session_cost: 2 }, dedupeKeys: 2 });

      // 24h 30m after the idle session's only event, the next sweep drops it and alice's ids.
      e.process(
        usageEvent({ event_id: 'b-3', occurred_at: at(T0, 24 * 60 + 30), developer: 'bob@acme.com', session_id: 'live', cost_usd: 1 }),
      );
      expect(e.stats()).toMatchObject({ keys: { session_cost: 1 }, dedupeKeys: 1 });

      // The idle session starts over: its earlier $20 is gone, so $10 more does not warn.
      const out = e.process(usageEvent({ event_id: 'new', occurred_at: at(T0, 24 * 60 + 31), session_id: 'idle', cost_usd: 10 }));
      expect(out.anomalies).toEqual([]);
    });

    it('sweeps only once per sweepEveryMs of event time', () => {
      let evictCalls = 0;
      const counting: Detector<{ n: number }, null> = {
        kind: 'spend_spike',
        initialState: () => ({ n: 0 }),
        step: (state) => ({ state: { n: state.n + 1 }, anomalies: [] }),
        evict: (state) => {
          evictCalls += 1;
          return state;
        },
        size: () => 0,
      };
      const e = createDetectionEngine(() => ({ counting: null }), { detectors: { counting }, sweepEveryMs: 15 * 60_000 });
      for (let minute = 0; minute < 120; minute++) e.process(usageEvent({ event_id: `m${minute}`, occurred_at: at(T0, minute) }));
      expect(evictCalls).toBe(7); // at minutes 15, 30, … 105
      expect(e.snapshot().detectors).toEqual({ counting: { n: 120 } });
    });

    it('does not let an event from a clock far in the future evict everyone', () => {
      const e = engine();
      e.process(usageEvent({ event_id: 'now', occurred_at: T0, session_id: 'live', cost_usd: 1 }));
      e.process(usageEvent({ event_id: 'future', occurred_at: '2099-01-01T00:00:00Z', ingested_at: at(T0, 1), session_id: 'x' }));
      expect(e.stats().watermark).toBe(at(T0, 6));
      expect(e.stats().keys).toEqual({ session_cost: 2 });
    });
  });

  describe('restore', () => {
    it('rejects a snapshot of an unknown format, naming it', () => {
      expect(() => engine().restore({ format: 2 } as unknown as EngineSnapshot)).toThrow(/format 2 is not supported/);
    });

    it('starts a detector missing from the snapshot from its initial state and drops unknown ones', () => {
      const counter: Detector<{ n: number }, null> = {
        kind: 'new_spender',
        initialState: () => ({ n: 0 }),
        step: (state) => ({ state: { n: state.n + 1 }, anomalies: [] }),
        evict: (state) => state,
        size: () => 0,
      };
      const old = engine();
      old.process(usageEvent({ event_id: 'x', occurred_at: T0 }));
      const grown = createDetectionEngine(() => ({ ...configs, counter: null }), { detectors: { session_cost: sessionCost, counter } });
      grown.restore(JSON.parse(JSON.stringify(old.snapshot())) as EngineSnapshot);
      grown.process(usageEvent({ event_id: 'y', occurred_at: at(T0, 1) }));
      expect(grown.snapshot().detectors.counter).toEqual({ n: 1 });
      expect(grown.stats().keys).toEqual({ session_cost: 1, counter: 0 });

      const shrunk = createDetectionEngine(() => ({ counter: null }), { detectors: { counter } });
      shrunk.restore(grown.snapshot());
      expect(Object.keys(shrunk.snapshot().detectors)).toEqual(['counter']);
    });
  });
});
