// Child process for the kill -9 test: opens a chdb store on argv[2] and inserts numbered batches
// forever, printing `acked <n>` only after batch n's insert resolved. The parent kills it with
// SIGKILL mid-stream and checks that every acknowledged batch survived.
import { createLogger } from '@burnrate/core';
import { createChdbStore } from '../src/chdb-store.ts';
import { usageEvent } from './fixtures.ts';

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: chdb-writer.ts <dataDir>');
const BATCH_SIZE = 200;

const store = await createChdbStore({ dataDir, log: createLogger({ level: 'silent' }) });
await store.migrate();
for (let batch = 0; ; batch += 1) {
  const events = Array.from({ length: BATCH_SIZE }, (_, i) =>
    usageEvent({ event_id: `b${batch}-${i}`, session_id: `batch-${batch}`, cost_usd: 0.25 }),
  );
  await store.insertUsageEvents(events);
  process.stdout.write(`acked ${batch}\n`);
}
