// `npm run bench:ingest`: Burnrate's whole embedded pipeline against the OpenTelemetry Collector,
// per server CPU-second, in one run on this machine. Both take the same bodies (100 Claude Code
// `api_request` log records each, cloned from services/ingest/fixtures with unique ids) from one
// keep-alive client at each concurrency; the collector runs OTLP/HTTP → batch → nop (it stores
// nothing), Burnrate prices, attributes, writes its log, stores into chdb and detects. For
// Burnrate the CPU it spends catching up after the load (until every stage's lag is 0) is counted
// too, and the events stored are checked against the records it accepted.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createHash } from 'node:crypto';
import { createLogger } from '@burnrate/core';
import { otlpTypes } from '@burnrate/ingest';
import { createChdbStore } from '@burnrate/store';
import { startOtelcol } from '../otelcol/otelcol-lib.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    concurrency: { type: 'string', default: '8,32' },
    json: { type: 'boolean', default: false },
    // Only the rows of these transports (comma-separated: json, protobuf, events); default all.
    transport: { type: 'string', default: 'json,protobuf,events' },
    // Writes a V8 CPU profile of each burnrate start (main thread and workers) into this directory.
    profile: { type: 'string' },
    // Skips the collector's rows (a profile or a quick look at Burnrate alone).
    'no-collector': { type: 'boolean', default: false },
  },
});
const SECONDS = Math.max(1, Number(values.seconds));
const CONCURRENCIES = (values.concurrency ?? '8,32').split(',').map(Number);
const PER_BODY = 100;
const KEY = 'brk_bench_4c9f1e0b7a2d5c8e3f6a9b1d4e7c0a2f';
const MAIN = fileURLToPath(new URL('../../services/cli/src/main.ts', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../../services/ingest/fixtures/claude-code-otlp/logs.json', import.meta.url));
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const say = (line: string): void => void process.stderr.write(`${line}\n`);

// ---- bodies --------------------------------------------------------------------------------------
// A record's id is a 12-digit counter written into a fixed place of a template, so each request
// is a copy of the template with its digits patched: cheap enough that the client is not the limit.
const DIGITS = 12;
const MARK = 'Q'.repeat(DIGITS);

type KeyValue = { key: string; value: Record<string, unknown> };
type Logs = { resourceLogs: { resource: unknown; scopeLogs: { scope: unknown; logRecords: { attributes: KeyValue[] }[] }[] }[] };
const logs = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Logs;
const resourceLogs = logs.resourceLogs[0];
const scope = resourceLogs?.scopeLogs[0];
const apiRequest = scope?.logRecords.find((r) => r.attributes.some((a) => a.key === 'event.name' && a.value.stringValue === 'api_request'));
if (resourceLogs === undefined || scope === undefined || apiRequest === undefined) throw new Error(`${FIXTURE} has no api_request record`);
const logsBody = {
  resourceLogs: [
    {
      ...resourceLogs,
      scopeLogs: [
        {
          ...scope,
          logRecords: Array.from({ length: PER_BODY }, () => ({
            ...apiRequest,
            attributes: [
              ...apiRequest.attributes.filter((a) => a.key !== 'user.id'),
              { key: 'user.email', value: { stringValue: 'alice@acme.com' } },
              { key: 'request_id', value: { stringValue: `req_bench_${MARK}` } },
            ],
          })),
        },
      ],
    },
  ],
};
const logsJson = Buffer.from(JSON.stringify(logsBody));
const logsType = otlpTypes('logs').request;
const logsProto = Buffer.from(logsType.encode(logsType.fromObject(logsBody)).finish());
const eventsJson = Buffer.from(
  JSON.stringify(
    Array.from({ length: PER_BODY }, () => ({
      event_id: `bench-${MARK}`,
      occurred_at: '2026-12-07T10:00:00.000Z',
      developer_email: 'alice@acme.com',
      session_id: 'bench-session',
      model: 'claude-sonnet-4-5',
      input_tokens: 1200,
      output_tokens: 40,
      cache_read_tokens: 20_000,
    })),
  ),
);

/** Where the counter goes in `template`, one place per record. */
function marks(template: Buffer): number[] {
  const at: number[] = [];
  for (let i = template.indexOf(MARK); i >= 0; i = template.indexOf(MARK, i + DIGITS)) at.push(i);
  if (at.length !== PER_BODY) throw new Error(`a body template has ${at.length} ids, not ${PER_BODY}`);
  return at;
}

interface Transport {
  name: string;
  path: string;
  contentType: string;
  template: Buffer;
  at: number[];
  /** Whether the collector takes it (it speaks OTLP only). */
  collector: boolean;
}
const ALL_TRANSPORTS: (Transport & { flag: string })[] = [
  {
    flag: 'json',
    name: 'OTLP/HTTP JSON',
    path: '/v1/logs',
    contentType: 'application/json',
    template: logsJson,
    at: marks(logsJson),
    collector: true,
  },
  {
    flag: 'protobuf',
    name: 'OTLP/HTTP protobuf',
    path: '/v1/logs',
    contentType: 'application/x-protobuf',
    template: logsProto,
    at: marks(logsProto),
    collector: true,
  },
  {
    flag: 'events',
    name: 'POST /v1/events',
    path: '/v1/events',
    contentType: 'application/json',
    template: eventsJson,
    at: marks(eventsJson),
    collector: false,
  },
];
const wanted = new Set((values.transport ?? '').split(',').map((x) => x.trim()));
const unknown = [...wanted].filter((w) => !ALL_TRANSPORTS.some((t) => t.flag === w));
if (unknown.length > 0) throw new Error(`--transport: unknown ${unknown.join(', ')} (expected json, protobuf or events)`);
const TRANSPORTS: Transport[] = ALL_TRANSPORTS.filter((t) => wanted.has(t.flag));

let counter = 0;
function nextBody(t: Transport): Buffer {
  const body = Buffer.from(t.template);
  for (const at of t.at) body.write(String(counter++).padStart(DIGITS, '0'), at, 'latin1');
  return body;
}

// ---- servers ---------------------------------------------------------------------------------------
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** Seconds of CPU `pid` used so far (user + system), from /proc. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** CPU-seconds per thread name of `pid` (the kernel's comm: node's main thread, libuv workers, ClickHouse's pools). */
function threadCpuSeconds(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/[0-9]+$/, '');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(name, (out.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) / CLK_TCK);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

interface Server {
  name: string;
  pid: number;
  url: string;
  stop(): Promise<void>;
}

async function startCollector(dir: string): Promise<Server> {
  const port = await freePort();
  const config = join(dir, 'otelcol.yaml');
  await writeFile(
    config,
    `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${port}
processors:
  batch: {}
exporters:
  nop: {}
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    logs:
      receivers: [otlp]
      processors: [batch]
      exporters: [nop]
`,
  );
  const collector = await startOtelcol(config, { log: { info: say } });
  return {
    name: 'OpenTelemetry Collector (OTLP/HTTP → batch → nop)',
    pid: collector.pid,
    url: `http://127.0.0.1:${port}`,
    stop: async () => void (await collector.stop()),
  };
}

const BURNRATE_CONFIG = `
org: acme
sources:
  - name: bench
    keys: [${createHash('sha256').update(KEY).digest('hex')}]
    rate_limit: { requests_per_second: 1000000, burst: 1000000 }
teams:
  - id: payments
    members: [alice@acme.com]
`;

async function startBurnrate(dir: string): Promise<Server & { dataDir: string }> {
  const port = await freePort();
  const configPath = join(dir, 'burnrate.yaml');
  await writeFile(configPath, BURNRATE_CONFIG);
  const dataDir = join(dir, 'data');
  const profile = values.profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${values.profile}`];
  const child: ChildProcess = spawn(process.execPath, [...profile, MAIN, 'start'], {
    env: {
      PATH: process.env.PATH ?? '',
      BURNRATE_CONFIG: configPath,
      BURNRATE_DATA_DIR: dataDir,
      BURNRATE_PORT: String(port),
      BURNRATE_OTLP_GRPC_PORT: 'off',
      BURNRATE_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`burnrate start exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error('burnrate start did not answer /healthz within 60 s');
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    name: 'burnrate start (embedded)',
    pid: child.pid as number,
    url,
    dataDir,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Waits until every stage of burnrate start has processed what its log holds (lag 0 twice). */
async function waitForLagZero(url: string): Promise<void> {
  let zeros = 0;
  const deadline = Date.now() + 10 * 60_000;
  while (zeros < 2) {
    if (Date.now() > deadline) throw new Error('burnrate start did not catch up within 10 minutes');
    const health = (await (await fetch(`${url}/healthz`)).json()) as { lag: Record<string, number> };
    zeros = Object.values(health.lag).every((l) => l === 0) ? zeros + 1 : 0;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// ---- load ------------------------------------------------------------------------------------------
interface Result {
  server: string;
  transport: string;
  concurrency: number;
  records: number;
  refused: number;
  seconds: number;
  recordsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  cpuSeconds: number;
  recordsPerCpuSecond: number;
  /** CPU-seconds per thread name over the row (0.05 s and more). */
  threads: Record<string, number>;
  stored?: number;
}

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

async function drive(
  server: Server,
  t: Transport,
  concurrency: number,
  fresh: boolean,
): Promise<Omit<Result, 'cpuSeconds' | 'recordsPerCpuSecond' | 'threads'>> {
  const latencies: number[] = [];
  let records = 0;
  let refused = 0;
  const started = performance.now();
  const end = started + SECONDS * 1000;
  // The collector stores nothing: its bodies may repeat. Burnrate's must not (stored = accepted).
  const pool = Array.from({ length: 64 }, () => nextBody(t));
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const body = fresh ? nextBody(t) : (pool[sent++ % pool.length] as Buffer);
      const at = performance.now();
      const res = await fetch(`${server.url}${t.path}`, {
        method: 'POST',
        headers: { 'content-type': t.contentType, authorization: `Bearer ${KEY}` },
        body,
      });
      await res.arrayBuffer();
      latencies.push(performance.now() - at);
      if (res.ok) records += PER_BODY;
      else refused += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    server: server.name,
    transport: t.name,
    concurrency,
    records,
    refused,
    seconds,
    recordsPerSecond: records / seconds,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
  };
}

async function measure(server: Server, t: Transport, concurrency: number, after?: () => Promise<void>): Promise<Result> {
  const cpuBefore = cpuSeconds(server.pid);
  const threadsBefore = threadCpuSeconds(server.pid);
  const run = await drive(server, t, concurrency, after !== undefined);
  await after?.();
  const cpu = cpuSeconds(server.pid) - cpuBefore;
  const threads: Record<string, number> = {};
  for (const [name, seconds] of threadCpuSeconds(server.pid)) {
    const used = seconds - (threadsBefore.get(name) ?? 0);
    if (used >= 0.05) threads[name] = Math.round(used * 100) / 100;
  }
  return { ...run, cpuSeconds: cpu, recordsPerCpuSecond: run.records / cpu, threads };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'burnrate-bench-ingest-'));
  const results: Result[] = [];
  try {
    if (!values['no-collector']) {
      say('starting the OpenTelemetry Collector (built on first run)…');
      const collector = await startCollector(dir);
      try {
        for (const t of TRANSPORTS.filter((x) => x.collector)) {
          for (const c of CONCURRENCIES) {
            say(`collector: ${t.name}, concurrency ${c}, ${SECONDS} s`);
            results.push(await measure(collector, t, c));
          }
        }
      } finally {
        await collector.stop();
      }
    }
    for (const t of TRANSPORTS) {
      for (const c of CONCURRENCIES) {
        // A fresh data directory each: the same work for every row.
        const runDir = await mkdtemp(join(dir, 'burnrate-'));
        const burnrate = await startBurnrate(runDir);
        say(`burnrate: ${t.name}, concurrency ${c}, ${SECONDS} s, then until lag 0`);
        let result: Result;
        try {
          result = await measure(burnrate, t, c, () => waitForLagZero(burnrate.url));
        } finally {
          await burnrate.stop();
        }
        const store = await createChdbStore({ dataDir: join(burnrate.dataDir, 'chdb'), log: createLogger({ level: 'silent' }) });
        try {
          result.stored = await store.countUsageEvents();
        } finally {
          await store.close();
        }
        results.push(result);
        await rm(runDir, { recursive: true, force: true });
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  report(results);
}

function report(results: Result[]): void {
  const collectorOf = (r: Result): Result | undefined =>
    results.find((c) => c.server.startsWith('OpenTelemetry') && c.transport === r.transport && c.concurrency === r.concurrency);
  const verdicts: string[] = [];
  for (const r of results.filter((x) => x.server.startsWith('burnrate'))) {
    const base = collectorOf(r);
    const ratio = base === undefined ? undefined : r.recordsPerCpuSecond / base.recordsPerCpuSecond;
    if (r.transport === 'OTLP/HTTP JSON' && r.concurrency === 8) {
      verdicts.push(
        `${ratio !== undefined && ratio >= 0.5 ? 'PASS' : 'FAIL'} records per CPU-second ${ratio?.toFixed(2) ?? '-'}× the collector's (target >= 0.5×)`,
        `${r.p99Ms <= 100 ? 'PASS' : 'FAIL'} p99 ${r.p99Ms.toFixed(1)} ms (target <= 100 ms)`,
      );
    }
    verdicts.push(
      `${r.stored === r.records ? 'PASS' : 'FAIL'} ${r.transport} c${r.concurrency}: stored ${r.stored ?? '?'} = accepted ${r.records}${r.refused > 0 ? `, ${r.refused} requests refused` : ''}`,
    );
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ results, verdicts }, null, 2)}\n`);
    return;
  }
  const n = (x: number, digits = 0): string => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const lines = [
    `bench:ingest: ${SECONDS} s per row, one keep-alive client, ${PER_BODY} Claude Code api_request records a body; CPU from /proc (Burnrate's until lag 0)`,
    '',
    `  ${'server'.padEnd(50)} ${'transport'.padEnd(19)} ${'conc'.padStart(4)} ${'records/s'.padStart(10)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'CPU s'.padStart(6)} ${'rec/CPU-s'.padStart(10)} ${'x coll'.padStart(6)}`,
  ];
  for (const r of results) {
    const base = r.server.startsWith('burnrate') ? collectorOf(r) : undefined;
    lines.push(
      `  ${r.server.padEnd(50)} ${r.transport.padEnd(19)} ${String(r.concurrency).padStart(4)} ${n(r.recordsPerSecond).padStart(10)} ${n(r.p50Ms, 1).padStart(7)} ${n(r.p99Ms, 1).padStart(7)} ${n(r.cpuSeconds, 1).padStart(6)} ${n(r.recordsPerCpuSecond).padStart(10)} ${(base ? (r.recordsPerCpuSecond / base.recordsPerCpuSecond).toFixed(2) : '').padStart(6)}`,
    );
  }
  lines.push('', '  CPU-seconds by thread (name as the kernel has it):');
  for (const r of results) {
    const by = Object.entries(r.threads).sort((a, b) => b[1] - a[1]);
    lines.push(`  ${r.server.slice(0, 24)} ${r.transport} c${r.concurrency}: ${by.map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}`);
  }
  lines.push('', ...verdicts.map((v) => `  ${v}`));
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
