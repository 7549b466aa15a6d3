// `npm run bench:snapshots` (node --expose-gc): a stage-A partition of 1,000,000 developers built
// from usage events through the real engine (each developer a session of `--events` calls, built
// with @burnrate/testing's usageEvent), snapshotted in parts into real chdb, loaded back into a
// new engine, and checked: the restored state serialises to the very same parts (same sha256).
// Prints bytes, parts, times and memory; speeds are also given as ratios to JSON.stringify and
// JSON.parse of the same parts in this run (the machines are shared and noisy).
//
// Needs about 8 GB of heap at 1M developers; the script raises the limit itself.
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger, parseConfig } from '@burnrate/core';
import {
  addToRollup,
  createDetectionEngine,
  createRollupState,
  DEFAULT_MAX_CLOCK_SKEW_MS,
  developerSpikesOf,
  type EngineSnapshot,
  restoreRollupState,
  type RollupState,
} from '@burnrate/detection';
import { openStore } from '@burnrate/runtime';
import { usageEvent } from '@burnrate/testing';
import { detectorConfigs } from '../src/detector.ts';
import { decodeSnapshot, DEFAULT_SNAPSHOT_PART_BYTES, encodeSnapshot, encodeSnapshotYielding } from '../src/snapshot-codec.ts';
import { snapshotKey, snapshotStoreFrom } from '../src/snapshots.ts';

const { values } = parseArgs({
  options: {
    developers: { type: 'string', default: '1000000' },
    events: { type: 'string', default: '2' },
    'part-bytes': { type: 'string', default: String(DEFAULT_SNAPSHOT_PART_BYTES) },
    json: { type: 'boolean', default: false },
    'keep-dir': { type: 'boolean', default: false },
  },
});
const developers = Math.max(1, Number(values.developers));
const eventsPerDeveloper = Math.max(1, Number(values.events));
const partBytes = Number(values['part-bytes']);

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc (npm run bench:snapshots does)');
const heapMb = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1e6;
};
const rssMb = (): number => process.memoryUsage().rss / 1e6;
const peakRssMb = (): number => process.resourceUsage().maxRSS / 1e3;
const ms = (t: number): number => Math.round(performance.now() - t);
const log = createLogger({ level: 'warn' });
const progress = (message: string): void => {
  if (!values.json) console.error(`  … ${message}`);
};

const config = parseConfig(`
org: acme
teams:
  - id: payments
    members: [alice@acme.com]
  - id: mobile
    members: [bob@acme.com]
  - id: platform
    members: [carol@acme.com]
  - id: research
    members: [rita@acme.com]
`);
const configs = detectorConfigs(config);
const teams = config.teams.map((t) => t.id);
const lateness = config.detectors.allowed_lateness;
const newEngine = () => createDetectionEngine(() => configs, { allowedLatenessMs: lateness });

const heapBefore = heapMb();
const dataDir = await mkdtemp(join(tmpdir(), 'burnrate-bench-snapshots-'));
const store = await openStore({ kind: 'chdb', dataDir }, log);
await store.migrate();
const snapshots = snapshotStoreFrom(store, () => new Date());
const key = snapshotKey('usage.events.v1', 0);

/** Steps 1 to 4; the original state and its parts go out of scope when it returns. */
async function buildAndSave() {
  // 1. The state: every developer's session, calls ten minutes apart, all within the idle horizon.
  const engine = newEngine();
  const spikes = developerSpikesOf(engine, () => configs.spend_spike);
  const rollups: RollupState = createRollupState();
  const T0 = Date.parse('2026-11-25T09:00:00Z');
  const built = performance.now();
  let offset = 0;
  for (let round = 0; round < eventsPerDeveloper; round++) {
    for (let i = 0; i < developers; i++) {
      const at = new Date(T0 + round * 600_000 + Math.floor((i * 500_000) / developers)).toISOString();
      const event = usageEvent({
        event_id: `bench-${i}-${round}`,
        occurred_at: at,
        ingested_at: at,
        developer: `dev-${i}@bench.example`,
        developer_email: `dev-${i}@bench.example`,
        team: teams[i % teams.length] ?? 'payments',
        session_id: `sess-${i}`,
        model: i % 3 === 0 ? 'claude-sonnet-4-5' : 'claude-opus-4-5',
        model_family: i % 3 === 0 ? 'claude-sonnet' : 'claude-opus',
        tier: i % 3 === 0 ? 'standard' : 'premium',
        cost_usd: 0.05 + (i % 7) * 0.01,
        cache_read_tokens: 40_000 + round * 2_000,
      });
      // As the detector's stage A does per event (detector.ts).
      const result = engine.process(event);
      if (!result.duplicate && !result.late && !result.superseded) addToRollup(rollups, event, offset, DEFAULT_MAX_CLOCK_SKEW_MS, spikes);
      offset += 1;
    }
    progress(`round ${round + 1}/${eventsPerDeveloper}: ${offset.toLocaleString('en-US')} events`);
  }
  const buildMs = ms(built);
  const stats = engine.stats();
  const heapState = heapMb() - heapBefore;

  // 2. What the old snapshot did: the whole state as one JSON text.
  let oneText: string;
  const oneTextStarted = performance.now();
  try {
    const text = JSON.stringify({ format: 2, engine: engine.snapshotView(), rollups });
    oneText = `${(Buffer.byteLength(text) / 1e6).toFixed(0)} MB in ${ms(oneTextStarted)} ms`;
  } catch (err) {
    oneText = `fails after ${ms(oneTextStarted)} ms: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`;
  }
  progress(`one JSON text: ${oneText}`);

  // 3. Serialise in parts, as the detector does under the partition's lock.
  const encodeStarted = performance.now();
  const parts = await encodeSnapshotYielding({ format: 2, engine: engine.snapshotView(), rollups }, partBytes);
  const encodeMs = ms(encodeStarted);
  let bytes = 0;
  const hash = createHash('sha256');
  for (const p of parts) {
    bytes += Buffer.byteLength(p);
    hash.update(p);
  }
  const heapWithParts = heapMb() - heapBefore;
  progress(`encoded ${parts.length} parts, ${(bytes / 1e6).toFixed(0)} MB in ${encodeMs} ms`);

  // Baseline on the same bytes: JSON.parse and JSON.stringify of every 10th part.
  let sampleBytes = 0;
  let parseMs = 0;
  let stringifyMs = 0;
  for (let i = 0; i < parts.length; i += 10) {
    const p = parts[i] as string;
    sampleBytes += Buffer.byteLength(p);
    let t = performance.now();
    const parsed: unknown = JSON.parse(p);
    parseMs += performance.now() - t;
    t = performance.now();
    JSON.stringify(parsed);
    stringifyMs += performance.now() - t;
  }

  // 4. Save to chdb (parts, then the manifest).
  const saveStarted = performance.now();
  await snapshots.save({ key, offset: String(offset - 1), parts });
  const saveMs = ms(saveStarted);
  const rssAfterSave = rssMb();
  progress(`saved to chdb in ${saveMs} ms`);
  return {
    offset,
    buildMs,
    stats,
    heapState,
    oneText,
    partCount: parts.length,
    bytes,
    savedDigest: hash.digest('hex'),
    encodeMs,
    heapWithParts,
    sampleBytes,
    parseMbS: sampleBytes / 1e6 / (parseMs / 1000),
    stringifyMbS: sampleBytes / 1e6 / (stringifyMs / 1000),
    saveMs,
    rssAfterSave,
  };
}

const {
  offset,
  buildMs,
  stats,
  heapState,
  oneText,
  partCount,
  bytes,
  savedDigest,
  encodeMs,
  heapWithParts,
  sampleBytes,
  parseMbS,
  stringifyMbS,
  saveMs,
  rssAfterSave,
} = await buildAndSave();
const heapAfterRelease = heapMb() - heapBefore;

// 5. Load: read the parts one query at a time, decode, restore into a new engine (no copy).
const loadStarted = performance.now();
const loaded = await snapshots.load(key);
if (loaded === undefined) throw new Error('the snapshot was not found after its save');
// Timed apart: waiting for chdb's next part, and decoding the one in hand.
let readMs = 0;
let decodeMs = 0;
async function* timedParts(parts: AsyncIterable<string>): AsyncGenerator<string, void, undefined> {
  const it = parts[Symbol.asyncIterator]();
  for (;;) {
    let t = performance.now();
    const next = await it.next();
    readMs += performance.now() - t;
    if (next.done === true) return;
    t = performance.now();
    yield next.value;
    decodeMs += performance.now() - t;
  }
}
const value = (await decodeSnapshot(timedParts(loaded.parts))) as { format: 2; engine: EngineSnapshot; rollups: RollupState };
const loadMs = ms(loadStarted);
const restoreStarted = performance.now();
const restored = newEngine();
restored.restore(value.engine, { owned: true });
const restoredRollups = restoreRollupState(value.rollups);
const restoreMs = ms(restoreStarted);
const heapRestored = heapMb() - heapBefore;
progress(`loaded in ${loadMs} ms, restored in ${restoreMs} ms`);

// 6. The restored state serialises to the same parts.
const again = createHash('sha256');
let againParts = 0;
for (const p of encodeSnapshot({ format: 2, engine: restored.snapshotView(), rollups: restoredRollups }, partBytes)) {
  again.update(p);
  againParts += 1;
}
const same = again.digest('hex') === savedDigest && againParts === partCount;
const restoredStats = restored.stats();
await store.close();
if (!values['keep-dir']) await rm(dataDir, { recursive: true, force: true });

const mbs = (ms_: number): number => bytes / 1e6 / (ms_ / 1000);
const result = {
  developers,
  events: offset,
  build_ms: buildMs,
  keys: stats.keys,
  dedupe_keys: stats.dedupeKeys,
  heap_state_mb: Math.round(heapState),
  heap_state_bytes_per_developer: Math.round((heapState * 1e6) / developers),
  one_json_text: oneText,
  part_bytes_max: partBytes,
  parts: partCount,
  bytes,
  bytes_per_developer: Math.round(bytes / developers),
  encode_ms: encodeMs,
  encode_mb_s: Math.round(mbs(encodeMs)),
  encode_ratio_to_json_stringify: Number((mbs(encodeMs) / stringifyMbS).toFixed(2)),
  heap_with_parts_mb: Math.round(heapWithParts),
  save_ms: saveMs,
  save_mb_s: Math.round(mbs(saveMs)),
  rss_after_save_mb: Math.round(rssAfterSave),
  heap_after_release_mb: Math.round(heapAfterRelease),
  load_ms: loadMs,
  load_mb_s: Math.round(mbs(loadMs)),
  load_ratio_to_json_parse: Number((mbs(loadMs) / parseMbS).toFixed(2)),
  load_read_ms: Math.round(readMs),
  load_decode_ms: Math.round(decodeMs),
  restore_ms: restoreMs,
  heap_restored_mb: Math.round(heapRestored),
  peak_rss_mb: Math.round(peakRssMb()),
  restored_equal: same,
  restored_keys: restoredStats.keys,
  baseline: { json_stringify_mb_s: Math.round(stringifyMbS), json_parse_mb_s: Math.round(parseMbS), sample_bytes: sampleBytes },
};

if (values.json) console.log(JSON.stringify(result, null, 2));
else {
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
  const out = [
    `snapshot bench: one stage-A partition of ${fmt(developers)} developers (${fmt(offset)} events, ${eventsPerDeveloper} per developer, usageEvent → engine) into real chdb`,
    `  state: ${Object.entries(stats.keys)
      .map(([k, n]) => `${k} ${fmt(n)}`)
      .join(
        ', ',
      )}, dedupe ${fmt(stats.dedupeKeys)}; heap ${fmt(heapState)} MB (${fmt(result.heap_state_bytes_per_developer)} B per developer); built in ${fmt(buildMs)} ms`,
    `  as one JSON text (before parts): ${oneText}`,
    `  parts:   ${fmt(partCount)} of at most ${fmt(partBytes)} bytes, ${fmt(bytes / 1e6)} MB in all (${fmt(result.bytes_per_developer)} B per developer)`,
    `  encode:  ${fmt(encodeMs)} ms, ${fmt(mbs(encodeMs))} MB/s = ${result.encode_ratio_to_json_stringify}x JSON.stringify of the same parts (${fmt(stringifyMbS)} MB/s); heap with the parts held ${fmt(heapWithParts)} MB`,
    `  save:    ${fmt(saveMs)} ms to chdb (${fmt(mbs(saveMs))} MB/s); RSS after ${fmt(rssAfterSave)} MB`,
    `  load:    ${fmt(loadMs)} ms from chdb, decoded as read (${fmt(mbs(loadMs))} MB/s = ${result.load_ratio_to_json_parse}x JSON.parse of the same parts, ${fmt(parseMbS)} MB/s): ${fmt(readMs)} ms waiting for chdb, ${fmt(decodeMs)} ms decoding; restore ${fmt(restoreMs)} ms; heap restored ${fmt(heapRestored)} MB`,
    `  peak RSS ${fmt(peakRssMb())} MB`,
    `  restored state serialises to the same ${fmt(partCount)} parts (sha256): ${same ? 'PASS' : 'FAIL'}`,
  ];
  console.log(out.join('\n'));
}
if (!same) process.exitCode = 1;
