import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Batch, BatchContext } from '@burnrate/bus';
import { BurnrateError, createLogger } from '@burnrate/core';
import type { DlqRecord, UsageEvent } from '@burnrate/schemas';
import { createMemoryStore, type Store } from '@burnrate/store';
import { anomaly, usageEvent } from '@burnrate/testing/builders';
import { createBufferedSink } from './buffered-sink.ts';

const eventIdOf = (raw: string): string => (JSON.parse(raw) as UsageEvent).event_id;

const log = createLogger({ level: 'silent' });

/** A store that records each insert call and can be told to fail the next ones. */
function recordingStore() {
  const inner = createMemoryStore();
  const calls: { table: string; ids: string[] }[] = [];
  const failures: Error[] = [];
  const store: Pick<Store, 'insertUsageEvents' | 'insertDlq' | 'insertAnomalies' | 'insertAnomalyStates'> = {
    async insertUsageEvents(rows) {
      calls.push({ table: 'usage_events', ids: rows.map((r) => r.event_id) });
      const failure = failures.shift();
      if (failure) throw failure;
      await inner.insertUsageEvents(rows);
    },
    async insertDlq(rows) {
      calls.push({ table: 'dlq', ids: rows.map((r) => r.dlq_id) });
      await inner.insertDlq(rows);
    },
    async insertAnomalies(rows) {
      calls.push({ table: 'anomalies', ids: rows.map((r) => `${r.id}@${r.version}`) });
      await inner.insertAnomalies(rows);
    },
    insertAnomalyStates: (rows) => inner.insertAnomalyStates(rows),
  };
  return { store, inner, calls, failures };
}

function context() {
  const commits: string[] = [];
  const ctx = (partition: number): BatchContext => ({
    commit: async (offset) => void commits.push(`${partition}@${offset}`),
    signal: new AbortController().signal,
  });
  return { commits, ctx };
}

let offsets = 0;
function eventBatch(partition: number, events: UsageEvent[]): Batch {
  return {
    topic: 'usage.events.v1',
    partition,
    highWatermark: '1000000',
    messages: events.map((e) => ({
      topic: 'usage.events.v1',
      partition,
      offset: String(offsets++),
      key: `${e.org}:${e.developer}`,
      value: JSON.stringify(e),
      headers: {},
      timestamp: Date.now(),
    })),
  };
}

const events = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => usageEvent({ event_id: `${prefix}-${i}` }));

afterEach(() => {
  vi.useRealTimers();
});

describe('buffered sink', () => {
  it('gathers batches of several partitions into one insert after maxDelayMs, then commits each partition', async () => {
    vi.useFakeTimers();
    const { store, inner, calls } = recordingStore();
    const { commits, ctx } = context();
    const sink = createBufferedSink({ store, log, maxRows: 100, maxDelayMs: 1000 });
    expect(sink.subscribeOptions.autoCommit).toBe(false);

    const a = eventBatch(0, events(3, 'a'));
    const b = eventBatch(1, events(2, 'b'));
    await sink.subscribeOptions.handleBatch(a, ctx(0));
    await sink.subscribeOptions.handleBatch(b, ctx(1));
    expect(calls).toEqual([]);
    expect(commits).toEqual([]);
    expect(sink.stats().buffered).toBe(5);

    await vi.advanceTimersByTimeAsync(1000);
    expect(calls).toEqual([{ table: 'usage_events', ids: ['a-0', 'a-1', 'a-2', 'b-0', 'b-1'] }]);
    expect(commits).toEqual([`0@${a.messages.at(-1)!.offset}`, `1@${b.messages.at(-1)!.offset}`]);
    expect(await inner.countUsageEvents()).toBe(5);
    expect(sink.stats()).toMatchObject({ flushes: 1, buffered: 0, flushed: { usage_events: 5 } });
  });

  it('flushes as soon as maxRows are buffered, without waiting for the timer', async () => {
    const { store, calls } = recordingStore();
    const { commits, ctx } = context();
    const sink = createBufferedSink({ store, log, maxRows: 4, maxDelayMs: 60_000 });
    await sink.subscribeOptions.handleBatch(eventBatch(0, events(2, 'x')), ctx(0));
    expect(calls).toHaveLength(0);
    const full = eventBatch(0, events(2, 'y'));
    await sink.subscribeOptions.handleBatch(full, ctx(0));
    expect(calls).toEqual([{ table: 'usage_events', ids: ['x-0', 'x-1', 'y-0', 'y-1'] }]);
    expect(commits).toEqual([`0@${full.messages.at(-1)!.offset}`]);
  });

  it('retries a failed insert with exactly the same rows, and commits only after it succeeded', async () => {
    vi.useFakeTimers();
    const { store, calls, failures } = recordingStore();
    const { commits, ctx } = context();
    const sink = createBufferedSink({ store, log, maxRows: 100, maxDelayMs: 100 });
    failures.push(new BurnrateError('STORE_UNAVAILABLE', 'connection refused'));

    await sink.subscribeOptions.handleBatch(eventBatch(0, events(2, 'r')), ctx(0));
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toHaveLength(1);
    expect(commits).toEqual([]);
    // Newer rows keep arriving while the retry waits; they must not join the failed block.
    await sink.subscribeOptions.handleBatch(eventBatch(1, events(1, 'n')), ctx(1));
    await vi.advanceTimersByTimeAsync(500);
    expect(calls.map((c) => c.ids)).toEqual([['r-0', 'r-1'], ['r-0', 'r-1'], ['n-0']]);
    expect(commits.map((c) => c.split('@')[0])).toEqual(['0', '1']);
    expect(sink.stats()).toMatchObject({ failedFlushes: 1, flushes: 2, buffered: 0 });
  });

  it('refuses a batch while full and the store is down (the bus redelivers it), then takes it once the store is back', async () => {
    const { store, calls, failures } = recordingStore();
    const { commits, ctx } = context();
    const sink = createBufferedSink({ store, log, maxRows: 2, maxDelayMs: 60_000 });
    failures.push(new BurnrateError('STORE_UNAVAILABLE', 'down'), new BurnrateError('STORE_UNAVAILABLE', 'still down'));
    // Fills the buffer; the inline flush fails but the rows stay buffered for the retry.
    await sink.subscribeOptions.handleBatch(eventBatch(0, events(2, 'f')), ctx(0));
    const refused = eventBatch(0, events(1, 'g'));
    await expect(sink.subscribeOptions.handleBatch(refused, ctx(0))).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', retriable: true });
    expect(sink.stats().buffered).toBe(2);
    await sink.subscribeOptions.handleBatch(refused, ctx(0));
    await sink.drain();
    expect(calls.map((c) => c.ids)).toEqual([['f-0', 'f-1'], ['f-0', 'f-1'], ['f-0', 'f-1'], ['g-0']]);
    expect(commits.at(-1)).toBe(`0@${refused.messages.at(-1)!.offset}`);
  });

  it('isolates a row the store refuses: the rest of the block is stored, the row is dead-lettered, and every partition commits past it', async () => {
    const { store, inner, calls } = recordingStore();
    const { commits, ctx } = context();
    const sink = createBufferedSink({ store, log, maxRows: 2000, maxDelayMs: 60_000 });
    const a = eventBatch(0, events(600, 'a'));
    const poisoned = events(400, 'p').map((e, i) => (i === 123 ? { ...e, developer: 'mallory\ud800' } : e));
    const b = eventBatch(1, poisoned);
    await sink.subscribeOptions.handleBatch(a, ctx(0));
    await sink.subscribeOptions.handleBatch(b, ctx(1));
    await sink.drain();

    expect(await inner.countUsageEvents()).toBe(999);
    const bad = b.messages[123]!;
    const dlq = await inner.listDlq();
    expect(dlq).toEqual([
      expect.objectContaining({
        source: 'topic:usage.events.v1',
        reason: expect.stringMatching(new RegExp(`^usage_events_v1 refused the record at usage\\.events\\.v1/1@${bad.offset}: `)),
        issues: [expect.objectContaining({ path: 'developer' })],
      }),
    ]);
    expect(JSON.parse(dlq[0]!.raw)).toMatchObject({ event_id: 'p-123' });
    // One block of 1000 rows: the first insert and two per level down to the row.
    const inserts = calls.filter((c) => c.table === 'usage_events');
    expect(inserts[0]?.ids).toHaveLength(1000);
    expect(inserts.length).toBeLessThanOrEqual(1 + 2 * Math.ceil(Math.log2(1000)));
    // Committed past the refused row, so a restart from the commit does not meet it again.
    expect(commits).toEqual([`0@${a.messages.at(-1)!.offset}`, `1@${b.messages.at(-1)!.offset}`]);
    expect(sink.stats()).toMatchObject({
      flushes: 1,
      failedFlushes: 0,
      refused: 1,
      dropped: 0,
      buffered: 0,
      flushed: { usage_events: 999, dlq: 1 },
    });
  });

  it('retries the same block after a retriable error, and isolates the refused row when the store is back', async () => {
    vi.useFakeTimers();
    const { store, inner, calls, failures } = recordingStore();
    const { commits, ctx } = context();
    const sink = createBufferedSink({ store, log, maxRows: 100, maxDelayMs: 100 });
    failures.push(new BurnrateError('STORE_UNAVAILABLE', 'connection refused'));
    const b = eventBatch(
      0,
      events(20, 'r').map((e, i) => (i === 5 || i === 17 ? { ...e, developer: '\ud83d' } : e)),
    );

    await sink.subscribeOptions.handleBatch(b, ctx(0));
    await vi.advanceTimersByTimeAsync(100);
    expect(commits).toEqual([]);
    expect(sink.stats()).toMatchObject({ failedFlushes: 1, buffered: 20 });
    await vi.advanceTimersByTimeAsync(500);

    expect(calls[1]?.ids).toEqual(calls[0]?.ids);
    expect(await inner.countUsageEvents()).toBe(18);
    expect((await inner.listDlq()).map((r) => eventIdOf(r.raw)).sort()).toEqual(['r-17', 'r-5']);
    expect(commits).toEqual([`0@${b.messages.at(-1)!.offset}`]);
    expect(sink.stats()).toMatchObject({ failedFlushes: 1, flushes: 1, refused: 2, buffered: 0, flushed: { usage_events: 18, dlq: 2 } });
  });

  it('logs, counts and skips a DLQ row the store refuses too, and still commits', async () => {
    const { store, inner, calls } = recordingStore();
    const lines: string[] = [];
    const captured = createLogger({ level: 'error', destination: { write: (line: string) => void lines.push(line) } });
    const { commits, ctx } = context();
    const refusingDlq = {
      ...store,
      insertDlq: async (rows: readonly DlqRecord[]) => {
        calls.push({ table: 'dlq', ids: rows.map((r) => r.dlq_id) });
        throw new BurnrateError('STORE_QUERY_FAILED', 'insert into dlq_v1: refused');
      },
    };
    const sink = createBufferedSink({ store: refusingDlq, log: captured, maxRows: 100, maxDelayMs: 60_000 });
    const b = eventBatch(
      0,
      events(8, 'd').map((e, i) => (i === 2 ? { ...e, developer: '\udbff' } : e)),
    );
    await sink.subscribeOptions.handleBatch(b, ctx(0));
    await sink.drain();

    expect(await inner.countUsageEvents()).toBe(7);
    expect(await inner.listDlq()).toEqual([]);
    expect(commits).toEqual([`0@${b.messages.at(-1)!.offset}`]);
    expect(sink.stats()).toMatchObject({ refused: 1, dropped: 1, flushed: { usage_events: 7, dlq: 0 } });
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toContainEqual(
      expect.objectContaining({
        origin: `usage.events.v1/0@${b.messages[2]!.offset}`,
        msg: 'the store refused the DLQ row too; the record is not stored anywhere',
      }),
    );
  });

  it('parses like the per-batch sink: bad messages become DLQ rows, anomalies go to their table, and after drain each batch is written before it returns', async () => {
    const { store, inner, calls } = recordingStore();
    const { commits, ctx } = context();
    const sink = createBufferedSink({ store, log, maxRows: 100, maxDelayMs: 60_000 });
    await sink.drain();
    const a = anomaly();
    await sink.subscribeOptions.handleBatch(
      {
        topic: 'anomalies.v1',
        partition: 2,
        highWatermark: '10',
        messages: [
          { topic: 'anomalies.v1', partition: 2, offset: '7', key: a.id, value: JSON.stringify(a), headers: {}, timestamp: Date.now() },
          { topic: 'anomalies.v1', partition: 2, offset: '8', key: 'x', value: '{nope', headers: {}, timestamp: Date.now() },
        ],
      },
      ctx(2),
    );
    expect(calls.map((c) => c.table)).toEqual(['anomalies', 'dlq']);
    expect(commits).toEqual(['2@8']);
    const [dlq] = await inner.listDlq();
    expect(dlq).toMatchObject({
      source: 'topic:anomalies.v1',
      raw: '{nope',
      reason: 'message at anomalies.v1/2@8 does not match anomalies.v1',
    });
    expect(await inner.getAnomaly(a.id)).toMatchObject({ id: a.id });
    expect(sink.stats().invalid).toBe(1);
  });

  it('writes an anomaly batch at once, with the events buffered before it', async () => {
    const { store, inner, calls } = recordingStore();
    const { commits, ctx } = context();
    const sink = createBufferedSink({ store, log, maxRows: 100, maxDelayMs: 60_000 });
    await sink.subscribeOptions.handleBatch(eventBatch(0, events(3, 'q')), ctx(0));
    expect(calls).toEqual([]);
    const a = anomaly();
    const at = String(offsets++);
    await sink.subscribeOptions.handleBatch(
      {
        topic: 'anomalies.v1',
        partition: 1,
        highWatermark: '100',
        messages: [
          { topic: 'anomalies.v1', partition: 1, offset: at, key: a.id, value: JSON.stringify(a), headers: {}, timestamp: Date.now() },
        ],
      },
      ctx(1),
    );
    expect(await inner.getAnomaly(a.id)).toMatchObject({ id: a.id });
    expect(await inner.countUsageEvents()).toBe(3);
    expect(commits).toEqual([expect.stringMatching(/^0@/), `1@${at}`]);
    expect(sink.stats().buffered).toBe(0);
  });

  it('stops without throwing while the store is down, says why, and commits nothing it did not write', async () => {
    const { store, failures } = recordingStore();
    const lines: string[] = [];
    const captured = createLogger({ level: 'warn', destination: { write: (line: string) => void lines.push(line) } });
    const { commits, ctx } = context();
    const sink = createBufferedSink({ store, log: captured, maxRows: 100, maxDelayMs: 60_000 });
    await sink.subscribeOptions.handleBatch(eventBatch(0, events(4, 'z')), ctx(0));
    failures.push(new BurnrateError('STORE_UNAVAILABLE', 'disk full'));
    await sink.drain();
    expect(commits).toEqual([]);
    expect(sink.failing()).toMatchObject({ message: 'disk full', attempts: 1, rows: 4 });
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toContain(
      'stopping with rows the store did not take; they stay in the log and are written after a restart',
    );
  });

  it('tries a failed commit again while it holds the partition (a broker restart), and gives up once the partition is gone', async () => {
    vi.useFakeTimers();
    const { store, calls } = recordingStore();
    const commits: string[] = [];
    let unreachable = 2;
    const held = new AbortController();
    const flaky: BatchContext = {
      commit: async (offset) => {
        if (unreachable-- > 0) throw new BurnrateError('BUS_UNAVAILABLE', 'broker down', { retriable: true });
        commits.push(`0@${offset}`);
      },
      signal: held.signal,
    };
    const sink = createBufferedSink({ store, log, maxRows: 100, maxDelayMs: 1000 });
    const a = eventBatch(0, events(2, 'c'));
    await sink.subscribeOptions.handleBatch(a, flaky);
    await vi.advanceTimersByTimeAsync(1000); // written; the commit fails
    await vi.advanceTimersByTimeAsync(1000); // fails again
    expect(commits).toEqual([]);
    // No new batch arrives: the commit is still tried, and goes through once the broker answers.
    await vi.advanceTimersByTimeAsync(1000);
    expect(commits).toEqual([`0@${a.messages.at(-1)!.offset}`]);
    // The rows were written once; only the commit was repeated.
    expect(calls).toEqual([{ table: 'usage_events', ids: ['c-0', 'c-1'] }]);
    expect(sink.stats().refusedCommits).toBe(0);

    const gone = new AbortController();
    gone.abort();
    const moved: BatchContext = {
      commit: async () => {
        throw new BurnrateError('BUS_UNAVAILABLE', 'no longer holds the partition', { retriable: true });
      },
      signal: gone.signal,
    };
    await sink.subscribeOptions.handleBatch(eventBatch(1, events(1, 'm')), moved);
    await vi.advanceTimersByTimeAsync(5000);
    expect(sink.stats().refusedCommits).toBe(1);
  });
});
