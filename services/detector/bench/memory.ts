// `npm exec -- node --expose-gc services/detector/bench/memory.ts [--keys 100000]`: heap per tracked
// key of each baseline/bucket detector's state at 100k keys (target <= 1 KB, DESIGN.md), and the
// JSON snapshot bytes per key. Each key gets a realistic shape: a closed hour behind it (so its
// baseline arrays are in place) and an open bucket for the current hour; no episode open.
import { parseArgs } from 'node:util';
import {
  budgetForecast,
  cacheEfficiencyDrop,
  compileCalendar,
  DEFAULT_CALENDAR,
  type Detector,
  modelMixDrift,
  overEvents,
  spendSpike,
  teamCacheEfficiencyDrop,
  teamModelMixDrift,
  teamSpendSpike,
} from '@burnrate/detection';
import { DETECTOR_SETTINGS, type DetectorKindName } from '@burnrate/core';
import { UsageEvent } from '@burnrate/schemas';

const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: '100000' },
    teams: { type: 'string', default: '2000' },
    json: { type: 'boolean', default: false },
  },
});
const developers = Math.max(1, Number(values.keys));
const teams = Math.max(1, Number(values.teams));
const TARGET_BYTES_PER_KEY = 1024;

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc: heap figures without a forced GC are noise');

const calendar = compileCalendar(DEFAULT_CALENDAR, 'Europe/Berlin');
/** Each detector with burnrate.yaml's defaults for its kind. */
const cfgOf = (kind: DetectorKindName) => ({
  settingsFor: () => DETECTOR_SETTINGS[kind].defaults,
  calendarFor: () => calendar,
  plannedChange: () => undefined,
  budgetFor: () => 6000,
});

const T0 = Date.parse('2026-11-24T09:00:00Z');
const H = 3_600_000;
const template = UsageEvent.parse({
  event_id: 'x',
  source: 'claude_code_otel',
  provider: 'anthropic',
  tool: 'claude-code',
  granularity: 'request',
  occurred_at: new Date(T0).toISOString(),
  ingested_at: new Date(T0).toISOString(),
  org: 'acme',
  developer: 'x',
  team: 'payments',
  model: 'claude-opus-4-5',
  model_family: 'claude-opus',
  tier: 'premium',
  is_batch: false,
  requests: 1,
  input_tokens: 3000,
  output_tokens: 800,
  cache_read_tokens: 150_000,
  cache_write_tokens: 2000,
  cost_usd: 1.2,
  cost_source: 'computed',
  attributes: {},
});

/** Events of `count` subjects (developer i, or team i when `asTeams`) in one hour; strings are built per event as a consumer would parse them. */
function* hourOfEvents(count: number, hour: number, asTeams: boolean): Generator<UsageEvent> {
  const at = new Date(hour + 20 * 60_000).toISOString();
  for (let i = 0; i < count; i++) {
    const who = `developer-${i}@example.com`;
    yield {
      ...template,
      event_id: `e${hour}-${i}`,
      occurred_at: at,
      ingested_at: at,
      developer: who,
      developer_email: who,
      team: asTeams ? `team-${i}` : `team-${i % 50}`,
    };
  }
}

interface Row {
  detector: string;
  keys: number;
  heapBytesPerKey: number;
  snapshotBytesPerKey: number;
}

function measure<S, C>(name: string, kind: DetectorKindName, detector: Detector<S, C>, subjects: number, asTeams: boolean): Row {
  const cfg = cfgOf(kind);
  gc?.();
  const before = process.memoryUsage().heapUsed;
  let state = detector.initialState();
  for (const [h, wm] of [
    [T0, T0 + 30 * 60_000],
    [T0 + H, T0 + H + 30 * 60_000],
  ] as const) {
    // The second hour's watermark closes the first hour for every key (a scan), leaving one open bucket each.
    for (const e of hourOfEvents(subjects, h, asTeams))
      state = detector.step(state, e, cfg as C, { watermark: wm, lateness: 600_000 }).state;
  }
  gc?.();
  const after = process.memoryUsage().heapUsed;
  const keys = detector.size(state);
  const snapshot = JSON.stringify(state).length;
  const row = {
    detector: name,
    keys,
    heapBytesPerKey: Math.round((after - before) / keys),
    snapshotBytesPerKey: Math.round(snapshot / keys),
  };
  // Keep the state alive until measured.
  if (detector.size(state) < 0) console.log(state);
  return row;
}

const rows: Row[] = [
  measure('spend_spike (developer + developer×model)', 'spend_spike', spendSpike, developers, false),
  measure('model_mix_drift (developer)', 'model_mix_drift', modelMixDrift, developers, false),
  measure('cache_efficiency_drop (developer)', 'cache_efficiency_drop', cacheEfficiencyDrop, developers, false),
  measure('spend_spike (team + team×model)', 'spend_spike', overEvents(teamSpendSpike), teams, true),
  measure('model_mix_drift (team)', 'model_mix_drift', overEvents(teamModelMixDrift), teams, true),
  measure('cache_efficiency_drop (team)', 'cache_efficiency_drop', overEvents(teamCacheEfficiencyDrop), teams, true),
  measure('budget_forecast (team)', 'budget_forecast', overEvents(budgetForecast), teams, true),
];

const perDeveloper = (rows[0] as Row).heapBytesPerKey * 2 + (rows[1] as Row).heapBytesPerKey + (rows[2] as Row).heapBytesPerKey;
if (values.json === true) {
  console.log(JSON.stringify({ developers, teams, rows, perDeveloperAllDetectors: perDeveloper, targetBytesPerKey: TARGET_BYTES_PER_KEY }));
} else {
  console.log(`heap per tracked key (${developers} developers, ${teams} teams), target <= ${TARGET_BYTES_PER_KEY} B per key`);
  for (const r of rows) {
    const mark = r.heapBytesPerKey <= TARGET_BYTES_PER_KEY ? 'ok ' : 'OVER';
    console.log(
      `${mark} ${r.detector.padEnd(44)} keys ${String(r.keys).padStart(7)}  heap ${String(r.heapBytesPerKey).padStart(6)} B/key  snapshot ${String(r.snapshotBytesPerKey).padStart(6)} B/key`,
    );
  }
  console.log(`one developer across the three developer-scope detectors (developer and one developer×model key): ${perDeveloper} B`);
}
