import { type HttpAnswer, type HttpStandIn, jsonAnswer, startHttpStandIn } from './http-stand-in.ts';

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

export interface CursorStandIn extends HttpStandIn {
  /** Replaces the usage events served (a revision, when some were served before). */
  setEvents(events: readonly Record<string, unknown>[]): void;
  /** Every page request, as the window and page asked for. */
  pages(): { startDate: number; endDate: number; page: number }[];
}

/**
 * A local stand-in of Cursor's Admin API `POST /teams/filtered-usage-events` (reference formats in
 * ../shared/reference/providers.md §6): checks Basic auth (the key as user name, empty password),
 * the body (`startDate`/`endDate` epoch ms at most 30 days apart, a 1-based `page`), and answers
 * the events of the window, oldest first, `pageSize` at a time with Cursor's pagination envelope.
 */
export async function startCursorStandIn(adminKey: string, pageSize = 2): Promise<CursorStandIn> {
  let events: Record<string, unknown>[] = [];
  const expected = `Basic ${Buffer.from(`${adminKey}:`).toString('base64')}`;
  const server = await startHttpStandIn((request) => {
    if (request.headers.authorization !== expected) return jsonAnswer(401, { error: 'Unauthorized' });
    if (request.method !== 'POST' || request.path !== CURSOR_EVENTS_PATH)
      return jsonAnswer(404, { error: `no ${request.method} ${request.path}` });
    const body = request.json as { startDate?: unknown; endDate?: unknown; page?: unknown; pageSize?: unknown } | undefined;
    const problems: string[] = [];
    const { startDate, endDate, page } = body ?? {};
    if (typeof startDate !== 'number' || typeof endDate !== 'number' || endDate <= startDate)
      problems.push('startDate and endDate must be epoch ms, start first');
    else if (endDate - startDate > 30 * DAY) problems.push('a request may span at most 30 days');
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
    pages() {
      return server.requests
        .filter((r) => r.status === 200)
        .map((r) => {
          const b = r.json as { startDate: number; endDate: number; page: number };
          return { startDate: b.startDate, endDate: b.endDate, page: b.page };
        });
    },
  };
}
