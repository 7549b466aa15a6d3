import { BurnrateError, createHttpApp, createLogger, fixedClock, fixedConfig } from '@burnrate/core';
import { DlqRecord, TOPICS, UsageEvent } from '@burnrate/schemas';
import { settled, waitUntil } from '@burnrate/testing/wait-until';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import protobuf from 'protobufjs';
import { createIngestRoutes } from './http.ts';
import { type OtlpSignal, otlpTypes } from './otlp-proto.ts';
import { fakeProducer, NOW, readFixture, testConfig, trust } from './test-helpers.ts';

const log = createLogger({ level: 'silent' });
const JSON_HEADERS = { 'content-type': 'application/json' };
const PROTOBUF_HEADERS = { 'content-type': 'application/x-protobuf' };

/** An OTLP/HTTP JSON body in protobuf, encoded from the official definitions. */
function protobufOf(signal: OtlpSignal, json: string): Buffer {
  const { request } = otlpTypes(signal);
  return Buffer.from(request.encode(request.fromObject(JSON.parse(json) as Record<string, unknown>)).finish());
}

/** A google.rpc.Status: code (field 1, varint) and message (field 2, string). */
function decodeStatus(bytes: Buffer): { code: number; message: string } {
  const status = new protobuf.Type('Status').add(new protobuf.Field('code', 1, 'int32')).add(new protobuf.Field('message', 2, 'string'));
  new protobuf.Root().add(status);
  return status.toObject(status.decode(bytes)) as { code: number; message: string };
}

function setup(options: { bodyLimitBytes?: number; maxBatch?: number } = {}) {
  const producer = fakeProducer();
  const routes = createIngestRoutes({
    config: fixedConfig(testConfig),
    producer,
    clock: fixedClock(NOW),
    log,
    ...trust(testConfig),
    ...(options.maxBatch !== undefined ? { maxBatch: options.maxBatch } : {}),
  });
  const app = createHttpApp({ routes, log, bodyLimitBytes: options.bodyLimitBytes ?? 1024 * 1024 });
  return {
    producer,
    post: (url: string, body: string | Buffer, headers: Record<string, string> = JSON_HEADERS) =>
      app.inject({ method: 'POST', url, headers, body }),
    events: () => producer.messages(TOPICS.usageEvents.name).map((m) => UsageEvent.parse(m)),
    dlq: () => producer.messages(TOPICS.usageDlq.name).map((m) => DlqRecord.parse(m)),
  };
}

const record = (i: number) => ({
  occurred_at: `2026-11-28T10:${String(i).padStart(2, '0')}:00Z`,
  developer_email: 'alice@acme.com',
  model: 'claude-sonnet-4-5',
  input_tokens: 1000 + i,
  output_tokens: 10,
});

interface EventsBody {
  accepted: number;
  rejected: { index: number; field: string; message: string }[];
  error?: { code: string; message: string };
}
interface ErrorBody {
  error: { code: string; message: string; retriable: boolean };
}

describe('POST /v1/events', () => {
  it('accepts a batch of 10 with 3 bad: publishes 7, reports 3 by index with field and reason, dead-letters 3', async () => {
    const batch: unknown[] = Array.from({ length: 10 }, (_, i) => record(i));
    batch[2] = { ...record(2), occurred_at: 'not a time' };
    batch[5] = { ...record(5), input_tokens: '1005' };
    batch[8] = { ...record(8), model: 'mystery-model-9' };
    const { post, events, dlq, producer } = setup();

    const res = await post('/v1/events', JSON.stringify(batch));

    expect(res.status).toBe(400);
    const body = res.json<EventsBody>();
    expect(body.accepted).toBe(7);
    expect(body.rejected).toEqual([
      { index: 2, field: 'occurred_at', message: 'expected an ISO-8601 timestamp such as 2026-11-28T14:05:00Z' },
      { index: 5, field: 'input_tokens', message: 'expected a JSON number, got the string "1005"; send numbers without quotes' },
      {
        index: 8,
        field: 'model',
        message:
          'cannot compute cost_usd from tokens: no price for model "mystery-model-9" (canonical "mystery-model-9"); add a row to pricing.prices in burnrate.yaml or send cost_usd',
      },
    ]);
    expect(body.error?.message).toBe('3 of 10 records were rejected (see rejected); 7 were accepted');

    expect(events().map((e) => e.input_tokens)).toEqual([1000, 1001, 1003, 1004, 1006, 1007, 1009]);
    expect(events().every((e) => e.team === 'payments' && e.cost_source === 'computed')).toBe(true);
    const usageSend = producer.sent.find((s) => s.topic === TOPICS.usageEvents.name);
    expect(usageSend?.messages[0]?.key).toBe('acme:alice@acme.com');

    const dead = dlq();
    expect(dead.map((d) => d.index)).toEqual([2, 5, 8]);
    expect(dead[0]).toMatchObject({
      source: 'http_events',
      received_at: NOW.toISOString(),
      reason: 'occurred_at: expected an ISO-8601 timestamp such as 2026-11-28T14:05:00Z',
      issues: [{ path: 'occurred_at', message: 'expected an ISO-8601 timestamp such as 2026-11-28T14:05:00Z' }],
    });
    expect(JSON.parse(dead[1]?.raw ?? '')).toEqual(batch[5]);
    expect(producer.sent.find((s) => s.topic === TOPICS.usageDlq.name)?.messages[0]?.key).toBe('http_events');
  });

  it('answers 200 with no rejections when every record is good, for an array or one object', async () => {
    const { post, events } = setup();
    const res = await post('/v1/events', JSON.stringify([record(1), record(2)]));
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ accepted: 2, duplicates: 0, rejected: [] });
    const single = await post('/v1/events', JSON.stringify(record(3)));
    expect(single.json()).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    expect(events()).toHaveLength(3);
  });

  it('reads NDJSON, rejecting only the bad line', async () => {
    const { post, events, dlq } = setup();
    const body = [JSON.stringify(record(1)), '', JSON.stringify(record(2)), '{"occurred_at": oops}', JSON.stringify(record(4)), ''].join(
      '\n',
    );
    const res = await post('/v1/events', body, { 'content-type': 'application/x-ndjson' });
    expect(res.status).toBe(400);
    const out = res.json<EventsBody>();
    expect(out.accepted).toBe(3);
    expect(out.rejected).toHaveLength(1);
    expect(out.rejected[0]).toMatchObject({ index: 2, field: '(record)' });
    expect(out.rejected[0]?.message).toBe('line 4 is not valid JSON (column 17: unexpected character "o", expected a value)');
    expect(events()).toHaveLength(3);
    expect(dlq()[0]?.raw).toBe('{"occurred_at": oops}');
  });

  it('accepts a gzip body', async () => {
    const { post, events } = setup();
    const res = await post('/v1/events', gzipSync(JSON.stringify([record(1)])), { ...JSON_HEADERS, 'content-encoding': 'gzip' });
    expect(res.status).toBe(200);
    expect(events()).toHaveLength(1);
  });

  it('answers 400 for malformed JSON, naming where, and publishes nothing', async () => {
    const { post, producer } = setup();
    const res = await post('/v1/events', '[\n  {"a": 1},\n  {"b": }\n]');
    expect(res.status).toBe(400);
    expect(res.json<ErrorBody>().error.message).toBe(
      'request body is not valid JSON: line 3, column 9: unexpected character "}", expected a value',
    );
    expect(producer.sent).toEqual([]);
  });

  it('answers 415 for another content type, listing the accepted ones', async () => {
    const { post } = setup();
    const res = await post('/v1/events', 'a=1', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(res.status).toBe(415);
    expect(res.json<ErrorBody>().error.message).toBe(
      'Content-Type "application/x-www-form-urlencoded" is not accepted on /v1/events; send application/json (an array of records or one record) or application/x-ndjson (one record per line)',
    );
  });

  it('answers 400 for an empty body or no records', async () => {
    const { post } = setup();
    expect((await post('/v1/events', '')).json<ErrorBody>().error.message).toMatch(/^request body is empty/);
    const none = await post('/v1/events', '[]');
    expect(none.status).toBe(400);
    expect(none.json<ErrorBody>().error.message).toBe('request body holds no records');
  });

  it('answers 413 past the body limit and past the record limit', async () => {
    const small = setup({ bodyLimitBytes: 256 });
    const big = await small.post('/v1/events', JSON.stringify(Array.from({ length: 10 }, (_, i) => record(i))));
    expect(big.status).toBe(413);
    expect(big.json<ErrorBody>().error.message).toMatch(/limit of 256 bytes/);
    expect(small.producer.sent).toEqual([]);

    const few = setup({ maxBatch: 2 });
    const many = await few.post('/v1/events', JSON.stringify([record(1), record(2), record(3)]));
    expect(many.status).toBe(413);
    expect(many.json<ErrorBody>().error.message).toBe(
      'request holds 3 records; the limit is 2 per request (ingest.limits.max_records_per_request), split it',
    );
  });

  it('answers 503, retriable, when the bus fails, and never 2xx', async () => {
    const { post, producer } = setup();
    // As the in-process log refuses a send on a full disk: the client is told when to come back.
    producer.failWith = new BurnrateError('BUS_UNAVAILABLE', 'cannot append to usage.events.v1/0: ENOSPC', { retryAfterMs: 3_500 });
    const res = await post('/v1/events', JSON.stringify([record(1), { bad: true }]));
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('4');
    expect(res.json()).toEqual({
      error: {
        code: 'BUS_UNAVAILABLE',
        message: 'the event bus is unavailable, so nothing from this request was stored; retry later',
        retriable: true,
      },
    });
  });

  it('answers only after both sends resolved', async () => {
    const { producer } = setup();
    const releases: (() => void)[] = [];
    producer.send = () => new Promise<void>((resolve) => releases.push(resolve));
    const routes = createIngestRoutes({
      config: fixedConfig(testConfig),
      producer,
      clock: fixedClock(NOW),
      log,
      ...trust(testConfig),
    });
    const app = createHttpApp({ routes, log });
    let answered = false;
    const pending = app
      .inject({ method: 'POST', url: '/v1/events', headers: JSON_HEADERS, body: JSON.stringify([record(1), { bad: true }]) })
      .then((r) => {
        answered = true;
        return r;
      });
    // Both sends go out together, before either is acknowledged.
    await waitUntil(() => releases.length === 2, { message: 'both sends started' });
    releases[0]?.();
    // Everything here is in memory: once it has settled, an answer would already be there.
    await settled();
    expect(answered).toBe(false);
    releases[1]?.();
    expect((await pending).status).toBe(400);
  });
});

describe('POST /v1/logs (OTLP/HTTP JSON)', () => {
  it('publishes the fixture api_request and answers with an empty partialSuccess', async () => {
    const { post, events, dlq } = setup();
    const res = await post('/v1/logs', readFixture('logs.json'));
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ partialSuccess: {} });
    expect(events()).toHaveLength(1);
    expect(events()[0]).toMatchObject({ source: 'claude_code_otel', cost_usd: 0.02895, model: 'claude-sonnet-4-5' });
    expect(dlq()).toEqual([]);
  });

  it('answers 200 with rejectedLogRecords for a bad api_request and dead-letters it', async () => {
    const { post, events, dlq } = setup();
    const fixture = JSON.parse(readFixture('logs.json')) as {
      resourceLogs: { scopeLogs: { logRecords: { attributes: { key: string }[] }[] }[] }[];
    };
    const apiRequest = fixture.resourceLogs[0]!.scopeLogs[0]!.logRecords[1]!;
    apiRequest.attributes = apiRequest.attributes.filter((a) => a.key !== 'model');
    const body = JSON.stringify(fixture);
    const res = await post('/v1/logs', body);
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({
      partialSuccess: {
        rejectedLogRecords: '1',
        errorMessage:
          '1 api_request log records rejected (kept in the dead-letter queue): record 1: attributes.model: an api_request event needs a model',
      },
    });
    expect(events()).toEqual([]);
    expect(dlq()).toMatchObject([{ source: 'claude_code_otel', index: 1, reason: 'attributes.model: an api_request event needs a model' }]);
  });

  it('takes OTLP protobuf: the same events as the JSON body, answered in protobuf', async () => {
    const json = setup();
    expect((await json.post('/v1/logs', readFixture('logs.json'))).status).toBe(200);
    const proto = setup();
    const res = await proto.post('/v1/logs', protobufOf('logs', readFixture('logs.json')), PROTOBUF_HEADERS);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-protobuf');
    expect(otlpTypes('logs').response.toObject(otlpTypes('logs').response.decode(res.body))).toEqual({ partialSuccess: {} });
    expect(proto.events()).toHaveLength(1);
    expect(proto.events()).toEqual(json.events());
  });

  it('reads bytes that are not UTF-8 in a string as U+FFFD, as OTLP receivers do, and refuses nothing for them', async () => {
    // A lone surrogate written by a lenient encoder: ED A0 80, which no UTF-8 decoder accepts.
    const hostile = readFixture('logs.json').replaceAll('28b333cc-5c7f-40da-90a0-4dca26f1b4f5', 'abc\\ud800');
    const { post, events, dlq } = setup();
    const res = await post('/v1/logs', protobufOf('logs', hostile), PROTOBUF_HEADERS);
    expect(res.status).toBe(200);
    expect(events().map((e) => e.session_id)).toEqual(['abc\ufffd\ufffd\ufffd']);
    expect(dlq()).toEqual([]);
  });

  it('answers protobuf with a protobuf google.rpc.Status when it refuses the body, and names what is wrong', async () => {
    const { post } = setup();
    const res = await post('/v1/logs', Buffer.from('not protobuf at all'), PROTOBUF_HEADERS);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe('application/x-protobuf');
    const status = decodeStatus(res.body);
    expect(status.code).toBe(3);
    expect(status.message).toMatch(/^request body is not an OTLP ExportLogsServiceRequest in protobuf: /);
  });

  it('answers 415 to any other type, naming both OTLP encodings and their exporter settings', async () => {
    const { post } = setup();
    const res = await post('/v1/logs', 'x', { 'content-type': 'text/plain' });
    expect(res.status).toBe(415);
    expect(res.json<ErrorBody>().error.message).toBe(
      'Content-Type "text/plain" is not accepted on /v1/logs; send application/x-protobuf (OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf) or application/json (http/json)',
    );
  });

  it('logs a refused export at warn once a minute per sender, with the reason', async () => {
    const lines: string[] = [];
    const captured = createLogger({ level: 'warn', destination: { write: (line: string) => void lines.push(line) } });
    let now = NOW.getTime();
    const clock = { now: () => new Date(now) };
    const routes = createIngestRoutes({
      config: fixedConfig(testConfig),
      producer: fakeProducer(),
      clock,
      log: captured,
      ...trust(testConfig),
    });
    const app = createHttpApp({ routes, log: captured });
    const post = () => app.inject({ method: 'POST', url: '/v1/logs', headers: { 'content-type': 'text/plain' }, body: 'x' });
    for (let i = 0; i < 5; i++) expect((await post()).status).toBe(415);
    now += 61_000;
    await post();
    const refused = lines.map((l) => JSON.parse(l) as { msg: string; alsoSinceLastLog?: number; level: string });
    expect(refused).toHaveLength(2);
    expect(refused[0]).toMatchObject({
      level: 'warn',
      msg: expect.stringContaining('OTLP logs export refused: Content-Type "text/plain"') as string,
    });
    expect(refused[1]?.alsoSinceLastLog).toBe(4);
  });

  it('answers 400 to malformed JSON and 503 when the bus fails', async () => {
    const { post, producer } = setup();
    expect((await post('/v1/logs', '{"resourceLogs": [')).status).toBe(400);
    producer.failWith = new Error('disk full');
    const res = await post('/v1/logs', readFixture('logs.json'));
    expect(res.status).toBe(503);
    expect(res.json<ErrorBody>().error.retriable).toBe(true);
  });

  it('accepts gzip like the OTLP exporter sends it', async () => {
    const { post, events } = setup();
    const res = await post('/v1/logs', gzipSync(readFixture('logs.json')), { ...JSON_HEADERS, 'content-encoding': 'gzip' });
    expect(res.status).toBe(200);
    expect(events()).toHaveLength(1);
  });
});

describe('POST /v1/metrics', () => {
  it('turns the cost and token metrics of one export interval into one claude_code_metrics event', async () => {
    const { post, events } = setup();
    const res = await post('/v1/metrics', readFixture('metrics.json'));
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ partialSuccess: {} });
    // The same call as the logs fixture's api_request, counted by the metrics: a report of it.
    expect(events()).toEqual([
      expect.objectContaining({
        source: 'claude_code_metrics',
        granularity: '1m',
        period_start: '2026-11-28T21:39:26.536Z',
        period_end: '2026-11-28T21:39:26.586Z',
        session_id: '28b333cc-5c7f-40da-90a0-4dca26f1b4f5',
        model: 'claude-sonnet-4-5',
        requests: 0,
        input_tokens: 1200,
        output_tokens: 40,
        cache_read_tokens: 20_000,
        cache_write_tokens: 5000,
        cost_usd: 0.02895,
        cost_source: 'reported',
      }),
    ]);
    // A retried export is the same event (same id), so the ledger counts it once.
    const again = await post('/v1/metrics', readFixture('metrics.json'));
    expect(again.status).toBe(200);
    expect(new Set(events().map((e) => e.event_id)).size).toBe(1);
  });

  it('names cumulative points and points it cannot read, and dead-letters the latter', async () => {
    const { post, events } = setup();
    const fixture = JSON.parse(readFixture('metrics.json')) as {
      resourceMetrics: { scopeMetrics: { metrics: { name: string; sum: Record<string, unknown> }[] }[] }[];
    };
    const cumulative = structuredClone(fixture);
    const metricsOf = (body: typeof fixture) => body.resourceMetrics.flatMap((r) => r.scopeMetrics.flatMap((sm) => sm.metrics));
    for (const m of metricsOf(cumulative)) if (m.sum !== undefined) m.sum.aggregationTemporality = 2;
    const res = await post('/v1/metrics', JSON.stringify(cumulative));
    expect(res.status).toBe(200);
    expect(res.json<{ partialSuccess: { errorMessage: string } }>().partialSuccess.errorMessage).toMatch(
      /cumulative data points not read: set OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta/,
    );
    expect(events()).toEqual([]);

    const broken = structuredClone(fixture);
    const cost = metricsOf(broken).find((m) => m.name === 'claude_code.cost.usage');
    (cost?.sum.dataPoints as Record<string, unknown>[])[0] = { attributes: [], asDouble: 'lots', timeUnixNano: '1795901966586000000' };
    const answer = await post('/v1/metrics', JSON.stringify(broken));
    expect(answer.status).toBe(200);
    expect(answer.json<{ partialSuccess: { rejectedDataPoints: string; errorMessage: string } }>().partialSuccess).toEqual({
      rejectedDataPoints: '1',
      errorMessage: expect.stringMatching(
        /^1 claude_code cost intervals rejected \(kept in the dead-letter queue\): data point 0: asDouble: expected a number ≥ 0, got "lots"/,
      ) as unknown,
    });
  });

  it('acknowledges the fixture in protobuf, in protobuf, with the same event', async () => {
    const json = setup();
    await json.post('/v1/metrics', readFixture('metrics.json'));
    const { post, events } = setup();
    const res = await post('/v1/metrics', protobufOf('metrics', readFixture('metrics.json')), PROTOBUF_HEADERS);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-protobuf');
    expect(events()).toEqual(json.events());
  });

  it('answers 400 to a body that is not an export request', async () => {
    const { post } = setup();
    expect((await post('/v1/metrics', Buffer.from([0xff, 0xff]), PROTOBUF_HEADERS)).status).toBe(400);
    const res = await post('/v1/metrics', '{"resourceMetrics": {}}');
    expect(res.status).toBe(400);
    expect(res.json<ErrorBody>().error.message).toBe('resourceMetrics: expected an array');
  });
});

// Hostile and broken input through the app: each bad record is refused alone, named, and
// dead-lettered; the rest of its request is kept; nothing answers 5xx.
describe('sane bounds on every route', () => {
  const ndjson = { 'content-type': 'application/x-ndjson' };
  const nested = (levels: number): string => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;

  /** Posts record(1), the bad record, record(3): the bad one is refused alone, by field, and dead-lettered. */
  async function refusedAlone(bad: Record<string, unknown>, field: string, message: RegExp | string) {
    const { post, events, dlq } = setup();
    const res = await post('/v1/events', JSON.stringify([record(1), { ...record(2), ...bad }, record(3)]));
    expect(res.status).toBe(400);
    const body = res.json<EventsBody>();
    expect(body.accepted).toBe(2);
    expect(body.rejected).toEqual([{ index: 1, field, message: typeof message === 'string' ? message : expect.stringMatching(message) }]);
    expect(events().map((e) => e.input_tokens)).toEqual([1001, 1003]);
    expect(dlq()).toMatchObject([{ index: 1, issues: [{ path: field }] }]);
    return dlq()[0]!;
  }

  it('refuses a cost of 1e308, which made every total Infinity', async () => {
    await refusedAlone(
      { cost_usd: 1e308 },
      'cost_usd',
      '1e+308 USD is above the limit of 100000 USD per event (ingest.limits.max_cost_usd_per_event)',
    );
  });

  it('refuses 9e15 tokens, past what totals can count exactly', async () => {
    await refusedAlone({ input_tokens: 9e15 }, 'input_tokens', /^9000000000000000 is above the limit of 100000000000 per event/);
  });

  it.each([
    ['year 9999', '9999-12-31T23:59:59Z', /^9999-12-31T23:59:59.000Z is more than 1d after the ingest clock \(2026-11-28T21:40:00.000Z\)/],
    ['past DateTime (2106)', '2106-02-08T00:00:00Z', /more than 1d after the ingest clock/],
    ['year 0000', '0000-01-01T00:00:00Z', /^0000-01-01T00:00:00.000Z is more than 400d before the ingest clock/],
    ['older than the store keeps raw rows', '2025-10-01T00:00:00Z', /the limit is ingest.limits.max_age$/],
  ])('refuses an occurred_at of %s, which the store would drop while the hourly spend kept it', async (_name, at, message) => {
    await refusedAlone({ occurred_at: at }, 'occurred_at', message);
  });

  it('refuses a 2 MB email', async () => {
    const { post } = setup({ bodyLimitBytes: 4 * 1024 * 1024 });
    const res = await post('/v1/events', JSON.stringify([{ ...record(1), developer_email: `${'a'.repeat(2_000_000)}@acme.com` }]));
    expect(res.status).toBe(400);
    expect(res.json<EventsBody>().rejected).toEqual([
      {
        index: 0,
        field: 'developer_email',
        message: `"${'a'.repeat(40)}…" is 2,000,009 characters long; the limit is 254 (the limit for an email address)`,
      },
    ]);
  });

  it('refuses a lone surrogate and control characters, naming the field', async () => {
    const dead = await refusedAlone(
      { developer: 'bob\ud800', developer_email: undefined },
      'developer',
      /^is not valid Unicode: a lone surrogate \(U\+D800\)/,
    );
    // The dead-letter copy is valid Unicode itself: JSON escapes the surrogate.
    expect(dead.raw.isWellFormed()).toBe(true);
    expect(dead.raw).toContain('bob\\ud800');
    await refusedAlone({ session_id: 'a\u0000b' }, 'session_id', /U\+0000/);
  });

  it('refuses attributes.__proto__ by name instead of dropping it', async () => {
    const { post, dlq } = setup();
    const bad = `{${JSON.stringify(record(2)).slice(1, -1)}, "attributes": {"__proto__": "x"}}`;
    const res = await post('/v1/events', `[${JSON.stringify(record(1))}, ${bad}]`);
    expect(res.status).toBe(400);
    expect(res.json<EventsBody>().rejected).toEqual([
      {
        index: 1,
        field: 'attributes.__proto__',
        message: '"__proto__" is a reserved name (JavaScript objects treat it as their prototype or constructor); rename the attribute',
      },
    ]);
    expect(dlq()[0]?.raw).toContain('"__proto__"');
  });

  it.each([5_000, 100_000])('refuses a record nested %i levels deep alone, dead-lettered verbatim, in a JSON array', async (levels) => {
    const { post, events, dlq } = setup({ bodyLimitBytes: 4 * 1024 * 1024 });
    const deep = nested(levels);
    const res = await post('/v1/events', `[${JSON.stringify(record(1))},${deep},${JSON.stringify(record(3))}]`);
    expect(res.status).toBe(400);
    expect(res.json<EventsBody>()).toMatchObject({
      accepted: 2,
      rejected: [{ index: 1, field: '(record)', message: 'record is nested deeper than 64 levels of objects and arrays' }],
    });
    expect(events()).toHaveLength(2);
    expect(dlq()[0]?.raw).toBe(deep);
  });

  it('refuses a too deeply nested NDJSON line alone, and one such object body', async () => {
    const { post, events, dlq } = setup({ bodyLimitBytes: 4 * 1024 * 1024 });
    const res = await post('/v1/events', `${JSON.stringify(record(1))}\n${nested(100_000)}\n`, ndjson);
    expect(res.status).toBe(400);
    expect(res.json<EventsBody>().rejected).toEqual([
      { index: 1, field: '(record)', message: 'line 2 is nested deeper than 64 levels of objects and arrays' },
    ]);
    expect(events()).toHaveLength(1);
    const single = await post('/v1/events', nested(5_000));
    expect(single.status).toBe(400);
    expect(dlq().map((d) => d.raw.length)).toEqual([nested(100_000).length, nested(5_000).length]);
  });

  it('answers 400, never 500, to malformed JSON nested 100,000 levels', async () => {
    const { post } = setup({ bodyLimitBytes: 4 * 1024 * 1024 });
    const res = await post('/v1/events', '['.repeat(100_000));
    expect(res.status).toBe(400);
    expect(res.json<ErrorBody>().error.message).toMatch(/^request body is not valid JSON: line 1, column \d+: /);
  });
});

describe('sane bounds on /v1/logs', () => {
  type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  interface PartialSuccess {
    partialSuccess: { rejectedLogRecords?: string; errorMessage?: string };
  }
  const fixture = (): Json => JSON.parse(readFixture('logs.json')) as Json;
  const apiRequest = (body: Json): Json => body.resourceLogs[0].scopeLogs[0].logRecords[1] as Json;
  const setAttr = (body: Json, key: string, value: Json): Json => {
    const list = apiRequest(body).attributes as Json[];
    const found = list.find((a) => a.key === key);
    if (found) found.value = value;
    else list.push({ key, value });
    return body;
  };

  it.each(['0', '12', 'May 32'])('refuses event.timestamp %j and dead-letters the record', async (stamp) => {
    const { post, events, dlq } = setup();
    const res = await post('/v1/logs', JSON.stringify(setAttr(fixture(), 'event.timestamp', { stringValue: stamp })));
    expect(res.status).toBe(200);
    expect(res.json<PartialSuccess>().partialSuccess).toEqual({
      rejectedLogRecords: '1',
      errorMessage: `1 api_request log records rejected (kept in the dead-letter queue): record 1: attributes.event.timestamp: expected an ISO-8601 timestamp such as 2026-11-28T14:05:00.000Z, got ${JSON.stringify(stamp)}`,
    });
    expect(events()).toEqual([]);
    expect(dlq()).toMatchObject([{ source: 'claude_code_otel', index: 1 }]);
  });

  it('refuses a timeUnixNano in 2200', async () => {
    const { post, events } = setup();
    const body = fixture();
    const record = apiRequest(body);
    record.attributes = (record.attributes as Json[]).filter((a) => a.key !== 'event.timestamp');
    record.timeUnixNano = '7258118400000000000';
    const res = await post('/v1/logs', JSON.stringify(body));
    expect(res.json<PartialSuccess>().partialSuccess.errorMessage).toMatch(
      /record 1: timeUnixNano: 2200-01-01T00:00:00.000Z is more than 1d after/,
    );
    expect(events()).toEqual([]);
  });

  it('refuses a 2 MB email', async () => {
    const { post, events, dlq } = setup({ bodyLimitBytes: 4 * 1024 * 1024 });
    const res = await post(
      '/v1/logs',
      JSON.stringify(setAttr(fixture(), 'user.email', { stringValue: `${'a'.repeat(2_000_000)}@acme.com` })),
    );
    expect(res.json<PartialSuccess>().partialSuccess.errorMessage).toMatch(
      /record 1: attributes.user.email: "a{40}…" is 2,000,009 characters long; the limit is 254/,
    );
    expect(events()).toEqual([]);
    expect(dlq()).toHaveLength(1);
  });

  it('answers 413 naming the limit to 15,000 log records, publishing nothing', async () => {
    const { post, producer } = setup({ bodyLimitBytes: 16 * 1024 * 1024 });
    const body = fixture();
    // Small records: what counts is how many there are.
    body.resourceLogs[0].scopeLogs[0].logRecords = Array.from({ length: 15_000 }, (_, i) => ({
      eventName: 'claude_code.user_prompt',
      timeUnixNano: String(i),
    }));
    const res = await post('/v1/logs', JSON.stringify(body));
    expect(res.status).toBe(413);
    expect(res.json<ErrorBody>().error.message).toBe(
      'request holds 15000 log records; the limit is 5000 per request (ingest.limits.max_records_per_request), split it',
    );
    expect(producer.sent).toEqual([]);
  });

  it('answers 400, never 500, to a body nested 5,000 levels', async () => {
    const { post, producer } = setup();
    // An AnyValue kvlist 5,000 levels deep as the body of the api_request record, built as text:
    // JSON.stringify itself cannot serialise it.
    const deepValue = `${'{"kvlistValue":{"values":[{"key":"k","value":'.repeat(1_250)}{}${'}]}}'.repeat(1_250)}`;
    const text = JSON.stringify(fixture()).replace('"body":{"stringValue":"claude_code.api_request"}', `"body":${deepValue}`);
    expect(text).toContain(deepValue);
    for (const route of ['/v1/logs', '/v1/metrics']) {
      const res = await post(route, text);
      expect(res.status, route).toBe(400);
      expect(res.json<ErrorBody>().error.message).toBe('request body is nested deeper than 64 levels of objects and arrays');
    }
    expect(producer.sent).toEqual([]);
  });
});
