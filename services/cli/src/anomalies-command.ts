import type { AnomalyEntry } from '@burnrate/api';
import type { AnomalyState } from '@burnrate/schemas';
import { type ApiClient, ApiCallError, createApiClient } from './api-client.ts';
import { UsageError } from './backtest-args.ts';
import { formatWhen } from './backtest-format.ts';
import { parseCommandArgs } from './command-args.ts';
import type { CommandIO } from './config-command.ts';
import { type AnomalyDetailBody, anomalyDetail, anomalyTable } from './on-call-format.ts';

/** What the on-call commands read from the environment (main.ts reads it). */
export interface OnCallEnv {
  /** BURNRATE_URL. */
  url?: string | undefined;
  /** BURNRATE_API_TOKEN. */
  token?: string | undefined;
  /** Who the decisions and silences are by when --by is not given (BURNRATE_USER, else the login name). */
  user?: string | undefined;
  fetch?: typeof fetch;
}

export const ANOMALIES_USAGE = `usage:
  burnrate anomalies list [--state open|acknowledged|snoozed|resolved] [--status open|resolved]
                          [--team T] [--kind K] [--historical true|false] [--limit N] [--json]
  burnrate anomalies show <id> [--json]
  burnrate anomalies ack <id>... [--note TEXT] [--by WHO]
  burnrate anomalies unack <id>... [--note TEXT] [--by WHO]
  burnrate anomalies snooze <id>... (--for 4h | --until 2026-11-28T09:00:00Z) [--note TEXT] [--by WHO]
  burnrate anomalies resolve <id>... --reason expected|real|noise [--note TEXT] [--by WHO]

Talks to a running instance: BURNRATE_URL (default http://127.0.0.1:8787), BURNRATE_API_TOKEN.
Decisions are recorded by --by, else BURNRATE_USER, else your login name.`;

const VERBS = ['ack', 'unack', 'snooze', 'resolve'] as const;
type Verb = (typeof VERBS)[number];

/** `burnrate anomalies list|show|ack|unack|snooze|resolve`: 0 done, 1 the instance refused or could not be reached, 2 a bad command line. */
export async function anomaliesCommand(argv: readonly string[], env: OnCallEnv, io: CommandIO): Promise<number> {
  return runOnCall(io, ANOMALIES_USAGE, async () => {
    const [sub, ...rest] = argv;
    const client = () => createApiClient({ url: env.url, token: env.token, ...(env.fetch ? { fetch: env.fetch } : {}) });
    if (sub === undefined || sub === 'help' || sub === '--help') {
      io.out(ANOMALIES_USAGE);
      return 0;
    }
    if (sub === 'list') return list(rest, client(), io);
    if (sub === 'show') return show(rest, client(), io);
    if ((VERBS as readonly string[]).includes(sub)) return decide(sub as Verb, rest, env, client(), io);
    throw new UsageError(`unknown anomalies command ${JSON.stringify(sub)}`);
  });
}

async function list(argv: readonly string[], client: ApiClient, io: CommandIO): Promise<number> {
  const args = parseCommandArgs(argv, { values: ['state', 'status', 'team', 'kind', 'historical', 'limit'], switches: ['json'] });
  if (args.switches.has('help')) return usage(io);
  if (args.positionals.length > 0)
    throw new UsageError(`anomalies list takes no ${JSON.stringify(args.positionals[0])}; filter with --state, --team, --kind`);
  const query = new URLSearchParams();
  for (const name of ['state', 'status', 'team', 'kind', 'historical', 'limit']) {
    const value = args.values.get(name);
    if (value !== undefined) query.set(name, value);
  }
  const q = query.toString();
  const { anomalies } = await client.call<{ anomalies: AnomalyEntry[] }>('GET', `/api/anomalies${q ? `?${q}` : ''}`);
  if (args.switches.has('json')) io.out(JSON.stringify(anomalies, null, 2));
  else if (anomalies.length === 0) io.out(q ? `no anomalies match ${q}` : 'no anomalies');
  else for (const line of anomalyTable(anomalies)) io.out(line);
  return 0;
}

async function show(argv: readonly string[], client: ApiClient, io: CommandIO): Promise<number> {
  const args = parseCommandArgs(argv, { switches: ['json'] });
  if (args.switches.has('help')) return usage(io);
  const [id, extra] = args.positionals;
  if (id === undefined || extra !== undefined) throw new UsageError('anomalies show takes one anomaly id');
  const detail = await client.call<AnomalyDetailBody>('GET', `/api/anomalies/${encodeURIComponent(id)}`);
  if (args.switches.has('json')) io.out(JSON.stringify(detail, null, 2));
  else for (const line of anomalyDetail(detail)) io.out(line);
  return 0;
}

async function decide(verb: Verb, argv: readonly string[], env: OnCallEnv, client: ApiClient, io: CommandIO): Promise<number> {
  const values = ['note', 'by', ...(verb === 'snooze' ? ['for', 'until'] : []), ...(verb === 'resolve' ? ['reason'] : [])];
  const args = parseCommandArgs(argv, { values });
  if (args.switches.has('help')) return usage(io);
  if (args.positionals.length === 0)
    throw new UsageError(`anomalies ${verb} needs at least one anomaly id (burnrate anomalies list shows them)`);
  if (verb === 'snooze' && args.values.has('for') === args.values.has('until')) {
    throw new UsageError('anomalies snooze needs one of --for (4h, 1d) or --until (2026-11-28T09:00:00Z)');
  }
  // Without a reason the precision report cannot count the resolution: ask for one here.
  if (verb === 'resolve' && !args.values.has('reason')) {
    throw new UsageError('anomalies resolve needs --reason expected|real|noise: it is what burnrate report precision counts');
  }
  const body: Record<string, string> = { channel: 'cli' };
  const by = args.values.get('by') ?? env.user;
  if (by) body.by = by;
  for (const name of ['note', 'for', 'until', 'reason']) {
    const value = args.values.get(name);
    if (value !== undefined) body[name] = value;
  }
  let failed = 0;
  // One call per id: each is its own decision, and one unknown id must not hold back the others.
  for (const id of args.positionals) {
    try {
      const { decision } = await client.call<{ decision: AnomalyState }>('POST', `/api/anomalies/${encodeURIComponent(id)}/${verb}`, body);
      io.out(done(decision));
    } catch (err) {
      // The same answer for every id (bad token, unreachable, a bad --for): say it once.
      if (!(err instanceof ApiCallError) || err.status === undefined || err.status === 401 || err.status === 400) throw err;
      io.err(`${id}: ${err.message}`);
      failed += 1;
    }
  }
  return failed === 0 ? 0 : 1;
}

function done(d: AnomalyState): string {
  const what =
    d.action === 'snoozed' && d.snoozed_until !== undefined
      ? `snoozed until ${formatWhen(d.snoozed_until)}`
      : d.action === 'resolved' && d.reason !== undefined
        ? `resolved as ${d.reason}`
        : d.action;
  return `${d.anomaly_id}: ${what} by ${d.by}`;
}

function usage(io: CommandIO): number {
  io.out(ANOMALIES_USAGE);
  return 0;
}

/** Runs an on-call command: a UsageError exits 2 with the usage, an ApiCallError exits 1 with its message. */
export async function runOnCall(io: CommandIO, usageText: string, run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${err.message}\n\n${usageText}`);
      return 2;
    }
    if (err instanceof ApiCallError) {
      io.err(err.message);
      return 1;
    }
    throw err;
  }
}
