import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BurnrateError,
  type Config,
  ConfigError,
  formatDuration,
  isBurnrateError,
  loadConfig,
  type Logger,
  redactUrl,
  teamTimezone,
} from '@burnrate/core';
import { replay, reportsAfterTheirPeriod } from '@burnrate/detector';
import type { UsageEvent } from '@burnrate/schemas';
import { createChdbStore, createClickHouseStore, type Store, streamUsageEvents } from '@burnrate/store';
import { type BacktestArgs, parseBacktestArgs, UsageError } from './backtest-args.ts';
import { type EventWindow, postedRecordReader, readNdjsonEvents } from './backtest-events.ts';
import { formatReport, formatReportJson } from './backtest-format.ts';
import { type BacktestReport, CONVENTIONS, diffRuns, type EventSourceInfo, runReport, type RunReport } from './backtest-report.ts';
import { collectScores } from './backtest-scores.ts';
import type { CommandIO } from './config-command.ts';

/** What `main.ts` reads from the environment for a backtest. */
export interface BacktestEnv {
  /** BURNRATE_DATA_DIR: the directory `burnrate start` writes to; its embedded store is `<dir>/chdb`. */
  dataDir?: string;
  /** From CLICKHOUSE_URL (and _USER, _PASSWORD, _DATABASE): read events from a ClickHouse server instead. */
  clickhouse?: { url: string; username?: string; password?: string; database?: string };
  log: Logger;
}

export const BACKTEST_USAGE = `usage: burnrate backtest --config proposed.yaml [--baseline current.yaml]
                         [--from 2026-11-01] [--to 2026-11-29] [--warmup 14d]
                         [--input events.ndjson [--skip-invalid]] [--data-dir DIR] [--json [--scores]]

Replays usage events through the detectors with each config and prints the anomalies each would
have raised, per team and per week, and with --baseline the difference (new, gone, changed).

  --config FILE      the proposed burnrate.yaml
  --baseline FILE    the config to compare with (usually the one running today)
  --from, --to       occurred_at range, from inclusive, to exclusive: a date (midnight UTC) or an
                     ISO instant such as 2026-11-01T09:00:00-05:00
  --warmup DURATION  also replay this much before --from so baselines are warm; anomalies first
                     detected before --from are not reported
  --input FILE       NDJSON instead of the store: UsageEvents as stored (burnrate export events) or
                     records as POST /v1/events takes them, attributed and priced under --config;
                     an invalid line fails the run
  --skip-invalid     with --input: skip invalid lines and count them instead
  --data-dir DIR     the data directory of \`burnrate start\` (default BURNRATE_DATA_DIR or ./.burnrate);
                     it must not be running: the embedded store opens in one process at a time
  --json             one JSON document instead of tables
  --scores           with --json: add runs[].scores, each detector's score against its threshold
                     wherever it evaluated (near misses included), at most one per kind, subject
                     and UTC hour (the closest to firing); for an hourly detector that is every
                     key and hour judged, for a session detector its closest call of each hour

Without --input, events come from the ClickHouse server at CLICKHOUSE_URL when it is set.
Same events and same configs give byte-identical output.`;

const DEFAULT_DATA_DIR = '.burnrate';

interface EventSource {
  info: EventSourceInfo;
  /** A fresh pass over the window's events in replay order; called once per config. */
  events(): Iterable<UsageEvent> | AsyncIterable<UsageEvent>;
  close(): Promise<void>;
}

/** `burnrate backtest …`: 0 when the report is printed, 1 for a bad config, input or store, 2 for a bad command line. */
export async function backtest(argv: readonly string[], env: BacktestEnv, io: CommandIO): Promise<number> {
  let args: BacktestArgs;
  try {
    args = parseBacktestArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`burnrate backtest: ${err.message}\n\n${BACKTEST_USAGE}`);
    return 2;
  }
  if (args.help) {
    io.out(BACKTEST_USAGE);
    return 0;
  }

  const proposed = await loadChecked(args.config, '--config', io);
  const baseline = args.baseline === undefined ? undefined : await loadChecked(args.baseline, '--baseline', io);
  if (proposed === undefined || (args.baseline !== undefined && baseline === undefined)) return 1;
  if (baseline !== undefined && baseline.org !== proposed.org) {
    io.err(
      `--baseline ${args.baseline} is for org ${baseline.org} but --config ${args.config} is for org ${proposed.org}; compare configs of one org`,
    );
    return 1;
  }

  const window: EventWindow = {
    org: proposed.org,
    from:
      args.from !== undefined && args.warmupMs !== undefined ? new Date(Date.parse(args.from) - args.warmupMs).toISOString() : args.from,
    to: args.to,
  };

  let source: EventSource;
  try {
    source = await openSource(args, env, window, proposed);
  } catch (err) {
    if (!isBurnrateError(err)) throw err;
    io.err(err.message);
    return 1;
  }
  try {
    // Weeks of both runs use the proposed config's zones, so a team's week is the same row in both.
    const zoneOf = (team: string): string => teamTimezone(proposed, team);
    const run = async (role: RunReport['role'], path: string, config: Config): Promise<RunReport> => {
      const scores = args.scores ? collectScores() : undefined;
      const result = await replay(source.events(), config, scores === undefined ? {} : { score: scores.sink });
      const report = runReport(role, path, result, zoneOf, args.from);
      return scores === undefined ? report : { ...report, scores: scores.rows(args.from) };
    };
    const proposedRun = await run('proposed', args.config, proposed);
    const baselineRun = baseline === undefined || args.baseline === undefined ? undefined : await run('baseline', args.baseline, baseline);
    if (baselineRun !== undefined && baselineRun.replay.events !== proposedRun.replay.events) {
      // Only a ClickHouse server can change under us (chdb is ours alone, a file is read once).
      io.err(
        `warning: the store changed during the backtest (${proposedRun.replay.events} events in the first pass, ${baselineRun.replay.events} in the second); pass --to to fix the range`,
      );
    }
    const report: BacktestReport = {
      org: proposed.org,
      source: source.info,
      range: { from: args.from ?? null, to: args.to ?? null, warmup: args.warmupMs === undefined ? null : formatDuration(args.warmupMs) },
      conventions: CONVENTIONS,
      runs: baselineRun === undefined ? [proposedRun] : [proposedRun, baselineRun],
      diff: baselineRun === undefined ? null : diffRuns(baselineRun.anomalies, proposedRun.anomalies),
    };
    io.out((args.json ? formatReportJson(report) : formatReport(report)).trimEnd());
    return 0;
  } catch (err) {
    if (!isBurnrateError(err)) throw err;
    io.err(`burnrate backtest: ${err.message}`);
    return 1;
  } finally {
    await source.close();
  }
}

/** The config, or undefined after printing its problems the way `config check` does. */
async function loadChecked(path: string, flag: string, io: CommandIO): Promise<Config | undefined> {
  try {
    return await loadConfig(path);
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`${flag}: ${err.message}`);
      io.err(`${err.issues.length} problem${err.issues.length === 1 ? '' : 's'} found.`);
    } else if (isBurnrateError(err)) {
      io.err(`${flag}: ${err.message}`);
    } else {
      throw err;
    }
    return undefined;
  }
}

async function openSource(args: BacktestArgs, env: BacktestEnv, window: EventWindow, config: Config): Promise<EventSource> {
  if (args.input !== undefined) {
    // Records as posted are attributed and priced under the proposed config, once for both runs.
    const posted = postedRecordReader(config);
    const { events, stats } = await readNdjsonEvents(args.input, window, { skipInvalid: args.skipInvalid, posted });
    return { info: { kind: 'ndjson', path: args.input, ...stats }, events: () => reportsAfterTheirPeriod(events), close: async () => {} };
  }
  const { store, info } = await openEventStore(args.dataDir, env);
  return { info, events: () => reportsAfterTheirPeriod(streamUsageEvents(store, window)), close: () => store.close() };
}

/**
 * The store events are read from: `dataDir`'s embedded store when given, else the ClickHouse
 * server at CLICKHOUSE_URL when set, else BURNRATE_DATA_DIR's (default ./.burnrate).
 */
export async function openEventStore(
  dataDir: string | undefined,
  env: BacktestEnv,
): Promise<{ store: Store; info: Exclude<EventSourceInfo, { kind: 'ndjson' }> }> {
  if (dataDir === undefined && env.clickhouse !== undefined) {
    const store = await createClickHouseStore({ ...env.clickhouse, log: env.log });
    return { store, info: { kind: 'clickhouse', url: redactUrl(env.clickhouse.url) } };
  }
  const chdbDir = await findChdbDir(dataDir ?? env.dataDir ?? DEFAULT_DATA_DIR);
  return { store: await openChdb(chdbDir, env.log), info: { kind: 'chdb', data_dir: chdbDir } };
}

/** `<dir>/chdb` as `burnrate start` lays it out, or `dir` itself when it is the engine's directory. */
async function findChdbDir(dataDir: string): Promise<string> {
  const nested = join(dataDir, 'chdb');
  if (await isDirectory(nested)) return nested;
  if (await isDirectory(join(dataDir, 'metadata'))) return dataDir;
  throw new BurnrateError(
    'NOT_FOUND',
    `no embedded store in ${dataDir} (${nested} does not exist): pass the data directory of \`burnrate start\` with --data-dir, ` +
      'events as NDJSON with --input, or set CLICKHOUSE_URL to read from a ClickHouse server',
  );
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Opens chdb read-for-replay. libchdb locks its directory to one process, so while `burnrate
 * start` runs on it the open fails at once (no wait); that failure gets an explanation here
 * because chdb's own text ("Failed to create connection") does not say what to do.
 */
async function openChdb(dir: string, log: Logger): Promise<Store> {
  let store: Store;
  try {
    store = await createChdbStore({ dataDir: dir, log });
  } catch (err) {
    if (isBurnrateError(err) && err.code === 'STORE_UNAVAILABLE') {
      throw new BurnrateError(
        'STORE_UNAVAILABLE',
        `cannot open the embedded store in ${dir}: another process holds it, most likely a running \`burnrate start\` ` +
          '(the embedded ClickHouse opens a data directory in one process at a time). Stop it and run the command again; ' +
          `a backtest can also replay a file of events with --input events.ndjson. (chdb: ${err.message})`,
        { cause: err },
      );
    }
    throw err;
  }
  try {
    // Same migrations `burnrate start` runs; a directory from an older version gains the columns replay reads.
    await store.migrate();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}
