import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DlqPage } from '@burnrate/api';
import { waitUntil } from '@burnrate/testing';
import {
  type BurnrateProcess,
  postJson,
  startBurnrate,
  startSurroundings,
  type Surroundings,
  waitForCaughtUp,
} from '../test-support/burnrate-process.ts';
import { runCli } from '../test-support/service-process.ts';

const API_TOKEN = 'operations-api-token';
const bearer = { authorization: `Bearer ${API_TOKEN}` };

/** The value of one series, 0 when the family or the series is not there (yet). */
function valueOf(families: readonly ParsedFamily[], name: string, labels: Record<string, string> = {}): number {
  const family = families.find((f) => f.name === name);
  const sample = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return sample === undefined ? 0 : Number(sample.value ?? sample.count);
}

// One `burnrate start` with an API token, scraped and driven as an operator would: /metrics, the DLQ view, replays.
describe('operations through burnrate start', () => {
  let around: Surroundings;
  let burnrate: BurnrateProcess;
  const cliEnv = (): Record<string, string> => ({
    BURNRATE_URL: burnrate.url,
    BURNRATE_API_TOKEN: API_TOKEN,
    BURNRATE_USER: 'oncall@acme.com',
  });

  let lastText = '';
  const scrape = async (): Promise<ParsedFamily[]> => {
    const res = await fetch(`${burnrate.url}/metrics`, { headers: bearer });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    lastText = await res.text();
    return parsePrometheusTextFormat(lastText);
  };
  // The parser keeps a histogram's buckets but not its labels; its _count series are read from the text.
  const requestCount = (labels: string): number => {
    const line = lastText.split('\n').find((l) => l.startsWith(`burnrate_http_request_duration_seconds_count{${labels}}`));
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  const api = async <T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${burnrate.url}${path}`, { ...init, headers: { ...bearer, ...(init.headers as Record<string, string>) } });
    return { status: res.status, body: (await res.json()) as T };
  };

  beforeAll(async () => {
    around = await startSurroundings();
    burnrate = await startBurnrate({ ...around.env, BURNRATE_API_TOKEN: API_TOKEN, BURNRATE_OTLP_GRPC_PORT: 'off' });
  }, 60_000);

  afterAll(async () => {
    await burnrate?.stop();
    await around?.close();
  });

  it('refuses /metrics without the API token, naming what it needs', async () => {
    const res = await fetch(`${burnrate.url}/metrics`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/Authorization: Bearer <BURNRATE_API_TOKEN>/);
  });

  it('counts events, a rejected record, an anomaly and its deliveries, and times the requests', async () => {
    const before = await scrape();
    expect(valueOf(before, 'burnrate_ingest_records_total', { source: 'http_events', outcome: 'accepted' })).toBe(0);
    expect(before.find((f) => f.name === 'burnrate_http_request_duration_seconds')?.type).toBe('HISTOGRAM');

    // $30 in one session crosses the $25 warning cap; the last record is not valid.
    const posted = await postJson(`${burnrate.url}/v1/events`, [
      ...[10, 10, 10].map((cost_usd, i) => ({
        occurred_at: new Date(Date.now() - (30 - i) * 60_000).toISOString(),
        developer_email: 'alice@acme.com',
        model: 'claude-opus-4-5',
        session_id: 'ops-1',
        cost_usd,
      })),
      { occurred_at: 'yesterday', developer_email: 'bob@acme.com', model: 'gpt-5', cost_usd: 1 },
    ]);
    expect(posted.status).toBe(400);
    expect(posted.body).toMatchObject({ accepted: 3, rejected: [{ index: 3, field: 'occurred_at' }] });
    await waitForCaughtUp(burnrate.url);

    let after: ParsedFamily[] = [];
    await waitUntil(
      async () => {
        after = await scrape();
        return (
          // Warning in working hours; outside them the projection makes it critical at once.
          valueOf(after, 'burnrate_anomalies_total', { kind: 'session_cost', status: 'open' }) >= 1 &&
          valueOf(after, 'burnrate_deliveries_total', { channel: 'slack', outcome: 'sent' }) >= 1
        );
      },
      { timeoutMs: 20_000, message: 'the session_cost anomaly and its Slack message counted on /metrics' },
    );
    expect(valueOf(after, 'burnrate_ingest_records_total', { source: 'http_events', outcome: 'accepted' })).toBe(3);
    expect(valueOf(after, 'burnrate_ingest_records_total', { source: 'http_events', outcome: 'rejected' })).toBe(1);
    expect(valueOf(after, 'burnrate_dlq_records_total', { source: 'http_events', reason: 'invalid_record', field: 'occurred_at' })).toBe(1);
    expect(valueOf(after, 'burnrate_sink_rows_total', { table: 'usage_events' })).toBe(3);
    expect(valueOf(after, 'burnrate_sink_rows_total', { table: 'dlq' })).toBe(1);
    expect(valueOf(after, 'burnrate_ingest_admitted_requests_total', { source: 'test-client' })).toBe(1);
    expect(requestCount('method="POST",route="/v1/events",status="400"')).toBe(1);
    expect(valueOf(after, 'burnrate_detector_tracked_keys', { stage: 'detector', kind: 'session_cost' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(after, 'burnrate_consumer_lag_messages', { group: 'burnrate-sink' })).toBe(0);
    // Event time is minutes behind the wall clock here; a snapshot was saved once the events were judged.
    expect(valueOf(after, 'burnrate_detector_watermark_lag_seconds', { stage: 'detector' })).toBeGreaterThan(0);
    expect(after.find((f) => f.name === 'burnrate_detector_snapshot_age_seconds')?.metrics).toHaveLength(1);
    // A path nobody routes is one label value, whatever was asked.
    await fetch(`${burnrate.url}/no/such/${Date.now()}`);
    await scrape();
    expect(requestCount('method="GET",route="(unmatched)",status="404"')).toBe(1);
    expect(requestCount('method="GET",route="/metrics",status="200"')).toBeGreaterThanOrEqual(2);
  });

  it('lists the rejected record with its reason, and replays the fixed record once', async () => {
    const listed = await runCli(['dlq', 'list', '--reason', 'occurred_at'], cliEnv());
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/http_events\s+http_events:[0-9a-f]+\s+occurred_at: expected an ISO-8601 timestamp/);

    const page = await api<DlqPage>('/api/dlq?source=http_events');
    expect(page.body.records).toHaveLength(1);
    const [rejected] = page.body.records;
    expect(rejected).toMatchObject({ reason: expect.stringMatching(/^occurred_at:/), index: 3, replayed: null });

    // Export, fix, replay: the operator's loop.
    const exported = await runCli(['dlq', 'list', '--ndjson'], cliEnv());
    expect(exported.code, exported.stderr).toBe(0);
    const line = JSON.parse(exported.stdout.trim()) as { dlq_id: string; record: Record<string, unknown> };
    expect(line).toMatchObject({ dlq_id: rejected!.dlq_id, record: { occurred_at: 'yesterday' } });
    const fixedPath = join(around.dir.path, 'fixed.ndjson');
    await writeFile(
      fixedPath,
      `${JSON.stringify({ ...line, record: { ...line.record, occurred_at: new Date(Date.now() - 3_600_000).toISOString() } })}\n`,
    );

    const first = await runCli(['dlq', 'replay', '--file', fixedPath], cliEnv());
    expect(first.code, first.stderr).toBe(0);
    const eventId = /accepted as event (\S+)/.exec(first.stdout)?.[1];
    expect(eventId, first.stdout).toBeDefined();
    expect(first.stdout).toContain('1 accepted, 0 duplicates, 0 rejected');

    const second = await runCli(['dlq', 'replay', '--file', fixedPath], cliEnv());
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain(`duplicate: event ${eventId} was already accepted`);

    await waitForCaughtUp(burnrate.url);
    const metrics = await scrape();
    // Stored once: the sink wrote one more usage event, not two.
    expect(valueOf(metrics, 'burnrate_sink_rows_total', { table: 'usage_events' })).toBe(4);
    expect(valueOf(metrics, 'burnrate_ingest_records_total', { source: 'http_events', outcome: 'accepted' })).toBe(4);
    expect(valueOf(metrics, 'burnrate_ingest_records_total', { source: 'http_events', outcome: 'duplicate' })).toBe(1);

    const replayed = await api<DlqPage>('/api/dlq?source=http_events');
    expect(replayed.body.records[0]?.replayed).toMatchObject({ event_id: eventId, outcome: 'accepted', replayed_by: 'oncall@acme.com' });
    const table = await runCli(['dlq', 'list'], cliEnv());
    expect(table.stdout).toMatch(/by oncall@acme\.com/);
  });

  it('answers a record still invalid with its problem, and replays by id as stored', async () => {
    const page = await api<DlqPage>('/api/dlq?source=http_events');
    const id = page.body.records[0]!.dlq_id;
    // As stored it is still "yesterday": refused again, and nothing is marked.
    const again = await runCli(['dlq', 'replay', id], cliEnv());
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`${id}: rejected again: occurred_at: expected an ISO-8601 timestamp`);
    expect(again.stdout).toContain('0 accepted, 0 duplicates, 1 rejected');
  });

  it('pages the view with a cursor', async () => {
    await postJson(`${burnrate.url}/v1/events`, [
      { occurred_at: 'tomorrow', developer_email: 'bob@acme.com', model: 'gpt-5', cost_usd: 1 },
      { occurred_at: new Date().toISOString(), developer_email: 'bob@acme.com', model: 'gpt-5', cost_usd: 'one' },
    ]);
    await waitUntil(async () => (await api<DlqPage>('/api/dlq')).body.records.length === 3, {
      timeoutMs: 10_000,
      message: 'three DLQ records',
    });
    const seen: string[] = [];
    let after: string | null = '';
    while (after !== null) {
      const page: { body: DlqPage } = await api<DlqPage>(`/api/dlq?limit=2${after ? `&after=${after}` : ''}`);
      seen.push(...page.body.records.map((r) => r.dlq_id));
      after = page.body.next;
    }
    expect(seen).toHaveLength(3);
    expect(new Set(seen).size).toBe(3);
    const cost = await api<DlqPage>('/api/dlq?reason=cost_usd');
    expect(cost.body.records.map((r) => r.reason)).toEqual([expect.stringMatching(/^cost_usd:/)]);
  });

  it('refuses bad input to the view, the replay and the command, naming what is wrong', async () => {
    const bad = async (path: string, init?: RequestInit): Promise<string> => {
      const res = await api<{ error: { message: string } }>(path, init);
      expect([400, 404, 415]).toContain(res.status);
      return res.body.error.message;
    };
    expect(await bad('/api/dlq?limit=0')).toMatch(/^limit must be a whole number from 1 to 1000/);
    expect(await bad('/api/dlq?sources=x')).toMatch(/^sources is not a parameter of GET \/api\/dlq/);
    expect(await bad('/api/dlq?since=tomorrow')).toMatch(/^since must be a duration/);
    expect(await bad('/api/dlq?after=nonsense')).toMatch(/^after must be the `next` of a previous page/);
    const post = (body: unknown): RequestInit => ({
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(await bad('/api/dlq/replay', post({}))).toMatch(/give ids .* or records/);
    expect(await bad('/api/dlq/replay', post({ ids: 'x' }))).toMatch(/^ids must be an array/);
    expect(await bad('/api/dlq/replay', post({ records: [{ dlq_id: 'x' }] }))).toMatch(/^records\[0\]\.record is missing/);
    expect(await bad('/api/dlq/replay', post({ ids: ['nope:1'] }))).toMatch(/^no DLQ record nope:1; nothing was replayed/);
    expect(await bad('/api/dlq/replay', post({ id: ['x'] }))).toMatch(/does not take "id"/);

    const noArgs = await runCli(['dlq', 'replay'], cliEnv());
    expect(noArgs.code).toBe(2);
    expect(noArgs.stderr).toMatch(/dlq replay needs DLQ record ids, or --file/);
    const missing = await runCli(['dlq', 'replay', '--file', join(around.dir.path, 'absent.ndjson')], cliEnv());
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read .*absent\.ndjson: ENOENT/);
    const badFile = join(around.dir.path, 'bad.ndjson');
    await writeFile(badFile, '{"dlq_id":"a","record":{}}\nnot json\n');
    const badLine = await runCli(['dlq', 'replay', '--file', badFile], cliEnv());
    expect(badLine.code).toBe(2);
    expect(badLine.stderr).toContain(`${badFile}:2 is not JSON`);
    const unknown = await runCli(['dlq', 'replay', 'nope:2'], cliEnv());
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no DLQ record nope:2/);
    const sub = await runCli(['dlq', 'purge'], cliEnv());
    expect(sub.code).toBe(2);
    expect(sub.stderr).toMatch(/unknown dlq command "purge"; there are list and replay/);
  });
});
