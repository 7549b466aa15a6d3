import { createApiRoutes } from '@burnrate/api';
import { createInProcessBus } from '@burnrate/bus';
import { createHttpApp, createLogger, fixedClock } from '@burnrate/core';
import { TOPICS } from '@burnrate/schemas';
import { createMemoryStore, type Store } from '@burnrate/store';
import type { CommandIO } from '../src/config-command.ts';

export interface OnCallApi {
  store: Store;
  clock: ReturnType<typeof fixedClock>;
  /** A fetch that runs each request through the API's routes in memory, as the instance would. */
  fetch: typeof fetch;
  close(): Promise<void>;
}

/** createApiRoutes over the in-memory store and an in-memory bus, reachable through `fetch`. */
export async function onCallApi(options: { apiToken?: string; now?: Date } = {}): Promise<OnCallApi> {
  const log = createLogger({ level: 'silent' });
  const store = createMemoryStore();
  const bus = createInProcessBus({ log });
  await bus.ensureTopics([TOPICS.anomalyState.name]);
  const clock = fixedClock(options.now ?? new Date('2026-11-27T12:00:00.000Z'));
  const app = createHttpApp({ routes: createApiRoutes({ store, producer: bus.producer(), log, apiToken: options.apiToken, clock }), log });
  const inMemoryFetch = (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    const res = await app.inject({
      method: init.method ?? 'GET',
      url: `${url.pathname}${url.search}`,
      headers,
      ...(typeof init.body === 'string' ? { body: init.body } : {}),
    });
    return new Response(res.body.length === 0 ? null : new Uint8Array(res.body), { status: res.status, headers: res.headers });
  }) as typeof fetch;
  return {
    store,
    clock,
    fetch: inMemoryFetch,
    close: async () => {
      await bus.close();
      await store.close();
    },
  };
}

/** A CommandIO that keeps what a command printed. */
export function capturedIO(): CommandIO & { stdout: string[]; stderr: string[]; text(): string } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    out: (line) => void stdout.push(...line.split('\n')),
    err: (line) => void stderr.push(...line.split('\n')),
    text: () => stdout.join('\n'),
  };
}
