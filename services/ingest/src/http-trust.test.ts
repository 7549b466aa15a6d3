import { createHttpApp, createLogger, fixedClock, parseConfig, fixedConfig } from '@burnrate/core';
import { DlqRecord, TOPICS, UsageEvent } from '@burnrate/schemas';
import { describe, expect, it } from 'vitest';
import { createIngestGate, keyHash } from './auth.ts';
import { createIngestRoutes } from './http.ts';
import { createEventLedger } from './ledger.ts';
import { fakeProducer, NOW, readFixture } from './test-helpers.ts';

const log = createLogger({ level: 'silent' });

const PAYMENTS_KEY = 'brk_payments_current_0123456789abcdef';
const PAYMENTS_NEXT_KEY = 'brk_payments_next_0123456789abcdef';
const REVOKED_KEY = 'brk_payments_leaked_0123456789abcdef';
const EXPIRED_KEY = 'brk_payments_old_0123456789abcdef';
const PROXY_KEY = 'brk_proxy_0123456789abcdef';
const CLAUDE_KEY = 'brk_claude_code_0123456789abcdef';
const FLEET_KEY = 'brk_fleet_0123456789abcdef';

const config = parseConfig(`
org: acme
teams:
  - id: payments
    members: [alice@acme.com, bob@acme.com]
  - id: research
    members: [carol@acme.com]
ownership:
  - match: { team_id: research }
    team: research
ingest:
  rate_limit: { requests_per_second: 1, burst: 5 }
sources:
  - name: payments-laptops
    team: payments
    domains: [acme.com]
    keys:
      - ${keyHash(PAYMENTS_KEY)}
      - { sha256: ${keyHash(PAYMENTS_NEXT_KEY)}, label: rotation to the new vault }
      - { sha256: ${keyHash(REVOKED_KEY)}, revoked_at: 2026-11-01T00:00:00Z }
      - { sha256: ${keyHash(EXPIRED_KEY)}, expires_at: 2026-11-20T00:00:00Z }
  - name: litellm-proxy
    keys: [${keyHash(PROXY_KEY)}]
    rate_limit: { requests_per_second: 100, burst: 1000 }
  - name: claude-code
    emitter: claude-code
    keys: [${keyHash(CLAUDE_KEY)}]
  - name: managed-fleet
    trust_team_id: true
    keys: [${keyHash(FLEET_KEY)}]
`);

function setup() {
  const producer = fakeProducer();
  let now = NOW.getTime();
  const gate = createIngestGate({ config: fixedConfig(config), now: () => now, log });
  const ledger = createEventLedger({ windowMs: config.ingest.dedupe_window, now: () => now });
  const routes = createIngestRoutes({ config: fixedConfig(config), producer, clock: fixedClock(NOW), log, gate, ledger });
  const app = createHttpApp({ routes, log });
  const post = (url: string, body: unknown, headers: Record<string, string> = {}, remoteAddress = '10.0.0.7') =>
    app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
      remoteAddress,
    });
  return {
    producer,
    gate,
    post,
    advance: (ms: number) => void (now += ms),
    events: () => producer.messages(TOPICS.usageEvents.name).map((m) => UsageEvent.parse(m)),
    dlq: () => producer.messages(TOPICS.usageDlq.name).map((m) => DlqRecord.parse(m)),
  };
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const record = (overrides: Record<string, unknown> = {}) => ({
  occurred_at: '2026-11-28T10:00:00Z',
  developer_email: 'alice@acme.com',
  model: 'claude-opus-4-5',
  session_id: 's-1',
  cost_usd: 12,
  ...overrides,
});

interface ErrorBody {
  error: { code: string; message: string; details?: { rejected?: { index: number; field: string; message: string }[] } };
}

describe('a source that trusts the team a record declares', () => {
  it('places an identity the config does not know in the configured team it names; members, rules and unknown teams are not moved', async () => {
    const t = setup();
    const res = await t.post(
      '/v1/events',
      [
        record({ event_id: 'new-hire', developer_email: 'dan@acme.com', team: 'Payments' }),
        record({ event_id: 'member', developer_email: 'carol@acme.com', team: 'payments' }),
        record({ event_id: 'unknown-team', developer_email: 'erin@acme.com', team: 'growth' }),
        record({ event_id: 'no-team', developer_email: 'frank@acme.com' }),
        record({ event_id: 'via-attribute', developer_email: 'gina@acme.com', attributes: { 'team.id': 'research' } }),
      ],
      bearer(FLEET_KEY),
    );
    expect(res.status).toBe(200);
    expect(t.events().map((e) => [e.event_id, e.developer, e.team])).toEqual([
      ['new-hire', 'dan@acme.com', 'payments'],
      ['member', 'carol@acme.com', 'research'],
      ['unknown-team', 'erin@acme.com', 'unattributed'],
      ['no-team', 'frank@acme.com', 'unattributed'],
      ['via-attribute', 'gina@acme.com', 'research'],
    ]);
  });

  it('is not trusted from a source without trust_team_id: the declared team needs an ownership rule', async () => {
    const t = setup();
    await t.post('/v1/events', [record({ event_id: 'x', developer_email: 'dan@acme.com', team: 'payments' })], bearer(PROXY_KEY));
    expect(t.events().map((e) => e.team)).toEqual(['unattributed']);
  });

  it('cannot be combined with team: in the config', () => {
    expect(() =>
      parseConfig(
        `org: acme\nteams: [{ id: payments }]\nsources:\n  - { name: s, team: payments, trust_team_id: true, keys: [${keyHash('k')}] }\n`,
      ),
    ).toThrow(
      /sources\[0\]\.trust_team_id \(line 4\): source "s" speaks for team "payments" already; trust_team_id would never apply, remove one/,
    );
  });
});

describe('ingest authentication', () => {
  it('refuses a request without a key, with a wrong key, a revoked or an expired one: 401 and nothing published', async () => {
    const t = setup();
    const cases: [Record<string, string>, RegExp][] = [
      [{}, /needs a source key: send Authorization: Bearer <key>/],
      [bearer('brk_guess'), /not a key of any source/],
      [bearer(REVOKED_KEY), /revoked at 2026-11-01T00:00:00.000Z/],
      [bearer(EXPIRED_KEY), /expired at 2026-11-20T00:00:00.000Z/],
      [{ authorization: `Basic ${Buffer.from(`x:${PAYMENTS_KEY}`).toString('base64')}` }, /must be "Bearer <key>"/],
    ];
    for (const [headers, message] of cases) {
      const res = await t.post('/v1/events', [record()], headers, `10.0.1.${cases.findIndex((c) => c[0] === headers)}`);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expect(res.json<ErrorBody>().error.message).toMatch(message);
    }
    for (const path of ['/v1/logs', '/v1/metrics']) expect((await t.post(path, {}, {}, '10.0.2.1')).status).toBe(401);
    expect(t.producer.sent).toEqual([]);
    expect(t.gate.stats().refused).toMatchObject({ missing_key: 4, unknown_key: 1, revoked_key: 1, expired_key: 1 });
  });

  it('takes the key as a Bearer token (also URL-encoded, as OTEL_EXPORTER_OTLP_HEADERS has it) or as X-Burnrate-Key', async () => {
    const t = setup();
    for (const headers of [bearer(PROXY_KEY), { authorization: `Bearer%20${PROXY_KEY}` }, { 'x-burnrate-key': PROXY_KEY }]) {
      expect((await t.post('/v1/events', [record({ event_id: JSON.stringify(headers) })], headers)).status).toBe(200);
    }
    expect(t.events()).toHaveLength(3);
    expect(t.gate.stats().admitted).toEqual({ 'litellm-proxy': 3 });
  });

  it('accepts both keys of a rotation, and the old one stops at its expiry', async () => {
    const t = setup();
    expect((await t.post('/v1/events', [record({ event_id: 'a' })], bearer(PAYMENTS_KEY))).status).toBe(200);
    expect((await t.post('/v1/events', [record({ event_id: 'b' })], bearer(PAYMENTS_NEXT_KEY))).status).toBe(200);
    expect(t.events().map((e) => e.event_id)).toEqual(['a', 'b']);
  });
});

describe('what a key may claim', () => {
  it('refuses the whole request when a record claims another team’s member, and publishes nothing', async () => {
    const t = setup();
    const res = await t.post('/v1/events', [record(), record({ developer_email: 'carol@acme.com', event_id: 'x' })], bearer(PAYMENTS_KEY));
    expect(res.status).toBe(403);
    const body = res.json<ErrorBody>();
    expect(body.error.code).toBe('FORBIDDEN');
    expect(body.error.message).toBe('1 of 2 records claim more than source "payments-laptops" may; nothing from this request was accepted');
    expect(body.error.details?.rejected).toEqual([
      {
        index: 1,
        field: 'team',
        message:
          'the record belongs to team "research" (carol@acme.com is a member of it); source "payments-laptops" may only send for team "payments"',
      },
    ]);
    expect(t.producer.sent).toEqual([]);
    expect(t.gate.stats().refused.over_claiming).toBe(1);
  });

  it('refuses a team.id the key may not claim, through OTLP resource attributes', async () => {
    const t = setup();
    const logs = JSON.parse(readFixture('logs.json')) as { resourceLogs: { resource: { attributes: unknown[] } }[] };
    logs.resourceLogs[0]?.resource.attributes.push({ key: 'team.id', value: { stringValue: 'research' } });
    const res = await t.post('/v1/logs', logs, bearer(PAYMENTS_KEY));
    expect(res.status).toBe(403);
    expect(res.json<ErrorBody>().error.details?.rejected?.[0]?.message).toMatch(/belongs to team "research" \(.* by an ownership rule\)/);
    expect(t.producer.sent).toEqual([]);
  });

  it('refuses an email outside the key’s domains, and a tool other than its emitter', async () => {
    const t = setup();
    const outside = await t.post('/v1/events', [record({ developer_email: 'mallory@evil.example' })], bearer(PAYMENTS_KEY));
    expect(outside.status).toBe(403);
    expect(outside.json<ErrorBody>().error.details?.rejected?.[0]).toEqual({
      index: 0,
      field: 'developer_email',
      message: 'mallory@evil.example is outside the domains source "payments-laptops" may claim (acme.com)',
    });
    const tool = await t.post('/v1/events', [record({ tool: 'cursor' })], bearer(CLAUDE_KEY));
    expect(tool.status).toBe(403);
    expect(tool.json<ErrorBody>().error.details?.rejected?.[0]).toMatchObject({
      field: 'tool',
      message: 'is "cursor"; source "claude-code" may only send usage of claude-code',
    });
    // The emitter's own tool is fine, from any team.
    expect(
      (await t.post('/v1/events', [record({ tool: 'claude-code', developer_email: 'carol@acme.com' })], bearer(CLAUDE_KEY))).status,
    ).toBe(200);
  });

  it('gives an identity the config cannot place to the team the key speaks for', async () => {
    const t = setup();
    const res = await t.post('/v1/events', [record({ developer_email: 'new.hire@acme.com' })], bearer(PAYMENTS_KEY));
    expect(res.status).toBe(200);
    expect(t.events()[0]).toMatchObject({ developer: 'new.hire@acme.com', team: 'payments' });
  });
});

describe('rate limits', () => {
  it('answers 429 with Retry-After past a source’s burst, per source', async () => {
    const t = setup();
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await t.post('/v1/events', [record({ event_id: `r${i}` })], bearer(PAYMENTS_KEY))).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    const limited = await t.post('/v1/events', [record({ event_id: 'r9' })], bearer(PAYMENTS_KEY));
    expect(limited.headers['retry-after']).toBe('1');
    expect(limited.json<ErrorBody>().error).toMatchObject({
      code: 'RATE_LIMITED',
      message: 'too many requests from source "payments-laptops"; retry later',
    });
    // Another source is not held back by it, and the first gets going again after a second.
    expect((await t.post('/v1/events', [record({ event_id: 'p' })], bearer(PROXY_KEY))).status).toBe(200);
    t.advance(1000);
    expect((await t.post('/v1/events', [record({ event_id: 'r10' })], bearer(PAYMENTS_KEY))).status).toBe(200);
    expect(t.gate.stats().refused.rate_limited).toBe(3);
  });

  it('slows down an address guessing keys without touching the sources', async () => {
    const t = setup();
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await t.post('/v1/events', [record()], bearer(`brk_guess_${i}`), '203.0.113.9')).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
    expect((await t.post('/v1/events', [record()], bearer(PAYMENTS_KEY), '203.0.113.9')).status).toBe(200);
  });
});

describe('events are immutable', () => {
  it('takes a resend as a duplicate and publishes it once', async () => {
    const t = setup();
    const batch = [record({ event_id: 'inv-41' }), record({ event_id: 'inv-42', cost_usd: 500 })];
    expect((await t.post('/v1/events', batch, bearer(PROXY_KEY))).json()).toEqual({ accepted: 2, duplicates: 0, rejected: [] });
    expect((await t.post('/v1/events', batch, bearer(PROXY_KEY))).json()).toEqual({ accepted: 2, duplicates: 2, rejected: [] });
    expect(t.events().map((e) => e.event_id)).toEqual(['inv-41', 'inv-42']);
  });

  it('refuses a reused event_id with other content to the DLQ, keeping the first', async () => {
    const t = setup();
    await t.post('/v1/events', [record({ event_id: 'inv-42', cost_usd: 500 })], bearer(PROXY_KEY));
    const res = await t.post(
      '/v1/events',
      [record({ event_id: 'inv-43' }), record({ event_id: 'inv-42', cost_usd: 0 })],
      bearer(PROXY_KEY),
    );
    expect(res.status).toBe(400);
    expect(res.json()).toMatchObject({
      accepted: 1,
      duplicates: 0,
      rejected: [
        {
          index: 1,
          field: 'event_id',
          message: expect.stringMatching(
            /^inv-42 was already accepted with other content \(first at 2026-11-28T21:40:00.000Z\); events are immutable, send a correction under a new event_id$/,
          ) as unknown,
        },
      ],
    });
    expect(t.events().map((e) => [e.event_id, e.cost_usd])).toEqual([
      ['inv-42', 500],
      ['inv-43', 12],
    ]);
    expect(t.dlq()).toHaveLength(1);
    expect(t.dlq()[0]).toMatchObject({
      source: 'http_events',
      index: 1,
      reason: expect.stringContaining('events are immutable') as unknown,
    });
    expect(JSON.parse(t.dlq()[0]?.raw ?? '{}')).toMatchObject({ event_id: 'inv-42', cost_usd: 0 });
  });

  it('does the same for an OTLP export sent again, and for one whose record changed', async () => {
    const t = setup();
    const fixture = readFixture('logs.json');
    expect((await t.post('/v1/logs', fixture, bearer(CLAUDE_KEY))).json()).toEqual({ partialSuccess: {} });
    expect((await t.post('/v1/logs', fixture, bearer(CLAUDE_KEY))).json()).toEqual({ partialSuccess: {} });
    expect(t.events()).toHaveLength(1);
    // The same record (same session, sequence and prompt, so the same event_id) with another cost.
    const changed = fixture.replace('"intValue": 28950', '"intValue": 1289500');
    expect(changed).not.toBe(fixture);
    const res = await t.post('/v1/logs', changed, bearer(CLAUDE_KEY));
    expect(res.json()).toMatchObject({
      partialSuccess: { rejectedLogRecords: '1', errorMessage: expect.stringMatching(/events are immutable/) as unknown },
    });
    expect(t.events()).toHaveLength(1);
    expect(t.dlq()).toHaveLength(1);
  });
});
