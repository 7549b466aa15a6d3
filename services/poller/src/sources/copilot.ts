import { BurnrateError, isBurnrateError, type Logger } from '@burnrate/core';
import { z } from 'zod';
import type { ProviderHttp } from '../provider-http.ts';
import {
  attributesOf,
  type Bucket,
  type BucketRow,
  DAY_MS,
  HOUR_MS,
  parseAnswer,
  parsePage,
  present,
  type UsageSource,
} from '../source.ts';

export const COPILOT_PREMIUM_SOURCE = 'copilot_premium';
export const COPILOT_METRICS_SOURCE = 'copilot_metrics';

export const premiumUsagePath = (org: string): string => `/organizations/${encodeURIComponent(org)}/settings/billing/premium_request/usage`;
export const copilotSeatsPath = (org: string): string => `/orgs/${encodeURIComponent(org)}/copilot/billing/seats`;
export const usersReportPath = (org: string): string => `/orgs/${encodeURIComponent(org)}/copilot/metrics/reports/users-1-day`;

/** GitHub's REST API: a bearer token, its JSON media type and the API version the formats are read in. */
export function githubHeaders(token: string, userAgent: string): Record<string, string> {
  return {
    authorization: `Bearer ${token}`,
    accept: 'application/vnd.github+json',
    'x-github-api-version': '2022-11-28',
    'user-agent': userAgent,
  };
}

/** GitHub revises billing and produces the metrics reports a day late: the last two days are read again. */
const REREAD_DAYS = 2;
/**
 * Both reports change a few times a day at most, and a premium read costs a request per active
 * seat and day: polled every 5 minutes, an organization with a hundred active seats would spend
 * nearly all of a token's 5,000 requests an hour.
 */
const MIN_INTERVAL_MS = HOUR_MS;
const SEATS_PER_PAGE = 100;
/** 100,000 seats; a listing that goes further is a provider that never says the last page. */
const MAX_SEAT_PAGES = 1_000;
/** Below this a difference of two USD sums is float noise, not usage. */
const EPSILON = 1e-9;
/** Amounts to 1e-10: 4.12 − 4 is 0.12, not 0.11999999999999966. */
const round = (value: number): number => Math.round(value * 1e10) / 1e10;

const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
const floorDay = (ms: number): number => Math.floor(ms / DAY_MS) * DAY_MS;

/**
 * A model id the price catalog can read: Copilot's billing names models for people ("Claude
 * Sonnet 4.5", "GPT-4.1"); lower-cased and hyphenated they are the vendors' ids (claude-sonnet-4.5).
 */
export function copilotModelId(name: string | null | undefined): string {
  const id = (name ?? '')
    .trim()
    .toLowerCase()
    .replace(/\s+/g, '-')
    .replace(/[^a-z0-9.\-_:/]/g, '');
  return id === '' ? 'unknown' : id;
}

// ---- Premium-request billing ------------------------------------------------------------------

const usd = z.number().nonnegative();
/** Premium requests: fractional where a model's multiplier is below 1 (0.25, 0.33). */
const quantity = z.number().nonnegative();

const UsageItem = z.looseObject({
  product: z.string().min(1),
  sku: z.string().min(1),
  model: z.string().nullish(),
  unitType: z.string().nullish(),
  pricePerUnit: usd.nullish(),
  grossQuantity: quantity,
  grossAmount: usd,
  discountQuantity: quantity.nullish(),
  discountAmount: usd,
  netQuantity: quantity.nullish(),
  netAmount: usd,
});
export type PremiumUsageItem = z.infer<typeof UsageItem>;

const PremiumUsage = z.looseObject({
  timePeriod: z.looseObject({
    year: z.number().int(),
    month: z.number().int().nullish(),
    day: z.number().int().nullish(),
  }),
  organization: z.string().nullish(),
  user: z.string().nullish(),
  usageItems: z.array(UsageItem),
});

const Seat = z.looseObject({
  // A user; seats of older subscriptions could name a team or an organization, which have no usage.
  assignee: z.looseObject({ login: z.string().min(1), id: z.number().int().nullish(), type: z.string().nullish() }).nullish(),
  last_activity_at: z.iso.datetime({ offset: true }).nullish(),
});
const SeatsPage = z.looseObject({ total_seats: z.number().int().nonnegative(), seats: z.array(Seat) });

export interface CopilotSeat {
  login: string;
  /** Epoch ms of the seat's latest Copilot activity; undefined when GitHub has none (or no telemetry). */
  lastActivityAt: number | undefined;
}

/** The summed figures of one (product, sku, model) of a day: what an event carries. */
interface ItemTotals {
  product: string;
  sku: string;
  model: string | null;
  unitType: string | null;
  pricePerUnit: number | null;
  grossQuantity: number;
  grossAmount: number;
  discountQuantity: number;
  discountAmount: number;
  netQuantity: number;
  netAmount: number;
}
const AMOUNTS = ['grossQuantity', 'grossAmount', 'discountQuantity', 'discountAmount', 'netQuantity', 'netAmount'] as const;

const itemKey = (item: { product: string; sku: string; model: string | null }): string =>
  JSON.stringify([item.product, item.sku, item.model]);

/** Items of one key (a product, SKU and model listed twice) summed; each key once, in first-seen order. */
function totalsByKey(items: readonly PremiumUsageItem[]): Map<string, ItemTotals> {
  const byKey = new Map<string, ItemTotals>();
  for (const item of items) {
    const model = present(item.model) ?? null;
    const key = itemKey({ product: item.product, sku: item.sku, model });
    const held = byKey.get(key) ?? {
      product: item.product,
      sku: item.sku,
      model,
      unitType: present(item.unitType) ?? null,
      pricePerUnit: item.pricePerUnit ?? null,
      grossQuantity: 0,
      grossAmount: 0,
      discountQuantity: 0,
      discountAmount: 0,
      netQuantity: 0,
      netAmount: 0,
    };
    held.grossQuantity += item.grossQuantity;
    held.grossAmount += item.grossAmount;
    held.discountQuantity += item.discountQuantity ?? 0;
    held.discountAmount += item.discountAmount;
    held.netQuantity += item.netQuantity ?? 0;
    held.netAmount += item.netAmount;
    byKey.set(key, held);
  }
  for (const held of byKey.values()) for (const field of AMOUNTS) held[field] = round(held[field]);
  return byKey;
}

/**
 * The row of one (day, user, product, sku, model): its key is what GitHub's report is keyed by, so
 * a re-read of a revised day publishes the growth as a correction. The cost is `netAmount` (what
 * the invoice charges: gross less the plan's included requests), $0 within the allowance, still
 * published for its requests. `requests` are premium requests (model multiplier applied), whole;
 * the exact quantities are in `attributes`. No user: the organization's usage no seat accounts for.
 */
function premiumRow(org: string, dayStart: number, login: string | undefined, item: ItemTotals, raw: unknown): BucketRow {
  const start = new Date(dayStart).toISOString();
  return {
    key: { day: utcDay(dayStart), user: login ?? null, product: item.product, sku: item.sku, model: item.model },
    fields: {
      occurred_at: start,
      granularity: '1d',
      period_start: start,
      period_end: new Date(dayStart + DAY_MS).toISOString(),
      identity: login === undefined ? { tool: 'copilot' } : { developer: login, tool: 'copilot' },
      provider: 'github',
      tool: 'copilot',
      model: copilotModelId(item.model),
      requests: Math.round(item.grossQuantity),
      cost_usd: item.netAmount,
      attributes: attributesOf({
        'github.org': org,
        'copilot.scope': login === undefined ? 'organization' : 'user',
        'copilot.product': item.product,
        'copilot.sku': item.sku,
        'copilot.model': item.model,
        'copilot.unit_type': item.unitType,
        'copilot.price_per_unit': item.pricePerUnit,
        'copilot.gross_quantity': item.grossQuantity,
        'copilot.gross_usd': item.grossAmount,
        'copilot.discount_quantity': item.discountQuantity,
        'copilot.discount_usd': item.discountAmount,
        'copilot.net_quantity': item.netQuantity,
      }),
      paths: { cost_usd: 'usageItems.netAmount', requests: 'usageItems.grossQuantity', developer: 'user', model: 'usageItems.model' },
    },
    raw,
  };
}

/** A figure the users' items add up to more than the organization's: clamped to 0 in its remainder row. */
export interface Overdrawn {
  product: string;
  sku: string;
  model: string | null;
  field: (typeof AMOUNTS)[number];
  /** How far the users' sum is above the organization's. */
  by: number;
}

/**
 * One day's rows: each user's items, and per (product, sku, model) what the organization's total
 * holds beyond its users' (usage of people without a seat any more, or whose seat was not read as
 * active), as a row with no user, so the day's events add up to the organization's total, each
 * dollar once. A remainder is never negative: a figure the users exceed (usage logged between the
 * calls) is clamped to 0 and returned in `overdrawn`; the next read has the organization's grown
 * total. With no user read (per-user attribution off), the remainder is the organization's total.
 * `withRemainder: false` leaves the remainder out (a day not settled yet, see copilotPremiumUsage).
 */
export function premiumRows(
  org: string,
  dayStart: number,
  total: readonly PremiumUsageItem[],
  users: readonly { login: string; items: readonly PremiumUsageItem[] }[],
  withRemainder = true,
): { rows: BucketRow[]; overdrawn: Overdrawn[] } {
  const rows: BucketRow[] = [];
  const remainder = totalsByKey(total);
  const overdrawn: Overdrawn[] = [];
  for (const user of users) {
    for (const [key, item] of totalsByKey(user.items)) {
      rows.push(premiumRow(org, dayStart, user.login, item, { user: user.login, ...item }));
      const left = remainder.get(key) ?? { ...item, ...Object.fromEntries(AMOUNTS.map((f) => [f, 0])) };
      for (const field of AMOUNTS) left[field] = round(left[field] - item[field]);
      remainder.set(key, left);
    }
  }
  for (const item of remainder.values()) {
    for (const field of AMOUNTS) {
      if (item[field] < -EPSILON) overdrawn.push({ product: item.product, sku: item.sku, model: item.model, field, by: -item[field] });
      item[field] = Math.max(0, item[field]);
    }
    // Everything accounted for by users: nothing left to publish.
    if (!withRemainder || AMOUNTS.every((field) => item[field] <= EPSILON)) continue;
    rows.push(premiumRow(org, dayStart, undefined, item, { user: null, ...item }));
  }
  return { rows, overdrawn };
}

/** Every seat of the organization, page by page of 100 until a short page or the total. */
export async function readSeats(http: ProviderHttp, org: string, signal: AbortSignal): Promise<CopilotSeat[]> {
  const path = copilotSeatsPath(org);
  const seats: CopilotSeat[] = [];
  let listed = 0;
  for (let page = 1; ; page++) {
    if (page > MAX_SEAT_PAGES) throw new BurnrateError('PROVIDER_REJECTED', `${path}: still more seats after ${MAX_SEAT_PAGES} pages`);
    const query = new URLSearchParams({ page: String(page), per_page: String(SEATS_PER_PAGE) });
    const parsed = parsePage(SeatsPage, await http.getJson({ path, query }, signal), path, page);
    listed += parsed.seats.length;
    for (const seat of parsed.seats) {
      const assignee = seat.assignee ?? undefined;
      if (assignee === undefined || (assignee.type ?? 'User') !== 'User') continue;
      const at = present(seat.last_activity_at);
      seats.push({ login: assignee.login, lastActivityAt: at === undefined ? undefined : Date.parse(at) });
    }
    if (parsed.seats.length < SEATS_PER_PAGE || listed >= parsed.total_seats) return seats;
  }
}

/** A seat that may have used Copilot on or after `dayStart`: its last activity is not before it, or unknown. */
const activeSince = (seat: CopilotSeat, dayStart: number): boolean => seat.lastActivityAt === undefined || seat.lastActivityAt >= dayStart;

/** The items of one UTC day, of the organization or of one user; refused when GitHub answers for another period. */
async function readPremiumDay(
  http: ProviderHttp,
  org: string,
  dayStart: number,
  login: string | undefined,
  signal: AbortSignal,
): Promise<PremiumUsageItem[]> {
  const path = premiumUsagePath(org);
  const at = new Date(dayStart);
  const period = { year: at.getUTCFullYear(), month: at.getUTCMonth() + 1, day: at.getUTCDate() };
  const query = new URLSearchParams({ year: String(period.year), month: String(period.month), day: String(period.day) });
  if (login !== undefined) query.set('user', login);
  const what = `${path} for ${utcDay(dayStart)}${login === undefined ? '' : ` and ${login}`}`;
  const answer = parseAnswer(PremiumUsage, await http.getJson({ path, query }, signal), what);
  const { year, month, day } = answer.timePeriod;
  // A month's figures taken for a day's would count them once a day.
  if (year !== period.year || month !== period.month || day !== period.day) {
    throw new BurnrateError('PROVIDER_REJECTED', `${what}: answered for ${[year, month, day].filter((n) => n != null).join('-')}`);
  }
  return answer.usageItems;
}

export interface CopilotPremiumOptions {
  org: string;
  /** Read each active seat's usage too (one request per seat and day), so the cost is per user. */
  perUser: boolean;
  log: Logger;
}

/**
 * `GET /organizations/{org}/settings/billing/premium_request/usage`: the money of Copilot (premium
 * requests beyond the plan's allowance, in USD), one UTC day per call. Its items name no user, so
 * with `perUser` each seat active since the day began is asked for its own items (`user=`), and
 * what the organization's total holds beyond them is a row with no user (`premiumRows`).
 *
 * That remainder is published only once its day has settled (read on the REREAD_DAYS-th day after
 * it, the last read the window guarantees): a seat GitHub reports as active only later, or usage
 * it revises into a user's items, would otherwise move spend out of a remainder already published,
 * and a published figure never falls, so it would count twice. The users' own rows are published
 * from the first read.
 */
export function copilotPremiumUsage(options: CopilotPremiumOptions): UsageSource {
  const { org, perUser, log } = options;
  return {
    source: COPILOT_PREMIUM_SOURCE,
    granularity: '1d',
    bucketMs: DAY_MS,
    overlapBuckets: REREAD_DAYS,
    minIntervalMs: MIN_INTERVAL_MS,
    async read(window, http, signal) {
      const seats = perUser ? await readSeats(http, org, signal) : [];
      const buckets: Bucket[] = [];
      for (let start = floorDay(window.start); start < window.end; start += DAY_MS) {
        // The organization's total first: usage logged while the users are read lands in their
        // rows, so a remainder can come out too small (and grow at the next read), never too large.
        const total = await readPremiumDay(http, org, start, undefined, signal);
        const users: { login: string; items: PremiumUsageItem[] }[] = [];
        for (const seat of seats) {
          if (activeSince(seat, start))
            users.push({ login: seat.login, items: await readPremiumDay(http, org, start, seat.login, signal) });
        }
        const settled = !perUser || start + REREAD_DAYS * DAY_MS <= floorDay(window.now ?? window.end - DAY_MS);
        const { rows, overdrawn } = premiumRows(org, start, total, users, settled);
        if (overdrawn.length > 0) {
          log.warn({ day: utcDay(start), overdrawn }, "the users' premium usage exceeds the organization's; the remainder is clamped to 0");
        }
        buckets.push({ start, end: start + DAY_MS, rows });
      }
      return buckets;
    },
  };
}

// ---- Usage-metrics reports ----------------------------------------------------------------------

const count = z.number().int().nonnegative();

const ModelFeature = z.looseObject({
  model: z.string().min(1),
  feature: z.string().nullish(),
  user_initiated_interaction_count: count.nullish(),
  code_generation_activity_count: count.nullish(),
});

const UserDay = z.looseObject({
  day: z.iso.date(),
  organization_id: z.union([z.string(), z.number()]).nullish(),
  user_id: z.union([z.number().int().nonnegative(), z.string().min(1)]),
  user_login: z.string().min(1),
  user_initiated_interaction_count: count,
  code_generation_activity_count: count.nullish(),
  code_acceptance_activity_count: count.nullish(),
  loc_suggested_to_add_sum: count.nullish(),
  loc_suggested_to_delete_sum: count.nullish(),
  loc_added_sum: count.nullish(),
  loc_deleted_sum: count.nullish(),
  totals_by_model_feature: z.array(ModelFeature).nullish(),
  // Absent on a day without CLI use.
  totals_by_cli: z
    .looseObject({
      session_count: count.nullish(),
      request_count: count.nullish(),
      prompt_count: count.nullish(),
      token_usage: z.looseObject({ prompt_tokens_sum: count.nullish(), output_tokens_sum: count.nullish() }).nullish(),
    })
    .nullish(),
  used_agent: z.boolean().nullish(),
  used_chat: z.boolean().nullish(),
  used_cli: z.boolean().nullish(),
  ai_credits_used: z.number().nonnegative().nullish(),
});
export type CopilotUserDay = z.infer<typeof UserDay>;

const ReportLinks = z.looseObject({ download_links: z.array(z.string().min(1)), report_day: z.iso.date().nullish() });

/** The model of most user-initiated interactions (then generations, then name), or undefined when none is named. */
function topModel(features: CopilotUserDay['totals_by_model_feature']): string | undefined {
  const byModel = new Map<string, { interactions: number; generations: number }>();
  for (const f of features ?? []) {
    const held = byModel.get(f.model) ?? { interactions: 0, generations: 0 };
    held.interactions += f.user_initiated_interaction_count ?? 0;
    held.generations += f.code_generation_activity_count ?? 0;
    byModel.set(f.model, held);
  }
  let best: [string, { interactions: number; generations: number }] | undefined;
  for (const entry of [...byModel].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const [, t] = entry;
    if (
      best === undefined ||
      t.interactions > best[1].interactions ||
      (t.interactions === best[1].interactions && t.generations > best[1].generations)
    )
      best = entry;
  }
  return best?.[0];
}

/**
 * One user-day record → one event keyed (day, user_id). Copilot is licensed per seat, so its cost
 * is $0 (reported): the money of premium requests is `copilot_premium`'s. `requests` are the
 * prompts the user sent; the CLI's tokens (the only ones the report counts) are its tokens; the
 * model is the one of most chat interactions (completions name none); the rest is in `attributes`.
 */
export function copilotMetricsRow(record: CopilotUserDay): BucketRow {
  const start = new Date(`${record.day}T00:00:00Z`);
  const cli = record.totals_by_cli ?? undefined;
  const tokens = cli?.token_usage ?? undefined;
  return {
    key: { day: record.day, user_id: String(record.user_id) },
    fields: {
      occurred_at: start.toISOString(),
      granularity: '1d',
      period_start: start.toISOString(),
      period_end: new Date(start.getTime() + DAY_MS).toISOString(),
      identity: { developer: record.user_login, tool: 'copilot' },
      provider: 'github',
      tool: 'copilot',
      model: copilotModelId(topModel(record.totals_by_model_feature)),
      requests: record.user_initiated_interaction_count,
      ...(tokens?.prompt_tokens_sum != null ? { input_tokens: tokens.prompt_tokens_sum } : {}),
      ...(tokens?.output_tokens_sum != null ? { output_tokens: tokens.output_tokens_sum } : {}),
      cost_usd: 0,
      attributes: attributesOf({
        'github.user_id': String(record.user_id),
        'github.organization_id': record.organization_id,
        'copilot.used_agent': record.used_agent,
        'copilot.used_chat': record.used_chat,
        'copilot.used_cli': record.used_cli,
        'copilot.code_generations': record.code_generation_activity_count,
        'copilot.code_acceptances': record.code_acceptance_activity_count,
        'copilot.loc_suggested_to_add': record.loc_suggested_to_add_sum,
        'copilot.loc_suggested_to_delete': record.loc_suggested_to_delete_sum,
        'copilot.loc_added': record.loc_added_sum,
        'copilot.loc_deleted': record.loc_deleted_sum,
        'copilot.cli_sessions': cli?.session_count,
        'copilot.cli_requests': cli?.request_count,
        'copilot.cli_prompts': cli?.prompt_count,
        'copilot.ai_credits_used': record.ai_credits_used,
      }),
      paths: {
        developer: 'user_login',
        requests: 'user_initiated_interaction_count',
        input_tokens: 'totals_by_cli.token_usage.prompt_tokens_sum',
        output_tokens: 'totals_by_cli.token_usage.output_tokens_sum',
      },
    },
    raw: record,
  };
}

/** The user-day records of one NDJSON file; a line that is not one refuses the read, naming it. */
export function parseUserDays(text: string, what: string): CopilotUserDay[] {
  const records: CopilotUserDay[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new BurnrateError('PROVIDER_REJECTED', `${what} line ${i + 1} is not JSON`);
    }
    records.push(parseAnswer(UserDay, value, `${what} line ${i + 1}`));
  }
  return records;
}

/** GitHub produces a day's report after the day, usually the next: until two days later a missing one is not late yet. */
const PUBLICATION_DAYS = 2;

/**
 * The download links of one day's report; none when there is no report: a 204 (no activity that
 * day), or a 404 for a day whose report may not be produced yet. A 404 for an older day is an
 * error (the metrics policy off, the wrong organization), not a day without usage.
 */
async function reportLinks(http: ProviderHttp, org: string, day: string, pending: boolean, signal: AbortSignal): Promise<string[]> {
  const path = usersReportPath(org);
  let answer: unknown;
  try {
    answer = await http.getJson({ path, query: new URLSearchParams({ day }) }, signal);
  } catch (err) {
    if (!isBurnrateError(err) || err.details?.status !== 404) throw err;
    if (pending) return [];
    throw new BurnrateError(
      'PROVIDER_REJECTED',
      `${path} has no report for ${day}, which is due: is the Copilot metrics policy enabled for ${org}, and may the token read it?`,
      { cause: err },
    );
  }
  if (answer === null) return [];
  const links = parseAnswer(ReportLinks, answer, `${path} for ${day}`);
  if (links.report_day != null && links.report_day !== day) {
    throw new BurnrateError('PROVIDER_REJECTED', `${path} for ${day}: answered the report of ${links.report_day}`);
  }
  return links.download_links;
}

/**
 * `GET /orgs/{org}/copilot/metrics/reports/users-1-day?day=`: per user per day, Copilot's activity
 * (NDJSON files behind signed links, fetched without the token). A day's report exists only once
 * the day is over, so the day in progress is not asked for.
 */
export function copilotMetricsReports(options: { org: string }): UsageSource {
  const { org } = options;
  return {
    source: COPILOT_METRICS_SOURCE,
    granularity: '1d',
    bucketMs: DAY_MS,
    overlapBuckets: REREAD_DAYS,
    minIntervalMs: MIN_INTERVAL_MS,
    async read(window, http, signal) {
      const buckets: Bucket[] = [];
      // The window ends with the day in progress (the poller reads up to the bucket in progress).
      const today = window.end - DAY_MS;
      for (let start = floorDay(window.start); start < window.end; start += DAY_MS) {
        const day = utcDay(start);
        const links = start >= today ? [] : await reportLinks(http, org, day, start >= today - PUBLICATION_DAYS * DAY_MS, signal);
        // One record per user and day; a user listed twice (in two files) is taken as last listed.
        const byUser = new Map<string, CopilotUserDay>();
        for (const [i, link] of links.entries()) {
          for (const record of parseUserDays(await http.download(link, signal), `users-1-day ${day} file ${i + 1}`)) {
            if (record.day === day) byUser.set(String(record.user_id), record);
          }
        }
        buckets.push({ start, end: start + DAY_MS, rows: [...byUser.values()].map(copilotMetricsRow) });
      }
      return buckets;
    },
  };
}
