import type { BatchContext, ConsumedMessage, OutgoingMessage, Producer } from '@burnrate/bus';
import { BurnrateError, createLogger, fixedClock, parseConfig, fixedConfig } from '@burnrate/core';
import { Anomaly, BackfillWindow, type UsageEvent, UsageRollup } from '@burnrate/schemas';
import { describe, expect, it, vi } from 'vitest';
import { createDetector, type DetectorService } from './detector.ts';
import { decodeSnapshot } from './snapshot-codec.ts';
import { createMemorySnapshotStore, type SnapshotStore } from './snapshots.ts';
import { usageEvent, waitUntil } from '@burnrate/testing';

const TOPIC = 'usage.events.v1';
const T0 = Date.parse('2026-11-25T10:00:00Z');

const config = parseConfig(`
org: acme
teams:
  - id: payments
    timezone: Europe/Berlin
    members: [alice@acme.com]
  - id: research
    members: [rita@acme.com]
detectors:
  overrides:
    - match: { team: research }
      session_cost: { warning_usd: 100, critical_usd: 400 }
`);

const silent = createLogger({ level: 'silent' });

function event(i: number, cost: number, o: Partial<UsageEvent> = {}): UsageEvent {
  const occurred = new Date(T0 + i * 60_000).toISOString();
  return usageEvent({
    event_id: `evt-${i}`,
    occurred_at: occurred,
    ingested_at: occurred,
    session_id: 'sess-alice',
    model: 'claude-opus-4-5',
    input_tokens: 1000,
    output_tokens: 100,
    cache_read_tokens: 0,
    cache_write_tokens: 0,
    cost_usd: cost,
    ...o,
  });
}

function messages(values: readonly (UsageEvent | string)[], firstOffset = 0, partition = 0): ConsumedMessage[] {
  return values.map((v, i) => ({
    topic: TOPIC,
    partition,
    offset: String(firstOffset + i),
    key: 'acme:alice@acme.com',
    value: typeof v === 'string' ? v : JSON.stringify(v),
    headers: {},
    timestamp: T0,
  }));
}

interface Harness {
  ops: string[];
  /** Messages on anomalies.v1. */
  sent: OutgoingMessage[];
  /** Messages on usage.rollups.v1. */
  rollups: OutgoingMessage[];
  /** Messages on usage.backfill.v1. */
  backfill: OutgoingMessage[];
  producer: Producer & { failNext: number };
  ctx: BatchContext;
}

function harness(): Harness {
  const ops: string[] = [];
  const sent: OutgoingMessage[] = [];
  const rollups: OutgoingMessage[] = [];
  const backfill: OutgoingMessage[] = [];
  const producer = {
    failNext: 0,
    send(topic: string, batch: readonly OutgoingMessage[]) {
      if (producer.failNext > 0) {
        producer.failNext -= 1;
        return Promise.reject(new Error('broker unavailable'));
      }
      if (topic === 'usage.rollups.v1') {
        rollups.push(...batch);
        ops.push(`rollups ${batch.length}`);
        return Promise.resolve();
      }
      if (topic === 'usage.backfill.v1') {
        backfill.push(...batch);
        return Promise.resolve();
      }
      expect(topic).toBe('anomalies.v1');
      sent.push(...batch);
      ops.push(`send ${batch.length}`);
      return Promise.resolve();
    },
  };
  const ctx: BatchContext = {
    commit: (offset) => {
      ops.push(`commit ${offset}`);
      return Promise.resolve();
    },
    signal: new AbortController().signal,
  };
  return { ops, sent, rollups, backfill, producer, ctx };
}

/** Records saves into the harness' op log, around an in-memory store. */
function recorded(store: SnapshotStore, ops: string[]): SnapshotStore {
  return {
    load: (key) => store.load(key),
    async save(s) {
      await store.save(s);
      ops.push(`save ${s.key} ${s.offset}`);
    },
  };
}

async function feed(detector: DetectorService, msgs: readonly ConsumedMessage[], ctx: BatchContext, batchSize = msgs.length) {
  for (let i = 0; i < msgs.length; i += batchSize) {
    const slice = msgs.slice(i, i + batchSize);
    await detector.subscribeOptions.handleBatch(
      { topic: TOPIC, partition: slice[0]?.partition ?? 0, messages: slice, highWatermark: '0' },
      ctx,
    );
  }
  // A batch's output, snapshot and commit finish after it returns; the fakes answer at once.
  await new Promise((resolve) => setImmediate(resolve));
}

const published = (sent: readonly OutgoingMessage[]) =>
  sent.map((m) => {
    const a = Anomaly.parse(JSON.parse(m.value));
    expect(m.key).toBe(a.id);
    return a;
  });

// Crosses $25 at the third event and $100 at the fifth.
const CROSSING = [event(0, 10), event(1, 10), event(2, 10), event(3, 50), event(4, 30), event(5, 5)];

describe('createDetector', () => {
  it('subscribes to usage events as burnrate-detector with manual commits', () => {
    const d = createDetector({
      config: fixedConfig(config),
      producer: harness().producer,
      snapshots: createMemorySnapshotStore(),
      log: silent,
    });
    expect(d.subscribeOptions).toMatchObject({ groupId: 'burnrate-detector', topics: ['usage.events.v1'], autoCommit: false });
  });

  it('publishes version 1 warning then version 2 critical for a session crossing $25 then $100', async () => {
    const h = harness();
    const d = createDetector({ config: fixedConfig(config), producer: h.producer, snapshots: createMemorySnapshotStore(), log: silent });
    await feed(d, messages(CROSSING), h.ctx);
    const out = published(h.sent);
    expect(out.map((a) => [a.version, a.severity, a.observed.value, a.subject.team])).toEqual([
      [1, 'warning', 30, 'payments'],
      [2, 'critical', 110, 'payments'],
    ]);
    expect(out[1]?.id).toBe(out[0]?.id);
    expect(d.stats()).toMatchObject({ processed: 6, published: 2, invalid: 0 });
  });

  it('applies team overrides from the config', async () => {
    const h = harness();
    const d = createDetector({ config: fixedConfig(config), producer: h.producer, snapshots: createMemorySnapshotStore(), log: silent });
    const rita = { developer: 'rita@acme.com', developer_email: 'rita@acme.com', team: 'research', session_id: 'sess-rita' };
    await feed(d, messages([event(0, 60, rita), event(1, 60, rita)]), h.ctx);
    expect(published(h.sent).map((a) => [a.severity, a.expected.value])).toEqual([['warning', 100]]);
  });

  it('logs and counts invalid messages and goes on', async () => {
    const h = harness();
    const lines: string[] = [];
    const log = createLogger({ level: 'warn', destination: { write: (s: string) => void lines.push(s) } });
    const d = createDetector({ config: fixedConfig(config), producer: h.producer, snapshots: createMemorySnapshotStore(), log });
    const bad = JSON.stringify({ ...event(1, 1), cost_usd: -3 });
    await feed(d, messages(['{not json', bad, event(2, 30)]), h.ctx);
    expect(d.stats()).toMatchObject({ invalid: 2, processed: 1, published: 1 });
    const logged = lines.map((l) => JSON.parse(l) as { msg: string; offset: string; issues?: string[] });
    expect(logged.map((l) => [l.msg, l.offset])).toEqual([
      ['usage event is not JSON; skipped', '0'],
      ['usage event failed validation; skipped', '1'],
    ]);
    expect(logged[1]?.issues?.[0]).toMatch(/^cost_usd: /);
  });

  it('counts late events and logs them once per batch with the allowed lateness', async () => {
    const h = harness();
    const lines: string[] = [];
    const log = createLogger({ level: 'warn', destination: { write: (s: string) => void lines.push(s) } });
    const d = createDetector({ config: fixedConfig(config), producer: h.producer, snapshots: createMemorySnapshotStore(), log });
    // Default lateness is 10 min: events 0 and 1 arrive after event 30.
    await feed(d, messages([event(30, 1), event(0, 1), event(1, 1), event(25, 1)]), h.ctx);
    expect(d.stats()).toMatchObject({ processed: 4, late: 2 });
    const logged = lines.map(
      (l) => JSON.parse(l) as { msg: string; late: number; allowedLatenessMs: number; lateDropped: Record<string, number> },
    );
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ late: 2, allowedLatenessMs: 600_000, lateDropped: { new_spender: 2, session_cost: 0 } });
    expect(logged[0]?.msg).toMatch(/^late events in batch/);
  });

  it("hands the span of each batch's late events to the backfill runner, per org", async () => {
    const h = harness();
    const d = createDetector({ config: fixedConfig(config), producer: h.producer, snapshots: createMemorySnapshotStore(), log: silent });
    const globex = { org: 'globex' };
    // Events 0, 3 and 1 (acme) and 2 (globex) are older than event 30 minus the 10 min lateness.
    await feed(d, messages([event(30, 1), event(0, 1), event(3, 1), event(2, 1, globex), event(1, 1), event(29, 1)]), h.ctx);
    await feed(d, messages([event(31, 1), event(32, 1)], 6), h.ctx);
    const windows = h.backfill.map((m) => ({ key: m.key, ...BackfillWindow.parse(JSON.parse(m.value)) }));
    expect(windows).toEqual([
      {
        key: 'acme',
        org: 'acme',
        from: event(0, 1).occurred_at,
        to: event(3, 1).occurred_at,
        events: 3,
        source: 'usage.events.v1:0',
        last_event: { event_id: 'evt-1', occurred_at: event(1, 1).occurred_at },
        watermark: event(30, 1).occurred_at,
      },
      expect.objectContaining({
        key: 'globex',
        org: 'globex',
        events: 1,
        last_event: { event_id: 'evt-2', occurred_at: event(2, 1).occurred_at },
      }),
    ]);
    // A batch without late events hands over nothing.
    expect(d.stats()).toMatchObject({ late: 4, backfillWindows: 2 });
  });

  it('publishes anomalies and rollups, then saves the snapshot, then commits, at most every snapshotEveryMs', async () => {
    const h = harness();
    const clock = fixedClock(new Date(T0));
    const store = createMemorySnapshotStore();
    const d = createDetector({
      config: fixedConfig(config),
      producer: h.producer,
      snapshots: recorded(store, h.ops),
      log: silent,
      clock,
      snapshotEveryMs: 1000,
    });
    const msgs = messages(CROSSING);
    await feed(d, msgs.slice(0, 3), h.ctx);
    expect(h.ops).toEqual(['send 1', 'rollups 1']);
    clock.advance(999);
    await feed(d, msgs.slice(3, 4), h.ctx);
    expect(h.ops).toEqual(['send 1', 'rollups 1', 'rollups 1']);
    clock.advance(1);
    await feed(d, msgs.slice(4), h.ctx);
    expect(h.ops).toEqual(['send 1', 'rollups 1', 'rollups 1', 'send 1', 'rollups 1', 'save detector:usage.events.v1:0 5', 'commit 5']);
    expect(store.saved.get('detector:usage.events.v1:0')?.offset).toBe('5');
  });

  it('restores the snapshot on assignment and starts right after its offset', async () => {
    const h = harness();
    const store = createMemorySnapshotStore();
    const first = createDetector({ config: fixedConfig(config), producer: h.producer, snapshots: store, log: silent, snapshotEveryMs: 0 });
    await feed(first, messages(CROSSING.slice(0, 4)), h.ctx);

    const second = createDetector({ config: fixedConfig(config), producer: h.producer, snapshots: store, log: silent, snapshotEveryMs: 0 });
    expect(
      await second.subscribeOptions.onAssigned?.([
        { topic: TOPIC, partition: 0 },
        { topic: TOPIC, partition: 1 },
      ]),
    ).toEqual({
      'usage.events.v1:0': '4',
    });
    await feed(second, messages(CROSSING.slice(4), 4), h.ctx);
    const out = published(h.sent);
    expect(out.map((a) => [a.version, a.severity, a.observed.value])).toEqual([
      [1, 'warning', 30],
      [2, 'critical', 110],
    ]);
  });

  it('skips offsets the restored state already reflects when the bus redelivers them', async () => {
    const h = harness();
    const store = createMemorySnapshotStore();
    const first = createDetector({ config: fixedConfig(config), producer: h.producer, snapshots: store, log: silent, snapshotEveryMs: 0 });
    await feed(first, messages(CROSSING.slice(0, 4)), h.ctx);
    const second = createDetector({ config: fixedConfig(config), producer: h.producer, snapshots: store, log: silent, snapshotEveryMs: 0 });
    // No onAssigned: the partition is loaded on its first batch, which starts from offset 0 again.
    await feed(second, messages(CROSSING), h.ctx);
    expect(published(h.sent).map((a) => a.observed.value)).toEqual([30, 110]);
    expect(second.stats().processed).toBe(2);
  });

  it('counts an event redelivered at another offset once', async () => {
    const h = harness();
    const d = createDetector({ config: fixedConfig(config), producer: h.producer, snapshots: createMemorySnapshotStore(), log: silent });
    await feed(d, messages([event(0, 20), event(0, 20), event(1, 6)]), h.ctx);
    expect(published(h.sent).map((a) => a.observed.value)).toEqual([26]);
    expect(d.stats().duplicates).toBe(1);
  });

  it('gives the same anomalies after a crash and a replay from the last snapshot, with no extra versions', async () => {
    // Two developers, three sessions, 60 events: s-a warns at offset 12 and goes critical at 48,
    // s-b and s-c warn at 22 and 23.
    const evs = Array.from({ length: 60 }, (_, i) =>
      event(i, i % 3 === 0 ? 6 : 1 + (i % 4) * 1.5, {
        event_id: `e-${i}`,
        session_id: ['s-a', 's-b', 's-c'][i % 3] as string,
        ...(i % 3 === 1 ? { developer: 'bob@acme.com', developer_email: 'bob@acme.com' } : {}),
      }),
    );
    const msgs = messages(evs);

    const clean = harness();
    const uninterrupted = createDetector({
      config: fixedConfig(config),
      producer: clean.producer,
      snapshots: createMemorySnapshotStore(),
      log: silent,
    });
    await feed(uninterrupted, msgs, clean.ctx, 7);
    const expected = published(clean.sent);
    expect(new Set(expected.map((a) => a.id)).size).toBe(3);
    expect(expected.some((a) => a.version === 2)).toBe(true);

    // First run: snapshots land only at some batch ends, then the process dies mid-stream.
    const crashed = harness();
    const store = createMemorySnapshotStore();
    const clock = fixedClock(new Date(T0));
    const run1 = createDetector({
      config: fixedConfig(config),
      producer: crashed.producer,
      snapshots: store,
      log: silent,
      clock,
      snapshotEveryMs: 1500,
    });
    for (let i = 0; i < 25; i += 5) {
      await feed(run1, msgs.slice(i, i + 5), crashed.ctx);
      clock.advance(600);
    }
    // Offsets 20-24 (two warnings among them) were processed and published but are not in the snapshot.
    const snapshotOffset = store.saved.get('detector:usage.events.v1:0')?.offset;
    expect(snapshotOffset).toBe('19');
    expect(published(crashed.sent).map((a) => a.subject.session)).toEqual(['s-a', 's-b', 's-c']);

    // Restart: restore, replay from the snapshot's offset to the end.
    const run2 = createDetector({
      config: fixedConfig(config),
      producer: crashed.producer,
      snapshots: store,
      log: silent,
      clock,
      snapshotEveryMs: 1000,
    });
    const starts = await run2.subscribeOptions.onAssigned?.([{ topic: TOPIC, partition: 0 }]);
    const from = Number((starts as Record<string, string>)['usage.events.v1:0']);
    expect(from).toBe(Number(snapshotOffset) + 1);
    await feed(run2, msgs.slice(from), crashed.ctx, 7);

    const all = published(crashed.sent);
    // The two warnings after the snapshot were published twice: at-least-once, same id and version.
    expect(all.length).toBe(expected.length + 2);
    const byVersion = new Map<string, Anomaly>();
    for (const a of all) {
      const k = `${a.id}@${a.version}`;
      // A re-emitted version is the same anomaly, byte for byte.
      if (byVersion.has(k)) expect(a).toEqual(byVersion.get(k));
      byVersion.set(k, a);
    }
    expect([...byVersion.values()]).toEqual(expected);
  });

  it('keeps anomalies whose send failed, sends them first with the next batch and snapshots only after they are out', async () => {
    const h = harness();
    const store = createMemorySnapshotStore();
    const d = createDetector({
      config: fixedConfig(config),
      producer: h.producer,
      snapshots: recorded(store, h.ops),
      log: silent,
      snapshotEveryMs: 0,
    });
    const msgs = messages(CROSSING.slice(0, 3));
    h.producer.failNext = 1;
    // The batch returns before its output is acknowledged; the failed send leaves it pending and
    // the snapshot that would include it is dropped.
    await feed(d, msgs, h.ctx);
    expect(store.saved.size).toBe(0);
    expect(h.ops).toEqual([]);
    // The next batch (here the bus redelivering the same; state already has it) sends it first, once.
    await feed(d, msgs, h.ctx);
    expect(published(h.sent).map((a) => [a.version, a.severity])).toEqual([[1, 'warning']]);
    // The batch's rollup waited behind the failed send too, and went out before the snapshot.
    expect(h.ops).toEqual(['send 1', 'rollups 1', 'save detector:usage.events.v1:0 2', 'commit 2']);
  });

  it('fails the next batch while the pending output still cannot be sent, so the bus retries it', async () => {
    const h = harness();
    const store = createMemorySnapshotStore();
    // A fixed clock: snapshots are due at each batch below, and no idle snapshot runs in between.
    const clock = fixedClock(new Date(T0));
    const d = createDetector({
      config: fixedConfig(config),
      producer: h.producer,
      snapshots: recorded(store, h.ops),
      log: silent,
      clock,
      snapshotEveryMs: 1000,
    });
    h.producer.failNext = 2;
    clock.advance(1000);
    await feed(d, messages(CROSSING.slice(0, 3)), h.ctx);
    clock.advance(1000);
    await expect(feed(d, messages(CROSSING.slice(3, 4), 3), h.ctx)).rejects.toThrow('broker unavailable');
    expect(d.stats().processed).toBe(3);
    // The retry of that batch sends the warning, then takes the event and sends its rollup.
    await feed(d, messages(CROSSING.slice(3, 4), 3), h.ctx);
    expect(published(h.sent).map((a) => [a.version, a.severity])).toEqual([[1, 'warning']]);
    expect(d.stats().processed).toBe(4);
    expect(h.ops).toEqual(['send 1', 'rollups 1', 'rollups 1', 'save detector:usage.events.v1:0 3', 'commit 3']);
  });

  it('snapshots a partition when it is revoked, and the rest on stop', async () => {
    const h = harness();
    const store = createMemorySnapshotStore();
    const d = createDetector({ config: fixedConfig(config), producer: h.producer, snapshots: store, log: silent, snapshotEveryMs: 60_000 });
    await feed(d, messages(CROSSING.slice(0, 2), 0, 0), h.ctx);
    await feed(d, messages(CROSSING.slice(2, 5), 10, 1), h.ctx);
    expect(store.saved.size).toBe(0);
    await d.subscribeOptions.onRevoked?.([{ topic: TOPIC, partition: 0 }]);
    expect([...store.saved.entries()].map(([k, v]) => [k, v.offset])).toEqual([['detector:usage.events.v1:0', '1']]);
    await d.stop();
    expect(store.saved.get('detector:usage.events.v1:1')?.offset).toBe('12');
  });

  /** A detector whose clock stands still, so no batch is ever due a snapshot: only the quiet period (50 ms) takes one. */
  const quietDetector = (h: Harness): DetectorService =>
    createDetector({
      config: fixedConfig(config),
      producer: h.producer,
      snapshots: recorded(createMemorySnapshotStore(), h.ops),
      log: silent,
      clock: fixedClock(new Date(T0)),
      snapshotEveryMs: 50,
    });

  it('snapshots and commits a partition that went quiet, so an idle group reaches lag 0', async () => {
    const h = harness();
    const d = quietDetector(h);
    await feed(d, messages(CROSSING.slice(0, 3)), h.ctx);
    expect(h.ops).toEqual(['send 1', 'rollups 1']);
    await vi.waitFor(() => expect(h.ops).toContain('commit 2'), { timeout: 5000 });
    expect(h.ops).toEqual(['send 1', 'rollups 1', 'save detector:usage.events.v1:0 2', 'commit 2']);
    // Nothing new since: stop neither snapshots nor commits again.
    await d.stop();
    expect(h.ops).toEqual(['send 1', 'rollups 1', 'save detector:usage.events.v1:0 2', 'commit 2']);
  });

  it('tries the idle snapshot again when its commit failed (the broker away), with no batch coming to do it', async () => {
    const h = harness();
    let refuse = 2;
    const ctx: BatchContext = {
      commit: (offset) => {
        if (refuse-- > 0) {
          h.ops.push(`commit ${offset} refused`);
          return Promise.reject(new BurnrateError('BUS_UNAVAILABLE', 'coordinator not available', { retriable: true }));
        }
        h.ops.push(`commit ${offset}`);
        return Promise.resolve();
      },
      signal: new AbortController().signal,
    };
    const d = quietDetector(h);
    await feed(d, messages(CROSSING.slice(0, 3)), ctx);
    await vi.waitFor(() => expect(h.ops).toContain('commit 2'), { timeout: 10_000 });
    expect(h.ops.filter((o) => o.startsWith('commit'))).toEqual(['commit 2 refused', 'commit 2 refused', 'commit 2']);
    await d.stop();
  });

  it('writes a snapshot in the background: the next batch goes on, and stop waits for the write before its own', async () => {
    const h = harness();
    const store = createMemorySnapshotStore();
    let releaseWrite: () => void = () => {};
    const held = new Promise<void>((resolve) => (releaseWrite = resolve));
    const slow: SnapshotStore = {
      load: (key) => store.load(key),
      async save(snapshot) {
        h.ops.push(`writing ${snapshot.offset}`);
        await held;
        await store.save(snapshot);
        h.ops.push(`saved ${snapshot.offset}`);
      },
    };
    const d = createDetector({ config: fixedConfig(config), producer: h.producer, snapshots: slow, log: silent, snapshotEveryMs: 0 });
    const msgs = messages(CROSSING);
    await feed(d, msgs.slice(0, 2), h.ctx);
    // The second batch finishes while the first snapshot is still being written; no second write starts meanwhile.
    await feed(d, msgs.slice(2, 4), h.ctx);
    const control = (): string[] => h.ops.filter((op) => !op.startsWith('send') && !op.startsWith('rollups'));
    expect(control()).toEqual(['writing 1']);
    expect(store.saved.size).toBe(0);

    const stopped = d.stop();
    releaseWrite();
    await stopped;
    // Stop waits for the background write, then snapshots what came after and commits that.
    expect(control()).toEqual(['writing 1', 'saved 1', 'writing 3', 'saved 3', 'commit 3']);
    expect(store.saved.get('detector:usage.events.v1:0')?.offset).toBe('3');
  });

  it('spaces snapshots of a costly state to 20 times their cost, up to maxSnapshotEveryMs', async () => {
    const savedOffsets = async (maxSnapshotEveryMs?: number): Promise<string[]> => {
      const h = harness();
      const clock = fixedClock(new Date(T0));
      const store = createMemorySnapshotStore();
      // Each write takes 100 ms of the clock: the next snapshot is due 2 s after it, not 1 s.
      const costly: SnapshotStore = {
        load: (key) => store.load(key),
        async save(snapshot) {
          clock.advance(100);
          await store.save(snapshot);
          h.ops.push(snapshot.offset);
        },
      };
      const d = createDetector({
        config: fixedConfig(config),
        producer: h.producer,
        snapshots: costly,
        log: silent,
        clock,
        snapshotEveryMs: 1000,
        maxSnapshotEveryMs,
      });
      const msgs = messages([...CROSSING, event(6, 1), event(7, 1), event(8, 1)]);
      for (let i = 0; i < msgs.length; i++) {
        clock.advance(1000);
        await feed(d, msgs.slice(i, i + 1), h.ctx);
      }
      return h.ops.filter((op) => /^\d+$/.test(op));
    };
    // Batches 1 s apart (plus the writes' 100 ms): a snapshot every other batch.
    expect(await savedOffsets()).toEqual(['1', '3', '5', '7']);
    // Capped at 1 s: every batch again.
    expect(await savedOffsets(1000)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8']);
  });

  it('commits the snapshot it takes on stop', async () => {
    const h = harness();
    const store = createMemorySnapshotStore();
    const d = createDetector({
      config: fixedConfig(config),
      producer: h.producer,
      snapshots: recorded(store, h.ops),
      log: silent,
      snapshotEveryMs: 60_000,
    });
    await feed(d, messages(CROSSING.slice(0, 4)), h.ctx);
    expect(h.ops.filter((op) => !op.startsWith('send') && !op.startsWith('rollups'))).toEqual([]);
    await d.stop();
    expect(h.ops.slice(-2)).toEqual(['save detector:usage.events.v1:0 3', 'commit 3']);
  });

  it('publishes the team totals of each batch to usage.rollups.v1, cumulative, and continues them after a restart', async () => {
    const h = harness();
    const store = createMemorySnapshotStore();
    const first = createDetector({ config: fixedConfig(config), producer: h.producer, snapshots: store, log: silent, snapshotEveryMs: 0 });
    await feed(first, messages(CROSSING.slice(0, 3)), h.ctx);
    const second = createDetector({ config: fixedConfig(config), producer: h.producer, snapshots: store, log: silent, snapshotEveryMs: 0 });
    await second.subscribeOptions.onAssigned?.([{ topic: TOPIC, partition: 0 }]);
    await feed(second, messages(CROSSING.slice(3), 3), h.ctx);
    const rollups = h.rollups.map((m) => [m.key, UsageRollup.parse(JSON.parse(m.value))] as const);
    expect(
      rollups.map(([key, r]) => [key, r.hour, r.model, r.cost_usd, r.cost_premium_usd, r.events, r.seq, r.source, r.watermark]),
    ).toEqual([
      ['acme:payments', '2026-11-25T10:00:00.000Z', 'claude-opus-4-5', 30, 30, 3, 2, 'usage.events.v1:0', '2026-11-25T10:02:00.000Z'],
      ['acme:payments', '2026-11-25T10:00:00.000Z', 'claude-opus-4-5', 115, 115, 6, 5, 'usage.events.v1:0', '2026-11-25T10:05:00.000Z'],
    ]);
    expect(second.stats().rollups).toBe(1);
  });

  it('reads a snapshot from before rollups: the engine goes on, team totals start from its offset', async () => {
    const h = harness();
    const store = createMemorySnapshotStore();
    const first = createDetector({ config: fixedConfig(config), producer: h.producer, snapshots: store, log: silent, snapshotEveryMs: 0 });
    await feed(first, messages(CROSSING.slice(0, 4)), h.ctx);
    const saved = store.saved.get('detector:usage.events.v1:0');
    const engineOnly = ((await decodeSnapshot(saved?.parts ?? [])) as { engine: unknown }).engine;
    // Saved before parts: the whole state as one JSON text.
    await store.save({ key: 'detector:usage.events.v1:0', offset: saved?.offset ?? '', parts: [JSON.stringify(engineOnly)] });

    const after = harness();
    const second = createDetector({
      config: fixedConfig(config),
      producer: after.producer,
      snapshots: store,
      log: silent,
      snapshotEveryMs: 0,
    });
    expect(await second.subscribeOptions.onAssigned?.([{ topic: TOPIC, partition: 0 }])).toEqual({ 'usage.events.v1:0': '4' });
    await feed(second, messages(CROSSING.slice(4), 4), after.ctx);
    expect(published(after.sent).map((a) => [a.version, a.severity, a.observed.value])).toEqual([[2, 'critical', 110]]);
    expect(after.rollups.map((m) => (JSON.parse(m.value) as UsageRollup).cost_usd)).toEqual([35]);
  });

  it('starts a partition empty when its snapshot cannot be read', async () => {
    const store = createMemorySnapshotStore();
    await store.save({ key: 'detector:usage.events.v1:0', offset: '41', parts: ['{"format":99}'] });
    const lines: string[] = [];
    const log = createLogger({ level: 'error', destination: { write: (s: string) => void lines.push(s) } });
    const d = createDetector({ config: fixedConfig(config), producer: harness().producer, snapshots: store, log });
    expect(await d.subscribeOptions.onAssigned?.([{ topic: TOPIC, partition: 0 }])).toEqual({});
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual([
      'detector snapshot unreadable; starting this partition with empty state',
    ]);
  });
});

describe('snapshots that scale and fail loudly', () => {
  /** Many developers, each with a session: a state of many parts at a small part size. */
  const crowd = (count: number, from = 0): UsageEvent[] =>
    Array.from({ length: count }, (_, i) =>
      event(from + i, 0.5, {
        event_id: `crowd-${from + i}`,
        developer: `dev-${from + i}@acme.com`,
        developer_email: `dev-${from + i}@acme.com`,
        session_id: `s-${from + i}`,
      }),
    );

  it('saves a state of many parts and restores it whole, key order included', async () => {
    const store = createMemorySnapshotStore();
    const first = createDetector({
      config: fixedConfig(config),
      producer: harness().producer,
      snapshots: store,
      log: silent,
      snapshotEveryMs: 0,
      snapshotPartBytes: 4096,
    });
    await feed(first, messages(crowd(400)), harness().ctx);
    await waitUntil(() => store.saved.get('detector:usage.events.v1:0')?.offset === '399', { message: 'the snapshot at offset 399' });
    const saved = store.saved.get('detector:usage.events.v1:0');
    expect(saved?.parts.length).toBeGreaterThan(20);
    for (const part of saved?.parts ?? []) expect(Buffer.byteLength(part)).toBeLessThanOrEqual(4096);

    // The restored partition saves again after one more event: its state is the first's plus that event.
    const second = createDetector({
      config: fixedConfig(config),
      producer: harness().producer,
      snapshots: store,
      log: silent,
      snapshotEveryMs: 0,
    });
    expect(await second.subscribeOptions.onAssigned?.([{ topic: TOPIC, partition: 0 }])).toEqual({ 'usage.events.v1:0': '400' });
    const reference = createMemorySnapshotStore();
    const uninterrupted = createDetector({
      config: fixedConfig(config),
      producer: harness().producer,
      snapshots: reference,
      log: silent,
      snapshotEveryMs: 0,
    });
    await feed(uninterrupted, messages([...crowd(400), ...crowd(1, 400)]), harness().ctx);
    await feed(second, messages(crowd(1, 400), 400), harness().ctx);
    await second.stop();
    await uninterrupted.stop();
    const restoredState = await decodeSnapshot(store.saved.get('detector:usage.events.v1:0')?.parts ?? []);
    const referenceState = await decodeSnapshot(reference.saved.get('detector:usage.events.v1:0')?.parts ?? []);
    expect(JSON.stringify(restoredState)).toBe(JSON.stringify(referenceState));
  });

  it('logs every failed save as an error with the partition and the reason, counts it, and commits nothing until a save succeeds', async () => {
    const h = harness();
    const inner = createMemorySnapshotStore();
    let refuse = true;
    const refusing: SnapshotStore = {
      load: (key) => inner.load(key),
      async save(s) {
        if (refuse) throw new Error('Code: 117. DB::Exception: JSON row is too large');
        await inner.save(s);
        h.ops.push(`save ${s.key} ${s.offset}`);
      },
    };
    const lines: string[] = [];
    const log = createLogger({ level: 'error', destination: { write: (s: string) => void lines.push(s) } });
    const clock = fixedClock(new Date(T0));
    const d = createDetector({
      config: fixedConfig(config),
      producer: h.producer,
      snapshots: refusing,
      log,
      clock,
      snapshotEveryMs: 60_000,
    });
    expect(d.snapshotHealth()).toEqual({ failures: 0, failing: [], lastError: null, lastSavedAt: null });
    await d.subscribeOptions.onAssigned?.([{ topic: TOPIC, partition: 0 }]);
    const msgs = messages(crowd(6));
    for (let i = 0; i < 3; i++) {
      clock.advance(60_000);
      await feed(d, msgs.slice(i * 2, i * 2 + 2), h.ctx);
      await waitUntil(() => d.snapshotHealth().failures === i + 1, { message: `failure ${i + 1}` });
    }
    const errors = lines.map((l) => JSON.parse(l) as { msg: string; partition: number; offset: string; err: { message: string } });
    expect(errors.map((e) => [e.msg, e.partition, e.offset, e.err.message])).toEqual(
      [1, 3, 5].map((offset) => [
        'detector snapshot failed; offsets stay at the last saved snapshot until one succeeds',
        0,
        String(offset),
        'Code: 117. DB::Exception: JSON row is too large',
      ]),
    );
    expect(d.snapshotHealth()).toMatchObject({
      failures: 3,
      failing: ['usage.events.v1:0'],
      lastError: {
        at: new Date(T0 + 180_000).toISOString(),
        partition: 'usage.events.v1:0',
        message: 'Code: 117. DB::Exception: JSON row is too large',
      },
      lastSavedAt: null,
    });
    expect(h.ops.filter((o) => o.startsWith('commit'))).toEqual([]);

    refuse = false;
    clock.advance(60_000);
    await feed(d, messages(crowd(1, 6), 6), h.ctx);
    await waitUntil(() => h.ops.includes('commit 6'), { message: 'the commit after the store took a snapshot again' });
    expect(h.ops.filter((o) => o.startsWith('save') || o.startsWith('commit'))).toEqual(['save detector:usage.events.v1:0 6', 'commit 6']);
    expect(d.snapshotHealth()).toMatchObject({ failures: 3, failing: [], lastSavedAt: new Date(T0 + 240_000).toISOString() });
  });

  it('counts a state that cannot be serialised as a failed snapshot and goes on detecting', async () => {
    const h = harness();
    const store = createMemorySnapshotStore();
    const lines: string[] = [];
    const log = createLogger({ level: 'error', destination: { write: (s: string) => void lines.push(s) } });
    // A session id longer than a part: no part can hold the session's entry.
    const huge = event(0, 30, { session_id: 's'.repeat(3000) });
    const d = createDetector({
      config: fixedConfig(config),
      producer: h.producer,
      snapshots: store,
      log,
      snapshotEveryMs: 0,
      snapshotPartBytes: 2048,
    });
    await feed(d, messages([huge]), h.ctx);
    // The batch's snapshot fails, and the idle snapshot after it tries again and fails too: each counted.
    await waitUntil(() => d.snapshotHealth().failures >= 1, { message: 'the failed serialisation' });
    expect(store.saved.size).toBe(0);
    expect(d.snapshotHealth().lastError?.message).toMatch(/^snapshot value at .* is \d+ bytes, more than one snapshot part holds/);
    expect(new Set(lines.map((l) => (JSON.parse(l) as { msg: string }).msg))).toEqual(
      new Set(['detector snapshot failed; offsets stay at the last saved snapshot until one succeeds']),
    );
    // Detection went on: the session's warning was published.
    expect(published(h.sent).map((a) => a.severity)).toEqual(['warning']);
    expect(h.ops.filter((o) => o.startsWith('commit'))).toEqual([]);
  });

  it('fails the assignment, not the state, when the store fails while the parts are read', async () => {
    const inner = createMemorySnapshotStore({ maxPartBytes: 2048 });
    const first = createDetector({
      config: fixedConfig(config),
      producer: harness().producer,
      snapshots: inner,
      log: silent,
      snapshotEveryMs: 0,
    });
    await feed(first, messages(crowd(50)), harness().ctx);
    await first.stop();
    expect(inner.saved.get('detector:usage.events.v1:0')?.parts.length).toBeGreaterThan(2);
    const flaky: SnapshotStore = {
      async load(key) {
        const found = await inner.load(key);
        if (found === undefined) return undefined;
        return {
          offset: found.offset,
          parts: (async function* () {
            let n = 0;
            for await (const part of found.parts) {
              if (++n === 2) throw new BurnrateError('STORE_UNAVAILABLE', 'chdb query: connection reset');
              yield part;
            }
          })(),
        };
      },
      save: (s) => inner.save(s),
    };
    const lines: string[] = [];
    const log = createLogger({ level: 'error', destination: { write: (s: string) => void lines.push(s) } });
    const second = createDetector({ config: fixedConfig(config), producer: harness().producer, snapshots: flaky, log });
    await expect(second.subscribeOptions.onAssigned?.([{ topic: TOPIC, partition: 0 }])).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
    });
    // Not taken for an unreadable snapshot: the state was not thrown away.
    expect(lines).toEqual([]);
  });
});
