import { readFile } from 'node:fs/promises';
import type { DlqEntry, DlqPage, ReplayAnswer, ReplayResponse } from '@burnrate/api';
import { type OnCallEnv, runOnCall } from './anomalies-command.ts';
import { ApiCallError, type ApiClient, createApiClient } from './api-client.ts';
import { UsageError } from './backtest-args.ts';
import { formatWhen, table } from './backtest-format.ts';
import { parseCommandArgs } from './command-args.ts';
import type { CommandIO } from './config-command.ts';

export const DLQ_USAGE = `usage:
  burnrate dlq list [--source S] [--reason TEXT] [--since 7d | --since 2026-11-01T00:00:00Z]
                    [--limit N] [--after CURSOR] [--json | --ndjson]
                        records ingest rejected, newest first, with why and whether they were replayed;
                        --ndjson writes one {"dlq_id","source","reason","record"} per line: fix each
                        record in that file, then replay it
  burnrate dlq replay <dlq_id>... [--by WHO]
                        ingest the records again as stored (the config that refused them was fixed)
  burnrate dlq replay --file FIXED.ndjson [--by WHO]
                        ingest the fixed records of a file \`dlq list --ndjson\` wrote, each in place of its dlq_id

A replay goes through ingest's own checks: a record still invalid is refused with its problems,
one ingest already has is a duplicate, and each record is stored once.

Talks to a running instance: BURNRATE_URL (default http://127.0.0.1:8787), BURNRATE_API_TOKEN.
Replays are recorded by --by, else BURNRATE_USER, else your login name.`;

const LIST_VALUES = ['source', 'reason', 'since', 'limit', 'after'] as const;
/** The longest reason a table cell shows; --json has all of it. */
const REASON_WIDTH = 70;

/** `burnrate dlq list|replay`: 0 done, 1 the instance refused something or could not be reached, 2 a bad command line or file. */
export async function dlqCommand(argv: readonly string[], env: OnCallEnv, io: CommandIO): Promise<number> {
  return runOnCall(io, DLQ_USAGE, async () => {
    const [sub, ...rest] = argv;
    if (sub === undefined || sub === 'help' || sub === '--help') {
      io.out(DLQ_USAGE);
      return 0;
    }
    const client = (): ApiClient => createApiClient({ url: env.url, token: env.token, ...(env.fetch ? { fetch: env.fetch } : {}) });
    if (sub === 'list') return list(rest, client(), io);
    if (sub === 'replay') return replay(rest, env, client(), io);
    throw new UsageError(`unknown dlq command ${JSON.stringify(sub)}; there are list and replay`);
  });
}

async function list(argv: readonly string[], client: ApiClient, io: CommandIO): Promise<number> {
  const args = parseCommandArgs(argv, { values: [...LIST_VALUES], switches: ['json', 'ndjson'] });
  if (args.switches.has('help')) return usage(io);
  if (args.positionals.length > 0)
    throw new UsageError(`dlq list takes no ${JSON.stringify(args.positionals[0])}; filter with --source, --reason, --since`);
  if (args.switches.has('json') && args.switches.has('ndjson')) throw new UsageError('dlq list takes one of --json and --ndjson');
  const query = new URLSearchParams();
  for (const name of LIST_VALUES) {
    const value = args.values.get(name);
    if (value !== undefined) query.set(name, value);
  }
  const page = await client.call<DlqPage>('GET', `/api/dlq${query.size > 0 ? `?${query.toString()}` : ''}`);
  if (args.switches.has('json')) io.out(JSON.stringify(page, null, 2));
  else if (args.switches.has('ndjson')) for (const r of page.records) io.out(JSON.stringify(fixable(r)));
  else for (const line of dlqTable(page)) io.out(line);
  return 0;
}

/** A DLQ record as a line to fix: the record parsed when it is JSON, else its text, for the person to rewrite. */
function fixable(r: DlqEntry): { dlq_id: string; source: string; reason: string; record: unknown } {
  let record: unknown;
  try {
    record = JSON.parse(r.raw);
  } catch {
    record = r.raw;
  }
  return { dlq_id: r.dlq_id, source: r.source, reason: r.reason, record };
}

export function dlqTable(page: DlqPage): string[] {
  if (page.records.length === 0) return ['no rejected records match'];
  const short = (text: string): string => (text.length > REASON_WIDTH ? `${text.slice(0, REASON_WIDTH - 1)}…` : text);
  const lines = table(
    ['RECEIVED', 'SOURCE', 'DLQ ID', 'REASON', 'REPLAYED'],
    page.records.map((r) => [
      formatWhen(r.received_at),
      r.source,
      r.dlq_id,
      short(r.reason),
      r.replayed === null ? '-' : `${formatWhen(r.replayed.replayed_at)} by ${r.replayed.replayed_by}`,
    ]),
    [],
    '',
  );
  if (page.next !== null) lines.push('', `more: burnrate dlq list --after ${page.next} (with the same filters)`);
  return lines;
}

async function replay(argv: readonly string[], env: OnCallEnv, client: ApiClient, io: CommandIO): Promise<number> {
  const args = parseCommandArgs(argv, { values: ['file', 'by'] });
  if (args.switches.has('help')) return usage(io);
  const file = args.values.get('file');
  if (file === undefined && args.positionals.length === 0) {
    throw new UsageError('dlq replay needs DLQ record ids, or --file with fixed records (burnrate dlq list shows the ids)');
  }
  if (file !== undefined && args.positionals.length > 0) {
    throw new UsageError('dlq replay takes ids or --file, not both: the file names its records by dlq_id');
  }
  const body: Record<string, unknown> = file !== undefined ? { records: await readFixed(file) } : { ids: args.positionals };
  const by = args.values.get('by') ?? env.user;
  if (by) body.by = by;
  let response: ReplayResponse;
  try {
    response = await client.call<ReplayResponse>('POST', '/api/dlq/replay', body);
  } catch (err) {
    // A 400 with results: some records were rejected again, the others were taken; show them all.
    const answered = err instanceof ApiCallError ? (err.body as ReplayResponse | undefined) : undefined;
    if (answered?.results === undefined) throw err;
    response = answered;
  }
  for (const r of response.results) (r.outcome === 'rejected' ? io.err : io.out)(replayLine(r));
  io.out(`${response.accepted} accepted, ${response.duplicates} duplicates, ${response.rejected} rejected`);
  return response.rejected === 0 ? 0 : 1;
}

function replayLine(r: ReplayAnswer): string {
  if (r.outcome === 'rejected') return `${r.dlq_id}: rejected again: ${r.issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`;
  if (r.outcome === 'accepted') return `${r.dlq_id}: accepted as event ${r.event_id}`;
  return `${r.dlq_id}: duplicate: event ${r.event_id} was already accepted, nothing new stored`;
}

/** The lines of a fixed file: each `{"dlq_id": …, "record": …}`; a bad line names the file and line. */
async function readFixed(path: string): Promise<{ dlq_id: string; record: unknown }[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const records: { dlq_id: string; record: unknown }[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${path}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new UsageError(`${where} is not JSON; each line is {"dlq_id":…,"record":{…}} as burnrate dlq list --ndjson writes it`);
    }
    const item = value as { dlq_id?: unknown; record?: unknown } | null;
    if (item === null || typeof item !== 'object' || typeof item.dlq_id !== 'string' || item.dlq_id === '') {
      throw new UsageError(`${where} has no dlq_id; each line is {"dlq_id":…,"record":{…}} as burnrate dlq list --ndjson writes it`);
    }
    if (item.record === undefined) throw new UsageError(`${where} has no record: the fixed record to ingest for ${item.dlq_id}`);
    records.push({ dlq_id: item.dlq_id, record: item.record });
  });
  if (records.length === 0) throw new UsageError(`${path} holds no records to replay`);
  return records;
}

function usage(io: CommandIO): number {
  io.out(DLQ_USAGE);
  return 0;
}
