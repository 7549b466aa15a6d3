// Insert path throughput on chdb: `npm exec -- node libs/store/bench/chdb-insert.bench.ts`.
// Prints absolute figures and the ratio to JSON.stringify of the same events measured in the same
// run, since shared machines are noisy.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createLogger } from '@burnrate/core';
import { createChdbStore } from '../src/chdb-store.ts';
import { usageEvent } from '../test-support/fixtures.ts';

const BATCH = 10_000;
const ROUNDS = 5;
const dataDir = await mkdtemp(join(tmpdir(), 'burnrate-bench-'));
const store = await createChdbStore({ dataDir, log: createLogger({ level: 'silent' }) });
await store.migrate();

const batches = Array.from({ length: ROUNDS + 1 }, (_, round) =>
  Array.from({ length: BATCH }, (_, i) =>
    usageEvent({
      event_id: `r${round}-${i}`,
      developer: `dev-${i % 200}@acme.com`,
      session_id: `s-${i % 1000}`,
      occurred_at: new Date(Date.UTC(2026, 2, 2, 0, 0, 0) + i * 1000).toISOString(),
      attributes: { terminal: 'vscode', query_source: 'agent' },
    }),
  ),
);

let baseline = Infinity;
for (const batch of batches) {
  const t = performance.now();
  let bytes = 0;
  for (const e of batch) bytes += JSON.stringify(e).length;
  baseline = Math.min(baseline, performance.now() - t);
  if (bytes === 0) throw new Error('unreachable');
}

await store.insertUsageEvents(batches[0] ?? []); // warm-up
const times: number[] = [];
for (const batch of batches.slice(1)) {
  const t = performance.now();
  await store.insertUsageEvents(batch);
  times.push(performance.now() - t);
}
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)] ?? NaN;
const t = performance.now();
const count = await store.countUsageEvents();
const countMs = performance.now() - t;
console.log(
  JSON.stringify({
    batch: BATCH,
    insert_ms_median: Math.round(median),
    insert_ms_all: times.map(Math.round),
    events_per_s: Math.round(BATCH / (median / 1000)),
    json_stringify_ms: Math.round(baseline * 10) / 10,
    insert_vs_stringify: Math.round((median / baseline) * 10) / 10,
    count_final_ms: Math.round(countMs),
    stored: count,
  }),
);
await store.close();
await rm(dataDir, { recursive: true, force: true });
