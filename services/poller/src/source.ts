import { BurnrateError } from '@burnrate/core';
import type { UsageFields } from '@burnrate/ingest';
import type { z } from 'zod';
import type { ProviderHttp, ProviderRequest } from './provider-http.ts';

/** One row of a provider's bucket, as the fields of its UsageEvent. */
export interface BucketRow {
  /**
   * The provider's dedupe key for the row: bucket start and width and every group-by value (null
   * ones included), hashed into the event id, so a re-read of the row gets the same id.
   */
  key: Record<string, unknown>;
  /** Everything but the id; its additive fields (tokens, requests, cost) are the row's totals. */
  fields: Omit<UsageFields, 'event_id'>;
  /** The row as the provider sent it, for the DLQ when it cannot be an event. */
  raw: unknown;
}

export interface Bucket {
  /** Epoch milliseconds; the bucket is [start, end). */
  start: number;
  end: number;
  rows: BucketRow[];
}

/** A provider report that a poller reads: one `source` of UsageEvents. */
export interface UsageSource {
  /** `source` of its events, the name of its state file and of its healthz line. */
  source: string;
  /** `granularity` of its events: a report's bucket, or `request` for a provider's per-call log. */
  granularity: '1h' | '1d' | 'request';
  /** Width of the buckets its cursor moves by. */
  bucketMs: number;
  /** Buckets before the cursor read again on every poll at least, whatever the setting says: how far back the provider revises. */
  overlapBuckets?: number;
  /**
   * The shortest time between two polls, whatever BURNRATE_POLL_INTERVAL says: a report refreshed
   * no faster than this, whose reading costs many requests of a rate limit shared with other tools.
   */
  minIntervalMs?: number;
  /** Every bucket of [start, end), all pages read; `now` is when the poll began (default: the start of the last bucket). */
  read(window: { start: number; end: number; now?: number }, http: ProviderHttp, signal: AbortSignal): Promise<Bucket[]>;
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

/**
 * Reads a paginated report to the end: both providers answer `{data, has_more, next_page}` and take
 * the cursor back as `page`. A page the schema refuses stops the read (nothing of it is published),
 * naming the first problem.
 */
export async function readAllPages<Item>(
  http: ProviderHttp,
  request: ProviderRequest,
  page: z.ZodType<{ data: Item[]; has_more: boolean; next_page?: string | null | undefined }>,
  signal: AbortSignal,
): Promise<Item[]> {
  const items: Item[] = [];
  let next: string | undefined;
  for (let pages = 1; ; pages++) {
    const query = new URLSearchParams(request.query);
    if (next !== undefined) query.set('page', next);
    const parsed = parsePage(page, await http.getJson({ path: request.path, query }, signal), request.path, pages);
    items.push(...parsed.data);
    if (!parsed.has_more) return items;
    if (!parsed.next_page) throw new BurnrateError('PROVIDER_REJECTED', `${request.path} page ${pages} has more but no next_page`);
    next = parsed.next_page;
  }
}

/** A provider's answer read with `schema`; a page it refuses stops the read, naming the first problem. */
export function parsePage<T>(schema: z.ZodType<T>, answer: unknown, path: string, page: number): T {
  return parseAnswer(schema, answer, `${path} page ${page}`);
}

/** The same for an answer that is not a page: `what` names it (`… report file 1 line 3`). */
export function parseAnswer<T>(schema: z.ZodType<T>, answer: unknown, what: string): T {
  const parsed = schema.safeParse(answer);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new BurnrateError(
    'PROVIDER_REJECTED',
    `${what} is not in the expected format: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}`,
  );
}

/** `value` when it is a non-empty string, else undefined (providers send null for an ungrouped dimension). */
export const present = (value: string | null | undefined): string | undefined =>
  value === null || value === undefined || value === '' ? undefined : value;

/** The string attributes that are set. */
export function attributesOf(values: Record<string, string | number | boolean | null | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) {
    if (value !== null && value !== undefined && value !== '') out[key] = String(value);
  }
  return out;
}
