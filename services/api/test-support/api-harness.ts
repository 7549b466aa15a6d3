import { createInProcessBus, type Producer } from '@burnrate/bus';
import { createHttpApp, createLogger, fixedClock, type InjectedResponse } from '@burnrate/core';
import { AnomalyState, TOPICS } from '@burnrate/schemas';
import { createMemoryStore, type Store } from '@burnrate/store';
import { waitUntil } from '@burnrate/testing';
import { createApiRoutes } from '../src/routes.ts';

export const NOW = new Date('2026-11-27T12:00:00.000Z');

export interface ApiHarness {
  store: Store;
  clock: ReturnType<typeof fixedClock>;
  /** Every decision read back from anomaly-state.v1, in order. */
  published: AnomalyState[];
  /** Waits until `n` decisions have been read back from the topic. */
  waitForPublished(n: number): Promise<void>;
  request(method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<InjectedResponse>;
  close(): Promise<void>;
}

/**
 * createApiRoutes over the in-memory store and a real in-process bus (in memory), with a consumer
 * on anomaly-state.v1 that reads back what the routes published. `producer` replaces the bus's
 * producer (to make sends fail).
 */
export async function apiHarness(options: { apiToken?: string; producer?: Producer } = {}): Promise<ApiHarness> {
  const log = createLogger({ level: 'silent' });
  const store = createMemoryStore();
  const clock = fixedClock(NOW);
  const bus = createInProcessBus({ log });
  await bus.ensureTopics([TOPICS.anomalyState.name]);
  const published: AnomalyState[] = [];
  const subscription = bus.subscribe({
    groupId: 'test-reader',
    topics: [TOPICS.anomalyState.name],
    handleBatch: async (batch) => {
      for (const m of batch.messages) {
        const decision = AnomalyState.parse(JSON.parse(m.value));
        if (m.key !== decision.anomaly_id) throw new Error(`decision keyed ${m.key}, not its anomaly id ${decision.anomaly_id}`);
        published.push(decision);
      }
    },
  });
  await subscription.start();
  const app = createHttpApp({
    routes: createApiRoutes({ store, producer: options.producer ?? bus.producer(), log, apiToken: options.apiToken, clock }),
    log,
  });
  return {
    store,
    clock,
    published,
    waitForPublished: async (n) => {
      await waitUntil(() => published.length >= n, { timeoutMs: 5_000, message: `${n} decisions on anomaly-state.v1` });
    },
    request: (method, url, body, headers = {}) =>
      app.inject({
        method,
        url,
        headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      }),
    close: async () => {
      await subscription.stop();
      await bus.close();
      await store.close();
    },
  };
}
