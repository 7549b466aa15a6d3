import { type HttpAnswer, type HttpStandIn, jsonAnswer, type ReceivedRequest, startHttpStandIn } from './http-stand-in.ts';

/** How a provider writes bucket times: Anthropic as RFC 3339 `starting_at`, OpenAI as Unix seconds `start_time`. */
interface TimeStyle {
  startParam: string;
  endParam: string;
  bucket(start: number, end: number): Record<string, unknown>;
  read(value: string | null): number;
  /** Extra fields of the page envelope. */
  page: Record<string, unknown>;
}

const ANTHROPIC_TIME: TimeStyle = {
  startParam: 'starting_at',
  endParam: 'ending_at',
  bucket: (start, end) => ({
    starting_at: new Date(start).toISOString().replace('.000Z', 'Z'),
    ending_at: new Date(end).toISOString().replace('.000Z', 'Z'),
  }),
  read: (value) => Date.parse(value ?? ''),
  page: {},
};

const OPENAI_TIME: TimeStyle = {
  startParam: 'start_time',
  endParam: 'end_time',
  bucket: (start, end) => ({ object: 'bucket', start_time: start / 1000, end_time: end / 1000 }),
  read: (value) => Number(value) * 1000,
  page: { object: 'page' },
};

/** A report the stand-in serves: its path, bucket width and rows by bucket start (epoch ms). */
interface Report {
  path: string;
  bucketMs: number;
  width: string;
  rows: Map<number, unknown[]>;
}

export interface UsageApiStandIn extends HttpStandIn {
  /** Replaces the rows of one bucket of a report (a revision, when it was served before). */
  setRows(path: string, bucketStart: string, rows: unknown[]): void;
  /** Replaces the records of one day of a one-day-per-call report (`starting_at=YYYY-MM-DD`). */
  setRecords(path: string, day: string, records: unknown[]): void;
  /** Every page request for `path`, as [start param, page param]. */
  pagesOf(path: string): { start: string | null; page: string | null }[];
}

/**
 * A local stand-in of a provider's bucketed usage API (reference formats in
 * ../shared/reference/providers.md §1 and §5): checks the auth headers, answers the
 * window's buckets (empty ones included, as the providers do) `pageSize` at a time with the
 * provider's `has_more`/`next_page` envelope, and takes the cursor back as `page`.
 */
async function startReportStandIn(
  time: TimeStyle,
  reports: readonly Omit<Report, 'rows'>[],
  authorized: (headers: Record<string, string>) => boolean,
  pageSize: number,
  dailyPaths: readonly string[] = [],
): Promise<UsageApiStandIn> {
  const byPath = new Map(reports.map((r) => [r.path, { ...r, rows: new Map<number, unknown[]>() }]));
  const daily = new Map(dailyPaths.map((path) => [path, new Map<string, unknown[]>()]));
  /** A one-day-per-call report: the day's records, `pageSize` at a time. */
  const answerDay = (url: URL, days: Map<string, unknown[]>): HttpAnswer => {
    const day = url.searchParams.get('starting_at') ?? '';
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return jsonAnswer(400, { error: { message: 'starting_at must be YYYY-MM-DD' } }, ['starting_at']);
    const records = days.get(day) ?? [];
    const offset = Number(url.searchParams.get('page') ?? '0');
    const more = offset + pageSize < records.length;
    return jsonAnswer(200, {
      data: records.slice(offset, offset + pageSize),
      has_more: more,
      next_page: more ? String(offset + pageSize) : null,
    });
  };
  const answer = (request: { path: string; headers: Record<string, string> }): HttpAnswer => {
    if (!authorized(request.headers)) return jsonAnswer(401, { error: { type: 'authentication_error', message: 'invalid x-api-key' } });
    const url = new URL(request.path, 'http://stand-in');
    const days = daily.get(url.pathname);
    if (days !== undefined) return answerDay(url, days);
    const report = byPath.get(url.pathname);
    if (report === undefined) return jsonAnswer(404, { error: { message: `no ${url.pathname}` } });
    const problems: string[] = [];
    if (url.searchParams.get('bucket_width') !== report.width) problems.push(`bucket_width must be ${report.width}`);
    const start = time.read(url.searchParams.get(time.startParam));
    const end = time.read(url.searchParams.get(time.endParam));
    if (!Number.isFinite(start) || !Number.isFinite(end) || start % report.bucketMs !== 0)
      problems.push('a bucket-aligned window is required');
    if (problems.length > 0) return jsonAnswer(400, { error: { message: problems.join('; ') } }, problems);
    const starts: number[] = [];
    for (let t = start; t < end; t += report.bucketMs) starts.push(t);
    const offset = Number(url.searchParams.get('page') ?? '0');
    const limit = Math.min(pageSize, Number(url.searchParams.get('limit') ?? pageSize));
    const served = starts.slice(offset, offset + limit);
    const more = offset + limit < starts.length;
    return jsonAnswer(200, {
      ...time.page,
      data: served.map((t) => ({ ...time.bucket(t, t + report.bucketMs), results: report.rows.get(t) ?? [] })),
      has_more: more,
      next_page: more ? String(offset + limit) : null,
    });
  };
  const server = await startHttpStandIn(answer);
  return {
    ...server,
    setRows(path, bucketStart, rows) {
      const report = byPath.get(path);
      if (report === undefined) throw new Error(`no report ${path}`);
      report.rows.set(Date.parse(bucketStart), rows);
    },
    setRecords(path, day, records) {
      const days = daily.get(path);
      if (days === undefined) throw new Error(`no one-day report ${path}`);
      days.set(day, records);
    },
    pagesOf(path) {
      return server.requests
        .map((r) => new URL(r.path, 'http://stand-in'))
        .filter((u) => u.pathname === path)
        .map((u) => ({ start: u.searchParams.get(time.startParam), page: u.searchParams.get('page') }));
    },
  };
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const ANTHROPIC_USAGE_PATH = '/v1/organizations/usage_report/messages';
export const ANTHROPIC_COST_PATH = '/v1/organizations/cost_report';
export const CLAUDE_CODE_ANALYTICS_PATH = '/v1/organizations/usage_report/claude_code';
export const OPENAI_COMPLETIONS_PATH = '/v1/organization/usage/completions';
export const OPENAI_COSTS_PATH = '/v1/organization/costs';

/**
 * One row of the Anthropic cost report as the Admin API answers it: `cents` of Claude Opus 4.5
 * output tokens in the default workspace (`workspace_id: null`), for `setRows(ANTHROPIC_COST_PATH, …)`.
 */
export function anthropicCostRow(cents: number): Record<string, unknown> {
  return {
    currency: 'USD',
    amount: String(cents),
    workspace_id: null,
    description: 'Claude Opus 4.5 Usage - Output Tokens',
    cost_type: 'tokens',
    context_window: '0-200k',
    model: 'claude-opus-4-5-20251101',
    service_tier: 'standard',
    token_type: 'output_tokens',
    inference_geo: 'global',
  };
}

export function startAnthropicStandIn(adminKey: string, pageSize = 3): Promise<UsageApiStandIn> {
  return startReportStandIn(
    ANTHROPIC_TIME,
    [
      { path: ANTHROPIC_USAGE_PATH, bucketMs: HOUR, width: '1h' },
      { path: ANTHROPIC_COST_PATH, bucketMs: DAY, width: '1d' },
    ],
    (headers) => headers['x-api-key'] === adminKey && headers['anthropic-version'] === '2023-06-01',
    pageSize,
    [CLAUDE_CODE_ANALYTICS_PATH],
  );
}

export function startOpenAiStandIn(adminKey: string, pageSize = 3): Promise<UsageApiStandIn> {
  return startReportStandIn(
    OPENAI_TIME,
    [
      { path: OPENAI_COMPLETIONS_PATH, bucketMs: HOUR, width: '1h' },
      { path: OPENAI_COSTS_PATH, bucketMs: DAY, width: '1d' },
    ],
    (headers) => headers.authorization === `Bearer ${adminKey}`,
    pageSize,
  );
}

export const CURSOR_EVENTS_PATH = '/teams/filtered-usage-events';
export const CURSOR_DAILY_PATH = '/teams/daily-usage-data';

export interface CursorStandIn extends HttpStandIn {
  /** Replaces the usage events served (a revision, when some were served before). */
  setEvents(events: readonly Record<string, unknown>[]): void;
  /** Replaces the daily usage records served (`{date, email, …}`; a revision, when some were served before). */
  setDaily(records: readonly Record<string, unknown>[]): void;
  /** Every page request of the usage events, as the window and page asked for. */
  pages(): { startDate: number; endDate: number; page: number }[];
  /** Every answered request of the daily usage data, as the window asked for. */
  dailyReads(): { startDate: number; endDate: number }[];
}

/**
 * A local stand-in of Cursor's Admin API (reference formats in ../shared/reference/providers.md
 * §6): checks Basic auth (the key as user name, empty password) and the body (`startDate`/`endDate`
 * epoch ms at most 30 days apart). `POST /teams/filtered-usage-events` also takes a 1-based `page`
 * and answers the events of the window, oldest first, `pageSize` at a time with Cursor's pagination
 * envelope; `POST /teams/daily-usage-data` answers the window's records whole, `{data, period}`.
 */
export async function startCursorStandIn(adminKey: string, pageSize = 2): Promise<CursorStandIn> {
  let events: Record<string, unknown>[] = [];
  let daily: Record<string, unknown>[] = [];
  const expected = `Basic ${Buffer.from(`${adminKey}:`).toString('base64')}`;
  const server = await startHttpStandIn((request) => {
    if (request.headers.authorization !== expected) return jsonAnswer(401, { error: 'Unauthorized' });
    if (request.method !== 'POST' || (request.path !== CURSOR_EVENTS_PATH && request.path !== CURSOR_DAILY_PATH))
      return jsonAnswer(404, { error: `no ${request.method} ${request.path}` });
    const body = request.json as { startDate?: unknown; endDate?: unknown; page?: unknown; pageSize?: unknown } | undefined;
    const problems: string[] = [];
    const { startDate, endDate, page } = body ?? {};
    if (typeof startDate !== 'number' || typeof endDate !== 'number' || endDate <= startDate)
      problems.push('startDate and endDate must be epoch ms, start first');
    else if (endDate - startDate > 30 * DAY) problems.push('a request may span at most 30 days');
    if (request.path === CURSOR_DAILY_PATH) {
      if (problems.length > 0) return jsonAnswer(400, { error: problems.join('; ') }, problems);
      const data = daily
        .filter((r) => Number(r.date) >= (startDate as number) && Number(r.date) < (endDate as number))
        .sort((a, b) => Number(a.date) - Number(b.date));
      return jsonAnswer(200, { data, period: { startDate, endDate } });
    }
    if (typeof page !== 'number' || !Number.isInteger(page) || page < 1) problems.push('page must be a whole number from 1');
    if (problems.length > 0) return jsonAnswer(400, { error: problems.join('; ') }, problems);
    const size = Math.min(pageSize, typeof body?.pageSize === 'number' ? body.pageSize : pageSize);
    const inWindow = events
      .filter((e) => Number(e.timestamp) >= (startDate as number) && Number(e.timestamp) < (endDate as number))
      .sort((a, b) => Number(a.timestamp) - Number(b.timestamp));
    const numPages = Math.ceil(inWindow.length / size);
    const current = page as number;
    return jsonAnswer(200, {
      totalUsageEventsCount: inWindow.length,
      pagination: { numPages, currentPage: current, pageSize: size, hasNextPage: current < numPages, hasPreviousPage: current > 1 },
      usageEvents: inWindow.slice((current - 1) * size, current * size),
      period: { startDate, endDate },
    });
  });
  return {
    ...server,
    setEvents(next) {
      events = next.map((e) => ({ ...e }));
    },
    setDaily(records) {
      daily = records.map((r) => ({ ...r }));
    },
    dailyReads() {
      return server.requests
        .filter((r) => r.status === 200 && r.path === CURSOR_DAILY_PATH)
        .map((r) => {
          const b = r.json as { startDate: number; endDate: number };
          return { startDate: b.startDate, endDate: b.endDate };
        });
    },
    pages() {
      return server.requests
        .filter((r) => r.status === 200 && r.path === CURSOR_EVENTS_PATH)
        .map((r) => {
          const b = r.json as { startDate: number; endDate: number; page: number };
          return { startDate: b.startDate, endDate: b.endDate, page: b.page };
        });
    },
  };
}

export const GITHUB_API_VERSION = '2022-11-28';

export interface GitHubStandIn extends HttpStandIn {
  /** Replaces the organization's Copilot seats (`{assignee: {login, id, type}, last_activity_at, …}`). */
  setSeats(seats: readonly Record<string, unknown>[]): void;
  /**
   * Replaces the premium-request usage items of one UTC day (`YYYY-MM-DD`) by user login (a
   * revision, when it was served before). The organization's answer is their sum per product, SKU
   * and model, users without a seat included.
   */
  setPremiumUsage(day: string, byUser: Readonly<Record<string, readonly Record<string, unknown>[]>>): void;
  /**
   * Replaces the users-1-day records of one day, served as `files` NDJSON files behind signed links;
   * `null` answers 404 (a report not produced yet). A day never set answers 204 (no activity).
   */
  setUserDays(day: string, records: readonly Record<string, unknown>[] | null, files?: number): void;
  /** Every premium usage request answered, as its day and user (null: the organization's total). */
  usageCalls(): { day: string; user: string | null }[];
  /** The page of every seats request answered. */
  seatPages(): number[];
  /** Every report download, answered or not. */
  downloads(): ReceivedRequest[];
}

const AMOUNT_FIELDS = ['grossQuantity', 'grossAmount', 'discountQuantity', 'discountAmount', 'netQuantity', 'netAmount'] as const;

/** Items summed per product, SKU and model, as the organization's answer sums its users'. */
function sumItems(items: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  const byKey = new Map<string, Record<string, unknown>>();
  for (const item of items) {
    const key = JSON.stringify([item.product, item.sku, item.model]);
    const held = byKey.get(key);
    if (held === undefined) {
      byKey.set(key, { ...item });
      continue;
    }
    for (const field of AMOUNT_FIELDS) held[field] = Math.round((Number(held[field] ?? 0) + Number(item[field] ?? 0)) * 1e10) / 1e10;
  }
  return [...byKey.values()];
}

/**
 * A local stand-in of GitHub's REST API for one organization's Copilot (reference formats in
 * ../shared/reference/providers.md §7): checks the bearer token and the API version header, and
 * serves the seat listing (`page`/`per_page`, at most 100), the premium-request usage of a day
 * (`year`/`month`/`day`, `user` optional) and the users-1-day metrics report, whose download links
 * point back at it and must be fetched without the token.
 */
export async function startGitHubStandIn(token: string, org = 'acme'): Promise<GitHubStandIn> {
  let seats: Record<string, unknown>[] = [];
  const usage = new Map<string, Record<string, readonly Record<string, unknown>[]>>();
  const userDays = new Map<string, { records: readonly Record<string, unknown>[]; files: number } | null>();
  const signature = 'stand-in-signature';
  let origin = '';
  const paths = {
    seats: `/orgs/${org}/copilot/billing/seats`,
    usage: `/organizations/${org}/settings/billing/premium_request/usage`,
    report: `/orgs/${org}/copilot/metrics/reports/users-1-day`,
  };

  const download = (request: { headers: Record<string, string> }, url: URL): HttpAnswer => {
    if (request.headers.authorization !== undefined)
      return jsonAnswer(400, { message: 'a signed link takes no Authorization header' }, ['Authorization sent to a signed link']);
    if (url.searchParams.get('sig') !== signature) return jsonAnswer(403, { message: 'signature mismatch' });
    const [, , day, file] = url.pathname.split('/');
    const report = userDays.get(day ?? '');
    const index = Number((file ?? '').replace('.ndjson', ''));
    if (!report || !Number.isInteger(index) || index >= report.files) return jsonAnswer(404, { message: 'no such file' });
    const size = Math.ceil(report.records.length / report.files);
    const lines = report.records.slice(index * size, (index + 1) * size).map((r) => JSON.stringify(r));
    return { status: 200, body: lines.map((l) => `${l}\n`).join(''), headers: { 'content-type': 'application/x-ndjson' } };
  };

  const server = await startHttpStandIn((request) => {
    const url = new URL(request.path, 'http://stand-in');
    if (url.pathname.startsWith('/reports/')) return download(request, url);
    if (request.headers.authorization !== `Bearer ${token}`)
      return jsonAnswer(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
    if (request.headers['x-github-api-version'] !== GITHUB_API_VERSION)
      return jsonAnswer(400, { message: `X-GitHub-Api-Version must be ${GITHUB_API_VERSION}` }, ['no or another API version']);
    if (request.method !== 'GET') return jsonAnswer(404, { message: 'Not Found' });
    const query = url.searchParams;

    if (url.pathname === paths.seats) {
      const page = Number(query.get('page') ?? '1');
      const perPage = Math.min(100, Number(query.get('per_page') ?? '50'));
      if (!Number.isInteger(page) || page < 1 || !Number.isInteger(perPage) || perPage < 1)
        return jsonAnswer(422, { message: 'page and per_page must be whole numbers from 1' }, ['bad paging']);
      return jsonAnswer(200, { total_seats: seats.length, seats: seats.slice((page - 1) * perPage, page * perPage) });
    }

    if (url.pathname === paths.usage) {
      const [year, month, day] = ['year', 'month', 'day'].map((name) => Number(query.get(name)));
      if (!Number.isInteger(year) || !Number.isInteger(month) || !Number.isInteger(day))
        return jsonAnswer(400, { message: 'the stand-in serves one day: year, month and day' }, ['not one day']);
      const date = `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
      const byUser = usage.get(date) ?? {};
      const user = query.get('user');
      const login = user === null ? undefined : Object.keys(byUser).find((l) => l.toLowerCase() === user.toLowerCase());
      const items = user === null ? sumItems(Object.values(byUser).flat()) : login === undefined ? [] : [...(byUser[login] ?? [])];
      return jsonAnswer(200, {
        timePeriod: { year, month, day },
        organization: org,
        ...(user === null ? {} : { user }),
        usageItems: items,
      });
    }

    if (url.pathname === paths.report) {
      const day = query.get('day') ?? '';
      if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return jsonAnswer(422, { message: 'day must be YYYY-MM-DD' }, ['day']);
      const report = userDays.get(day);
      if (report === undefined) return { status: 204 };
      if (report === null) return jsonAnswer(404, { message: 'Not Found' });
      return jsonAnswer(200, {
        download_links: Array.from({ length: report.files }, (_, i) => `${origin}/reports/${day}/${i}.ndjson?sig=${signature}`),
        report_day: day,
      });
    }
    return jsonAnswer(404, { message: 'Not Found' });
  });
  origin = server.origin;

  const answered = (path: string): URL[] =>
    server.requests
      .filter((r) => r.status === 200)
      .map((r) => new URL(r.path, 'http://stand-in'))
      .filter((u) => u.pathname === path);
  return {
    ...server,
    setSeats(next) {
      seats = next.map((s) => ({ ...s }));
    },
    setPremiumUsage(day, byUser) {
      usage.set(day, structuredClone(byUser));
    },
    setUserDays(day, records, files = 1) {
      userDays.set(day, records === null ? null : { records: structuredClone(records), files });
    },
    usageCalls() {
      return answered(paths.usage).map((u) => ({
        day: `${u.searchParams.get('year')}-${u.searchParams.get('month')?.padStart(2, '0')}-${u.searchParams.get('day')?.padStart(2, '0')}`,
        user: u.searchParams.get('user'),
      }));
    },
    seatPages() {
      return answered(paths.seats).map((u) => Number(u.searchParams.get('page')));
    },
    downloads() {
      return server.requests.filter((r) => r.path.startsWith('/reports/'));
    },
  };
}
