import { describe, expect, it } from 'vitest';
import type { Batch, BatchContext } from '@burnrate/bus';
import { BurnrateError, createLogger } from '@burnrate/core';
import { type DlqRecord, dlqOrigin, TOPICS, type UsageEvent } from '@burnrate/schemas';
import { createMemoryStore } from '@burnrate/store';
import { anomaly, usageEvent } from '@burnrate/testing/builders';
import { createSink, type SinkStore } from './sink.ts';

const eventIdOf = (raw: string): string => (JSON.parse(raw) as UsageEvent).event_id;

const LONE = '\ud800';

/**
 * The memory store (which refuses what ClickHouse refuses: a lone high surrogate) with each
 * insert call counted, and told to fail the next calls, or to refuse DLQ rows, on demand.
 */
function countingStore() {
  const inner = createMemoryStore();
  const calls: Record<'usage_events' | 'dlq' | 'anomalies' | 'anomaly_state', number> = {
    usage_events: 0,
    dlq: 0,
    anomalies: 0,
    anomaly_state: 0,
  };
  const failures: Error[] = [];
  const refuseDlq = new Set<string>();
  const store: SinkStore = {
    async insertUsageEvents(rows) {
      calls.usage_events += 1;
      const failure = failures.shift();
      if (failure) throw failure;
      await inner.insertUsageEvents(rows);
    },
    async insertDlq(rows) {
      calls.dlq += 1;
      const refused = rows.find((r) => refuseDlq.has(r.dlq_id));
      if (refused) throw new BurnrateError('STORE_QUERY_FAILED', `insert into dlq_v1: cannot take ${refused.dlq_id}`);
      await inner.insertDlq(rows);
    },
    async insertAnomalies(rows) {
      calls.anomalies += 1;
      await inner.insertAnomalies(rows);
    },
    async insertAnomalyStates(rows) {
      calls.anomaly_state += 1;
      await inner.insertAnomalyStates(rows);
    },
  };
  return { store, inner, calls, failures, refuseDlq };
}

const ctx: BatchContext = { commit: async () => undefined, signal: new AbortController().signal };

let nextOffset = 0;
function batch(topic: string, values: readonly string[], partition = 0): Batch {
  return {
    topic,
    partition,
    highWatermark: '1000000',
    messages: values.map((value) => ({
      topic,
      partition,
      offset: String(nextOffset++),
      key: 'k',
      value,
      headers: {},
      timestamp: Date.parse('2026-11-27T15:00:00.000Z'),
    })),
  };
}

/** n events, those at the `bad` positions with a lone surrogate in `developer`. */
function events(n: number, prefix: string, bad: readonly number[] = []): UsageEvent[] {
  return Array.from({ length: n }, (_, i) =>
    usageEvent({ event_id: `${prefix}-${i}`, ...(bad.includes(i) ? { developer: `mallory${LONE}` } : {}) }),
  );
}

const eventBatch = (list: readonly UsageEvent[]): Batch =>
  batch(
    TOPICS.usageEvents.name,
    list.map((e) => JSON.stringify(e)),
  );

describe('sink: a row the store refuses', () => {
  it('isolates one bad event among 1000: stores the other 999 once, dead-letters it with the store error, in O(log n) inserts', async () => {
    const { store, inner, calls } = countingStore();
    const sink = createSink({ store, log: createLogger({ level: 'silent' }) });
    const b = eventBatch(events(1000, 'one', [713]));

    await sink.subscribeOptions.handleBatch(b, ctx);

    expect(await inner.countUsageEvents()).toBe(999);
    const poisoned = b.messages[713]!;
    const dlq = await inner.listDlq();
    expect(dlq).toHaveLength(1);
    expect(dlq[0]).toMatchObject({
      ...dlqOrigin(poisoned.topic, poisoned.partition, poisoned.offset),
      received_at: '2026-11-27T15:00:00.000Z',
      reason: expect.stringMatching(
        new RegExp(`^usage_events_v1 refused the record at usage\\.events\\.v1/0@${poisoned.offset}: .*surrogate`),
      ),
      issues: [{ path: 'developer', message: expect.stringContaining('CANNOT_PARSE_ESCAPE_SEQUENCE') }],
    });
    // The row as parsed, escaped: storable, and replayable once fixed.
    expect(JSON.parse(dlq[0]!.raw)).toMatchObject({ event_id: 'one-713', developer: `mallory${LONE}` });
    expect(dlq[0]!.raw).toContain('mallory\\ud800');
    expect(calls.usage_events).toBeLessThanOrEqual(1 + 2 * Math.ceil(Math.log2(1000)));
    expect(calls.dlq).toBe(1);
    expect(sink.counters).toEqual({
      written: { usage_events: 999, dlq: 1, anomalies: 0, anomaly_state: 0 },
      invalid: 0,
      refused: 1,
      dropped: 0,
    });
  });

  it('isolates several bad events, and an unparsable message beside them, in one DLQ insert', async () => {
    const { store, inner, calls } = countingStore();
    const sink = createSink({ store, log: createLogger({ level: 'silent' }) });
    const bad = [0, 1, 250, 999];
    const b = batch(TOPICS.usageEvents.name, [...events(1000, 'sev', bad).map((e) => JSON.stringify(e)), '{nope']);

    await sink.subscribeOptions.handleBatch(b, ctx);

    expect(await inner.countUsageEvents()).toBe(996);
    const dlq = await inner.listDlq({ limit: 1000 });
    const refused = dlq.filter((r) => r.reason.startsWith('usage_events_v1 refused'));
    expect(refused.map((r) => eventIdOf(r.raw)).sort()).toEqual(bad.map((i) => `sev-${i}`).sort());
    expect(dlq.filter((r) => r.reason.includes('does not match')).map((r) => r.raw)).toEqual(['{nope']);
    expect(calls.usage_events).toBeLessThanOrEqual(1 + 2 * bad.length * Math.ceil(Math.log2(1000)));
    expect(calls.dlq).toBe(1);
    expect(sink.counters).toMatchObject({ invalid: 1, refused: 4, dropped: 0, written: { usage_events: 996, dlq: 5 } });
  });

  it('dead-letters every event when every one is refused, and the batch still completes', async () => {
    const { store, inner } = countingStore();
    const sink = createSink({ store, log: createLogger({ level: 'silent' }) });
    const all = Array.from({ length: 32 }, (_, i) => i);

    await sink.subscribeOptions.handleBatch(eventBatch(events(32, 'all', all)), ctx);

    expect(await inner.countUsageEvents()).toBe(0);
    expect(await inner.listDlq({ limit: 100 })).toHaveLength(32);
    expect(sink.counters).toMatchObject({ refused: 32, written: { usage_events: 0, dlq: 32 } });
  });

  it('on a retriable error fails the batch for redelivery, and the redelivered batch isolates the bad row', async () => {
    const { store, inner, failures } = countingStore();
    const sink = createSink({ store, log: createLogger({ level: 'silent' }) });
    const b = eventBatch(events(100, 'retry', [42]));
    failures.push(new BurnrateError('STORE_UNAVAILABLE', 'connection refused'));

    await expect(sink.subscribeOptions.handleBatch(b, ctx)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', retriable: true });
    expect(await inner.countUsageEvents()).toBe(0);
    expect(await inner.listDlq()).toEqual([]);

    // The store goes down again halfway through isolating: the batch is failed once more.
    let isolating = 0;
    const flaky: SinkStore = {
      ...store,
      insertUsageEvents: async (rows) => {
        isolating += 1;
        if (isolating === 3) throw new BurnrateError('STORE_UNAVAILABLE', 'connection reset');
        await store.insertUsageEvents(rows);
      },
    };
    const again = createSink({ store: flaky, log: createLogger({ level: 'silent' }) });
    await expect(again.subscribeOptions.handleBatch(b, ctx)).rejects.toMatchObject({ retriable: true });

    await sink.subscribeOptions.handleBatch(b, ctx);
    expect(await inner.countUsageEvents()).toBe(99);
    expect((await inner.listDlq()).map((r) => eventIdOf(r.raw))).toEqual(['retry-42']);
    expect(sink.counters).toMatchObject({ refused: 1, written: { usage_events: 99, dlq: 1 } });
  });

  it('logs and skips a DLQ row the store refuses too, counting it, and the batch completes', async () => {
    const { store, inner, refuseDlq } = countingStore();
    const lines: string[] = [];
    const log = createLogger({ level: 'warn', destination: { write: (line: string) => void lines.push(line) } });
    const sink = createSink({ store, log });
    const b = eventBatch(events(10, 'drop', [3, 7]));
    const lost = b.messages[3]!;
    refuseDlq.add(dlqOrigin(lost.topic, lost.partition, lost.offset).dlq_id);

    await sink.subscribeOptions.handleBatch(b, ctx);

    expect(await inner.countUsageEvents()).toBe(8);
    expect((await inner.listDlq()).map((r) => eventIdOf(r.raw))).toEqual(['drop-7']);
    expect(sink.counters).toMatchObject({ refused: 2, dropped: 1, written: { usage_events: 8, dlq: 1 } });
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged).toContainEqual(
      expect.objectContaining({
        level: 'error',
        component: 'sink',
        origin: `usage.events.v1/0@${lost.offset}`,
        msg: 'the store refused the DLQ row too; the record is not stored anywhere',
      }),
    );
    expect(logged).toContainEqual(
      expect.objectContaining({
        level: 'error',
        table: 'usage_events_v1',
        refused: 2,
        origins: [`usage.events.v1/0@${lost.offset}`, `usage.events.v1/0@${b.messages[7]!.offset}`],
      }),
    );
  });

  it('isolates a refused anomaly the same way, and stores a DLQ topic record whose text is not valid Unicode, repaired', async () => {
    const { store, inner } = countingStore();
    const sink = createSink({ store, log: createLogger({ level: 'silent' }) });
    const good = anomaly();
    const bad = anomaly({ id: `session_cost:acme:mallory${LONE}`, subject: { developer: `mallory${LONE}` } });
    await sink.subscribeOptions.handleBatch(batch(TOPICS.anomalies.name, [JSON.stringify(bad), JSON.stringify(good)]), ctx);
    expect(await inner.getAnomaly(good.id)).toMatchObject({ id: good.id });
    expect(await inner.getAnomaly(bad.id)).toBeUndefined();
    expect(await inner.listDlq()).toEqual([expect.objectContaining({ reason: expect.stringMatching(/^anomalies_v1 refused the record/) })]);

    const record: DlqRecord = {
      dlq_id: 'ingest-1',
      source: 'events_api',
      received_at: '2026-11-27T15:00:00.000Z',
      reason: `developer "${LONE}" is not valid`,
      issues: [],
      raw: `{"developer":"${LONE}"}`,
    };
    // JSON.stringify escapes the surrogate; a producer that wrote it raw is parsed the same.
    await sink.subscribeOptions.handleBatch(batch(TOPICS.usageDlq.name, [JSON.stringify(record)]), ctx);
    const [stored] = await inner.listDlq({ source: 'events_api' });
    expect(stored).toMatchObject({ reason: 'developer "\ufffd" is not valid', raw: '{"developer":"\ufffd"}' });
    expect(stored?.issues.at(-1)).toMatchObject({ path: '(dlq)' });
    expect(sink.counters).toMatchObject({ refused: 1, dropped: 0, written: { anomalies: 1, dlq: 2 } });
  });
});
