import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@burnrate/core';
import { createChdbStore, createClickHouseStore, type Store } from '@burnrate/store';
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
