import type { Logger } from '@burnrate/core';
import { describeStore, openStore, readStoreSettings, type Env } from '@burnrate/runtime';
import type { CommandIO } from './config-command.ts';

/**
 * `burnrate migrate`: applies infra/clickhouse migrations to the store named by CLICKHOUSE_URL (or
 * BURNRATE_DATA_DIR) and exits. Services also migrate on start (idempotent, safe in parallel);
 * this is the one-shot step a deploy runs first so a bad migration stops the rollout early.
 */
export async function migrateCommand(env: Env, log: Logger, io: CommandIO): Promise<number> {
  const settings = readStoreSettings(env, 'migrate command');
  const store = await openStore(settings, log);
  try {
    await store.migrate();
  } finally {
    await store.close();
  }
  io.out(`migrations applied to ${describeStore(settings)}`);
  return 0;
}
