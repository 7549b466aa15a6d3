import { UsageEvent } from '@burnrate/schemas';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { countLogRecords, otlpLogsToUsageEvents } from './otlp-logs.ts';
import { NOW, readFixture, testContext } from './test-helpers.ts';

const ctx = testContext();
const USER_ID = 'c4df239052ae6dc4b26b7e721aed3b7b3637c30b927ba53f806427cca4e098ca';
const SESSION = '28b333cc-5c7f-40da-90a0-4dca26f1b4f5';
const PROMPT = '9154c933-2892-4667-b727-581d70f1be80';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const fixture = (): Json => JSON.parse(readFixture('logs.json')) as Json;
const apiRequest = (body: Json): Json => body.resourceLogs[0].scopeLogs[0].logRecords[1] as Json;
const setAttr = (list: Json[], key: string, value: Json): void => {
  const found = list.find((a) => a.key === key);
  if (found) found.value = value;
  else list.push({ key, value });
};
const dropAttr = (list: Json[], key: string): Json[] => list.filter((a) => a.key !== key);
const sha = (s: string): string => createHash('sha256').update(JSON.stringify(s)).digest('hex');

describe('otlpLogsToUsageEvents with the real Claude Code capture', () => {
  it('turns the api_request event into one UsageEvent, field by field, and counts the rest', () => {
    const out = otlpLogsToUsageEvents(fixture(), ctx);
    expect(out.total).toBe(3);
    expect(out.ignored).toEqual({ user_prompt: 1, assistant_response: 1 });
    expect(out.rejected).toEqual([]);
    expect(out.events).toEqual([
      {
        event_id: `claude_code_otel:${sha(`session=${SESSION};sequence=1;prompt=${PROMPT}`)}`,
        source: 'claude_code_otel',
        provider: 'anthropic',
        tool: 'claude-code',
        granularity: 'request',
        occurred_at: '2026-11-28T21:39:26.552Z',
        ingested_at: NOW.toISOString(),
        org: 'acme',
        // Signed in with an API key: no email or account id, so the per-install id stands in.
        developer: USER_ID,
        team: 'unattributed',
        session_id: SESSION,
        prompt_id: PROMPT,
        model: 'claude-sonnet-4-5',
        model_family: 'claude-sonnet',
        tier: 'standard',
        is_batch: false,
        speed: 'normal',
        requests: 1,
        input_tokens: 1200,
        output_tokens: 40,
        cache_read_tokens: 20_000,
        cache_write_tokens: 5000,
        cost_usd: 0.02895,
        cost_source: 'reported',
        // The catalog agrees with what Claude Code reported.
        computed_cost_usd: 0.02895,
        fingerprint: expect.stringMatching(/^[0-9a-f]{32}$/) as unknown,
        attributes: {
          query_source: 'sdk',
          'terminal.type': 'xterm',
          duration_ms: '72',
          'user.id': USER_ID,
          'service.name': 'claude-code',
          'service.version': '2.1.197',
        },
      },
    ]);
    expect(UsageEvent.safeParse(out.events[0]).success).toBe(true);
  });

  it('gives a resent export the same event ids', () => {
    expect(otlpLogsToUsageEvents(fixture(), ctx).events[0]?.event_id).toBe(otlpLogsToUsageEvents(fixture(), ctx).events[0]?.event_id);
  });

  it('attributes through resource attributes (OTEL_RESOURCE_ATTRIBUTES) and user.email', () => {
    const body = fixture();
    const resource = body.resourceLogs[0].resource.attributes as Json[];
    resource.push({ key: 'team.id', value: { stringValue: 'platform' } }, { key: 'cost_center', value: { stringValue: 'cc-42' } });
    const declared = otlpLogsToUsageEvents(body, ctx).events[0];
    expect(declared).toMatchObject({ developer: USER_ID, team: 'platform', attributes: { 'team.id': 'platform', cost_center: 'cc-42' } });

    setAttr(apiRequest(body).attributes as Json[], 'user.email', { stringValue: 'Alice@acme.com' });
    setAttr(apiRequest(body).attributes as Json[], 'user.account_id', { stringValue: 'user_01ALICE' });
    expect(otlpLogsToUsageEvents(body, ctx).events[0]).toMatchObject({
      developer: 'alice@acme.com',
      developer_email: 'alice@acme.com',
      team: 'payments',
    });
  });

  it('prefers the account id over the per-install id as the raw identity', () => {
    const body = fixture();
    setAttr(apiRequest(body).attributes as Json[], 'user.account_id', { stringValue: 'user_01XYZ' });
    expect(otlpLogsToUsageEvents(body, ctx).events[0]?.developer).toBe('user_01XYZ');
  });

  it('reads numbers as intValue strings, stringValue and doubleValue strings, and cost_usd without micros', () => {
    const body = fixture();
    const record = apiRequest(body);
    let attrs = record.attributes as Json[];
    setAttr(attrs, 'input_tokens', { intValue: '1200' });
    setAttr(attrs, 'output_tokens', { stringValue: '40' });
    setAttr(attrs, 'cache_read_tokens', { doubleValue: 20000 });
    setAttr(attrs, 'cache_creation_tokens', { stringValue: '5000' });
    attrs = dropAttr(attrs, 'cost_usd_micros');
    setAttr(attrs, 'cost_usd', { stringValue: '0.02895' });
    record.attributes = attrs;
    expect(otlpLogsToUsageEvents(body, ctx).events[0]).toMatchObject({
      input_tokens: 1200,
      output_tokens: 40,
      cache_read_tokens: 20_000,
      cache_write_tokens: 5000,
      cost_usd: 0.02895,
    });
  });

  it('finds the event name in eventName or a prefixed event.name, and the time in timeUnixNano', () => {
    const body = fixture();
    const record = apiRequest(body);
    record.eventName = 'claude_code.api_request';
    record.body = {};
    record.attributes = dropAttr(dropAttr(record.attributes as Json[], 'event.name'), 'event.timestamp');
    record.timeUnixNano = '1795901966999000000';
    const event = otlpLogsToUsageEvents(body, ctx).events[0];
    expect(event?.occurred_at).toBe(new Date(1795901966999).toISOString());
  });

  it('keys the event by request_id when there is one, and marks its overlap group', () => {
    const body = fixture();
    setAttr(apiRequest(body).attributes as Json[], 'request_id', { stringValue: 'req_011CV' });
    const event = otlpLogsToUsageEvents(body, ctx).events[0];
    expect(event?.event_id).toBe(`claude_code_otel:${sha('request_id=req_011CV')}`);
    expect(event?.overlap_group).toBe('anthropic-request:req_011CV');
    expect(event?.attributes.request_id).toBe('req_011CV');
  });

  it('rejects an api_request without a model, with the reason and the raw record', () => {
    const body = fixture();
    apiRequest(body).attributes = dropAttr(apiRequest(body).attributes as Json[], 'model');
    const out = otlpLogsToUsageEvents(body, ctx);
    expect(out.events).toEqual([]);
    expect(out.rejected).toHaveLength(1);
    expect(out.rejected[0]?.index).toBe(1);
    expect(out.rejected[0]?.issues).toEqual([{ field: 'attributes.model', message: 'an api_request event needs a model' }]);
    expect(JSON.parse(out.rejected[0]?.raw ?? '')).toMatchObject({ logRecord: { body: { stringValue: 'claude_code.api_request' } } });
  });

  it('rejects non-numeric tokens and an unpriced model without a cost', () => {
    const bad = fixture();
    setAttr(apiRequest(bad).attributes as Json[], 'input_tokens', { stringValue: 'lots' });
    expect(otlpLogsToUsageEvents(bad, ctx).rejected[0]?.issues).toEqual([
      { field: 'attributes.input_tokens', message: 'expected a number, got {"stringValue":"lots"}' },
    ]);

    const unpriced = fixture();
    const record = apiRequest(unpriced);
    record.attributes = dropAttr(dropAttr(record.attributes as Json[], 'cost_usd'), 'cost_usd_micros');
    setAttr(record.attributes as Json[], 'model', { stringValue: 'claude-3-5-haiku-20241022' });
    expect(otlpLogsToUsageEvents(unpriced, ctx).rejected[0]?.issues[0]?.message).toMatch(/no price for model "claude-3-5-haiku-20241022"/);
  });

  it('accepts an empty export and rejects a body that is not one', () => {
    expect(otlpLogsToUsageEvents({}, ctx)).toEqual({ events: [], origins: [], rejected: [], forbidden: [], ignored: {}, total: 0 });
    expect(() => otlpLogsToUsageEvents([], ctx)).toThrow(/expected an OTLP ExportLogsServiceRequest/);
    expect(() => otlpLogsToUsageEvents({ resourceLogs: 3 }, ctx)).toThrow('resourceLogs: expected an array');
  });
});

describe('otlpLogsToUsageEvents: the same bounds as /v1/events', () => {
  const issuesOf = (body: Json) => {
    const out = otlpLogsToUsageEvents(body, ctx);
    expect(out.events).toEqual([]);
    return out.rejected[0]?.issues;
  };
  const withAttr = (key: string, value: Json, where: 'record' | 'resource' = 'record'): Json => {
    const body = fixture();
    setAttr(
      where === 'record' ? (apiRequest(body).attributes as Json[]) : (body.resourceLogs[0].resource.attributes as Json[]),
      key,
      value,
    );
    return body;
  };

  it.each(['0', '12', 'May 32', '2026-11-28', '2026-11-28 21:39:26Z', 'Sat, 28 Nov 2026 21:39:26 GMT', '2026-11-28T21:39:26.552'])(
    'refuses event.timestamp %j: only an ISO-8601 instant is a time',
    (stamp) => {
      expect(issuesOf(withAttr('event.timestamp', { stringValue: stamp }))).toEqual([
        {
          field: 'attributes.event.timestamp',
          message: `expected an ISO-8601 timestamp such as 2026-11-28T14:05:00.000Z, got ${JSON.stringify(stamp)}`,
        },
      ]);
    },
  );

  it.each<[string, Json, string, RegExp]>([
    ['year 9999', { stringValue: '9999-12-31T23:59:59Z' }, 'attributes.event.timestamp', /more than 1d after the ingest clock/],
    ['older than the store keeps', { stringValue: '2025-01-01T00:00:00Z' }, 'attributes.event.timestamp', /more than 400d before/],
  ])('refuses an event.timestamp of %s', (_name, value, field, message) => {
    expect(issuesOf(withAttr('event.timestamp', value))).toEqual([{ field, message: expect.stringMatching(message) as unknown }]);
  });

  it.each<[string, unknown, RegExp]>([
    ['year 2200', '7258118400000000000', /^2200-01-01T00:00:00.000Z is more than 1d after the ingest clock/],
    ['year 1970', '1000000000', /^1970-01-01T00:00:01.000Z is more than 400d before the ingest clock/],
    ['past any date', '9'.repeat(30), /^9{30} nanoseconds is past any date$/],
    ['not a number', 'soon', /^expected nanoseconds since 1970 as a decimal string, got "soon"$/],
    ['negative', '-5', /^expected nanoseconds since 1970/],
  ])('refuses a timeUnixNano of %s', (_name, nanos, message) => {
    const body = fixture();
    const record = apiRequest(body);
    record.attributes = dropAttr(record.attributes as Json[], 'event.timestamp');
    record.timeUnixNano = nanos;
    expect(issuesOf(body)).toEqual([{ field: 'timeUnixNano', message: expect.stringMatching(message) as unknown }]);
  });

  it.each<[string, string, Json, string, RegExp]>([
    [
      'a cost of 1e300 micros',
      'cost_usd_micros',
      { stringValue: '1e300' },
      'attributes.cost_usd_micros',
      /^1e\+294 USD is above the limit/,
    ],
    [
      'a cost past any double',
      'cost_usd_micros',
      { stringValue: '1e400' },
      'attributes.cost_usd_micros',
      /^Infinity USD is above the limit/,
    ],
    [
      'a token count of 1e30',
      'input_tokens',
      { doubleValue: 1e30 },
      'attributes.input_tokens',
      /^1e\+30 is above the limit of 100000000000/,
    ],
    ['a 2 MB user.email', 'user.email', { stringValue: `${'a'.repeat(2_000_000)}@acme.com` }, 'attributes.user.email', /the limit is 254/],
    [
      'a long session id (never cut)',
      'session.id',
      { stringValue: 's'.repeat(600) },
      'attributes.session.id',
      /is 600 characters long; the limit is 512/,
    ],
    [
      'a long user.id (never cut)',
      'user.id',
      { stringValue: 'u'.repeat(2000) },
      'attributes.user.id',
      /is 2,000 characters long; the limit is 512/,
    ],
    ['a lone surrogate in the model', 'model', { stringValue: 'claude\udfff' }, 'attributes.model', /^is not valid Unicode/],
    ['a control character in terminal.type', 'terminal.type', { stringValue: 'xterm\u001b[31m' }, 'attributes.terminal.type', /U\+001B/],
  ])('refuses %s, naming the attribute', (_name, key, value, field, message) => {
    expect(issuesOf(withAttr(key, value))).toEqual([{ field, message: expect.stringMatching(message) as unknown }]);
  });

  it('refuses a resource attribute named __proto__ or with a control character in its key', () => {
    expect(issuesOf(withAttr('__proto__', { stringValue: 'x' }, 'resource'))).toEqual([
      { field: 'attributes.__proto__', message: expect.stringMatching(/reserved name/) as unknown },
    ]);
    expect(issuesOf(withAttr('cost\ncenter', { stringValue: 'x' }, 'resource'))).toEqual([
      { field: 'attributes', message: expect.stringMatching(/^key holds a control character \(U\+000A\)/) as unknown },
    ]);
  });

  it('cuts a long descriptive attribute at a character boundary, and keeps a tab', () => {
    const value = `${'v'.repeat(255)}😀${'w'.repeat(800)}`;
    const event = otlpLogsToUsageEvents(withAttr('app.version', { stringValue: value }), ctx).events[0];
    expect(event?.attributes['app.version']).toBe('v'.repeat(255));
    const tabbed = otlpLogsToUsageEvents(withAttr('cost_center', { stringValue: 'cc\t42' }, 'resource'), ctx).events[0];
    expect(tabbed?.attributes.cost_center).toBe('cc\t42');
  });

  it('counts log records across resources and scopes', () => {
    const body = fixture();
    (body.resourceLogs as unknown[]).push(body.resourceLogs[0], { scopeLogs: [{}, { logRecords: [{}, {}] }] }, 'junk');
    expect(countLogRecords(body)).toBe(8);
    expect(countLogRecords({})).toBe(0);
    expect(countLogRecords([])).toBe(0);
  });
});
