import type { SilenceEntry } from '@burnrate/api';
import { formatSilenceMatcher } from '@burnrate/schemas';
import { type OnCallEnv, runOnCall } from './anomalies-command.ts';
import { type ApiClient, ApiCallError, createApiClient } from './api-client.ts';
import { UsageError } from './backtest-args.ts';
import { formatWhen } from './backtest-format.ts';
import { parseCommandArgs } from './command-args.ts';
import type { CommandIO } from './config-command.ts';
import { silenceTable } from './on-call-format.ts';

export const SILENCE_USAGE = `usage:
  burnrate silence add --match LABEL=VALUE [LABEL!=VALUE ...] (--for 4h | --until INSTANT)
                       [--starts INSTANT] --comment "why" [--by WHO]
                                  labels: team, kind, severity, developer, model, session, tool, emitter
  burnrate silence list [--all | --expired] [--json]
  burnrate silence expire <id>...

Talks to a running instance: BURNRATE_URL (default http://127.0.0.1:8787), BURNRATE_API_TOKEN.`;

/** `burnrate silence add|list|expire`: 0 done, 1 the instance refused or could not be reached, 2 a bad command line. */
export async function silenceCommand(argv: readonly string[], env: OnCallEnv, io: CommandIO): Promise<number> {
  return runOnCall(io, SILENCE_USAGE, async () => {
    const [sub, ...rest] = argv;
    const client = () => createApiClient({ url: env.url, token: env.token, ...(env.fetch ? { fetch: env.fetch } : {}) });
    if (sub === undefined || sub === 'help' || sub === '--help') {
      io.out(SILENCE_USAGE);
      return 0;
    }
    if (sub === 'add') return add(rest, env, client(), io);
    if (sub === 'list') return list(rest, client(), io);
    if (sub === 'expire') return expire(rest, client(), io);
    throw new UsageError(`unknown silence command ${JSON.stringify(sub)}`);
  });
}

async function add(argv: readonly string[], env: OnCallEnv, client: ApiClient, io: CommandIO): Promise<number> {
  const args = parseCommandArgs(argv, { values: ['for', 'until', 'starts', 'comment', 'by'], lists: ['match'] });
  if (args.switches.has('help')) return usage(io);
  if (args.positionals.length > 0) {
    throw new UsageError(
      `silence add takes no ${JSON.stringify(args.positionals[0])}; matchers go after --match (--match team=payments kind=session_cost)`,
    );
  }
  const matchers = args.lists.get('match');
  if (!matchers) throw new UsageError('silence add needs --match LABEL=VALUE ... (e.g. --match team=payments kind=session_cost)');
  if (args.values.has('for') === args.values.has('until'))
    throw new UsageError('silence add needs one of --for (4h, 2d) or --until INSTANT');
  const comment = args.values.get('comment');
  if (comment === undefined) throw new UsageError('silence add needs --comment "why": the next person on call reads it');
  const body: Record<string, unknown> = { matchers, comment };
  const by = args.values.get('by') ?? env.user;
  if (by) body.created_by = by;
  if (args.values.has('for')) body.for = args.values.get('for');
  if (args.values.has('until')) body.ends_at = args.values.get('until');
  if (args.values.has('starts')) body.starts_at = args.values.get('starts');
  const { silence } = await client.call<{ silence: SilenceEntry }>('POST', '/api/silences', body);
  io.out(
    `silence ${silence.id} added (${silence.state}): ${silence.matchers.map(formatSilenceMatcher).join(' ')}, from ${formatWhen(silence.starts_at)} until ${formatWhen(silence.ends_at)}`,
  );
  return 0;
}

async function list(argv: readonly string[], client: ApiClient, io: CommandIO): Promise<number> {
  const args = parseCommandArgs(argv, { switches: ['all', 'expired', 'json'] });
  if (args.switches.has('help')) return usage(io);
  if (args.switches.has('all') && args.switches.has('expired')) throw new UsageError('give --all or --expired, not both');
  const state = args.switches.has('all') ? '?state=all' : args.switches.has('expired') ? '?state=expired' : '';
  const { silences } = await client.call<{ silences: SilenceEntry[] }>('GET', `/api/silences${state}`);
  if (args.switches.has('json')) io.out(JSON.stringify(silences, null, 2));
  else if (silences.length === 0) io.out(state ? 'no silences' : 'no active or pending silences (--all lists expired ones too)');
  else for (const line of silenceTable(silences)) io.out(line);
  return 0;
}

async function expire(argv: readonly string[], client: ApiClient, io: CommandIO): Promise<number> {
  const args = parseCommandArgs(argv, {});
  if (args.switches.has('help')) return usage(io);
  if (args.positionals.length === 0)
    throw new UsageError('silence expire needs at least one silence id (burnrate silence list shows them)');
  let failed = 0;
  for (const id of args.positionals) {
    try {
      const { silence } = await client.call<{ silence: SilenceEntry }>('DELETE', `/api/silences/${encodeURIComponent(id)}`);
      io.out(`silence ${silence.id} expired at ${formatWhen(silence.ends_at)}`);
    } catch (err) {
      if (!(err instanceof ApiCallError) || err.status !== 404) throw err;
      io.err(`${id}: ${err.message}`);
      failed += 1;
    }
  }
  return failed === 0 ? 0 : 1;
}

function usage(io: CommandIO): number {
  io.out(SILENCE_USAGE);
  return 0;
}
