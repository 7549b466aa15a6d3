import type { PrecisionReport, PrecisionRow } from '@burnrate/api';
import { type OnCallEnv, runOnCall } from './anomalies-command.ts';
import { createApiClient } from './api-client.ts';
import { UsageError } from './backtest-args.ts';
import { formatWhen, table } from './backtest-format.ts';
import { parseCommandArgs } from './command-args.ts';
import type { CommandIO } from './config-command.ts';

export const REPORT_USAGE = `usage:
  burnrate report precision [--since 30d | --since 2026-11-01T00:00:00Z] [--json]
                                  per detector kind and team: episodes, how many were acknowledged,
                                  resolved as real / expected / noise, and the share that was noise

Talks to a running instance: BURNRATE_URL (default http://127.0.0.1:8787), BURNRATE_API_TOKEN.`;

/** `burnrate report precision`: 0 printed, 1 the instance refused or could not be reached, 2 a bad command line. */
export async function reportCommand(argv: readonly string[], env: OnCallEnv, io: CommandIO): Promise<number> {
  return runOnCall(io, REPORT_USAGE, async () => {
    const [sub, ...rest] = argv;
    if (sub === undefined || sub === 'help' || sub === '--help') {
      io.out(REPORT_USAGE);
      return 0;
    }
    if (sub !== 'precision') throw new UsageError(`unknown report ${JSON.stringify(sub)}; there is precision`);
    const args = parseCommandArgs(rest, { values: ['since'], switches: ['json'] });
    if (args.switches.has('help')) {
      io.out(REPORT_USAGE);
      return 0;
    }
    if (args.positionals.length > 0) throw new UsageError(`report precision takes no ${JSON.stringify(args.positionals[0])}`);
    const client = createApiClient({ url: env.url, token: env.token, ...(env.fetch ? { fetch: env.fetch } : {}) });
    const since = args.values.get('since');
    const report = await client.call<PrecisionReport>('GET', `/api/report/precision${since ? `?since=${encodeURIComponent(since)}` : ''}`);
    if (args.switches.has('json')) io.out(JSON.stringify(report, null, 2));
    else for (const line of precisionTable(report)) io.out(line);
    return 0;
  });
}

/** The report as a table, the totals last; a noise share of 40% reads as 40%, none yet as a dash. */
export function precisionTable(report: PrecisionReport): string[] {
  const lines = [`precision from ${formatWhen(report.since)} to ${formatWhen(report.until)}`, ''];
  if (report.rows.length === 0) return [...lines, 'no anomalies in that period'];
  const cells = (r: PrecisionRow, kind: string, team: string): string[] => [
    kind,
    team,
    String(r.episodes),
    String(r.acknowledged),
    String(r.resolved_real),
    String(r.resolved_expected),
    String(r.resolved_noise),
    r.noise_share === null ? '-' : `${Math.round(r.noise_share * 100)}%`,
  ];
  return [
    ...lines,
    ...table(
      ['KIND', 'TEAM', 'EPISODES', 'ACKNOWLEDGED', 'REAL', 'EXPECTED', 'NOISE', 'NOISE SHARE'],
      [...report.rows.map((r) => cells(r, r.kind, r.team)), cells(report.total, 'all', '')],
      ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right'],
      '',
    ),
    '',
    'noise share = noise / (real + expected + noise), of the episodes resolved with a reason',
  ];
}
