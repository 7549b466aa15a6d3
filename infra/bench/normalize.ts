// `npm run bench:normalize`: how fast each source's records become priced, attributed UsageEvents,
// next to plain JSON.parse of the same bytes, in one run on one thread (machines are shared and
// noisy, so the ratio is the figure to trust). Each source starts from the bytes it arrives as
// (an OTLP body, a LiteLLM callback, a /v1/events batch, a transcript line, a CSV row, a
// provider's report page) and ends with the events ingest would publish: decoding, validation,
// pricing and attribution, nothing of the bus or the store (bench:e2e and the service measure those).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fixedConfig, parseConfig, systemClock, createLogger } from '@burnrate/core';
import {
  createEventLedger,
  createIngestCore,
  createIngestGate,
  csvRowRecord,
  CSV_SOURCES,
  type CsvFormat,
  decodeOtlp,
  deterministicEventId,
  buildUsageEvent,
  normalizeLiteLlm,
  normalizeRecord,
  otlpLogsToUsageEvents,
  otlpMetricsToUsageEvents,
  otlpTypes,
  readTranscriptLine,
  type NormalizeContext,
} from '@burnrate/ingest';
import { benchSources, type BenchSource } from '@burnrate/poller';

const { values } = parseArgs({ options: { passes: { type: 'string', default: '5' }, json: { type: 'boolean', default: false } } });
const passes = Math.max(1, Number(values.passes));
/** Records per body, as a busy exporter batches them. */
const PER_BODY = 100;
/** Bodies per timed pass. */
const BODIES = 200;

const config = parseConfig(`
org: acme
ingest: { auth: none }
teams:
  - id: payments
    members:
      - email: alice@acme.com
        aliases: [user_01WCz1FkmYMm4gnmykNKUu3Q]
  - id: platform
    members:
      - email: bob@acme.com
ownership:
  - match: { project: wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ }
    team: platform
`);
const log = createLogger({ level: 'silent' });
const now = (): number => Date.now();
const ingest = createIngestCore({
  config: fixedConfig(config),
  producer: { send: () => Promise.resolve() },
  clock: systemClock,
  log,
  gate: createIngestGate({ config: fixedConfig(config), now, log }),
  ledger: createEventLedger({ windowMs: config.ingest.dedupe_window, now }),
});
const principal = { source: 'bench', claims: undefined };
const context = (source: string): NormalizeContext => ingest.context(source, principal);
const fixture = (path: string): string => readFileSync(new URL(`../../services/ingest/fixtures/${path}`, import.meta.url), 'utf8');

interface Case {
  name: string;
  /** One body as it arrives. */
  bodies: (Uint8Array | string)[];
  /** Events of one body (checked once, and the sink of each pass); a poller's read is async, as in a poll. */
  convert: (body: Uint8Array | string) => number | Promise<number>;
  /** JSON.parse of the same bytes (for protobuf: of the same body as OTLP/JSON). */
  parse: (body: Uint8Array | string) => number;
}

const text = (body: Uint8Array | string): string => (typeof body === 'string' ? body : Buffer.from(body).toString('utf8'));
const parseCount = (body: Uint8Array | string): number => (JSON.parse(text(body)) === null ? 0 : 1);
/** JSON.parse of each line of an NDJSON body. */
const parseLines = (body: Uint8Array | string): number => {
  let n = 0;
  for (const line of text(body).split('\n')) n += JSON.parse(line) === null ? 0 : 1;
  return n;
};

// OTLP logs: the real api_request record, PER_BODY of it a body, each its own request.
type OtlpLogs = { resourceLogs: { scopeLogs: { logRecords: { attributes: { key: string; value: { stringValue?: string } }[] }[] }[] }[] };
const logs = JSON.parse(fixture('claude-code-otlp/logs.json')) as OtlpLogs;
const scope = logs.resourceLogs[0]?.scopeLogs[0];
const apiRequest = scope?.logRecords.find((r) => r.attributes.some((a) => a.key === 'event.name' && a.value.stringValue === 'api_request'));
if (scope === undefined || apiRequest === undefined) throw new Error('the OTLP logs fixture has no api_request record');
const logsBody = (b: number): OtlpLogs => {
  const records = Array.from({ length: PER_BODY }, (_, i) => ({
    ...apiRequest,
    attributes: apiRequest.attributes.map((a) =>
      a.key === 'event.sequence' ? { key: a.key, value: { stringValue: String(b * PER_BODY + i) } } : a,
    ),
  }));
  return { resourceLogs: [{ ...logs.resourceLogs[0], scopeLogs: [{ ...scope, logRecords: records }] }] };
};
const logsJson = Array.from({ length: BODIES }, (_, b) => JSON.stringify(logsBody(b)));
const logsType = otlpTypes('logs').request;
const logsProto = logsJson.map((j) => logsType.encode(logsType.fromObject(JSON.parse(j) as Record<string, unknown>)).finish());
/** Each protobuf body's JSON twin, the baseline it is parsed against. */
const jsonOfProto = new Map<Uint8Array | string, string>(logsProto.map((bytes, i) => [bytes, logsJson[i] as string]));
const logsCtx = context('claude_code_otel');

// OTLP metrics: the real export (cost and tokens of one session), as it comes each interval.
const metricsJson = Array.from({ length: BODIES }, () => fixture('claude-code-otlp/metrics.json'));
const metricsCtx = context('claude_code_metrics');

// LiteLLM's generic API logger: its recorded payload, PER_BODY calls a batch.
const litellmRecords = JSON.parse(fixture('litellm/generic-api.json')) as Record<string, unknown>[];
const litellmBodies = Array.from({ length: BODIES }, (_, b) =>
  JSON.stringify(
    Array.from({ length: PER_BODY }, (_, i) => ({ ...(litellmRecords[i % litellmRecords.length] as object), id: `chatcmpl-${b}-${i}` })),
  ),
);
const litellmCtx = context('litellm');

// POST /v1/events: PER_BODY records a batch.
const eventsBodies = Array.from({ length: BODIES }, (_, b) =>
  JSON.stringify({
    events: Array.from({ length: PER_BODY }, (_, i) => ({
      event_id: `bench-${b}-${i}`,
      occurred_at: '2026-12-07T10:00:00.000Z',
      developer_email: 'alice@acme.com',
      model: 'claude-sonnet-4-5-20250929',
      tool: 'api',
      input_tokens: 1200,
      output_tokens: 850,
      cache_read_tokens: 52_000,
      cache_write_tokens: 4000,
    })),
  }),
);
const eventsCtx = context('http_events');

// Claude Code's local transcripts: the real file's lines with usage.
const transcriptLines = fixture('claude-code-jsonl/-home-alice-src-payments/5f0c2b8e-3a41-4d7e-9c1a-0b6f2e8d4c17.jsonl')
  .split('\n')
  .filter((l) => l.includes('"usage"'));
const transcriptBodies = Array.from({ length: BODIES }, () =>
  Array.from({ length: PER_BODY }, (_, i) => transcriptLines[i % transcriptLines.length]).join('\n'),
);
const transcriptCtx = context('claude_code_transcript');

// Cursor's CSV export, a row at a time (the CSV reader's split is not measured).
const cursorRow = {
  Date: '2026-11-28T14:03:11.412Z',
  User: 'bob@acme.com',
  Kind: 'Usage-based',
  Model: 'claude-4.5-sonnet-thinking',
  'Max Mode': 'No',
  'Input (w/ Cache Write)': '48,210',
  'Input (w/o Cache Write)': '1,830',
  'Cache Read': '310522',
  'Output Tokens': '2411',
  'Total Tokens': '361143',
  Cost: '$0.31',
};
/** BODIES bodies of PER_BODY rows like `row`, each a JSON array (the CSV reader's split is not measured), `vary` making rows distinct. */
const csvBodies = (row: Record<string, string>, vary: (row: Record<string, string>, n: number) => Record<string, string>): string[] =>
  Array.from({ length: BODIES }, (_, b) => JSON.stringify(Array.from({ length: PER_BODY }, (_, i) => vary(row, b * PER_BODY + i))));

// The Anthropic Console's usage export and OpenAI's, a row of each fixture (services/ingest/fixtures/csv).
const consoleRow = {
  usage_date_utc: '2026-11-20',
  model_version: 'claude-sonnet-4-5-20250929',
  api_key: 'payments-ci',
  workspace: 'Payments',
  usage_type: 'standard',
  context_window: '≤ 200k',
  usage_input_tokens_no_cache: '1,204,500',
  usage_input_tokens_cache_write_5m: '82000',
  usage_input_tokens_cache_write_1h: '15000',
  usage_input_tokens_cache_read: '9,800,000',
  usage_output_tokens: '210400',
  web_search_count: '3',
  inference_geo: 'global',
  speed: '',
};
const openaiRow = {
  start_time: '1795132800',
  end_time: '1795136400',
  start_time_iso: '2026-11-20T00:00:00+00:00',
  end_time_iso: '2026-11-20T01:00:00+00:00',
  project_id: 'proj_Wf3kPayments',
  num_model_requests: '12.0',
  user_id: 'user-Ab12Cd34',
  api_key_id: 'key_3QRCYbJRFQ0G4ycm',
  model: 'gpt-5-mini-2025-08-07',
  batch: 'False',
  service_tier: 'default',
  input_tokens: '42120',
  output_tokens: '16730',
  input_cached_tokens: '12800',
};

const csvCase = (name: string, format: CsvFormat, bodies: string[]): Case => {
  const ctx = context(CSV_SOURCES[format]);
  return {
    name,
    bodies,
    convert: (body) => {
      let n = 0;
      for (const row of JSON.parse(text(body)) as Record<string, string>[]) {
        const r = csvRowRecord(format, row, undefined);
        if (r.ok && normalizeRecord(r.record, ctx).ok) n++;
      }
      return n;
    },
    parse: parseCount,
  };
};

const cases: Case[] = [
  {
    name: 'OTLP logs, http/json (claude_code_otel)',
    bodies: logsJson,
    convert: (body) => otlpLogsToUsageEvents(JSON.parse(text(body)), logsCtx).events.length,
    parse: parseCount,
  },
  {
    name: 'OTLP logs, http/protobuf (claude_code_otel)',
    bodies: logsProto,
    convert: (body) => otlpLogsToUsageEvents(decodeOtlp('logs', body as Uint8Array), logsCtx).events.length,
    parse: (body) => parseCount(jsonOfProto.get(body) as string),
  },
  {
    name: 'OTLP metrics, http/json (claude_code_metrics)',
    bodies: metricsJson,
    convert: (body) => otlpMetricsToUsageEvents(JSON.parse(text(body)), metricsCtx).events.length,
    parse: parseCount,
  },
  {
    name: 'LiteLLM generic API logger (litellm)',
    bodies: litellmBodies,
    convert: (body) => {
      let n = 0;
      for (const raw of JSON.parse(text(body)) as unknown[]) {
        const r = normalizeLiteLlm(raw, litellmCtx);
        if ('ok' in r && r.ok) n++;
      }
      return n;
    },
    parse: parseCount,
  },
  {
    name: 'POST /v1/events (http_events)',
    bodies: eventsBodies,
    convert: (body) => {
      let n = 0;
      for (const raw of (JSON.parse(text(body)) as { events: unknown[] }).events) if (normalizeRecord(raw, eventsCtx).ok) n++;
      return n;
    },
    parse: parseCount,
  },
  {
    name: 'Claude Code transcript lines (claude_code_transcript)',
    bodies: transcriptBodies,
    convert: (body) => {
      let n = 0;
      for (const line of text(body).split('\n')) {
        const read = readTranscriptLine(line, { developer_email: 'alice@acme.com' });
        if (read.kind === 'usage' && normalizeRecord(read.record, transcriptCtx).ok) n++;
      }
      return n;
    },
    parse: parseLines,
  },
  csvCase(
    'Cursor CSV rows (cursor_csv)',
    'cursor',
    csvBodies(cursorRow, (row, n) => ({ ...row, Date: new Date(Date.parse(cursorRow.Date) + n).toISOString() })),
  ),
  csvCase(
    'Anthropic Console usage CSV rows (anthropic)',
    'anthropic',
    csvBodies(consoleRow, (row, n) => ({ ...row, api_key: `key-${n}` })),
  ),
  csvCase(
    'OpenAI usage CSV rows (openai)',
    'openai',
    csvBodies(openaiRow, (row, n) => ({ ...row, user_id: `user-${n}` })),
  ),
  ...benchSources(PER_BODY).map((s: BenchSource): Case => ({
    name: `${s.endpoint} (${s.source})`,
    bodies: Array.from({ length: BODIES }, () => s.body),
    convert: async (body) => {
      const ctx = context(s.source);
      let n = 0;
      for (const row of await s.rows(text(body))) {
        if (buildUsageEvent({ ...row.fields, event_id: deterministicEventId(s.source, row.key) }, ctx).ok) n++;
      }
      return n;
    },
    parse: s.format === 'json' ? parseCount : parseLines,
  })),
];

interface Row {
  name: string;
  eventsPerBody: number;
  eventsPerS: number;
  bytesPerS: number;
  parseBytesPerS: number;
  ratio: number;
}

const rows: Row[] = [];
for (const c of cases) {
  const eventsPerBody = await c.convert(c.bodies[0] as Uint8Array | string);
  if (eventsPerBody === 0) throw new Error(`${c.name}: a body made no event; the bench input is wrong`);
  const bytes = c.bodies.reduce((n, b) => n + (typeof b === 'string' ? Buffer.byteLength(b) : b.byteLength), 0);
  let best = { convert: Infinity, parse: Infinity };
  let sink = 0;
  for (let p = 0; p <= passes; p++) {
    // Taking turns, pass by pass: a slow spell of a shared machine falls on both.
    let t = performance.now();
    for (const b of c.bodies) {
      const n = c.convert(b);
      sink += typeof n === 'number' ? n : await n;
    }
    const convert = performance.now() - t;
    t = performance.now();
    for (const b of c.bodies) sink += c.parse(b);
    const parse = performance.now() - t;
    // Pass 0 warms up.
    if (p > 0) best = { convert: Math.min(best.convert, convert), parse: Math.min(best.parse, parse) };
  }
  if (sink < 0) console.log(sink);
  const events = eventsPerBody * c.bodies.length;
  rows.push({
    name: c.name,
    eventsPerBody,
    eventsPerS: events / (best.convert / 1000),
    bytesPerS: bytes / (best.convert / 1000),
    parseBytesPerS: bytes / (best.parse / 1000),
    ratio: best.parse / best.convert,
  });
}

if (values.json) {
  console.log(JSON.stringify({ passes, bodies: BODIES, rows }, null, 2));
} else {
  const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');
  const out = [
    `normalisation bench: each source from the bytes it arrives as to priced, attributed UsageEvents; ${BODIES} bodies a pass, best of ${passes} after a warm-up, JSON.parse of the same bytes taking turns`,
    '',
    `  ${'source'.padEnd(64)} ${'events/body'.padStart(11)} ${'events/s'.padStart(10)} ${'MB/s'.padStart(7)} ${'parse MB/s'.padStart(10)} ${'x parse'.padStart(7)}`,
  ];
  for (const r of rows) {
    out.push(
      `  ${r.name.padEnd(64)} ${String(r.eventsPerBody).padStart(11)} ${fmt(r.eventsPerS).padStart(10)} ${(r.bytesPerS / 1e6).toFixed(1).padStart(7)} ${(r.parseBytesPerS / 1e6).toFixed(1).padStart(10)} ${r.ratio.toFixed(2).padStart(7)}`,
    );
  }
  out.push('', '  x parse: JSON.parse time of the same bytes over conversion time (for protobuf, of the same body as JSON).');
  console.log(out.join('\n'));
}
