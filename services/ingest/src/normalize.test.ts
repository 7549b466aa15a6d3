import { UsageEvent } from '@burnrate/schemas';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { normalizeRecord } from './normalize.ts';
import { NOW, testContext } from './test-helpers.ts';

const ctx = testContext();

const minimal = {
  occurred_at: '2026-11-28T21:39:26.552+01:00',
  developer_email: 'alice@acme.com',
  model: 'claude-sonnet-4-5-20250929',
  input_tokens: 1200,
  output_tokens: 40,
  cache_read_tokens: 20_000,
  cache_write_tokens: 5000,
};

function ok(raw: unknown): UsageEvent {
  const result = normalizeRecord(raw, ctx);
  if (!result.ok) throw new Error(`expected ok, got ${JSON.stringify(result.issues)}`);
  return result.event;
}

function issues(raw: unknown) {
  const result = normalizeRecord(raw, ctx);
  if (result.ok) throw new Error('expected issues');
  return result.issues;
}

describe('normalizeRecord', () => {
  it('fills every default and computes the cost from tokens', () => {
    const event = ok(minimal);
    const id = createHash('sha256')
      .update(
        '{"cache_read_tokens":20000,"cache_write_tokens":5000,"developer_email":"alice@acme.com","input_tokens":1200,"model":"claude-sonnet-4-5-20250929","occurred_at":"2026-11-28T21:39:26.552+01:00","output_tokens":40}',
      )
      .digest('hex');
    expect(event).toEqual({
      event_id: `http_events:${id}`,
      source: 'http_events',
      provider: 'anthropic',
      tool: 'api',
      granularity: 'request',
      occurred_at: '2026-11-28T20:39:26.552Z',
      ingested_at: NOW.toISOString(),
      org: 'acme',
      developer: 'alice@acme.com',
      developer_email: 'alice@acme.com',
      team: 'payments',
      model: 'claude-sonnet-4-5-20250929',
      model_family: 'claude-sonnet',
      tier: 'standard',
      is_batch: false,
      requests: 1,
      input_tokens: 1200,
      output_tokens: 40,
      cache_read_tokens: 20_000,
      cache_write_tokens: 5000,
      cost_usd: 0.02895,
      cost_source: 'computed',
      fingerprint: expect.stringMatching(/^[0-9a-f]{32}$/) as unknown,
      attributes: {},
    });
    expect(UsageEvent.safeParse(event).success).toBe(true);
  });

  it('gives the same event_id whatever the key order, and a different one for different content', () => {
    const reordered = Object.fromEntries(Object.entries(minimal).reverse());
    expect(ok(reordered).event_id).toBe(ok(minimal).event_id);
    expect(ok({ ...minimal, output_tokens: 41 }).event_id).not.toBe(ok(minimal).event_id);
  });

  it('keeps a given event_id', () => {
    expect(ok({ ...minimal, event_id: 'req_011' }).event_id).toBe('req_011');
  });

  it('keeps a reported cost and the computed one beside it', () => {
    const event = ok({ ...minimal, cost_usd: 0.03 });
    expect(event).toMatchObject({ cost_usd: 0.03, cost_source: 'reported', computed_cost_usd: 0.02895 });
  });

  it('accepts a reported cost without tokens, even for a model the catalog does not price', () => {
    const event = ok({ occurred_at: '2026-11-28T10:00:00Z', developer: 'ci-bot', model: 'mistral-large', cost_usd: 1.5 });
    expect(event).toMatchObject({
      developer: 'ci-bot',
      team: 'unattributed',
      provider: 'unknown',
      model_family: 'mistral-large',
      tier: 'unknown',
      cost_usd: 1.5,
      cost_source: 'reported',
      input_tokens: 0,
    });
    expect(event).not.toHaveProperty('computed_cost_usd');
  });

  it('rejects tokens without cost for a model it cannot price, naming the model', () => {
    expect(issues({ ...minimal, model: 'anthropic/claude-3-5-haiku' })).toEqual([
      {
        field: 'model',
        message:
          'cannot compute cost_usd from tokens: no price for model "anthropic/claude-3-5-haiku" (canonical "claude-haiku-3-5"); add a row to pricing.prices in burnrate.yaml or send cost_usd',
      },
    ]);
  });

  it('lists every problem of a record with its field', () => {
    expect(issues({ model: 'gpt-5', occurred_at: 'yesterday', inputTokens: 5, cost_usd: -1, attributes: { a: 1 } })).toEqual([
      { field: 'occurred_at', message: 'expected an ISO-8601 timestamp such as 2026-11-28T14:05:00Z' },
      { field: 'cost_usd', message: 'must not be negative, got -1' },
      { field: 'attributes.a', message: 'expected string, got number 1' },
      { field: 'inputTokens', message: 'unknown field; did you mean input_tokens?' },
      { field: 'developer_email', message: 'a record needs developer_email or developer' },
    ]);
  });

  it('rejects numbers sent as strings', () => {
    expect(issues({ ...minimal, input_tokens: '1200' })).toEqual([
      { field: 'input_tokens', message: 'expected a JSON number, got the string "1200"; send numbers without quotes' },
    ]);
  });

  it('rejects a record with neither cost nor tokens', () => {
    expect(issues({ occurred_at: '2026-11-28T10:00:00Z', developer: 'x', model: 'gpt-5' })).toEqual([
      {
        field: 'cost_usd',
        message: 'a record needs cost_usd or token counts (input_tokens, output_tokens, cache_read_tokens, cache_write_tokens)',
      },
    ]);
  });

  it('rejects a timestamp without an offset, a non-object, another org and a bucket without its period', () => {
    expect(issues({ ...minimal, occurred_at: '2026-11-28T10:00:00' })[0]?.field).toBe('occurred_at');
    expect(issues(42)).toEqual([{ field: '(record)', message: 'expected a JSON object, got number 42' }]);
    expect(issues({ ...minimal, org: 'globex' })).toEqual([{ field: 'org', message: 'this Burnrate serves org "acme", not "globex"' }]);
    expect(issues({ ...minimal, granularity: '1h' })).toEqual([
      { field: 'period_start', message: 'a 1h bucket needs period_start and period_end' },
    ]);
  });

  it('prices batch requests with the discount and derives the provider from the model', () => {
    const event = ok({
      ...minimal,
      model: 'openai/gpt-4.1',
      service_tier: 'batch',
      input_tokens: 1_000_000,
      output_tokens: 0,
      cache_read_tokens: 0,
      cache_write_tokens: 0,
    });
    expect(event).toMatchObject({
      provider: 'openai',
      model_family: 'gpt-4.1',
      tier: 'standard',
      is_batch: true,
      cost_usd: 1,
      service_tier: 'batch',
    });
  });

  it('attributes through a declared team and keeps identities in attributes', () => {
    const event = ok({
      ...minimal,
      developer_email: undefined,
      developer: 'svc-build',
      api_key_name: 'build',
      attributes: { 'team.id': 'platform' },
    });
    expect(event).toMatchObject({ developer: 'svc-build', team: 'platform', attributes: { 'team.id': 'platform', api_key_name: 'build' } });
  });

  it('accepts a published UsageEvent posted back, recomputing what ingest derives', () => {
    const event = ok(minimal);
    const again = ok({ ...event, team: 'someone-else', tier: 'economy' });
    expect(again).toEqual(event);
  });
});

describe('normalizeRecord: sane bounds (ingest.limits)', () => {
  const base = { occurred_at: '2026-11-28T10:00:00Z', developer_email: 'alice@acme.com', model: 'claude-sonnet-4-5', cost_usd: 1 };

  it.each<[string, Record<string, unknown>, { field: string; message: string | RegExp }[]]>([
    [
      'a cost of 1e308',
      { cost_usd: 1e308 },
      [{ field: 'cost_usd', message: '1e+308 USD is above the limit of 100000 USD per event (ingest.limits.max_cost_usd_per_event)' }],
    ],
    [
      'a token count past the limit',
      { cache_read_tokens: 2e11 },
      [
        {
          field: 'cache_read_tokens',
          message: '200000000000 is above the limit of 100000000000 per event (ingest.limits.max_tokens_per_event)',
        },
      ],
    ],
    ['a request count past the limit', { requests: 1e15 }, [{ field: 'requests', message: /^1000000000000000 is above the limit/ }]],
    [
      'tokens whose computed cost is past the limit',
      { cost_usd: undefined, model: 'claude-opus-4-1', output_tokens: 9e10 },
      [{ field: 'cost_usd', message: /^computed from the token counts: 6750000 USD is above the limit of 100000 USD/ }],
    ],
    [
      'year 9999',
      { occurred_at: '9999-12-31T23:59:59Z' },
      [{ field: 'occurred_at', message: /^9999-12-31T23:59:59.000Z is more than 1d after the ingest clock/ }],
    ],
    [
      'year 0000',
      { occurred_at: '0000-01-01T00:00:00Z' },
      [{ field: 'occurred_at', message: /^0000-01-01T00:00:00.000Z is more than 400d before/ }],
    ],
    ['an event older than the store keeps', { occurred_at: '2025-10-01T00:00:00Z' }, [{ field: 'occurred_at', message: /max_age$/ }]],
    [
      'a bucket that ends past tomorrow',
      { granularity: '1d', period_start: '2026-11-30T00:00:00Z', period_end: '2026-12-01T00:00:00Z', occurred_at: '2026-11-30T00:00:00Z' },
      [
        { field: 'occurred_at', message: /max_future$/ },
        { field: 'period_start', message: /max_future$/ },
        { field: 'period_end', message: /max_future$/ },
      ],
    ],
    [
      'a 2 MB email',
      { developer_email: `${'a'.repeat(2_000_000)}@acme.com` },
      [{ field: 'developer_email', message: /is 2,000,009 characters long; the limit is 254 \(the limit for an email address\)$/ }],
    ],
    [
      'a lone surrogate in developer',
      { developer: 'bob\ud800', developer_email: undefined },
      [{ field: 'developer', message: /^is not valid Unicode: a lone surrogate \(U\+D800\)/ }],
    ],
    ['a newline in the model', { model: 'claude-sonnet-4-5\n' }, [{ field: 'model', message: /^holds a control character \(U\+000A\)/ }]],
    ['a tab in a session id', { session_id: 's\t1' }, [{ field: 'session_id', message: /not allowed in an identifier$/ }]],
    ['a long project', { project: 'p'.repeat(600) }, [{ field: 'project', message: /is 600 characters long; the limit is 512/ }]],
    ['a long api key name', { api_key_name: 'k'.repeat(513) }, [{ field: 'api_key_name', message: /the limit is 512/ }]],
    ['a control character in a team hint', { team: 'pay\u0000' }, [{ field: 'team', message: /U\+0000/ }]],
    ['a DEL in an attribute value', { attributes: { terminal: 'x\u007f' } }, [{ field: 'attributes.terminal', message: /U\+007F/ }]],
    [
      'a lone surrogate in an attribute key',
      { attributes: { '\udc00': 'x' } },
      [{ field: 'attributes', message: /^key is not valid Unicode/ }],
    ],
    [
      'a long attribute key',
      { attributes: { ['k'.repeat(600)]: 'x' } },
      [{ field: 'attributes', message: /^key "k{40}…" is 600 characters long/ }],
    ],
    ['a long attribute value', { attributes: { note: 'n'.repeat(1025) } }, [{ field: 'attributes.note', message: /the limit is 1024/ }]],
    [
      '65 attributes',
      { attributes: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`a${i}`, 'x'])) },
      [{ field: 'attributes', message: '65 attributes; the limit is 64' }],
    ],
    [
      'an attribute named constructor',
      { attributes: { constructor: 'x' } },
      [{ field: 'attributes.constructor', message: /reserved name/ }],
    ],
    ['an attribute named prototype', { attributes: { prototype: 'x' } }, [{ field: 'attributes.prototype', message: /reserved name/ }]],
  ])('refuses %s, naming the field', (_name, change, expected) => {
    expect(issues({ ...base, ...change })).toEqual(
      expected.map((e) => ({
        field: e.field,
        message: typeof e.message === 'string' ? e.message : (expect.stringMatching(e.message) as unknown),
      })),
    );
  });

  it('refuses attributes.__proto__, which zod would drop', () => {
    const raw = JSON.parse(`{${JSON.stringify(base).slice(1, -1)}, "attributes": {"__proto__": "x", "ok": "y"}}`) as unknown;
    expect(issues(raw)).toEqual([
      {
        field: 'attributes.__proto__',
        message: '"__proto__" is a reserved name (JavaScript objects treat it as their prototype or constructor); rename the attribute',
      },
    ]);
  });

  it('takes what is within the limits, tab in a description included', () => {
    const event = ok({
      ...base,
      cost_usd: 100_000,
      input_tokens: 1e11,
      occurred_at: '2026-11-29T21:40:00Z',
      session_id: 's'.repeat(512),
      developer: 'Zoë 😀',
      attributes: { note: 'a\tb', ключ: 'значение' },
    });
    expect(event).toMatchObject({ cost_usd: 100_000, input_tokens: 1e11, occurred_at: '2026-11-29T21:40:00.000Z' });
  });

  it('quotes a hostile value shortened, never whole', () => {
    const found = issues({
      ...base,
      org: `x${'\u202e'.repeat(10_000)}`,
      requests: 'z'.repeat(10_000),
      [`bad\u0000${'k'.repeat(5000)}`]: 1,
    });
    expect(found).toEqual([
      { field: 'requests', message: `expected a JSON number, got the string "${'z'.repeat(40)}…"; send numbers without quotes` },
      { field: expect.stringMatching(/^\["bad\\u0000k{36}…"\]$/) as unknown, message: 'unknown field' },
      { field: 'org', message: `this Burnrate serves org "acme", not "x${'\\u202E'.repeat(39)}…"` },
    ]);
    for (const issue of found) expect(issue.field.length + issue.message.length).toBeLessThan(300);
  });
});
