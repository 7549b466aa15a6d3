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
 */

export const CSV_FORMATS = ['events', 'cursor'] as const;
export type CsvFormat = (typeof CSV_FORMATS)[number];

export const CSV_SOURCES: Record<CsvFormat, string> = { events: 'csv_events', cursor: 'cursor_csv' };

export type CsvRow = Record<string, string>;
export type CsvRecord = { ok: true; record: PostedUsageRecord; occurredAt: string } | { ok: false; reason: string };

/** Reads one row; `who` is the developer of rows that name none (a personal export). */
export function csvRowRecord(format: CsvFormat, row: CsvRow, who: TranscriptIdentity | undefined): CsvRecord {
  return format === 'cursor' ? cursorRow(row, who) : eventsRow(row, who);
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
  const cells = new Map(Object.entries(row).map(([k, v]) => [squash(k), v.trim()]));
  const cell = (...names: string[]): string | undefined => {
    for (const n of names) {
      const v = cells.get(n);
      if (v !== undefined && v !== '') return v;
    }
    return undefined;
  };
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

/** `$1,234.50`, `1234.5` → 1234.5; `Included`, `-`, empty → undefined (no figure); anything else null. */
function dollars(text: string | undefined): number | undefined | null {
  if (text === undefined || text === '-' || /^(included|free|n\/a)$/i.test(text)) return undefined;
  const n = Number(text.replace(/^\$/, '').replace(/,/g, ''));
  return Number.isFinite(n) && n >= 0 ? n : null;
}
