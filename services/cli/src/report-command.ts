import type { PrecisionReport, PrecisionRow, ReconciliationReport } from '@burnrate/api';
import { type OnCallEnv, runOnCall } from './anomalies-command.ts';
import { createApiClient } from './api-client.ts';
import { UsageError } from './backtest-args.ts';
import { formatWhen, table } from './backtest-format.ts';
import { parseCommandArgs } from './command-args.ts';
import type { CommandIO } from './config-command.ts';
import { usageReport } from './spend-command.ts';

export const REPORT_USAGE = `usage:
  burnrate report precision [--since 30d | --since 2026-11-01T00:00:00Z] [--json]
                                  per detector kind and team: episodes, how many were acknowledged,
                                  resolved as real / expected / noise, and the share that was noise
  burnrate report reconciliation [--since 30d] [--team T] [--json]
                                  per UTC day, provider and team: spend seen live (OTLP, LiteLLM,
                                  /v1/events), what the provider's report says, which counts, the delta
  burnrate report daily [--from 30d | --from 2026-11-01] [--to …] [--team T] [--model M] [--provider P] [--json | --csv]
  burnrate report monthly [--from …] [--to …] [--team T] … [--json | --csv]
                                  ccusage-style: per UTC day (month) the models, input, output, cache
                                  create and read tokens and the cost, each day counted once (the
                                  provider's report over the live feed); monthly adds month to date
                                  against each team's budget and a month-end forecast
  burnrate report session [--from 30d] [--limit 20] [--team T] … [--json | --csv]
                                  sessions by their request-level spend

Talks to a running instance: BURNRATE_URL (default http://127.0.0.1:8787), BURNRATE_API_TOKEN.`;

/** `burnrate report precision|reconciliation|daily|monthly|session`: 0 printed, 1 the instance refused or could not be reached, 2 a bad command line. */
export async function reportCommand(argv: readonly string[], env: OnCallEnv, io: CommandIO): Promise<number> {
  return runOnCall(io, REPORT_USAGE, async () => {
    const [sub, ...rest] = argv;
    if (sub === undefined || sub === 'help' || sub === '--help') {
      io.out(REPORT_USAGE);
      return 0;
    }
    if (sub === 'daily' || sub === 'monthly' || sub === 'session') {
      const code = await usageReport(sub, rest, env, io);
      if (code === -1) io.out(REPORT_USAGE);
      return code === -1 ? 0 : code;
    }
    if (sub !== 'precision' && sub !== 'reconciliation') {
      throw new UsageError(`unknown report ${JSON.stringify(sub)}; there are precision, reconciliation, daily, monthly and session`);
    }
    const args = parseCommandArgs(rest, { values: sub === 'precision' ? ['since'] : ['since', 'team'], switches: ['json'] });
    if (args.switches.has('help')) {
      io.out(REPORT_USAGE);
      return 0;
    }
    if (args.positionals.length > 0) throw new UsageError(`report ${sub} takes no ${JSON.stringify(args.positionals[0])}`);
    const client = createApiClient({ url: env.url, token: env.token, ...(env.fetch ? { fetch: env.fetch } : {}) });
    const query = new URLSearchParams();
    for (const [name, value] of args.values) query.set(name, value);
    const path = `/api/report/${sub}${query.size > 0 ? `?${query.toString()}` : ''}`;
    if (sub === 'precision') {
      const report = await client.call<PrecisionReport>('GET', path);
      if (args.switches.has('json')) io.out(JSON.stringify(report, null, 2));
      else for (const line of precisionTable(report)) io.out(line);
    } else {
      const report = await client.call<ReconciliationReport>('GET', path);
      if (args.switches.has('json')) io.out(JSON.stringify(report, null, 2));
      else for (const line of reconciliationTable(report)) io.out(line);
    }
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

/** Dollars as a report reads them: two decimals, a sign on deltas. */
const usd = (x: number, signed = false): string => `${signed && x > 0 ? '+' : ''}${x < 0 ? '-' : ''}$${Math.abs(x).toFixed(2)}`;

/** The reconciliation as a table, the period's totals last. */
export function reconciliationTable(report: ReconciliationReport): string[] {
  const lines = [`reconciliation from ${formatWhen(report.since)} to ${formatWhen(report.until)} (UTC days)`, ''];
  if (report.rows.length === 0) return [...lines, 'no spend in that period'];
  return [
    ...lines,
    ...table(
      ['DAY', 'PROVIDER', 'TEAM', 'LIVE', 'REPORTED', 'REPORT', 'COUNTED', 'DELTA'],
      [
        ...report.rows.map((r) => [
          r.day,
          r.provider,
          r.team,
          usd(r.live_usd),
          r.report_source === null ? '-' : usd(r.report_usd),
          r.report_source ?? 'none yet',
          usd(r.counted_usd),
          r.report_source === null ? '-' : usd(r.delta_usd, true),
        ]),
        [
          'all',
          '',
          '',
          usd(report.total.live_usd),
          usd(report.total.report_usd),
          '',
          usd(report.total.counted_usd),
          usd(report.total.delta_usd, true),
        ],
      ],
      ['left', 'left', 'left', 'right', 'right', 'left', 'right', 'right'],
      '',
    ),
    '',
    'counted = the report where one covers the day and provider, else live; delta = reported - live',
  ];
}
