import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parse as parseCsv } from 'csv-parse';
import {
  CSV_FORMATS,
  csvRowRecord,
  createTranscriptDeduper,
  readTranscriptLine,
  type CsvFormat,
  type EventsResponse,
  type PostedUsageRecord,
  type TranscriptIdentity,
} from '@burnrate/ingest';
import { DEFAULT_URL } from './api-client.ts';
import { parseBound, UsageError } from './backtest-args.ts';
import { parseCommandArgs } from './command-args.ts';
import type { CommandIO } from './config-command.ts';

export const IMPORT_USAGE = `usage:
  burnrate import claude-code [DIR|FILE.jsonl ...] --developer EMAIL [--since INSTANT] [--until INSTANT]
                              [--dry-run] [--json]
        Claude Code's local transcripts; without a path, every *.jsonl under CLAUDE_CONFIG_DIR's
        projects (comma-separated dirs), else ~/.claude/projects and ~/.config/claude/projects
  burnrate import csv FILE.csv ... --format events|cursor|anthropic|openai [--developer EMAIL] [--since INSTANT]
                              [--until INSTANT] [--dry-run] [--json]
        events: columns named as POST /v1/events fields (attributes.<name> for attributes)
        cursor: Cursor's usage export (Usage → Export CSV); --developer for a personal export
                without a User column
        anthropic: the Anthropic Console's usage export (one row per day, key, model, workspace)
        openai: the OpenAI platform's usage export (completions_usage_*.csv, grouped by model)

Records are posted to a running instance's POST /v1/events in batches, as any client would: they
are priced, attributed, deduplicated and checked there. Event ids are derived from the files, so
importing the same files again counts nothing twice. Imported events are stored like any others;
live detection judges only events newer than its watermark, so run burnrate backtest over an
imported period to see what it would have raised.
  --developer   who the records are by when the files do not say (an email, or a name)
  --since/--until   only records at or after / before this instant (2026-11-01 or 2026-11-01T00:00:00Z)
  --dry-run     read and check the files, post nothing
  --json        the summary as JSON on stdout

environment:
  BURNRATE_INGEST_URL   the instance's ingest (default BURNRATE_URL, else ${DEFAULT_URL})
  BURNRATE_INGEST_KEY   an ingest key (burnrate keys new), when the instance requires one`;

export interface ImportEnv {
  url?: string | undefined;
  key?: string | undefined;
  home?: string | undefined;
  /** CLAUDE_CONFIG_DIR: Claude Code's config directories, comma-separated. */
  claudeConfigDir?: string | undefined;
  fetch?: typeof fetch;
  /** Draws a progress line (a terminal); called with undefined once to clear it. */
  progress?: ((line: string | undefined) => void) | undefined;
  sleep?: (ms: number) => Promise<void>;
}

/** What an import read and what became of it. */
export interface ImportSummary {
  files: number;
  lines: number;
  /** Usage records read (after the window), before de-duplication within the files. */
  records: number;
  /** New events the instance took. */
  imported: number;
  duplicates: { in_files: number; already_stored: number };
  /** Lines or rows that are no usage (user turns, tool results, …), by reason. */
  skipped: Record<string, number>;
  /** Records refused, here or by the instance, by reason. */
  rejected: Record<string, number>;
  posted: number;
  dry_run: boolean;
  url: string;
}

const BATCH = 1000;
const MAX_ATTEMPTS = 8;
const TIMEOUT_MS = 60_000;

/** `burnrate import`: 0 all taken, 1 some records rejected or the instance failed, 2 a bad command line. */
export async function importCommand(argv: readonly string[], env: ImportEnv, io: CommandIO): Promise<number> {
  const [kind, ...rest] = argv;
  if (kind === undefined || kind === 'help' || kind === '--help') {
    io.out(IMPORT_USAGE);
    return kind === undefined ? 2 : 0;
  }
  try {
    if (kind !== 'claude-code' && kind !== 'csv')
      throw new UsageError(`unknown import ${JSON.stringify(kind)}; there are claude-code and csv`);
    const args = parseCommandArgs(rest, { values: ['developer', 'since', 'until', 'format'], switches: ['dry-run', 'json'] });
    if (args.switches.has('help')) {
      io.out(IMPORT_USAGE);
      return 0;
    }
    const developer = args.values.get('developer');
    const who: TranscriptIdentity | undefined =
      developer === undefined ? undefined : developer.includes('@') ? { developer_email: developer } : { developer };
    const bound = (flag: 'since' | 'until'): number | undefined => {
      const text = args.values.get(flag);
      return text === undefined ? undefined : Date.parse(parseBound(`--${flag}`, text));
    };
    const window = { since: bound('since'), until: bound('until') };
    const summary = emptySummary(env, args.switches.has('dry-run'));

    let records: PostedUsageRecord[];
    if (kind === 'claude-code') {
      if (args.values.has('format')) throw new UsageError('--format is for import csv');
      if (who === undefined) throw new UsageError('transcripts name no user: say whose they are with --developer alice@acme.com');
      const files = await transcriptFiles(args.positionals, env);
      records = await readTranscripts(files, who, window, summary, env.progress);
    } else {
      const format = args.values.get('format');
      if (format === undefined || !(CSV_FORMATS as readonly string[]).includes(format)) {
        throw new UsageError(`import csv needs --format ${CSV_FORMATS.join('|')}`);
      }
      if (args.positionals.length === 0) throw new UsageError('import csv needs the CSV files to read');
      const files = await Promise.all(args.positionals.map(async (p) => ({ path: resolve(p), bytes: await fileSize(p) })));
      records = await readCsvFiles(files, format as CsvFormat, who, window, summary, env.progress);
    }

    let failure: string | undefined;
    if (!summary.dry_run && records.length > 0) {
      try {
        await post(records, env, summary);
      } catch (err) {
        failure = err instanceof Error ? err.message : String(err);
      }
    }
    env.progress?.(undefined);
    if (args.switches.has('json')) io.out(JSON.stringify(failure === undefined ? summary : { ...summary, error: failure }, null, 2));
    else for (const line of summaryLines(summary, records.length)) io.out(line);
    if (failure !== undefined) {
      io.err(`import stopped: ${failure}`);
      io.err('what was posted before is kept; run the same import again to post the rest (nothing is counted twice)');
      return 1;
    }
    return Object.keys(summary.rejected).length > 0 ? 1 : 0;
  } catch (err) {
    env.progress?.(undefined);
    if (err instanceof UsageError) {
      io.err(`${err.message}\n\n${IMPORT_USAGE}`);
      return 2;
    }
    if (err instanceof InputError) {
      io.err(err.message);
      return 1;
    }
    throw err;
  }
}

/** A file or directory the import cannot read: said plainly, exit 1. */
class InputError extends Error {}

function emptySummary(env: ImportEnv, dryRun: boolean): ImportSummary {
  return {
    files: 0,
    lines: 0,
    records: 0,
    imported: 0,
    duplicates: { in_files: 0, already_stored: 0 },
    skipped: {},
    rejected: {},
    posted: 0,
    dry_run: dryRun,
    url: ingestUrl(env),
  };
}

function ingestUrl(env: ImportEnv): string {
  const text = env.url?.trim() || DEFAULT_URL;
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    // Said below.
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new InputError(
      `BURNRATE_INGEST_URL (or BURNRATE_URL) must be an http(s) URL such as ${DEFAULT_URL}, not ${JSON.stringify(text)}`,
    );
  }
  return text.replace(/\/+$/, '');
}

type Window = { since: number | undefined; until: number | undefined };
const inWindow = (w: Window, at: string): boolean => {
  const ms = Date.parse(at);
  return (w.since === undefined || ms >= w.since) && (w.until === undefined || ms < w.until);
};

const tally = (counts: Record<string, number>, reason: string, n = 1): void => {
  counts[reason] = (counts[reason] ?? 0) + n;
};

async function fileSize(path: string): Promise<number> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new InputError(`${path} is not a file`);
    return s.size;
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

interface SourceFile {
  path: string;
  bytes: number;
}

/** Every *.jsonl under the given paths (or Claude Code's default places), recursively; symlinked directories are not followed. */
async function transcriptFiles(paths: readonly string[], env: ImportEnv): Promise<SourceFile[]> {
  const given = paths.length > 0;
  const roots = given ? paths.map((p) => resolve(p)) : defaultTranscriptDirs(env);
  const out: SourceFile[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile() && entry.name.endsWith('.jsonl')) out.push({ path, bytes: (await stat(path)).size });
    }
  };
  for (const root of roots) {
    let s;
    try {
      s = await stat(root);
    } catch {
      if (given) throw new InputError(`cannot read ${root}: no such file or directory`);
      continue;
    }
    if (s.isDirectory()) await walk(root);
    else out.push({ path: root, bytes: s.size });
  }
  if (out.length === 0) {
    throw new InputError(`no Claude Code transcripts (*.jsonl) under ${roots.join(', ')}; pass the directory that holds them`);
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

function defaultTranscriptDirs(env: ImportEnv): string[] {
  if (env.claudeConfigDir) {
    return env.claudeConfigDir
      .split(',')
      .map((d) => d.trim())
      .filter((d) => d !== '')
      .map((d) => join(resolve(d), 'projects'));
  }
  const home = env.home ?? '';
  return [join(home, '.claude', 'projects'), join(home, '.config', 'claude', 'projects')];
}

/** Progress by bytes read, drawn at most every 100 ms. */
function progressMeter(files: readonly SourceFile[], draw: ImportEnv['progress'], summary: ImportSummary) {
  const total = files.reduce((n, f) => n + f.bytes, 0);
  let done = 0;
  let last = 0;
  return {
    read(bytes: number, force = false): void {
      done += bytes;
      const now = Date.now();
      if (draw === undefined || (!force && now - last < 100)) return;
      last = now;
      draw(
        `reading ${bar(total === 0 ? 1 : done / total)} ${summary.files}/${files.length} files  ${summary.records.toLocaleString('en-US')} records`,
      );
    },
  };
}

function bar(share: number): string {
  const width = 24;
  const filled = Math.round(Math.min(1, Math.max(0, share)) * width);
  return `▕${'█'.repeat(filled)}${'░'.repeat(width - filled)}▏ ${String(Math.floor(share * 100)).padStart(3)}%`;
}

async function readTranscripts(
  files: readonly SourceFile[],
  who: TranscriptIdentity,
  window: Window,
  summary: ImportSummary,
  draw: ImportEnv['progress'],
): Promise<PostedUsageRecord[]> {
  const calls = createTranscriptDeduper();
  const meter = progressMeter(files, draw, summary);
  for (const file of files) {
    const lines = createInterface({ input: createReadStream(file.path, { encoding: 'utf8' }), crlfDelay: Infinity });
    for await (const line of lines) {
      summary.lines += 1;
      meter.read(Buffer.byteLength(line) + 1);
      const read = readTranscriptLine(line, who);
      if (read.kind === 'skipped') tally(summary.skipped, read.reason);
      else if (read.kind === 'rejected') tally(summary.rejected, read.reason);
      else if (!inWindow(window, read.occurredAt)) tally(summary.skipped, 'outside --since/--until');
      else {
        summary.records += 1;
        if (!calls.add(read)) summary.duplicates.in_files += 1;
      }
    }
    summary.files += 1;
    meter.read(0, true);
  }
  return calls.records();
}

async function readCsvFiles(
  files: readonly SourceFile[],
  format: CsvFormat,
  who: TranscriptIdentity | undefined,
  window: Window,
  summary: ImportSummary,
  draw: ImportEnv['progress'],
): Promise<PostedUsageRecord[]> {
  const byId = new Map<string, { at: number; record: PostedUsageRecord }>();
  const meter = progressMeter(files, draw, summary);
  for (const file of files) {
    const parser = createReadStream(file.path).pipe(
      parseCsv({ columns: true, bom: true, skip_empty_lines: true, trim: true, skip_records_with_error: true, relax_quotes: false }),
    );
    parser.on('skip', () => tally(summary.rejected, 'a CSV row that does not parse (quotes or column count)'));
    let lastBytes = 0;
    for await (const row of parser as AsyncIterable<Record<string, string>>) {
      summary.lines += 1;
      const bytes = (parser.info as { bytes?: number }).bytes ?? lastBytes;
      meter.read(bytes - lastBytes);
      lastBytes = bytes;
      const read = csvRowRecord(format, row, who);
      if (!read.ok) tally(summary.rejected, read.reason);
      else if (!inWindow(window, read.occurredAt)) tally(summary.skipped, 'outside --since/--until');
      else {
        summary.records += 1;
        const id = read.record.event_id as string;
        if (byId.has(id)) summary.duplicates.in_files += 1;
        else byId.set(id, { at: Date.parse(read.occurredAt), record: read.record });
      }
    }
    summary.files += 1;
    meter.read(file.bytes - lastBytes, true);
  }
  return [...byId.values()].sort((a, b) => a.at - b.at).map((r) => r.record);
}

/** Posts the records in batches: 413 halves the batch, 429/503 wait (Retry-After), anything else stops. */
async function post(records: readonly PostedUsageRecord[], env: ImportEnv, summary: ImportSummary): Promise<void> {
  const send = env.fetch ?? fetch;
  const sleep = env.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (env.key) headers.authorization = `Bearer ${env.key}`;
  let size = BATCH;
  let at = 0;
  let attempts = 0;
  while (at < records.length) {
    const batch = records.slice(at, at + size);
    let res: Response;
    try {
      res = await send(`${summary.url}/v1/events`, {
        method: 'POST',
        headers,
        body: JSON.stringify(batch),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err instanceof Error ? err.message : String(err));
      throw new Error(`cannot reach ${summary.url} (${cause}); is burnrate running there? (BURNRATE_INGEST_URL)`, { cause: err });
    }
    const body = (await res.json().catch(() => undefined)) as (EventsResponse & { error?: { message?: string } }) | undefined;
    if (res.status === 413 && size > 1) {
      size = Math.max(1, Math.floor(size / 2));
      continue;
    }
    if (res.status === 429 || res.status === 503) {
      attempts += 1;
      if (attempts >= MAX_ATTEMPTS)
        throw new Error(`${summary.url} kept answering ${res.status} (${body?.error?.message ?? 'busy'}); try again later`);
      const retryAfter = Number(res.headers.get('retry-after'));
      await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter, 60) * 1000 : Math.min(30_000, 500 * 2 ** attempts));
      continue;
    }
    if ((res.status === 200 || res.status === 400) && body !== undefined && typeof body.accepted === 'number') {
      attempts = 0;
      summary.posted += batch.length;
      summary.imported += body.accepted - body.duplicates;
      summary.duplicates.already_stored += body.duplicates;
      for (const [reason, n] of Object.entries(body.ignored ?? {})) tally(summary.skipped, `ignored by the instance: ${reason}`, n);
      const reasons = new Map<number, string>();
      for (const r of body.rejected) if (!reasons.has(r.index)) reasons.set(r.index, `${r.field}: ${r.message}`);
      for (const reason of reasons.values()) tally(summary.rejected, reason);
      at += batch.length;
      env.progress?.(`posting ${bar(at / records.length)} ${at.toLocaleString('en-US')}/${records.length.toLocaleString('en-US')} records`);
      continue;
    }
    const why = body?.error?.message ?? `HTTP ${res.status}`;
    if (res.status === 401 || res.status === 403)
      throw new Error(`${summary.url} refused the records: ${why} (set BURNRATE_INGEST_KEY to an ingest key)`);
    throw new Error(`${summary.url} answered ${res.status}: ${why}`);
  }
}

function summaryLines(s: ImportSummary, unique: number): string[] {
  const n = (x: number): string => x.toLocaleString('en-US').padStart(10);
  const total = (c: Record<string, number>): number => Object.values(c).reduce((a, b) => a + b, 0);
  const reasons = (c: Record<string, number>): string[] =>
    Object.entries(c)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([reason, count]) => `${' '.repeat(14)}${n(count)}  ${reason}`);
  const lines = [
    `read ${s.lines.toLocaleString('en-US')} lines in ${s.files} file${s.files === 1 ? '' : 's'}${s.dry_run ? ' (dry run: nothing posted)' : ` → ${s.url}`}`,
    `  records     ${n(s.records)}`,
  ];
  if (s.dry_run) lines.push(`  to post     ${n(unique)}`);
  else lines.push(`  imported    ${n(s.imported)}`);
  lines.push(
    `  duplicates  ${n(s.duplicates.in_files + s.duplicates.already_stored)}   (${s.duplicates.in_files.toLocaleString('en-US')} repeated in the files, ${s.duplicates.already_stored.toLocaleString('en-US')} already in Burnrate)`,
  );
  lines.push(`  skipped     ${n(total(s.skipped))}`, ...reasons(s.skipped));
  lines.push(`  rejected    ${n(total(s.rejected))}`, ...reasons(s.rejected));
  return lines;
}
