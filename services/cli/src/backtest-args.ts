import { parseDuration } from '@burnrate/core';
import { Instant } from '@burnrate/schemas';

export interface BacktestArgs {
  /** The proposed config: the one being tuned. */
  config: string;
  /** The config it is compared with (usually what runs today). */
  baseline?: string;
  /** Inclusive lower bound on occurred_at, normalised to an ISO instant. */
  from?: string;
  /** Exclusive upper bound on occurred_at, normalised to an ISO instant. */
  to?: string;
  /** Events replayed before `from` to warm baselines up; anomalies first detected before `from` are not reported. */
  warmupMs?: number;
  input?: string;
  dataDir?: string;
  json: boolean;
  /** Adds every detector's score against its threshold to each run of the JSON report. */
  scores: boolean;
  skipInvalid: boolean;
  help: boolean;
}

/** A command line that cannot run: the message names the flag; the command exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const VALUE_FLAGS = new Set(['config', 'baseline', 'from', 'to', 'warmup', 'input', 'data-dir']);
const SWITCHES = new Set(['json', 'scores', 'skip-invalid', 'help']);
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * Parses the arguments after `backtest`. Its own parser rather than the generic one because the
 * generic one cannot tell a switch from a flag with a value (`--json events.ndjson`), and a typo
 * in a tuning run must fail loudly rather than silently replay with defaults.
 */
export function parseBacktestArgs(argv: readonly string[]): BacktestArgs {
  const values = new Map<string, string>();
  const switches = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument ${JSON.stringify(arg)}; backtest takes only --flags`);
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    if (SWITCHES.has(name)) {
      if (eq > 0) throw new UsageError(`--${name} is a switch and takes no value`);
      switches.add(name);
      continue;
    }
    if (!VALUE_FLAGS.has(name)) throw new UsageError(`unknown flag --${name}`);
    let value: string | undefined;
    if (eq > 0) value = arg.slice(eq + 1);
    else if (argv[i + 1] !== undefined && !(argv[i + 1] as string).startsWith('--')) value = argv[++i];
    if (value === undefined || value === '') throw new UsageError(`--${name} needs a value`);
    if (values.has(name)) throw new UsageError(`--${name} is given twice`);
    values.set(name, value);
  }

  const help = switches.has('help');
  const config = values.get('config');
  if (config === undefined && !help) throw new UsageError('--config <proposed.yaml> is required');
  const from = optional(values.get('from'), (v) => parseBound('--from', v));
  const to = optional(values.get('to'), (v) => parseBound('--to', v));
  if (from !== undefined && to !== undefined && from >= to) throw new UsageError(`--from ${from} must be before --to ${to}`);
  const warmup = values.get('warmup');
  let warmupMs: number | undefined;
  if (warmup !== undefined) {
    warmupMs = parseDuration(warmup);
    if (warmupMs === undefined || warmupMs <= 0)
      throw new UsageError(`--warmup ${JSON.stringify(warmup)} is not a duration such as 7d or 36h`);
    if (from === undefined) throw new UsageError('--warmup needs --from: it replays the events before --from without reporting them');
  }
  // The tables have no room for thousands of scores; a silently ignored switch would look like "none".
  if (switches.has('scores') && !switches.has('json')) throw new UsageError('--scores adds scores to the JSON report; pass --json too');
  if (values.has('input') && values.has('data-dir')) throw new UsageError('--input and --data-dir are two event sources; give one');

  return {
    config: config ?? '',
    baseline: values.get('baseline'),
    from,
    to,
    warmupMs,
    input: values.get('input'),
    dataDir: values.get('data-dir'),
    json: switches.has('json'),
    scores: switches.has('scores'),
    skipInvalid: switches.has('skip-invalid'),
    help,
  };
}

/** A date (midnight UTC) or an ISO instant with an offset, as the canonical `...Z` form the store and events use. */
export function parseBound(flag: string, value: string): string {
  const date = DATE.exec(value);
  if (date) {
    const [y, m, d] = [Number(date[1]), Number(date[2]), Number(date[3])];
    const ms = Date.UTC(y, m - 1, d);
    const back = new Date(ms);
    // Date.UTC rolls 2026-02-30 over to March; a date that does not survive the round trip is not a date.
    if (back.getUTCFullYear() !== y || back.getUTCMonth() !== m - 1 || back.getUTCDate() !== d)
      throw new UsageError(`${flag} ${JSON.stringify(value)} is not a calendar date`);
    return back.toISOString();
  }
  const parsed = Instant.safeParse(value);
  if (!parsed.success)
    throw new UsageError(`${flag} ${JSON.stringify(value)} is neither a date (2026-11-01) nor an ISO instant (2026-11-01T09:00:00Z)`);
  return parsed.data;
}

function optional<T>(value: string | undefined, parse: (v: string) => T): T | undefined {
  return value === undefined ? undefined : parse(value);
}
