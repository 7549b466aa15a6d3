import { BurnrateError } from '@burnrate/core';
import { z } from 'zod';
import type { ProviderHttp } from '../provider-http.ts';
import { attributesOf, type Bucket, type BucketRow, DAY_MS, HOUR_MS, parsePage, present, type UsageSource } from '../source.ts';

export const CURSOR_EVENTS_SOURCE = 'cursor_events';
export const CURSOR_EVENTS_PATH = '/teams/filtered-usage-events';
export const CURSOR_DAILY_SOURCE = 'cursor_daily';
export const CURSOR_DAILY_PATH = '/teams/daily-usage-data';

/** Cursor answers at most 30 days per request. */
const MAX_SPAN_MS = 30 * DAY_MS;
const PAGE_SIZE = 500;
/** A read that pages further than this is a provider that never says the last page. */
const MAX_PAGES = 10_000;
/** Cursor aggregates its usage hourly and revises the last day: every poll reads it again. */
const REREAD_HOURS = 24;

/** A whole number, as a number or (as Cursor sometimes sends token counts) a string of digits. */
const count = z.union([z.number().int().nonnegative(), z.string().regex(/^\d+$/, 'expected a whole number').transform(Number)]);
const cents = z.union([
  z.number().nonnegative(),
  z
    .string()
    .regex(/^\d+(\.\d+)?$/, 'expected an amount in cents')
    .transform(Number),
]);

const TokenUsage = z.looseObject({
  inputTokens: count.optional(),
  outputTokens: count.optional(),
  cacheWriteTokens: count.optional(),
  cacheReadTokens: count.optional(),
  totalCents: cents.optional(),
});

const CursorUsageEvent = z.looseObject({
  // Epoch milliseconds, as a string in the documented payload.
  timestamp: z.union([
    z.number().int().positive(),
    z
      .string()
      .regex(/^\d{10,16}$/, 'expected epoch milliseconds')
      .transform(Number),
  ]),
  userEmail: z.string().min(1),
  model: z.string().min(1),
  kind: z.string().nullish(),
  maxMode: z.boolean().nullish(),
  requestsCosts: z.number().nonnegative().nullish(),
  isTokenBasedCall: z.boolean().nullish(),
  tokenUsage: TokenUsage.nullish(),
  chargedCents: cents.nullish(),
  cursorTokenFee: cents.nullish(),
  isChargeable: z.boolean().nullish(),
  isHeadless: z.boolean().nullish(),
});
type CursorUsageEvent = z.infer<typeof CursorUsageEvent>;

const Page = z.looseObject({
  totalUsageEventsCount: z.number().int().nonnegative().nullish(),
  pagination: z.looseObject({
    numPages: z.number().int().nonnegative(),
    currentPage: z.number().int().positive(),
    hasNextPage: z.boolean(),
  }),
  usageEvents: z.array(CursorUsageEvent),
});

/**
 * The row of one usage event. Cursor gives no request id, so the row is keyed by what names the
 * call: its millisecond, user, model, kind and max mode. Its tokens and cents are the row's totals,
 * so a later read that revised them (Cursor aggregates hourly and revises the last day) publishes
 * the growth as a correction instead of a second call. The charge is `chargedCents` (model cost
 * plus Cursor's token fee), else `tokenUsage.totalCents`; a token-based call without either is
 * priced from its tokens; a call that is neither (request units included in the plan) costs $0,
 * its units kept as `cursor.request_units`.
 */
export function cursorRow(event: CursorUsageEvent): BucketRow {
  const at = new Date(event.timestamp).toISOString();
  const tokens = event.tokenUsage ?? undefined;
  const charged = event.chargedCents ?? tokens?.totalCents ?? undefined;
  const cost = charged !== undefined ? charged / 100 : tokens === undefined ? 0 : undefined;
  const attributes: Record<string, string> = {};
  if (event.kind) attributes['cursor.kind'] = event.kind;
  if (event.maxMode !== null && event.maxMode !== undefined) attributes['cursor.max_mode'] = String(event.maxMode);
  if (event.requestsCosts !== null && event.requestsCosts !== undefined) attributes['cursor.request_units'] = String(event.requestsCosts);
  if (event.cursorTokenFee !== null && event.cursorTokenFee !== undefined)
    attributes['cursor.token_fee_cents'] = String(event.cursorTokenFee);
  if (event.isHeadless !== null && event.isHeadless !== undefined) attributes['cursor.headless'] = String(event.isHeadless);
  if (event.isChargeable !== null && event.isChargeable !== undefined) attributes['cursor.chargeable'] = String(event.isChargeable);
  return {
    key: {
      timestamp: event.timestamp,
      user: event.userEmail,
      model: event.model,
      kind: event.kind ?? null,
      max_mode: event.maxMode ?? null,
    },
    fields: {
      occurred_at: at,
      granularity: 'request',
      identity: { email: event.userEmail, tool: 'cursor' },
      provider: 'cursor',
      tool: 'cursor',
      model: event.model,
      requests: 1,
      ...(tokens?.inputTokens !== undefined ? { input_tokens: tokens.inputTokens } : {}),
      ...(tokens?.outputTokens !== undefined ? { output_tokens: tokens.outputTokens } : {}),
      ...(tokens?.cacheReadTokens !== undefined ? { cache_read_tokens: tokens.cacheReadTokens } : {}),
      ...(tokens?.cacheWriteTokens !== undefined ? { cache_write_tokens: tokens.cacheWriteTokens } : {}),
      ...(cost !== undefined ? { cost_usd: cost } : {}),
      attributes,
      paths: {
        developer_email: 'userEmail',
        cost_usd: event.chargedCents !== null && event.chargedCents !== undefined ? 'chargedCents' : 'tokenUsage.totalCents',
        input_tokens: 'tokenUsage.inputTokens',
        output_tokens: 'tokenUsage.outputTokens',
        cache_read_tokens: 'tokenUsage.cacheReadTokens',
        cache_write_tokens: 'tokenUsage.cacheWriteTokens',
      },
    },
    raw: event,
  };
}

/** Rows of one key (calls of one user, model and kind in the same millisecond) made one, their totals added. */
function mergeRows(rows: readonly BucketRow[]): BucketRow[] {
  const byKey = new Map<string, BucketRow>();
  for (const row of rows) {
    const id = JSON.stringify(row.key);
    const held = byKey.get(id);
    if (held === undefined) {
      byKey.set(id, { ...row, fields: { ...row.fields } });
      continue;
    }
    const a = held.fields;
    const b = row.fields;
    for (const field of ['requests', 'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens', 'cost_usd'] as const) {
      if (a[field] !== undefined || b[field] !== undefined) a[field] = (a[field] ?? 0) + (b[field] ?? 0);
    }
    held.raw = Array.isArray(held.raw) ? [...(held.raw as unknown[]), row.raw] : [held.raw, row.raw];
  }
  return [...byKey.values()];
}

/** Every usage event of [start, end), all pages, at most 30 days a request. */
async function readEvents(window: { start: number; end: number }, http: ProviderHttp, signal: AbortSignal): Promise<CursorUsageEvent[]> {
  const events: CursorUsageEvent[] = [];
  for (let from = window.start; from < window.end; from += MAX_SPAN_MS) {
    const to = Math.min(window.end, from + MAX_SPAN_MS);
    for (let page = 1; ; page++) {
      if (page > MAX_PAGES) throw new BurnrateError('PROVIDER_REJECTED', `${CURSOR_EVENTS_PATH}: still more after ${MAX_PAGES} pages`);
      const body = { startDate: from, endDate: to, page, pageSize: PAGE_SIZE };
      const parsed = parsePage(Page, await http.postJson({ path: CURSOR_EVENTS_PATH, body }, signal), CURSOR_EVENTS_PATH, page);
      // The window is [from, to): an event on its end belongs to the next request.
      events.push(...parsed.usageEvents.filter((e) => e.timestamp >= from && e.timestamp < to));
      if (!parsed.pagination.hasNextPage) break;
    }
  }
  return events;
}

/**
 * `POST /teams/filtered-usage-events` of Cursor's Admin API: every usage event of the team, one
 * UsageEvent per call (granularity `request`), in hourly buckets for the cursor. The last day is
 * read again on every poll (REREAD_HOURS), whatever BURNRATE_POLL_OVERLAP_BUCKETS says.
 */
export const cursorUsageEvents: UsageSource = {
  source: CURSOR_EVENTS_SOURCE,
  granularity: 'request',
  bucketMs: HOUR_MS,
  overlapBuckets: REREAD_HOURS,
  async read(window, http, signal) {
    const events = await readEvents(window, http, signal);
    const byHour = new Map<number, BucketRow[]>();
    for (const event of events) {
      const hour = Math.floor(event.timestamp / HOUR_MS) * HOUR_MS;
      let rows = byHour.get(hour);
      if (rows === undefined) {
        rows = [];
        byHour.set(hour, rows);
      }
      rows.push(cursorRow(event));
    }
    const buckets: Bucket[] = [];
    for (let start = window.start; start < window.end; start += HOUR_MS) {
      buckets.push({ start, end: start + HOUR_MS, rows: mergeRows(byHour.get(start) ?? []) });
    }
    return buckets;
  },
};

// ---- Daily usage data -------------------------------------------------------------------------

/** Cursor revises its recent daily figures as the hourly aggregation catches up: the last two days are read again. */
const DAILY_REREAD_DAYS = 2;
/** Cursor aggregates hourly and asks for at most one read an hour; the limit of 20 a minute is shared with the events. */
const DAILY_MIN_INTERVAL_MS = HOUR_MS;

const DailyRecord = z.looseObject({
  // Epoch milliseconds of the UTC day's start.
  date: z.union([
    z.number().int().positive(),
    z
      .string()
      .regex(/^\d{10,16}$/, 'expected epoch milliseconds')
      .transform(Number),
  ]),
  email: z.string().min(1),
  isActive: z.boolean().nullish(),
  totalLinesAdded: count.nullish(),
  totalLinesDeleted: count.nullish(),
  acceptedLinesAdded: count.nullish(),
  acceptedLinesDeleted: count.nullish(),
  totalApplies: count.nullish(),
  totalAccepts: count.nullish(),
  totalRejects: count.nullish(),
  totalTabsShown: count.nullish(),
  totalTabsAccepted: count.nullish(),
  composerRequests: count.nullish(),
  chatRequests: count.nullish(),
  agentRequests: count.nullish(),
  cmdkUsages: count.nullish(),
  subscriptionIncludedReqs: count.nullish(),
  apiKeyReqs: count.nullish(),
  usageBasedReqs: count.nullish(),
  bugbotUsages: count.nullish(),
  mostUsedModel: z.string().nullish(),
  clientVersion: z.string().nullish(),
});
export type CursorDailyRecord = z.infer<typeof DailyRecord>;

const DailyAnswer = z.looseObject({
  data: z.array(DailyRecord),
  // The documented answer is not paged; a paged one read as a whole would drop the pages after the first.
  pagination: z.looseObject({ hasNextPage: z.literal(false, 'a paged answer is not read: only its first page would count') }).nullish(),
});

/** The requests a user made of Cursor's AI that day: composer, chat, agent and Cmd-K. */
const requestsOf = (r: CursorDailyRecord): number =>
  (r.composerRequests ?? 0) + (r.chatRequests ?? 0) + (r.agentRequests ?? 0) + (r.cmdkUsages ?? 0);

/** The counted fields, added when Cursor lists one user-day twice. */
const DAILY_COUNTS = [
  'totalLinesAdded',
  'totalLinesDeleted',
  'acceptedLinesAdded',
  'acceptedLinesDeleted',
  'totalApplies',
  'totalAccepts',
  'totalRejects',
  'totalTabsShown',
  'totalTabsAccepted',
  'composerRequests',
  'chatRequests',
  'agentRequests',
  'cmdkUsages',
  'subscriptionIncludedReqs',
  'apiKeyReqs',
  'usageBasedReqs',
  'bugbotUsages',
] as const;

/**
 * One user-day record → one event keyed (day, email). Cursor's daily data carries no tokens and no
 * money, so its cost is $0 (reported): the money is `cursor_events`'. `requests` are the AI
 * requests of the day (composer, chat, agent, Cmd-K); the model is the day's most used (else
 * `unknown`, as for Copilot's reports); lines, applies, tabs and the plan split of the requests
 * are in `attributes`.
 */
export function cursorDailyRow(record: CursorDailyRecord): BucketRow {
  const start = Math.floor(record.date / DAY_MS) * DAY_MS;
  const at = new Date(start).toISOString();
  const day = at.slice(0, 10);
  return {
    key: { day, email: record.email },
    fields: {
      occurred_at: at,
      granularity: '1d',
      period_start: at,
      period_end: new Date(start + DAY_MS).toISOString(),
      identity: { email: record.email, tool: 'cursor' },
      provider: 'cursor',
      tool: 'cursor',
      model: present(record.mostUsedModel) ?? 'unknown',
      requests: requestsOf(record),
      cost_usd: 0,
      attributes: attributesOf({
        'cursor.active': record.isActive,
        'cursor.lines_added': record.totalLinesAdded,
        'cursor.lines_deleted': record.totalLinesDeleted,
        'cursor.accepted_lines_added': record.acceptedLinesAdded,
        'cursor.accepted_lines_deleted': record.acceptedLinesDeleted,
        'cursor.applies': record.totalApplies,
        'cursor.accepts': record.totalAccepts,
        'cursor.rejects': record.totalRejects,
        'cursor.tabs_shown': record.totalTabsShown,
        'cursor.tabs_accepted': record.totalTabsAccepted,
        'cursor.composer_requests': record.composerRequests,
        'cursor.chat_requests': record.chatRequests,
        'cursor.agent_requests': record.agentRequests,
        'cursor.cmdk_usages': record.cmdkUsages,
        'cursor.included_requests': record.subscriptionIncludedReqs,
        'cursor.api_key_requests': record.apiKeyReqs,
        'cursor.usage_based_requests': record.usageBasedReqs,
        'cursor.bugbot_usages': record.bugbotUsages,
        'cursor.client_version': record.clientVersion,
      }),
      paths: { developer_email: 'email', model: 'mostUsedModel' },
    },
    raw: record,
  };
}

/**
 * The records of one user-day made one: their counts added, the model and client version of the
 * one with most requests. The documented answer lists a user-day once; should a chunk list it
 * twice (one per client version, say), one event per key must still hold the whole day.
 */
function mergeDaily(a: CursorDailyRecord, b: CursorDailyRecord): CursorDailyRecord {
  const lead = requestsOf(b) > requestsOf(a) ? b : a;
  const merged: CursorDailyRecord = { ...lead, isActive: Boolean(a.isActive) || Boolean(b.isActive) };
  for (const field of DAILY_COUNTS) {
    if (a[field] != null || b[field] != null) merged[field] = (a[field] ?? 0) + (b[field] ?? 0);
  }
  return merged;
}

/** Every user-day record of [start, end), at most 30 days a request. */
async function readDaily(window: { start: number; end: number }, http: ProviderHttp, signal: AbortSignal): Promise<CursorDailyRecord[]> {
  const records: CursorDailyRecord[] = [];
  for (let from = window.start; from < window.end; from += MAX_SPAN_MS) {
    const to = Math.min(window.end, from + MAX_SPAN_MS);
    const answer = parsePage(
      DailyAnswer,
      await http.postJson({ path: CURSOR_DAILY_PATH, body: { startDate: from, endDate: to } }, signal),
      CURSOR_DAILY_PATH,
      1,
    );
    // The window is [from, to): a day on its end belongs to the next request.
    records.push(...answer.data.filter((r) => r.date >= from && r.date < to));
  }
  return records;
}

/**
 * `POST /teams/daily-usage-data` of Cursor's Admin API: per user and UTC day, Cursor's activity
 * (requests, lines, applies, tabs), no tokens and no cost. A day with neither activity nor requests
 * is no event. Opt-in: the money is `cursor_events`', and the reconciliation never counts these $0
 * days in its place.
 */
export const cursorDailyUsage: UsageSource = {
  source: CURSOR_DAILY_SOURCE,
  granularity: '1d',
  bucketMs: DAY_MS,
  overlapBuckets: DAILY_REREAD_DAYS,
  minIntervalMs: DAILY_MIN_INTERVAL_MS,
  async read(window, http, signal) {
    const byDay = new Map<number, Map<string, CursorDailyRecord>>();
    for (const record of await readDaily(window, http, signal)) {
      if (record.isActive !== true && requestsOf(record) === 0) continue;
      const day = Math.floor(record.date / DAY_MS) * DAY_MS;
      let users = byDay.get(day);
      if (users === undefined) {
        users = new Map();
        byDay.set(day, users);
      }
      const held = users.get(record.email);
      users.set(record.email, held === undefined ? record : mergeDaily(held, record));
    }
    const buckets: Bucket[] = [];
    for (let start = Math.floor(window.start / DAY_MS) * DAY_MS; start < window.end; start += DAY_MS) {
      buckets.push({ start, end: start + DAY_MS, rows: [...(byDay.get(start)?.values() ?? [])].map(cursorDailyRow) });
    }
    return buckets;
  },
};

/** Cursor's Admin API takes the key as the Basic user name with an empty password. */
export function cursorHeaders(key: string, userAgent: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}`, 'user-agent': userAgent };
}
