import { deterministicEventId } from './event-id.ts';
import type { PostedUsageRecord, TranscriptIdentity } from './claude-transcript.ts';

/**
 * CSV exports read into the records `POST /v1/events` accepts, for `burnrate import csv`. A row
 * is a record or the reason it is not; the header names the columns, in any order and case.
 *
 * - `events`: the columns are /v1/events fields (`occurred_at`, `developer_email`, `model`,
 *   `input_tokens`, `cost_usd`, …); `attributes.<name>` columns fill `attributes`. Empty cells are
 *   absent fields; the server checks the rest, as for a posted record.
 * - `cursor`: the usage-events export of Cursor's dashboard (Usage → Export CSV): `Date`, `User`
 *   (team exports), `Kind`, `Model`, `Max Mode`, `Input (w/ Cache Write)`, `Input (w/o Cache
 *   Write)`, `Cache Read`, `Output Tokens`, `Total Tokens`, `Cost`. Cache writes are the difference
 *   of the two input columns. `Cost` is what the usage is worth at Cursor's rates and is the
 *   reported cost; a row without a dollar figure (`Included`, `-`) is priced from its tokens.
 *   The export carries no request id, so a row's id is a hash of all its cells (Cursor's own
 *   dedupe advice): importing the same export twice counts once.
 * - `anthropic`: the usage export of the Anthropic Console (Usage → Export): one row per UTC day
 *   (`usage_date_utc`), `model_version`, API key (its name; empty for the Workbench), workspace,
 *   `usage_type`, context window and the token columns `usage_input_tokens_no_cache`,
 *   `usage_input_tokens_cache_write_5m`, `…_cache_write_1h`, `…_cache_read`, `usage_output_tokens`,
 *   plus `web_search_count`, `inference_geo`, `speed`. A row is a `1d` bucket of the key's usage
 *   (`developer` and `api_key_name` the key's name, `project` the workspace, for `ownership`
 *   rules and member aliases), priced from its tokens: the export has no dollars.
 * - `openai`: the usage export of the OpenAI platform (Usage → Export, `completions_usage_*.csv`):
 *   a bucket per row (`start_time`/`end_time` in Unix seconds, `_iso` beside them; one minute, hour
 *   or day), the grouped `project_id`, `user_id`, `api_key_id`, `model`, `batch`, `service_tier`,
 *   and `num_model_requests`, `input_tokens` (which counts the cached and cache-write tokens),
 *   `input_cached_tokens`, `input_cache_write_tokens`, `output_tokens`. Attributed by user, else
 *   API key, else project; priced from its tokens.
 * Both are keyed by every cell of the row, so an export imported twice counts once; being
 * buckets, they are reports of what live sources may have sent already (see the README's "One truth").
 */

export const CSV_FORMATS = ['events', 'cursor', 'anthropic', 'openai'] as const;
export type CsvFormat = (typeof CSV_FORMATS)[number];

export const CSV_SOURCES: Record<CsvFormat, string> = {
  events: 'csv_events',
  cursor: 'cursor_csv',
  anthropic: 'anthropic_console_csv',
  openai: 'openai_usage_csv',
};

export type CsvRow = Record<string, string>;
export type CsvRecord = { ok: true; record: PostedUsageRecord; occurredAt: string } | { ok: false; reason: string };

/** Reads one row; `who` is the developer of rows that name none (a personal export). */
export function csvRowRecord(format: CsvFormat, row: CsvRow, who: TranscriptIdentity | undefined): CsvRecord {
  switch (format) {
    case 'cursor':
      return cursorRow(row, who);
    case 'anthropic':
      return anthropicConsoleRow(row);
    case 'openai':
      return openaiUsageRow(row);
    case 'events':
      return eventsRow(row, who);
  }
}

const NUMBER_FIELDS = new Set([
  'requests',
  'input_tokens',
  'output_tokens',
  'cache_read_tokens',
  'cache_write_tokens',
  'cache_write_1h_tokens',
  'cost_usd',
]);

function eventsRow(row: CsvRow, who: TranscriptIdentity | undefined): CsvRecord {
  const record: PostedUsageRecord = {};
  const attributes: Record<string, string> = {};
  for (const [column, raw] of Object.entries(row)) {
    const cell = raw.trim();
    if (cell === '') continue;
    const name = column.trim();
    if (name.startsWith('attributes.')) {
      attributes[name.slice('attributes.'.length)] = cell;
    } else if (NUMBER_FIELDS.has(name)) {
      const n = Number(cell);
      if (!Number.isFinite(n)) return { ok: false, reason: `${name} is not a number` };
      record[name] = n;
    } else if (name === 'is_batch') {
      if (cell !== 'true' && cell !== 'false') return { ok: false, reason: 'is_batch is not true or false' };
      record[name] = cell === 'true';
    } else {
      // Unknown columns are passed on: the server names them (with a did-you-mean).
      record[name] = cell;
    }
  }
  if (Object.keys(attributes).length > 0) record.attributes = attributes;
  if (record.developer_email === undefined && record.developer === undefined && who !== undefined) Object.assign(record, who);
  const occurredAt = record.occurred_at;
  if (typeof occurredAt !== 'string' || Number.isNaN(Date.parse(occurredAt))) return { ok: false, reason: 'no valid occurred_at' };
  record.event_id ??= deterministicEventId(CSV_SOURCES.events, row);
  return { ok: true, record, occurredAt };
}

/** Header cells compared without case, spaces or punctuation: `Input (w/ Cache Write)` → `inputwcachewrite`. */
const squash = (name: string): string => name.toLowerCase().replace(/[^a-z0-9]/g, '');

function cursorRow(row: CsvRow, who: TranscriptIdentity | undefined): CsvRecord {
  const cell = cellsOf(row);
  const date = cell('date', 'timestamp');
  if (date === undefined) return { ok: false, reason: 'no Date' };
  const when = /^\d{12,14}$/.test(date) ? Number(date) : Date.parse(date);
  if (!Number.isFinite(when)) return { ok: false, reason: `Date ${JSON.stringify(date.slice(0, 40))} is not a date` };
  const model = cell('model');
  if (model === undefined) return { ok: false, reason: 'no Model' };
  const user = cell('user', 'email', 'useremail');
  const identity: TranscriptIdentity | undefined = user !== undefined ? { developer_email: user } : who;
  if (identity === undefined) return { ok: false, reason: 'no User column and no --developer' };

  const tokens = {
    withWrite: cell('inputwcachewrite'),
    withoutWrite: cell('inputwocachewrite'),
    cacheRead: cell('cacheread'),
    output: cell('outputtokens', 'output'),
  };
  const counts: Record<keyof typeof tokens, number | undefined> = {
    withWrite: undefined,
    withoutWrite: undefined,
    cacheRead: undefined,
    output: undefined,
  };
  for (const [name, text] of Object.entries(tokens) as [keyof typeof tokens, string | undefined][]) {
    if (text === undefined) continue;
    const n = Number(text.replace(/,/g, ''));
    if (!Number.isSafeInteger(n) || n < 0)
      return { ok: false, reason: `a token count that is not a whole number (${JSON.stringify(text.slice(0, 20))})` };
    counts[name] = n;
  }
  const cost = dollars(cell('cost'));
  if (cost === null) return { ok: false, reason: `Cost ${JSON.stringify(cell('cost')?.slice(0, 20))} is not an amount` };
  const kind = cell('kind');
  const maxMode = cell('maxmode');
  const costToYou = cell('costtoyou');
  const attributes: Record<string, string> = {};
  if (kind !== undefined) attributes['cursor.kind'] = kind.slice(0, 256);
  if (maxMode !== undefined) attributes['cursor.max_mode'] = maxMode.slice(0, 256);
  if (costToYou !== undefined) attributes['cursor.cost_to_you'] = costToYou.slice(0, 256);

  const occurredAt = new Date(when).toISOString();
  const cacheWrite =
    counts.withWrite !== undefined && counts.withoutWrite !== undefined ? Math.max(0, counts.withWrite - counts.withoutWrite) : undefined;
  const record: PostedUsageRecord = {
    event_id: deterministicEventId(CSV_SOURCES.cursor, row),
    occurred_at: occurredAt,
    ...identity,
    model,
    tool: 'cursor',
    ...(counts.withoutWrite !== undefined ? { input_tokens: counts.withoutWrite } : {}),
    ...(counts.output !== undefined ? { output_tokens: counts.output } : {}),
    ...(counts.cacheRead !== undefined ? { cache_read_tokens: counts.cacheRead } : {}),
    ...(cacheWrite !== undefined ? { cache_write_tokens: cacheWrite } : {}),
    ...(cost !== undefined ? { cost_usd: cost } : {}),
    ...(Object.keys(attributes).length > 0 ? { attributes } : {}),
  };
  return { ok: true, record, occurredAt };
}

/** The row's cells by squashed header name, and a reader of the first one set among `names`. */
function cellsOf(row: CsvRow): (...names: string[]) => string | undefined {
  const cells = new Map(Object.entries(row).map(([k, v]) => [squash(k), v.trim()]));
  return (...names) => {
    for (const n of names) {
      const v = cells.get(squash(n));
      if (v !== undefined && v !== '') return v;
    }
    return undefined;
  };
}

/** Whole non-negative counts of the named columns (thousands separators allowed); absent ones stay absent. */
function countsOf<K extends string>(
  cell: (...names: string[]) => string | undefined,
  columns: Record<K, string>,
): { ok: true; counts: Partial<Record<K, number>> } | { ok: false; reason: string } {
  const counts: Partial<Record<K, number>> = {};
  for (const [key, column] of Object.entries(columns) as [K, string][]) {
    const text = cell(column);
    if (text === undefined) continue;
    const n = Number(text.replace(/,/g, ''));
    if (!Number.isSafeInteger(n) || n < 0)
      return { ok: false, reason: `${column} is not a whole number (${JSON.stringify(text.slice(0, 20))})` };
    counts[key] = n;
  }
  return { ok: true, counts };
}

const DAY_MS = 86_400_000;

function anthropicConsoleRow(row: CsvRow): CsvRecord {
  const cell = cellsOf(row);
  const date = cell('usage_date_utc');
  if (date === undefined) return { ok: false, reason: 'no usage_date_utc' };
  const day = /^\d{4}-\d{2}-\d{2}$/.test(date) ? Date.parse(`${date}T00:00:00Z`) : Number.NaN;
  if (!Number.isFinite(day)) return { ok: false, reason: `usage_date_utc ${JSON.stringify(date.slice(0, 40))} is not a date (YYYY-MM-DD)` };
  const model = cell('model_version', 'model');
  if (model === undefined) return { ok: false, reason: 'no model_version' };
  const read = countsOf(cell, {
    uncached: 'usage_input_tokens_no_cache',
    write5m: 'usage_input_tokens_cache_write_5m',
    write1h: 'usage_input_tokens_cache_write_1h',
    cacheRead: 'usage_input_tokens_cache_read',
    output: 'usage_output_tokens',
  });
  if (!read.ok) return read;
  const { uncached, write5m, write1h, cacheRead, output } = read.counts;
  if (uncached === undefined && output === undefined) return { ok: false, reason: 'no usage_input_tokens_no_cache or usage_output_tokens' };
  // The Workbench's usage has no key.
  const key = cell('api_key') ?? 'workbench';
  const usageType = cell('usage_type');
  const attributes: Record<string, string> = {};
  for (const [column, name] of [
    ['context_window', 'anthropic.context_window'],
    ['inference_geo', 'anthropic.inference_geo'],
    ['web_search_count', 'anthropic.web_search_count'],
    ['usage_type', 'anthropic.usage_type'],
  ] as const) {
    const value = cell(column);
    if (value !== undefined) attributes[name] = value.slice(0, 256);
  }
  const start = new Date(day).toISOString();
  const record: PostedUsageRecord = {
    event_id: deterministicEventId(CSV_SOURCES.anthropic, row),
    occurred_at: start,
    granularity: '1d',
    period_start: start,
    period_end: new Date(day + DAY_MS).toISOString(),
    developer: key,
    api_key_name: key,
    project: cell('workspace') ?? 'default',
    model,
    provider: 'anthropic',
    tool: 'api',
    ...(usageType === 'batch' ? { is_batch: true } : {}),
    ...(cell('speed') !== undefined ? { speed: cell('speed') } : {}),
    ...(uncached !== undefined ? { input_tokens: uncached } : {}),
    ...(output !== undefined ? { output_tokens: output } : {}),
    ...(cacheRead !== undefined ? { cache_read_tokens: cacheRead } : {}),
    ...(write5m !== undefined || write1h !== undefined ? { cache_write_tokens: (write5m ?? 0) + (write1h ?? 0) } : {}),
    ...(write1h !== undefined ? { cache_write_1h_tokens: write1h } : {}),
    ...(Object.keys(attributes).length > 0 ? { attributes } : {}),
  };
  return { ok: true, record, occurredAt: start };
}

const BUCKET_WIDTHS: Record<number, '1m' | '1h' | '1d'> = { 60: '1m', 3600: '1h', 86_400: '1d' };

function openaiUsageRow(row: CsvRow): CsvRecord {
  const cell = cellsOf(row);
  const instant = (seconds: string, iso: string): number | undefined => {
    const s = cell(seconds);
    if (s !== undefined && /^\d{9,11}$/.test(s)) return Number(s) * 1000;
    const i = cell(iso);
    const parsed = i === undefined ? Number.NaN : Date.parse(i);
    return Number.isFinite(parsed) ? parsed : undefined;
  };
  const start = instant('start_time', 'start_time_iso');
  const end = instant('end_time', 'end_time_iso');
  if (start === undefined || end === undefined)
    return { ok: false, reason: 'no start_time and end_time (Unix seconds) or their _iso columns' };
  const width = BUCKET_WIDTHS[(end - start) / 1000];
  if (width === undefined)
    return { ok: false, reason: `a bucket of ${(end - start) / 1000} s; the export's buckets are a minute, an hour or a day` };
  const model = cell('model');
  if (model === undefined) return { ok: false, reason: 'no model (export with the usage grouped by model)' };
  const read = countsOf(cell, {
    requests: 'num_model_requests',
    input: 'input_tokens',
    cached: 'input_cached_tokens',
    cacheWrite: 'input_cache_write_tokens',
    output: 'output_tokens',
  });
  if (!read.ok) return read;
  const { requests, input, cached, cacheWrite, output } = read.counts;
  if (input === undefined && output === undefined) return { ok: false, reason: 'no input_tokens or output_tokens' };
  const uncached = (input ?? 0) - (cached ?? 0) - (cacheWrite ?? 0);
  if (uncached < 0) return { ok: false, reason: 'input_cached_tokens and input_cache_write_tokens add up to more than input_tokens' };
  const user = cell('user_id');
  const apiKey = cell('api_key_id');
  const project = cell('project_id');
  const batch = cell('batch');
  const serviceTier = cell('service_tier');
  const at = new Date(start).toISOString();
  const record: PostedUsageRecord = {
    event_id: deterministicEventId(CSV_SOURCES.openai, row),
    occurred_at: at,
    granularity: width,
    period_start: at,
    period_end: new Date(end).toISOString(),
    developer: user ?? apiKey ?? project ?? 'openai-organization',
    ...(apiKey !== undefined ? { api_key_id: apiKey } : {}),
    ...(project !== undefined ? { project } : {}),
    model,
    provider: 'openai',
    tool: 'api',
    ...(batch !== undefined && /^(true|1|1\.0)$/i.test(batch) ? { is_batch: true } : {}),
    ...(serviceTier !== undefined ? { service_tier: serviceTier } : {}),
    ...(requests !== undefined ? { requests } : {}),
    input_tokens: uncached,
    ...(output !== undefined ? { output_tokens: output } : {}),
    ...(cached !== undefined ? { cache_read_tokens: cached } : {}),
    ...(cacheWrite !== undefined ? { cache_write_tokens: cacheWrite } : {}),
  };
  return { ok: true, record, occurredAt: at };
}

/** `$1,234.50`, `1234.5` → 1234.5; `Included`, `-`, empty → undefined (no figure); anything else null. */
function dollars(text: string | undefined): number | undefined | null {
  if (text === undefined || text === '-' || /^(included|free|n\/a)$/i.test(text)) return undefined;
  const n = Number(text.replace(/^\$/, '').replace(/,/g, ''));
  return Number.isFinite(n) && n >= 0 ? n : null;
}
