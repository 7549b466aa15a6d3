import { BurnrateError, fixedClock } from '@burnrate/core';
import { buildUsageEvent } from '@burnrate/ingest';
import type { UsageEvent } from '@burnrate/schemas';
import { describe, expect, it } from 'vitest';
import type { Bucket, BucketRow } from '../source.ts';
import {
  copilotSeat as seat,
  pagesHttp,
  premiumItem,
  readFixture,
  readFixtureText,
  recordingProducer,
  silentLog,
  testContext,
  testIngest,
} from '../test-helpers.ts';
import {
  copilotMetricsReports,
  copilotModelId,
  copilotPremiumUsage,
  githubHeaders,
  type PremiumUsageItem,
  premiumRows,
  premiumUsagePath,
  readSeats,
} from './copilot.ts';

const NOW = new Date('2026-12-07T10:20:00Z');
const ingest = testIngest(recordingProducer(), fixedClock(NOW));
const signal = new AbortController().signal;
const DEC_6 = Date.parse('2026-12-06T00:00:00Z');
const DAY = 86_400_000;

type UsagePage = { timePeriod: Record<string, number>; organization: string; usageItems: PremiumUsageItem[] };
const orgPage = (): UsagePage => structuredClone(readFixture('github-premium-request-usage.json')) as UsagePage;
const userPage = (user: string, items: PremiumUsageItem[]) => ({ ...orgPage(), user, usageItems: items });

function eventsOf(source: string, buckets: readonly Bucket[] | readonly BucketRow[]): UsageEvent[] {
  const ctx = testContext(ingest, source);
  const rows = buckets.flatMap((b: Bucket | BucketRow) => ('rows' in b ? b.rows : [b]));
  return rows.map((row) => {
    const built = buildUsageEvent({ ...row.fields, event_id: 'x' }, ctx);
    if (!built.ok) throw new Error(JSON.stringify(built.issues));
    return built.event;
  });
}

const costOf = (events: readonly UsageEvent[]): number => Math.round(events.reduce((sum, e) => sum + e.cost_usd, 0) * 1e6) / 1e6;

describe('GitHub Copilot premium-request billing', () => {
  const orgOnly = copilotPremiumUsage({ org: 'acme', perUser: false, log: silentLog });
  const perUser = copilotPremiumUsage({ org: 'acme', perUser: true, log: silentLog });

  it('asks one UTC day per call and makes each item a day event of the organization, its net amount the cost', async () => {
    const http = pagesHttp([orgPage()]);
    const buckets = await orgOnly.read({ start: DEC_6, end: DEC_6 + DAY }, http, signal);
    expect(http.requests.map((r) => [r.path, Object.fromEntries(r.query)])).toEqual([
      ['/organizations/acme/settings/billing/premium_request/usage', { year: '2026', month: '12', day: '6' }],
    ]);
    expect(buckets.map((b) => [b.start, b.end])).toEqual([[DEC_6, DEC_6 + DAY]]);
    const events = eventsOf('copilot_premium', buckets);
    expect(events).toMatchObject([
      {
        source: 'copilot_premium',
        provider: 'github',
        tool: 'copilot',
        granularity: '1d',
        period_start: '2026-12-06T00:00:00.000Z',
        period_end: '2026-12-07T00:00:00.000Z',
        // Copilot names models for people; the catalog reads the hyphenated id.
        model: 'claude-sonnet-4.5',
        model_family: 'claude-sonnet',
        // Within the plan's allowance: no charge, the premium requests still counted.
        requests: 120,
        cost_usd: 0,
        cost_source: 'reported',
        developer: 'unattributed',
        attributes: {
          'github.org': 'acme',
          'copilot.scope': 'organization',
          'copilot.product': 'Copilot',
          'copilot.sku': 'Copilot Premium Request',
          'copilot.model': 'Claude Sonnet 4.5',
          'copilot.unit_type': 'requests',
          'copilot.price_per_unit': '0.04',
          'copilot.gross_usd': '4.8',
          'copilot.discount_usd': '4.8',
        },
      },
      { model: 'gpt-5', requests: 45, cost_usd: 1 },
      { model: 'claude-opus-4.1', requests: 30, cost_usd: 1.2 },
      // 10 requests at a 0.25 multiplier: premium requests are whole in `requests`, exact in attributes.
      { model: 'gemini-2.0-flash', requests: 3, cost_usd: 0.1, attributes: { 'copilot.gross_quantity': '2.5' } },
    ]);
    expect(costOf(events)).toBe(2.3);
  });

  it('keys a row by day, user, product, SKU and model, so a re-read gets the same id', async () => {
    const [row] = (await orgOnly.read({ start: DEC_6, end: DEC_6 + DAY }, pagesHttp([orgPage()]), signal)).flatMap((b) => b.rows);
    expect(row?.key).toEqual({
      day: '2026-12-06',
      user: null,
      product: 'Copilot',
      sku: 'Copilot Premium Request',
      model: 'Claude Sonnet 4.5',
    });
  });

  it("per user: asks each seat active since the day began for its items, and publishes what is left of the organization's total", async () => {
    const seats = {
      total_seats: 4,
      seats: [
        seat('alice-octo', '2026-12-06T15:02:11+01:00'),
        seat('bob-builds', '2026-12-07T08:00:00Z'),
        // No activity since the day began: not asked.
        seat('carol-idle', '2026-12-05T23:59:59Z'),
        // GitHub knows of no activity (no telemetry): asked.
        seat('dave-quiet', null),
      ],
    };
    const alice = [premiumItem('Claude Sonnet 4.5', 100, 0), premiumItem('GPT-5', 20, 0.4)];
    const bob = [premiumItem('GPT-5', 25, 0.6), premiumItem('Claude Opus 4.1', 30, 1.2)];
    const http = pagesHttp([seats, orgPage(), userPage('alice-octo', alice), userPage('bob-builds', bob), userPage('dave-quiet', [])]);
    // Read two days later, when the day has settled (the remainder waits for that, see below).
    const buckets = await perUser.read({ start: DEC_6, end: DEC_6 + DAY, now: DEC_6 + 2 * DAY + 3_600_000 }, http, signal);
    expect(http.requests.map((r) => [r.path, r.query.get('page') ?? r.query.get('user')])).toEqual([
      ['/orgs/acme/copilot/billing/seats', '1'],
      [premiumUsagePath('acme'), null],
      [premiumUsagePath('acme'), 'alice-octo'],
      [premiumUsagePath('acme'), 'bob-builds'],
      [premiumUsagePath('acme'), 'dave-quiet'],
    ]);
    const events = eventsOf('copilot_premium', buckets);
    expect(events.map((e) => [e.developer, e.model, e.requests, e.cost_usd])).toEqual([
      // The login resolves through the member's aliases.
      ['alice@acme.com', 'claude-sonnet-4.5', 100, 0],
      ['alice@acme.com', 'gpt-5', 20, 0.4],
      ['bob-builds', 'gpt-5', 25, 0.6],
      ['bob-builds', 'claude-opus-4.1', 30, 1.2],
      // The remainder: 20 Sonnet requests and the Gemini ones of people without a seat read.
      ['unattributed', 'claude-sonnet-4.5', 20, 0],
      ['unattributed', 'gemini-2.0-flash', 3, 0.1],
    ]);
    expect(events[0]).toMatchObject({ team: 'payments', attributes: { 'copilot.scope': 'user' } });
    expect(events.at(-1)?.attributes['copilot.scope']).toBe('organization');
    // Each dollar once: the day's events add up to the organization's total.
    expect(costOf(events)).toBe(2.3);

    // Read on the day itself or the next, the users' rows are published and the remainder waits:
    // a seat GitHub reports as active only later would move spend out of a published remainder.
    for (const now of [DEC_6 + 3_600_000, DEC_6 + DAY + 3_600_000]) {
      const early = pagesHttp([seats, orgPage(), userPage('alice-octo', alice), userPage('bob-builds', bob), userPage('dave-quiet', [])]);
      const unsettled = eventsOf('copilot_premium', await perUser.read({ start: DEC_6, end: DEC_6 + DAY, now }, early, signal));
      expect(unsettled.map((e) => e.developer)).toEqual(['alice@acme.com', 'alice@acme.com', 'bob-builds', 'bob-builds']);
    }
  });
});

describe('premiumRows: the remainder of the organization’s total', () => {
  const total = orgPage().usageItems;

  it('is the total less every user’s items, per product, SKU and model', () => {
    const { rows, overdrawn } = premiumRows('acme', DEC_6, total, [
      { login: 'a', items: [premiumItem('GPT-5', 10, 0.2)] },
      { login: 'b', items: [premiumItem('GPT-5', 15, 0.3), premiumItem('Claude Opus 4.1', 30, 1.2)] },
    ]);
    expect(overdrawn).toEqual([]);
    const remainder = rows.filter((r) => r.key.user === null);
    expect(remainder.map((r) => [r.key.model, r.fields.requests, r.fields.cost_usd, r.fields.attributes?.['copilot.gross_usd']])).toEqual([
      ['Claude Sonnet 4.5', 120, 0, '4.8'],
      // 45 − 25 requests, $1 − $0.5, gross $1.80 − $1.00.
      ['GPT-5', 20, 0.5, '0.8'],
      // Opus is all b's: no remainder row.
      ['Gemini 2.0 Flash', 3, 0.1, '0.1'],
    ]);
  });

  it('is never negative: a figure the users exceed is clamped to 0 and reported', () => {
    const { rows, overdrawn } = premiumRows(
      'acme',
      DEC_6,
      [premiumItem('GPT-5', 10, 0.2)],
      [
        // Usage logged between the organization's call and the user's.
        { login: 'a', items: [premiumItem('GPT-5', 12, 0.28)] },
      ],
    );
    expect(rows.map((r) => [r.key.user, r.fields.requests, r.fields.cost_usd])).toEqual([['a', 12, 0.28]]);
    expect(overdrawn).toEqual([
      { product: 'Copilot', sku: 'Copilot Premium Request', model: 'GPT-5', field: 'grossQuantity', by: 2 },
      { product: 'Copilot', sku: 'Copilot Premium Request', model: 'GPT-5', field: 'grossAmount', by: 0.08 },
      { product: 'Copilot', sku: 'Copilot Premium Request', model: 'GPT-5', field: 'netQuantity', by: 2 },
      { product: 'Copilot', sku: 'Copilot Premium Request', model: 'GPT-5', field: 'netAmount', by: 0.08 },
    ]);
  });

  it('sums an item listed twice, and takes the whole total when no user is read', () => {
    const { rows } = premiumRows('acme', DEC_6, [premiumItem('GPT-5', 10, 0.2), premiumItem('GPT-5', 5, 0.1)], []);
    expect(rows.map((r) => [r.key.user, r.fields.requests, r.fields.cost_usd])).toEqual([[null, 15, 0.3]]);
  });
});

describe('readSeats', () => {
  const many = (n: number, from = 0) => Array.from({ length: n }, (_, i) => seat(`dev-${from + i}`, null));

  it('pages by 100 until a short page, skipping seats of no user', async () => {
    const http = pagesHttp([
      { total_seats: 102, seats: many(100) },
      { total_seats: 102, seats: [...many(1, 100), { ...seat('team', null), assignee: { login: 'core', type: 'Team' } }] },
    ]);
    const seats = await readSeats(http, 'acme', signal);
    expect(http.requests.map((r) => Object.fromEntries(r.query))).toEqual([
      { page: '1', per_page: '100' },
      { page: '2', per_page: '100' },
    ]);
    expect(seats).toHaveLength(101);
    expect(seats[0]).toEqual({ login: 'dev-0', lastActivityAt: undefined });
  });

  it('stops once the total is listed, without asking for an empty page', async () => {
    const http = pagesHttp([{ total_seats: 100, seats: many(100) }]);
    expect(await readSeats(http, 'acme', signal)).toHaveLength(100);
    expect(http.requests).toHaveLength(1);
  });
});

describe('GitHub Copilot pages refused', () => {
  const orgOnly = copilotPremiumUsage({ org: 'acme', perUser: false, log: silentLog });
  const window = { start: DEC_6, end: DEC_6 + DAY };

  it('names the field of a premium usage item that is not GitHub’s shape', async () => {
    const page = orgPage();
    (page.usageItems[1] as Record<string, unknown>).netAmount = '1.00';
    await expect(orgOnly.read(window, pagesHttp([page]), signal)).rejects.toThrow(
      '/organizations/acme/settings/billing/premium_request/usage for 2026-12-06 is not in the expected format: usageItems.1.netAmount',
    );
  });

  it('refuses an answer for another period than the day asked (a month taken for a day would count it every day)', async () => {
    const month = { ...orgPage(), timePeriod: { year: 2026, month: 12 } };
    await expect(orgOnly.read(window, pagesHttp([month]), signal)).rejects.toThrow(/for 2026-12-06: answered for 2026-12$/);
  });

  it('names the field of a seats page', async () => {
    const perUser = copilotPremiumUsage({ org: 'acme', perUser: true, log: silentLog });
    await expect(perUser.read(window, pagesHttp([{ seats: [] }]), signal)).rejects.toThrow(
      '/orgs/acme/copilot/billing/seats page 1 is not in the expected format: total_seats',
    );
  });

  it('names the file, line and field of a users-1-day record', async () => {
    const metrics = copilotMetricsReports({ org: 'acme' });
    const [alice, bob] = readFixtureText('github-copilot-users-1-day.ndjson').split('\n') as [string, string];
    const broken = JSON.stringify({ ...(JSON.parse(bob) as object), user_login: undefined });
    const links = { download_links: ['https://example.invalid/1', 'https://example.invalid/2'], report_day: '2026-12-06' };
    const twoDays = { start: DEC_6, end: DEC_6 + 2 * DAY };
    await expect(metrics.read(twoDays, pagesHttp([links, alice, `${alice}\n${broken}\n`]), signal)).rejects.toThrow(
      'users-1-day 2026-12-06 file 2 line 2 is not in the expected format: user_login',
    );
    await expect(metrics.read(twoDays, pagesHttp([links, 'not json', '']), signal)).rejects.toThrow(
      'users-1-day 2026-12-06 file 1 line 1 is not JSON',
    );
    await expect(metrics.read(twoDays, pagesHttp([{ report_day: '2026-12-06' }]), signal)).rejects.toThrow(/download_links/);
  });
});

describe('GitHub Copilot usage-metrics reports (users-1-day)', () => {
  const metrics = copilotMetricsReports({ org: 'acme' });
  const ndjson = readFixtureText('github-copilot-users-1-day.ndjson');
  const links = (day: string, n = 1) => ({
    download_links: Array.from({ length: n }, (_, i) => `https://copilot-reports.example/${day}/${i}.ndjson?sig=s3cr3t`),
    report_day: day,
  });
  // Dec 6 is over; Dec 7 is in progress (the poller's window ends with the day in progress).
  const window = { start: DEC_6, end: DEC_6 + 2 * DAY };

  it('asks for each day that is over, downloads every linked file and makes one event per user-day', async () => {
    const [alice, bob] = ndjson.split('\n') as [string, string];
    const http = pagesHttp([links('2026-12-06', 2), `${alice}\n`, `${bob}\n`]);
    const buckets = await metrics.read(window, http, signal);
    // Today's report does not exist yet: not asked.
    expect(http.requests.map((r) => [r.path, r.query.get('day')])).toEqual([
      ['/orgs/acme/copilot/metrics/reports/users-1-day', '2026-12-06'],
    ]);
    expect(http.downloads).toEqual(links('2026-12-06', 2).download_links);
    expect(buckets.map((b) => [new Date(b.start).toISOString(), b.rows.length])).toEqual([
      ['2026-12-06T00:00:00.000Z', 2],
      ['2026-12-07T00:00:00.000Z', 0],
    ]);
    expect(buckets[0]?.rows.map((r) => r.key)).toEqual([
      { day: '2026-12-06', user_id: '1001' },
      { day: '2026-12-06', user_id: '1002' },
    ]);
    expect(eventsOf('copilot_metrics', buckets)).toMatchObject([
      {
        source: 'copilot_metrics',
        provider: 'github',
        tool: 'copilot',
        granularity: '1d',
        period_start: '2026-12-06T00:00:00.000Z',
        developer: 'alice@acme.com',
        team: 'payments',
        // The model of most chat interactions.
        model: 'claude-sonnet-4.5',
        requests: 14,
        // The CLI's tokens, the only ones the report counts.
        input_tokens: 38_000,
        output_tokens: 5200,
        // Seat-licensed: the money is the premium requests'.
        cost_usd: 0,
        cost_source: 'reported',
        attributes: {
          'github.user_id': '1001',
          'github.organization_id': '90210',
          'copilot.used_agent': 'true',
          'copilot.used_chat': 'true',
          'copilot.used_cli': 'true',
          'copilot.code_generations': '31',
          'copilot.code_acceptances': '12',
          'copilot.loc_added': '186',
          'copilot.loc_deleted': '22',
          'copilot.loc_suggested_to_add': '240',
          'copilot.cli_sessions': '2',
          'copilot.cli_requests': '9',
          'copilot.cli_prompts': '4',
          'copilot.ai_credits_used': '12.5',
        },
      },
      // Completions only: no model named, no CLI tokens.
      { developer: 'bob-builds', model: 'unknown', requests: 0, input_tokens: 0, output_tokens: 0, cost_usd: 0 },
    ]);
  });

  it('takes a 204 as a day without activity, and a 404 as a report not produced yet while it may not be', async () => {
    const notFound = new BurnrateError('PROVIDER_REJECTED', 'github users-1-day answered 404', { details: { status: 404 } });
    // Dec 4 (204), Dec 5 and Dec 6 (404: produced a day or two late).
    const http = pagesHttp([null, notFound, notFound]);
    const buckets = await metrics.read({ start: DEC_6 - 2 * DAY, end: DEC_6 + 2 * DAY }, http, signal);
    expect(http.requests.map((r) => r.query.get('day'))).toEqual(['2026-12-04', '2026-12-05', '2026-12-06']);
    expect(buckets.flatMap((b) => b.rows)).toEqual([]);
    expect(buckets).toHaveLength(4);
  });

  it('fails on a 404 for a day whose report is due, naming the likely cause', async () => {
    const notFound = new BurnrateError('PROVIDER_REJECTED', 'github users-1-day answered 404', { details: { status: 404 } });
    await expect(metrics.read({ start: DEC_6 - 3 * DAY, end: DEC_6 + 2 * DAY }, pagesHttp([notFound]), signal)).rejects.toThrow(
      '/orgs/acme/copilot/metrics/reports/users-1-day has no report for 2026-12-03, which is due: is the Copilot metrics policy enabled for acme',
    );
  });

  it('keeps a user listed twice once, and records of other days out', async () => {
    const [alice] = ndjson.split('\n') as [string];
    const otherDay = JSON.stringify({ ...(JSON.parse(alice) as object), day: '2026-12-05', user_id: 7 });
    const grown = JSON.stringify({ ...(JSON.parse(alice) as object), user_initiated_interaction_count: 20 });
    const buckets = await metrics.read(window, pagesHttp([links('2026-12-06', 2), `${alice}\n${otherDay}`, grown]), signal);
    expect(buckets[0]?.rows.map((r) => [r.key.user_id, r.fields.requests])).toEqual([['1001', 20]]);
  });
});

describe('GitHub REST conventions', () => {
  it('sends the token as a bearer with the JSON media type and the API version', () => {
    expect(githubHeaders('ghp_x', 'burnrate-poller/0.1')).toEqual({
      authorization: 'Bearer ghp_x',
      accept: 'application/vnd.github+json',
      'x-github-api-version': '2022-11-28',
      'user-agent': 'burnrate-poller/0.1',
    });
  });

  it('reads Copilot’s model names as the vendors’ ids', () => {
    expect(copilotModelId('Claude Sonnet 4.5')).toBe('claude-sonnet-4.5');
    expect(copilotModelId(' GPT-4.1 ')).toBe('gpt-4.1');
    expect(copilotModelId('Claude Opus 4 (Preview)')).toBe('claude-opus-4-preview');
    expect(copilotModelId(null)).toBe('unknown');
  });
});
