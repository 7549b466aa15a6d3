// `npm run bench:detector` (node --expose-gc): detector throughput on the generated scenario
// stream next to plain JSON.parse of the same NDJSON lines, in one run on one thread (machines are
// shared and noisy, so the ratio is the figure to trust), and heap per tracked key at 100k keys.
// Stage A (the engine over events) and stage B (the team engine over the rollups stage A sends
// for the same stream) are measured alike.
// Targets (DESIGN.md): >= 300k events/s on the pure path, detection >= 0.5x the parse rate,
// <= 1 KB per tracked key. Stage B has none of its own; it is held to the same ones.
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import {
  addToRollup,
  type AnyDetector,
  createDetectionEngine,
  createRollupState,
  createTeamEngine,
  DEFAULT_MAX_CLOCK_SKEW_MS,
  DETECTORS,
  developerSpikesOf,
  type DetectorRegistry,
  takeRollups,
} from '@burnrate/detection';
import { detectorConfigs } from '@burnrate/detector';
import { TOPICS, UNATTRIBUTED, type UsageEvent, type UsageRollup } from '@burnrate/schemas';
import { generateScenario } from '@burnrate/scenarios';

const { values } = parseArgs({
  options: {
    passes: { type: 'string', default: '5' },
    keys: { type: 'string', default: '100000' },
    'events-per-key': { type: 'string', default: '6' },
    teams: { type: 'string', default: '10000' },
    'steady-teams': { type: 'string', default: '1000' },
    'steady-weeks': { type: 'string', default: '4' },
    json: { type: 'boolean', default: false },
  },
});
const passes = Math.max(1, Number(values.passes));
const keyCount = Math.max(1, Number(values.keys));
const eventsPerKey = Math.max(1, Number(values['events-per-key']));
const teamCount = Math.max(1, Number(values.teams));
const steadyTeams = Math.max(1, Number(values['steady-teams']));
const steadyHours = Math.max(1, Math.round(Number(values['steady-weeks']) * 168));

const TARGET_EVENTS_PER_S = 300_000;
const TARGET_RATIO = 0.5;
const TARGET_BYTES_PER_KEY = 1024;
/** Teams of the throwaway engine that pays stage B's shared costs before it is measured. */
const WARM_UP_TEAMS = 10;

const scenario = generateScenario();
const { config } = scenario;
const lines = scenario.events.map((e) => JSON.stringify(e));
const events = lines.map((l) => JSON.parse(l) as UsageEvent);
const ndjsonBytes = lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
const kinds = Object.keys(DETECTORS);
const configs = detectorConfigs(config);
const lateness = config.detectors.allowed_lateness;
const gc = (globalThis as { gc?: () => void }).gc;
const models = ['claude-sonnet-4-5-20250929', 'claude-opus-4-5-20251101'];
const base = Date.parse(scenario.labels.period.to) + 7 * 86_400_000;

/**
 * Best of `passes` timed runs of each contender (after one warm-up each), the contenders taking
 * turns pass by pass: on a shared machine a slow spell then falls on all of them rather than on
 * whichever ran during it, so their ratio holds even when the absolute figures wander.
 */
function race<K extends string>(
  contenders: Record<K, { run: () => number; count: number }>,
): Record<K, { perSecond: number; sink: number }> {
  const names = Object.keys(contenders) as K[];
  const out = {} as Record<K, { perSecond: number; sink: number }>;
  for (const name of names) out[name] = { perSecond: 0, sink: contenders[name].run() };
  for (let p = 0; p < passes; p++) {
    for (const name of names) {
      const { run, count } = contenders[name];
      const t = performance.now();
      out[name].sink += run();
      out[name].perSecond = Math.max(out[name].perSecond, count / ((performance.now() - t) / 1000));
    }
  }
  return out;
}

// Stage B at steady state is measured first, while the process holds nothing but the stream: an
// engine of the throughput passes below, collected while this one fills, would be counted against it.
const steadyTeamsMeasured = gc === undefined ? undefined : await measureTeams(steadyTeams, steadyHours);

const stageA = race({
  parse: {
    count: lines.length,
    run: () => {
      let n = 0;
      for (const l of lines) n += (JSON.parse(l) as UsageEvent).input_tokens > 0 ? 1 : 0;
      return n;
    },
  },
  // A fresh engine per pass: the stream is replayed from its start, as a restart without snapshot would.
  detect: {
    count: lines.length,
    run: () => {
      const engine = createDetectionEngine(() => configs);
      let n = 0;
      for (const e of events) n += engine.process(e).anomalies.length;
      return n;
    },
  },
  parseAndDetect: {
    count: lines.length,
    run: () => {
      const engine = createDetectionEngine(() => configs);
      let n = 0;
      for (const l of lines) n += engine.process(JSON.parse(l) as UsageEvent).anomalies.length;
      return n;
    },
  },
});
const { parse, detect, parseAndDetect } = stageA;

// Each detector alone on the same stream (engine overhead included in each): where the time goes.
const perDetector = kinds.map((kind) => {
  const registry: DetectorRegistry = { [kind]: (DETECTORS as DetectorRegistry)[kind] as AnyDetector };
  const run = (): number => {
    const engine = createDetectionEngine(() => configs as Record<string, unknown>, { detectors: registry });
    let n = 0;
    for (const e of events) n += engine.process(e).anomalies.length;
    return n;
  };
  run();
  const t = performance.now();
  run();
  return { kind, perSecond: events.length / ((performance.now() - t) / 1000) };
});
const engineAlone = (() => {
  const run = (): void => {
    const engine = createDetectionEngine(() => ({}), { detectors: {} });
    for (const e of events) engine.process(e);
  };
  run();
  const t = performance.now();
  run();
  return events.length / ((performance.now() - t) / 1000);
})();

// Stage B: the rollups stage A sends for the same stream, made as replay (and the detection eval)
// makes them: every event a batch, so each counted event sends its team×developer×model×hour
// totals (the most rollups the stream can give; live batches send fewer, larger steps).
const rollupLines = ((): string[] => {
  const engine = createDetectionEngine(() => configs, { allowedLatenessMs: lateness });
  const totals = createRollupState();
  const spikes = developerSpikesOf(engine, () => configs.spend_spike);
  const source = `${TOPICS.usageEvents.name}:0`;
  const out: string[] = [];
  events.forEach((e, offset) => {
    const r = engine.process(e);
    if (r.duplicate || r.late || r.superseded || !addToRollup(totals, e, offset, DEFAULT_MAX_CLOCK_SKEW_MS, spikes)) return;
    for (const rollup of takeRollups(totals, source, lateness)) out.push(JSON.stringify(rollup));
  });
  return out;
})();
const rollups = rollupLines.map((l) => JSON.parse(l) as UsageRollup);
const rollupBytes = rollupLines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
const stageB = race({
  parse: {
    count: rollupLines.length,
    run: () => {
      let n = 0;
      for (const l of rollupLines) n += (JSON.parse(l) as UsageRollup).events;
      return n;
    },
  },
  // A fresh team engine per pass, flushed at the end as replay does.
  detect: {
    count: rollups.length,
    run: () => {
      const team = createTeamEngine(() => configs, { allowedLatenessMs: lateness });
      let n = 0;
      for (const r of rollups) n += team.process(r).anomalies.length;
      return n + team.flush().length;
    },
  },
});
const { parse: teamParse, detect: teamDetect } = stageB;

// Memory: keyCount distinct developers, each with its own session, spread over 4 teams and 2
// models, each sending eventsPerKey events an hour apart (so hourly buckets close and rings fill),
// all within the idle horizon so nothing is evicted.
interface MemoryRow {
  name: string;
  keys: number;
  bytes: number;
  bytesPerKey: number;
  /** Keys of a team-scope detector: a handful whatever the developer count, so not judged per key. */
  fewKeys?: boolean;
}

const teams = config.teams.map((t) => t.id);

interface Shape {
  keys: number;
  rounds: number;
  /** Identities not in the config (what new_spender tracks). */
  unattributed: boolean;
}

function syntheticEvent(i: number, round: number, shape: Shape): UsageEvent {
  // Rounds are an hour apart (or packed into the hour when there are many, for the dedupe ring).
  const step = shape.rounds > 24 ? 3_600_000 / shape.rounds : 3_600_000;
  const at = new Date(base + Math.floor(round * step + (i * step * 0.8) / shape.keys)).toISOString();
  const developer = `bench-${i}@bench.example`;
  return {
    event_id: `bench:${i}:${round}`,
    source: 'claude_code_otel',
    provider: 'anthropic',
    tool: 'claude-code',
    granularity: 'request',
    occurred_at: at,
    ingested_at: at,
    org: config.org,
    developer,
    developer_email: developer,
    team: shape.unattributed ? UNATTRIBUTED : (teams[i % teams.length] ?? UNATTRIBUTED),
    session_id: `bench-session-${i}`,
    prompt_id: `bench-prompt-${i}-${round >> 1}`,
    model: models[i % 2] ?? 'claude-sonnet-4-5-20250929',
    model_family: i % 2 === 0 ? 'claude-sonnet' : 'claude-opus',
    tier: i % 2 === 0 ? 'standard' : 'premium',
    is_batch: false,
    requests: 1,
    input_tokens: 12,
    output_tokens: 400,
    cache_read_tokens: 40_000 + round * 2_000,
    cache_write_tokens: 2_000,
    cost_usd: 0.03,
    cost_source: 'reported',
    attributes: {},
  };
}

function heapAfterGc(): number {
  (gc as () => void)();
  (gc as () => void)();
  return process.memoryUsage().heapUsed;
}

/**
 * Heap plus ArrayBuffer backing stores (the packed rings of stage B live outside the heap). A
 * collected buffer's backing store is released after the collection, off the main thread, so the
 * figure is read once that has had time to happen: a drop from an earlier engine's buffers would
 * otherwise land in this measurement.
 */
async function memoryAfterGc(): Promise<number> {
  heapAfterGc();
  await sleep(200);
  const heap = heapAfterGc();
  return heap + process.memoryUsage().arrayBuffers;
}

function measure(registry: DetectorRegistry, shape: Shape): { bytes: number; keys: Record<string, number>; dedupeKeys: number } {
  const before = heapAfterGc();
  const engine = createDetectionEngine(() => configs as Record<string, unknown>, { detectors: registry });
  for (let round = 0; round < shape.rounds; round++) {
    for (let i = 0; i < shape.keys; i++) engine.process(syntheticEvent(i, round, shape));
  }
  const bytes = heapAfterGc() - before;
  const stats = engine.stats();
  // Keeps the engine reachable until after the second measurement.
  if (stats.dedupeKeys < 0) console.log(engine);
  return { bytes, keys: stats.keys, dedupeKeys: stats.dedupeKeys };
}

/**
 * Stage B at `teams` teams: each with one developer on two models, one rollup per model and hour
 * for `hours` hours in a row (so hours close, baselines and budgets fill), watermarks rising
 * through each hour as a stage-A partition's would.
 */
async function measureTeams(teams: number, hours: number): Promise<{ bytes: number; keys: Record<string, number>; hours: number }> {
  // What any number of teams shares is not a team's: the detectors' compiled code, the memos of
  // local hours and planned changes over these hours. A small engine over the same hours first
  // pays for it, then a one-rollup engine takes the detectors' last-key caches off its state.
  feedTeams(
    createTeamEngine(() => configs, { allowedLatenessMs: lateness }),
    WARM_UP_TEAMS,
    hours,
  );
  feedTeams(
    createTeamEngine(() => configs, { allowedLatenessMs: lateness }),
    1,
    1,
  );
  const before = await memoryAfterGc();
  const engine = createTeamEngine(() => configs, { allowedLatenessMs: lateness });
  feedTeams(engine, teams, hours);
  const bytes = (await memoryAfterGc()) - before;
  const stats = engine.stats();
  if (stats.hours < 0) console.log(engine);
  return { bytes, keys: stats.keys, hours: stats.hours };
}

function feedTeams(engine: ReturnType<typeof createTeamEngine>, teams: number, hours: number): void {
  let seq = 0;
  for (let h = 0; h < hours; h++) {
    const hour = base + h * 3_600_000;
    const hourText = new Date(hour).toISOString();
    // A working week: weekdays 08:00–18:00 UTC spend ten times the nights and weekends.
    const day = new Date(hour).getUTCDay();
    const clock = new Date(hour).getUTCHours();
    const load = day !== 0 && day !== 6 && clock >= 8 && clock < 18 ? 1 : 0.1;
    for (let i = 0; i < teams; i++) {
      const watermark = new Date(hour + Math.floor((i * 3_600_000 * 0.8) / teams)).toISOString();
      for (let m = 0; m < 2; m++) {
        const premium = m === 1;
        engine.process({
          org: config.org,
          team: `bench-team-${i}`,
          developer: `bench-${i}@bench.example`,
          model: models[m] ?? 'claude-sonnet-4-5-20250929',
          tier: premium ? 'premium' : 'standard',
          hour: hourText,
          cost_usd: (premium ? 4.5 : 1.5) * load,
          cost_premium_usd: premium ? 4.5 * load : 0,
          events: 30,
          premium_events: premium ? 30 : 0,
          input_tokens: 3_000,
          cache_read_tokens: 600_000,
          cache_write_tokens: 40_000,
          output_tokens: 12_000,
          source: `${TOPICS.usageEvents.name}:${i % 12}`,
          seq: seq++,
          watermark,
        });
      }
    }
  }
  engine.flush();
}

const memory: MemoryRow[] = [];
let memoryNote = 'memory not measured: run with node --expose-gc (npm run bench:detector does)';
let teamMemoryNote = '';
if (gc !== undefined) {
  const attributed: Shape = { keys: keyCount, rounds: eventsPerKey, unattributed: false };
  const engineOnly = measure({}, attributed);
  memory.push({
    name: `engine dedupe ring, ${eventsPerKey} ids per developer`,
    keys: engineOnly.dedupeKeys,
    bytes: engineOnly.bytes,
    bytesPerKey: engineOnly.bytes / Math.max(1, engineOnly.dedupeKeys),
  });
  // A developer active for a day fills the ring (default 64 ids): its steady-state size.
  const fullRing: Shape = { keys: Math.max(1, Math.round(keyCount / 10)), rounds: 300, unattributed: false };
  const ring = measure({}, fullRing);
  memory.push({
    name: `engine dedupe ring, full (${fullRing.rounds} events per developer)`,
    keys: ring.dedupeKeys,
    bytes: ring.bytes,
    bytesPerKey: ring.bytes / Math.max(1, ring.dedupeKeys),
  });
  for (const kind of kinds) {
    // new_spender only tracks identities nobody configured.
    const shape = kind === 'new_spender' ? { ...attributed, unattributed: true } : attributed;
    const m = measure({ [kind]: (DETECTORS as DetectorRegistry)[kind] as AnyDetector }, shape);
    const keys = m.keys[kind] ?? 0;
    const bytes = m.bytes - engineOnly.bytes;
    memory.push({
      name: shape.unattributed ? `${kind} (unattributed identities)` : kind,
      keys,
      bytes,
      bytesPerKey: keys === 0 ? Number.NaN : bytes / keys,
      fewKeys: keys < keyCount / 100,
    });
  }
  const all = measure(DETECTORS, attributed);
  const allKeys = all.dedupeKeys + Object.values(all.keys).reduce((n, k) => n + k, 0);
  memory.push({
    name: 'all detectors + engine, per tracked key (sum of all keys)',
    keys: allKeys,
    bytes: all.bytes,
    bytesPerKey: all.bytes / allKeys,
  });
  memoryNote = `all detectors: ${(all.bytes / keyCount).toFixed(0)} bytes per developer with one session (keys: ${Object.entries(all.keys)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ')}, dedupe ${all.dedupeKeys})`;

  const team = await measureTeams(teamCount, eventsPerKey);
  const teamKeys = Object.values(team.keys).reduce((n, k) => n + k, 0) + team.hours;
  memory.push({
    name: `stage B after ${eventsPerKey} hours, per tracked key`,
    keys: teamKeys,
    bytes: team.bytes,
    bytesPerKey: team.bytes / teamKeys,
  });
  // A team's baselines fill over weeks (seasonal rings, calendar slots, the month's days): the
  // figure above is a young team's; this one is a team that has sent rollups for steadyHours,
  // measured before anything else ran (steadyTeamsMeasured).
  const steady = steadyTeamsMeasured as Awaited<ReturnType<typeof measureTeams>>;
  const steadyKeys = Object.values(steady.keys).reduce((n, k) => n + k, 0) + steady.hours;
  memory.push({
    name: `stage B after ${steadyHours / 168} weeks (${steadyTeams} teams), per tracked key`,
    keys: steadyKeys,
    bytes: steady.bytes,
    bytesPerKey: steady.bytes / steadyKeys,
  });
  teamMemoryNote = `stage B: heap and array buffers; ${(steady.bytes / steadyTeams).toFixed(0)} bytes per team after ${steadyHours / 168} weeks, ${(team.bytes / teamCount).toFixed(0)} bytes per team (${teamCount.toLocaleString('en-US')} teams, 2 models each, ${eventsPerKey} hours of rollups; keys: ${Object.entries(
    team.keys,
  )
    .map(([k, n]) => `${k} ${n}`)
    .join(', ')}, open hours ${team.hours})`;
}

const ratio = (x: number): string => (x / parse.perSecond).toFixed(2);
const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');

if (values.json) {
  console.log(
    JSON.stringify(
      {
        stream: { events: lines.length, ndjson_bytes: ndjsonBytes, detectors: kinds, passes },
        json_parse_per_s: Math.round(parse.perSecond),
        detect_per_s: Math.round(detect.perSecond),
        parse_and_detect_per_s: Math.round(parseAndDetect.perSecond),
        detect_ratio_to_parse: Number((detect.perSecond / parse.perSecond).toFixed(3)),
        parse_and_detect_ratio_to_parse: Number((parseAndDetect.perSecond / parse.perSecond).toFixed(3)),
        engine_alone_per_s: Math.round(engineAlone),
        per_detector_per_s: Object.fromEntries(perDetector.map((d) => [d.kind, Math.round(d.perSecond)])),
        stage_b: {
          rollups: rollupLines.length,
          ndjson_bytes: rollupBytes,
          json_parse_per_s: Math.round(teamParse.perSecond),
          detect_per_s: Math.round(teamDetect.perSecond),
          detect_ratio_to_parse: Number((teamDetect.perSecond / teamParse.perSecond).toFixed(3)),
        },
        memory: memory.map((m) => ({ ...m, bytesPerKey: Number.isFinite(m.bytesPerKey) ? Math.round(m.bytesPerKey) : null })),
        memory_note: memoryNote || undefined,
        team_memory_note: teamMemoryNote || undefined,
        targets: { events_per_s: TARGET_EVENTS_PER_S, ratio: TARGET_RATIO, bytes_per_key: TARGET_BYTES_PER_KEY },
      },
      null,
      2,
    ),
  );
} else {
  const pass = (ok: boolean): string => (ok ? 'PASS' : 'FAIL');
  const out: string[] = [];
  out.push(
    `detector bench: generated scenario, ${fmt(lines.length)} events (${(ndjsonBytes / 1e6).toFixed(1)} MB NDJSON), ` +
      `detectors: ${kinds.join(', ')}; single thread, best of ${passes} passes after a warm-up, the paths taking turns`,
  );
  out.push('');
  out.push(`  ${'path'.padEnd(52)} ${'events/s'.padStart(12)}  ${'x parse'.padStart(7)}  target`);
  out.push(`  ${'JSON.parse of the NDJSON lines (baseline)'.padEnd(52)} ${fmt(parse.perSecond).padStart(12)}  ${'1.00'.padStart(7)}`);
  const pureOk = detect.perSecond >= TARGET_EVENTS_PER_S && detect.perSecond >= TARGET_RATIO * parse.perSecond;
  out.push(
    `  ${'detect, parse excluded (pure path: engine.process)'.padEnd(52)} ${fmt(detect.perSecond).padStart(12)}  ${ratio(detect.perSecond).padStart(7)}  ` +
      `>= ${fmt(TARGET_EVENTS_PER_S)}/s and >= ${TARGET_RATIO.toFixed(2)}x parse: ${pass(pureOk)}`,
  );
  out.push(
    `  ${'JSON.parse + detect (parse included)'.padEnd(52)} ${fmt(parseAndDetect.perSecond).padStart(12)}  ${ratio(parseAndDetect.perSecond).padStart(7)}  (for reference)`,
  );
  out.push('');
  out.push(
    `stage B: the team engine over the ${fmt(rollupLines.length)} rollups stage A sends for the stream (one per counted event, as replay makes them; ${(rollupBytes / 1e6).toFixed(1)} MB NDJSON)`,
  );
  out.push(`  ${'path'.padEnd(52)} ${'rollups/s'.padStart(12)}  ${'x parse'.padStart(7)}  target`);
  out.push(`  ${'JSON.parse of the rollup lines (baseline)'.padEnd(52)} ${fmt(teamParse.perSecond).padStart(12)}  ${'1.00'.padStart(7)}`);
  const teamOk = teamDetect.perSecond >= TARGET_EVENTS_PER_S && teamDetect.perSecond >= TARGET_RATIO * teamParse.perSecond;
  out.push(
    `  ${'detect, parse excluded (team engine.process)'.padEnd(52)} ${fmt(teamDetect.perSecond).padStart(12)}  ${(teamDetect.perSecond / teamParse.perSecond).toFixed(2).padStart(7)}  ` +
      `>= ${fmt(TARGET_EVENTS_PER_S)}/s and >= ${TARGET_RATIO.toFixed(2)}x parse: ${pass(teamOk)}`,
  );
  out.push('');
  out.push(`each detector alone on the stream (engine included; engine alone: ${fmt(engineAlone)} events/s):`);
  for (const d of perDetector) {
    out.push(`  ${d.kind.padEnd(52)} ${fmt(d.perSecond).padStart(12)}  ${ratio(d.perSecond).padStart(7)}`);
  }
  out.push('');
  if (gc === undefined) out.push(`  ${memoryNote}`);
  else {
    out.push(`memory: ${fmt(keyCount)} distinct developers/sessions, ${eventsPerKey} events each an hour apart; heap delta after gc()`);
    out.push(`  ${'detector'.padEnd(60)} ${'keys'.padStart(9)} ${'MB'.padStart(8)} ${'bytes/key'.padStart(10)}  target`);
    for (const m of memory) {
      const perKey = Number.isFinite(m.bytesPerKey) ? fmt(m.bytesPerKey) : '-';
      const ok = !Number.isFinite(m.bytesPerKey) || m.bytesPerKey <= TARGET_BYTES_PER_KEY;
      const verdict = m.fewKeys
        ? '(team keys: bounded by team count, not judged)'
        : Number.isFinite(m.bytesPerKey)
          ? `<= ${TARGET_BYTES_PER_KEY}: ${pass(ok)}`
          : '';
      out.push(
        `  ${m.name.padEnd(60)} ${fmt(m.keys).padStart(9)} ${(m.bytes / 1e6).toFixed(1).padStart(8)} ${perKey.padStart(10)}  ${verdict}`.trimEnd(),
      );
    }
    out.push(`  ${memoryNote}`);
    out.push(`  ${teamMemoryNote}`);
  }
  console.log(out.join('\n'));
}
// Keeps the sinks observable so no pass is optimised away.
if (parse.sink + detect.sink + parseAndDetect.sink + teamParse.sink + teamDetect.sink < 0) console.log('unreachable');
