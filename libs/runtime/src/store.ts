import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BurnrateError, isBurnrateError, type Logger } from '@burnrate/core';
import { createChdbStore, createClickHouseStore, MAX_SNAPSHOT_PART_BYTES, type Store } from '@burnrate/store';
import type { StoreSettings } from './env.ts';

/** The store a service's settings name: the ClickHouse server, or chdb under `<dataDir>/chdb` (the layout `burnrate start` uses). */
export async function openStore(settings: StoreSettings, log: Logger): Promise<Store> {
  if (settings.kind === 'clickhouse') {
    return createClickHouseStore({
      url: settings.url,
      log,
      ...(settings.username !== undefined ? { username: settings.username } : {}),
      ...(settings.password !== undefined ? { password: settings.password } : {}),
      ...(settings.database !== undefined ? { database: settings.database } : {}),
    });
  }
  await mkdir(settings.dataDir, { recursive: true });
  return createChdbStore({ dataDir: join(settings.dataDir, 'chdb'), log });
}

/** For the start-up log line: where rows go, without credentials. */
export function describeStore(settings: StoreSettings): string {
  if (settings.kind === 'chdb') return `chdb ${join(settings.dataDir, 'chdb')} (embedded, this process only)`;
  const url = new URL(settings.url);
  url.username = '';
  url.password = '';
  return `clickhouse ${url.origin}/${settings.database ?? 'default'}`;
}

/**
 * The store opened on its first call rather than at start, for a process whose main work does not
 * need it (ingest, which also serves the API): a ClickHouse that is down at start, or later, fails
 * only the calls that use it, with a retriable STORE_UNAVAILABLE, and each call tries again.
 */
export function openStoreOnFirstUse(settings: StoreSettings, log: Logger): Store {
  let opening: Promise<Store> | undefined;
  let closed = false;
  const opened = (): Promise<Store> => {
    if (closed) return Promise.reject(new BurnrateError('SHUTTING_DOWN', 'store is closed'));
    opening ??= openStore(settings, log).catch((err: unknown) => {
      opening = undefined;
      throw isBurnrateError(err) && err.retriable
        ? err
        : new BurnrateError('STORE_UNAVAILABLE', `cannot open the store ${describeStore(settings)}`, { cause: err });
    });
    return opening;
  };
  return new Proxy({} as Store, {
    get(_target, prop) {
      if (prop === 'maxSnapshotPartBytes') return MAX_SNAPSHOT_PART_BYTES;
      if (prop === 'close') {
        return async () => {
          closed = true;
          const store = await opening?.catch(() => undefined);
          await store?.close();
        };
      }
      // Not a promise: `await store` must not look for a then method here.
      if (typeof prop !== 'string' || prop === 'then') return undefined;
      return async (...args: unknown[]) => {
        const store = await opened();
        return (store[prop as keyof Store] as (...a: unknown[]) => Promise<unknown>).apply(store, args);
      };
    },
  });
}
