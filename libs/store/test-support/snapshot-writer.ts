// Child process for the kill -9 snapshot test: opens a chdb store on argv[2] and saves numbered
// snapshots of one key forever, each of many parts, printing `saved <n>` only after save n
// resolved. The parent kills it with SIGKILL mid-save and checks that the key loads as one
// whole acknowledged snapshot (or the one in flight, if its manifest was written), never a mix.
import { createLogger } from '@burnrate/core';
import { createChdbStore } from '../src/chdb-store.ts';
import { snapshotParts, SNAPSHOT_WRITER_KEY } from './snapshot-parts.ts';

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: snapshot-writer.ts <dataDir>');

const store = await createChdbStore({ dataDir, log: createLogger({ level: 'silent' }) });
await store.migrate();
for (let n = 0; ; n += 1) {
  await store.saveSnapshot({ key: SNAPSHOT_WRITER_KEY, offset: String(n), parts: snapshotParts(n), saved_at: new Date().toISOString() });
  process.stdout.write(`saved ${n}\n`);
}
