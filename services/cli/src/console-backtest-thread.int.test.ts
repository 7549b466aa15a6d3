import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Producer } from '@burnrate/bus';
import { createHttpServer, createLogger, fixedConfig, type HttpServer, parseConfig, systemClock } from '@burnrate/core';
import { createEventLedger, createIngestGate, createIngestRoutes, createIngestTally } from '@burnrate/ingest';
import { receiverSchema } from '@burnrate/notify';
import type { UsageEvent } from '@burnrate/schemas';
import type { Store, UsageEventListQuery } from '@burnrate/store';
import { usageEvent } from '@burnrate/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, TEST_CONFIG } from '../test-support/burnrate-process.ts';
import { createConsoleBacktester } from './console-backtest.ts';
import { createBacktestThread } from './console-backtest-thread.ts';

const log = createLogger({ level: 'silent' });
const config = parseConfig(TEST_CONFIG, 'burnrate.yaml', { receiver: receiverSchema });
const DAY_MS = 86_400_000;
const FROM = Date.parse('2026-11-20T00:00:00.000Z');
const EVENTS = 40_000;

/**
 * A week of 40 developers' sessions, in store order, read by keyset pages as chdb answers them
 * (a binary search, so the main thread's share of the work is the copy, as it is with chdb).
 */
function eventStore(): Pick<Store, 'listUsageEvents'> {
  const template = usageEvent();
  const events: UsageEvent[] = Array.from({ length: EVENTS }, (_, i) => {
    const developer = `dev${i % 40}@acme.com`;
    return {
      ...template,
      event_id: `evt-${String(i).padStart(7, '0')}`,
      occurred_at: new Date(FROM + Math.floor((i * 7 * DAY_MS) / EVENTS)).toISOString(),
      ingested_at: new Date(FROM + Math.floor((i * 7 * DAY_MS) / EVENTS) + 1000).toISOString(),
      developer,
      developer_email: developer,
      session_id: `s-${i % 40}-${Math.floor(i / 800)}`,
      cost_usd: 0.05 + (i % 13) / 100,
    };
  });
  const key = (e: Pick<UsageEvent, 'occurred_at' | 'event_id'>): string => `${e.occurred_at}|${e.event_id}`;
  return {
    async listUsageEvents(q: UsageEventListQuery) {
      const start = q.after === undefined ? `${q.from ?? ''}|` : key(q.after);
      let lo = 0;
      let hi = events.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (key(events[mid] as UsageEvent) <= start) lo = mid + 1;
        else hi = mid;
      }
      const page: UsageEvent[] = [];
      for (let i = lo; i < events.length && page.length < (q.limit ?? 10_000); i++) {
        const e = events[i] as UsageEvent;
        if (q.to !== undefined && e.occurred_at >= q.to) break;
        page.push({ ...e });
      }
      return page;
    },
  };
}

// The point of the worker thread: `burnrate start` keeps taking usage while a backtest replays
// hundreds of thousands of events. Real ingest routes on a real HTTP server, the real backtest
// code in its real thread; only the store is a stand-in for chdb's pages.
describe('a config page backtest in its worker thread', () => {
  let server: HttpServer;
  let url: string;
  const published: unknown[] = [];

  beforeAll(async () => {
    const producer: Producer = {
      send: async (_topic, messages) => void published.push(...messages),
    };
    const source = fixedConfig(config);
    const now = (): number => Date.now();
    const routes = createIngestRoutes({
      config: source,
      producer,
      clock: systemClock,
      log,
      gate: createIngestGate({ config: source, now, log }),
      ledger: createEventLedger({ windowMs: config.ingest.dedupe_window, now }),
      tally: createIngestTally(),
    });
    server = createHttpServer({ routes, log });
    url = `http://127.0.0.1:${(await server.listen(0, '127.0.0.1')).port}`;
  });

  afterAll(async () => {
    await server?.close();
  });

  /** Posts one event every 25 ms while `run` goes on; how long each request sent meanwhile took to answer. */
  async function ingestDuring(run: () => Promise<unknown>): Promise<{ result: unknown; took: number; latencies: number[] }> {
    const started = performance.now();
    let done = false;
    // Started on the next turn, so the first request is on its way before the run takes the thread.
    const running = new Promise((resolve) => setImmediate(resolve)).then(run).finally(() => (done = true));
    const latencies: number[] = [];
    for (let i = 0; !done; i++) {
      const sent = performance.now();
      const res = await postJson(`${url}/v1/events`, [
        { occurred_at: new Date().toISOString(), developer_email: 'alice@acme.com', model: 'claude-opus-4-5', cost_usd: 0.1 },
      ]);
      expect(res.status).toBe(200);
      latencies.push(performance.now() - sent);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const result = await running;
    return { result, took: performance.now() - started, latencies };
  }

  it('leaves the event loop to ingest: events are accepted promptly all through the replay', async () => {
    const store = eventStore();
    const input = {
      proposal: TEST_CONFIG.replace('warning_usd: 25', 'warning_usd: 4'),
      from: new Date(FROM).toISOString(),
      to: new Date(FROM + 7 * DAY_MS).toISOString(),
    };
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const threaded = await ingestDuring(() => createBacktestThread({ config: { current: () => config }, store, log }).run(input));
    delay.disable();
    // The same backtest on the main thread, as the console ran it before: ingest waits for it.
    const inline = await ingestDuring(() => createConsoleBacktester({ config: { current: () => config }, store }).run(input));
    expect(threaded.result).toMatchObject({ ok: true, events: EVENTS });
    expect(threaded.result).toEqual(inline.result);
    const worst = Math.max(...threaded.latencies);
    const inlineWorst = Math.max(...inline.latencies);
    console.log(
      `backtest of ${EVENTS} events: in its thread ${Math.round(threaded.took)} ms, ${threaded.latencies.length} ingest requests answered meanwhile, the slowest in ${Math.round(worst)} ms (event loop delay max ${Math.round(delay.max / 1e6)} ms); on the main thread ${Math.round(inline.took)} ms, ${inline.latencies.length} answered, the slowest in ${Math.round(inlineWorst)} ms`,
    );
    // The replay outlasted many requests, and none of them waited for it; on the main thread one did.
    expect(threaded.latencies.length).toBeGreaterThanOrEqual(10);
    expect(worst).toBeLessThan(threaded.took / 4);
    expect(inlineWorst).toBeGreaterThan(inline.took / 2);
  });
});
