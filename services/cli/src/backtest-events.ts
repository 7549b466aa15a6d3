import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { BurnrateError, type Config, formatPath } from '@burnrate/core';
import { createAttributor, HTTP_EVENTS_SOURCE, normalizeRecord } from '@burnrate/ingest';
import { createPriceCatalog } from '@burnrate/pricing';
import { UsageEvent } from '@burnrate/schemas';

/** Which events a backtest replays: one org, occurred_at in [from, to). */
export interface EventWindow {
  /** Every org when absent (an export); a backtest names its config's. */
  org?: string | undefined;
  from?: string;
  to?: string;
}

export interface InputStats {
  /** Non-blank lines read. */
  lines: number;
  /** Invalid lines skipped (only with --skip-invalid; otherwise an invalid line fails the run). */
  invalid_skipped: number;
  other_org: number;
  outside_range: number;
}

export interface InvalidLine {
  line: number;
  problems: string[];
}

export interface NdjsonEvents {
  /** Valid events inside the window, sorted for replay (see sortForReplay). */
  events: UsageEvent[];
  stats: InputStats;
  /** The first few invalid lines, for the message. */
  invalid: InvalidLine[];
}

const SHOWN_INVALID = 10;
const SHOWN_PROBLEMS = 4;

/**
 * Reads an NDJSON file of UsageEvents. Every line is validated with the UsageEvent contract; a
 * tuning run on partly unreadable history would quietly under-count, so an invalid line fails
 * the whole read (listing the first few, with line number and field) unless `skipInvalid`.
 */
export async function readNdjsonEvents(
  path: string,
  window: EventWindow,
  options: { skipInvalid: boolean; posted?: PostedRecordReader },
): Promise<NdjsonEvents> {
  const events: UsageEvent[] = [];
  const invalid: InvalidLine[] = [];
  const stats: InputStats = { lines: 0, invalid_skipped: 0, other_org: 0, outside_range: 0 };
  let invalidCount = 0;
  let lineNo = 0;
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      lineNo += 1;
      if (line.trim() === '') continue;
      stats.lines += 1;
      const result = parseLine(line, options.posted);
      if (!Array.isArray(result)) {
        const event = result;
        if (window.org !== undefined && event.org !== window.org) stats.other_org += 1;
        else if (!inWindow(event.occurred_at, window)) stats.outside_range += 1;
        else events.push(event);
        continue;
      }
      invalidCount += 1;
      if (invalid.length < SHOWN_INVALID) invalid.push({ line: lineNo, problems: result });
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new BurnrateError(e.code === 'ENOENT' ? 'NOT_FOUND' : 'INPUT_INVALID', `cannot read --input ${path}: ${e.message}`, {
      cause: err,
    });
  }
  if (invalidCount > 0 && !options.skipInvalid) {
    const more = invalidCount > invalid.length ? `\n  … and ${invalidCount - invalid.length} more` : '';
    throw new BurnrateError(
      'INPUT_INVALID',
      `${path}: ${invalidCount} line${invalidCount === 1 ? ' is' : 's are'} not a valid UsageEvent${options.posted === undefined ? '' : ' or usage record'}:\n${formatInvalid(invalid)}${more}\n` +
        'Fix them, or pass --skip-invalid to replay the valid lines and count the rest.',
      { details: { invalid } },
    );
  }
  stats.invalid_skipped = invalidCount;
  return { events: sortForReplay(events), stats, invalid };
}

export function formatInvalid(invalid: readonly InvalidLine[]): string {
  return invalid.map((i) => `  line ${i.line}: ${i.problems.join('; ')}`).join('\n');
}

/**
 * Turns a record as `POST /v1/events` takes it into the event ingest would make of it, or says
 * what ingest would refuse it for.
 */
export type PostedRecordReader = (raw: unknown) => UsageEvent | string[];

/**
 * The event, or what is wrong with the line. A line is a UsageEvent as published (what the store
 * and `burnrate export events` hold), or, with `posted`, any record `POST /v1/events` accepts.
 */
export function parseLine(line: string, posted?: PostedRecordReader): UsageEvent | string[] {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (err) {
    return [`not JSON (${(err as Error).message})`];
  }
  // reportInput tells a missing field (input undefined) from a wrong one in describeIssue.
  const parsed = UsageEvent.safeParse(raw, { reportInput: true });
  if (parsed.success) return parsed.data;
  if (posted !== undefined) return shorten(posted(raw));
  return shorten(parsed.error.issues.map(describeIssue));
}

/**
 * Reads posted records as `POST /v1/events` would under `config`: its members, ownership rules
 * and prices; `now` is the ingest clock. History is what a backtest is for, so ingest's
 * `max_age` does not apply; every other check does.
 */
export function postedRecordReader(config: Config, now: () => Date = () => new Date()): PostedRecordReader {
  const ctx = {
    org: config.org,
    source: HTTP_EVENTS_SOURCE,
    catalog: createPriceCatalog(config.pricing.prices),
    attribute: createAttributor(config),
    clock: { now },
    limits: { ...config.ingest.limits, max_age: Number.MAX_SAFE_INTEGER },
  };
  return (raw) => {
    const result = normalizeRecord(raw, ctx);
    return result.ok ? result.event : result.issues.map((i) => `${i.field}: ${i.message}`);
  };
}

function shorten(result: UsageEvent | string[]): UsageEvent | string[] {
  if (!Array.isArray(result)) return result;
  const problems = result;
  // A line of something else entirely fails on every field; the first few say enough.
  if (problems.length <= SHOWN_PROBLEMS) return problems;
  return [...problems.slice(0, SHOWN_PROBLEMS), `and ${problems.length - SHOWN_PROBLEMS} more`];
}

type EventIssue = NonNullable<ReturnType<typeof UsageEvent.safeParse>['error']>['issues'][number];

function describeIssue(issue: EventIssue): string {
  const path = issue.path.length === 0 ? '(line)' : formatPath(issue.path);
  if (issue.code === 'unrecognized_keys')
    return `${path}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  if (issue.code === 'invalid_type' && issue.input === undefined) return `${path}: is required (${issue.expected})`;
  return `${path}: ${issue.message}`;
}

function inWindow(occurredAt: string, window: EventWindow): boolean {
  // Instants are normalised to the same `...Z` form, so string order is time order.
  if (window.from !== undefined && occurredAt < window.from) return false;
  if (window.to !== undefined && occurredAt >= window.to) return false;
  return true;
}

/**
 * Replay order: occurred_at, then event_id, the order the store lists events in. The sort is
 * stable, so repeated event ids keep file order and the engine's dedupe keeps the same copy.
 */
export function sortForReplay(events: UsageEvent[]): UsageEvent[] {
  return events.sort((a, b) =>
    a.occurred_at < b.occurred_at ? -1 : a.occurred_at > b.occurred_at ? 1 : a.event_id < b.event_id ? -1 : a.event_id > b.event_id ? 1 : 0,
  );
}
