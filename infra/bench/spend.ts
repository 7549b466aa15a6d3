/**
 * `npm run bench:spend [-- --developers 5000 --days 365 --per-day 40 --runs 20]`: the spend views
 * (Store.spend / spendTop, what GET /api/spend and /api/spend/top run) over a generated year of
 * an org, in a fresh chdb store.
 *
 * The year is generated inside ClickHouse (INSERT … SELECT from numbers(), a month per
 * statement) into usage_events_v1, so the materialised views fill spend_hourly_v1 and the change
 * and report-day tables exactly as ingest would: per developer and working day `--per-day`
 * request-level events in three sessions between 09:00 and 18:00 UTC over three models and two
 * tools, 50 teams; and per team and day an Anthropic cost report bucket (which replaces that
 * day's live Anthropic spend) and an OpenAI costs bucket, except for the last two days (not
 * reported yet, as in life). Then the rollup is refreshed once and each query shape runs `--runs`
 * times; p50 and p95 are printed, with the same shape read from the events alone (no rollup) as
 * the baseline of the same run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Session } from 'chdb';
import { createLogger } from '@burnrate/core';
import { createChdbStore, type SpendReportQuery, type SpendTopQuery, type Store } from '@burnrate/store';

const { values } = parseArgs({
  options: {
    developers: { type: 'string', default: '5000' },
    days: { type: 'string', default: '365' },
    'per-day': { type: 'string', default: '40' },
    runs: { type: 'string', default: '20' },
    'keep-dir': { type: 'boolean', default: false },
  },
});
const developers = Number(values.developers);
const days = Number(values.days);
const perDay = Number(values['per-day']);
const runs = Number(values.runs);
const TEAMS = 50;
const ORG = 'bench';
// The year ends on this instant; "now" for month-to-date.
const END = Date.UTC(2026, 11, 1);
const START = END - days * 86_400_000;

const iso = (ms: number): string => new Date(ms).toISOString();

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'burnrate-bench-spend-'));
  const log = createLogger({ level: 'warn' });
  const store = await createChdbStore({ dataDir: dir, log });
  await store.migrate();
  // A second session on the same directory for the bulk generation; the store's own stays for reads.
  const raw = new Session(dir);
  try {
    const t0 = performance.now();
    const events = await generate(raw);
    const loadS = (performance.now() - t0) / 1000;
    console.log(`generated ${events.toLocaleString('en-US')} usage events in ${loadS.toFixed(1)} s`);
    await raw.queryAsync('OPTIMIZE TABLE spend_hourly_v1 FINAL');

    const shapes = queryShapes();
    console.log('\nbaseline: the events alone (spend_hourly_v1 FINAL), before any refresh, 1 run each');
    const baseline = new Map<string, number>();
    for (const [name, run] of shapes) baseline.set(name, (await time(store, run, 1)).p50);

    const t1 = performance.now();
    let sealed = 0;
    for (;;) {
      const n = await store.refreshSpendRollup({ settleMs: 0, maxHours: 100_000 });
      sealed += n;
      if (n === 0) break;
    }
    console.log(`refresh: ${sealed} hours sealed in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
    for (const table of ['spend_rollup_v1', 'spend_rollup_team_v1', 'spend_rollup_developer_day_v1'])
      await raw.queryAsync(`OPTIMIZE TABLE ${table} FINAL`);
    const sizes = JSON.parse(
      (
        await raw.queryAsync(
          `SELECT groupArray((table, rows)) AS t FROM (SELECT table, sum(rows) AS rows FROM system.parts
            WHERE active AND database = currentDatabase() AND table IN ('usage_events_v1', 'spend_hourly_v1', 'spend_rollup_v1', 'spend_rollup_team_v1', 'spend_rollup_developer_day_v1') GROUP BY table ORDER BY table)`,
          { format: 'JSONEachRow' },
        )
      ).text(),
    ) as { t: [string, string][] };
    for (const [table, rows] of sizes.t) console.log(`  ${table}: ${Number(rows).toLocaleString('en-US')} rows`);

    console.log(`\nquery shapes over the rollup, ${runs} runs each (ms)`);
    console.log(['shape'.padEnd(58), 'p50'.padStart(8), 'p95'.padStart(8), 'events only p50'.padStart(16), 'rows'.padStart(8)].join(''));
    for (const [name, run] of shapes) {
      const t = await time(store, run, runs);
      console.log(
        [
          name.padEnd(58),
          t.p50.toFixed(0).padStart(8),
          t.p95.toFixed(0).padStart(8),
          (baseline.get(name) ?? 0).toFixed(0).padStart(16),
          String(t.rows).padStart(8),
        ].join(''),
      );
    }
  } finally {
    raw.close();
    await store.close();
    if (!values['keep-dir']) await rm(dir, { recursive: true, force: true });
    else console.log(`data kept in ${dir}`);
  }
}

/** The year, a month of days per statement; returns the number of events stored. */
async function generate(raw: Session): Promise<number> {
  const chunkDays = 30;
  for (let d0 = 0; d0 < days; d0 += chunkDays) {
    const n = Math.min(chunkDays, days - d0);
    const from = START + d0 * 86_400_000;
    // number → developer, day of the chunk, event of the day; weekends dropped.
    await raw.queryAsync(
      `INSERT INTO usage_events_v1 (event_id, source, provider, tool, granularity, occurred_at, ingested_at, org, developer, team,
              session_id, model, model_family, tier, is_batch, requests, input_tokens, output_tokens, cache_read_tokens,
              cache_write_tokens, cost_usd, cost_source, attributes)
       SELECT concat('live-', toString(${d0}), '-', toString(number)) AS event_id, 'claude_code_otel', 'anthropic',
              if(h % 5 = 0, 'cursor', 'claude-code'), 'request', at, at, '${ORG}', concat('dev', toString(dev), '@acme.com'),
              concat('team', toString(dev % ${TEAMS})),
              concat('s-', toString(dev), '-', toString(day), '-', toString(intDiv(hr - 9, 3))),
              model, model, 'standard', false, 1, 2000 + h % 5000, 200 + h % 800, 20000 + h % 50000, 0,
              round((0.002 + (h % 1000) / 1000 * 0.2) * multiIf(model = 'claude-opus-4-5', 5, model = 'claude-sonnet-4-5', 1, 0.25), 6),
              'computed', map()
         FROM (
           SELECT number, number % ${developers} AS dev, intDiv(number, ${developers}) % ${n} AS day,
                  cityHash64(number, ${d0}) AS h, 9 + h % 9 AS hr,
                  toDateTime64(${from / 1000} + day * 86400 + hr * 3600 + intDiv(h, 9) % 3600, 3, 'UTC') AS at,
                  multiIf(h % 10 < 5, 'claude-sonnet-4-5', h % 10 < 8, 'claude-opus-4-5', 'claude-haiku-4-5') AS model
             FROM numbers(${developers * n * perDay})
         )
        WHERE toDayOfWeek(at) < 6`,
    );
  }
  // Reports: per team and day, Anthropic's cost report and OpenAI's costs, all but the last two days.
  await raw.queryAsync(
    `INSERT INTO usage_events_v1 (event_id, source, provider, tool, granularity, period_start, period_end, occurred_at, ingested_at,
            org, developer, team, model, model_family, tier, is_batch, requests, input_tokens, output_tokens, cache_read_tokens,
            cache_write_tokens, cost_usd, cost_source, attributes)
     SELECT concat(src, '-', toString(day), '-', toString(team)), src, provider, 'api', '1d', at, at + INTERVAL 1 DAY, at, at + INTERVAL 1 DAY,
            '${ORG}', 'workspace:default', concat('team', toString(team)), model, model, 'standard', false, 0, 0, 0, 0, 0,
            round(if(provider = 'anthropic', 900, 40) * (1 + (cityHash64(day, team) % 100) / 200), 2), 'reported', map()
       FROM (
         SELECT intDiv(number, ${TEAMS}) % ${days - 2} AS day, number % ${TEAMS} AS team,
                toDateTime64(${START / 1000} + day * 86400, 3, 'UTC') AS at,
                if(number < ${TEAMS * (days - 2)}, 'anthropic_cost_report', 'openai_costs') AS src,
                if(src = 'anthropic_cost_report', 'anthropic', 'openai') AS provider,
                if(provider = 'anthropic', 'claude-opus-4-5', 'gpt-5') AS model
           FROM numbers(${2 * TEAMS * (days - 2)})
       )`,
  );
  const [row] = (await raw.queryAsync(`SELECT count() AS n FROM usage_events_v1`, { format: 'JSONEachRow' }))
    .text()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { n: number | string });
  return Number(row?.n ?? 0);
}

type Shape = (store: Store) => Promise<unknown[]>;

function queryShapes(): [string, Shape][] {
  const year = { org: ORG, from: iso(START), to: iso(END) };
  const month = { org: ORG, from: iso(END - 30 * 86_400_000), to: iso(END) };
  const week = { org: ORG, from: iso(END - 7 * 86_400_000), to: iso(END) };
  const mtd = { org: ORG, from: iso(Date.UTC(2026, 10, 1)), to: iso(END) };
  const spend =
    (q: SpendReportQuery): Shape =>
    (s) =>
      s.spend(q);
  const top =
    (q: SpendTopQuery): Shape =>
    (s) =>
      s.spendTop(q);
  return [
    ['year, by month and team', spend({ ...year, granularity: 'month', group_by: ['team'] })],
    ['year, by day and team, model', spend({ ...year, granularity: 'day', group_by: ['team', 'model'] })],
    ['year, by month and provider, tool', spend({ ...year, granularity: 'month', group_by: ['provider', 'tool'] })],
    ['year, one team by month and developer', spend({ ...year, granularity: 'month', group_by: ['developer'], filter: { team: 'team7' } })],
    ['30 days, by day and developer', spend({ ...month, granularity: 'day', group_by: ['developer'] })],
    ['7 days, by hour and team', spend({ ...week, granularity: 'hour', group_by: ['team'] })],
    ['month to date, by day and team (budget, forecast)', spend({ ...mtd, granularity: 'day', group_by: ['team'] })],
    ['year, top 10 developers', top({ ...year, by: 'developer' })],
    ['30 days, top 10 sessions', top({ ...month, by: 'session' })],
  ];
}

async function time(store: Store, run: Shape, n: number): Promise<{ p50: number; p95: number; rows: number }> {
  const ms: number[] = [];
  let rows = 0;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    rows = (await run(store)).length;
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  const at = (q: number): number => ms[Math.min(ms.length - 1, Math.ceil(q * ms.length) - 1)] ?? 0;
  return { p50: at(0.5), p95: at(0.95), rows };
}

await main();
