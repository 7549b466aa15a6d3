// The OTLP receivers against the official OpenTelemetry JS exporters, on real ports: the Claude
// Code capture sent as http/json, http/protobuf and grpc (plain and gzip) becomes the same usage
// events, with the same ids, as the JSON body Claude Code posted.
import { Client, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as JsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemoryLogRecordExporter, LoggerProvider, type ReadableLogRecord, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { AggregationTemporality, MeterProvider, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { type Clock, createHttpServer, createLogger, fixedClock, fixedConfig, parseConfig, systemClock } from '@burnrate/core';
import { TOPICS, UsageEvent } from '@burnrate/schemas';
import { afterEach, describe, expect, it } from 'vitest';
import { createIngestRoutes } from './http.ts';
import { keyHash } from './auth.ts';
import { createOtlpExports } from './otlp-export.ts';
import { createOtlpGrpcServer, type OtlpGrpcServer } from './otlp-grpc.ts';
import { fakeProducer, NOW, readFixture, testConfig, trust } from './test-helpers.ts';

const log = createLogger({ level: 'silent' });
const SUCCESS = 0;

interface KeyValue {
  key: string;
  value: { stringValue?: string; intValue?: number | string; doubleValue?: number; boolValue?: boolean };
}
interface FixtureLogs {
  resourceLogs: {
    resource: { attributes: KeyValue[] };
    scopeLogs: {
      scope: { name: string; version: string };
      logRecords: { timeUnixNano: string; observedTimeUnixNano: string; body: { stringValue: string }; attributes: KeyValue[] }[];
    }[];
  }[];
}

const plain = (kv: KeyValue): string | number | boolean => {
  const { stringValue, intValue, doubleValue, boolValue } = kv.value;
  return stringValue ?? (intValue !== undefined ? Number(intValue) : (doubleValue ?? (boolValue as boolean)));
};
const attributes = (list: KeyValue[]) => Object.fromEntries(list.map((kv) => [kv.key, plain(kv)]));
const hrTime = (nanos: string): [number, number] => [Number(BigInt(nanos) / 1_000_000_000n), Number(BigInt(nanos) % 1_000_000_000n)];

/** The capture's log records re-emitted through the OpenTelemetry SDK, as Claude Code's own SDK makes them. */
async function captureRecords(): Promise<ReadableLogRecord[]> {
  const fixture = JSON.parse(readFixture('logs.json')) as FixtureLogs;
  const resourceLogs = fixture.resourceLogs[0]!;
  const scopeLogs = resourceLogs.scopeLogs[0]!;
  const memory = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({
    resource: resourceFromAttributes(attributes(resourceLogs.resource.attributes)),
    processors: [new SimpleLogRecordProcessor({ exporter: memory })],
  });
  const logger = provider.getLogger(scopeLogs.scope.name, scopeLogs.scope.version);
  for (const record of scopeLogs.logRecords) {
    logger.emit({
      timestamp: hrTime(record.timeUnixNano),
      observedTimestamp: hrTime(record.observedTimeUnixNano),
      body: record.body.stringValue,
      attributes: attributes(record.attributes),
    });
  }
  await provider.forceFlush();
  return memory.getFinishedLogRecords();
}

interface Receivers {
  httpUrl: string;
  grpcUrl: string;
  events(): UsageEvent[];
  producer: ReturnType<typeof fakeProducer>;
  close(): Promise<void>;
}

const open: Receivers[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close()));
});

async function receivers(config = testConfig, clock: Clock = fixedClock(NOW)): Promise<Receivers> {
  const producer = fakeProducer();
  const options = { config: fixedConfig(config), producer, clock, log, ...trust(config) };
  const http = createHttpServer({ routes: createIngestRoutes(options), log });
  const grpc: OtlpGrpcServer = createOtlpGrpcServer({ exports: createOtlpExports(options), gate: options.gate, log });
  const [{ port: httpPort }, { port: grpcPort }] = await Promise.all([http.listen(0, '127.0.0.1'), grpc.listen(0, '127.0.0.1')]);
  const r: Receivers = {
    httpUrl: `http://127.0.0.1:${httpPort}`,
    grpcUrl: `http://127.0.0.1:${grpcPort}`,
    producer,
    events: () => producer.messages(TOPICS.usageEvents.name).map((m) => UsageEvent.parse(m)),
    close: async () => {
      await Promise.all([http.close(), grpc.close(1000)]);
    },
  };
  open.push(r);
  return r;
}

interface Exporter<T> {
  export(items: T, done: (result: { code: number; error?: Error }) => void): void;
  shutdown(): Promise<void>;
}

async function send<T>(exporter: Exporter<T>, items: T): Promise<{ code: number; error?: Error }> {
  const result = await new Promise<{ code: number; error?: Error }>((resolve) => exporter.export(items, resolve));
  await exporter.shutdown();
  return result;
}

/** What Claude Code's http/json export of the capture publishes: the reference. */
async function fromCapturedJson(): Promise<UsageEvent[]> {
  const r = await receivers();
  const res = await fetch(`${r.httpUrl}/v1/logs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: readFixture('logs.json'),
  });
  expect(res.status).toBe(200);
  return r.events();
}

describe('OTLP logs from the official OpenTelemetry exporters', () => {
  const transports: { name: string; exporter: (r: Receivers) => Exporter<ReadableLogRecord[]> }[] = [
    { name: 'http/json', exporter: (r) => new JsonLogExporter({ url: `${r.httpUrl}/v1/logs` }) },
    { name: 'http/protobuf', exporter: (r) => new ProtoLogExporter({ url: `${r.httpUrl}/v1/logs` }) },
    {
      name: 'http/protobuf, gzip',
      exporter: (r) => new ProtoLogExporter({ url: `${r.httpUrl}/v1/logs`, compression: CompressionAlgorithm.GZIP }),
    },
    { name: 'grpc', exporter: (r) => new GrpcLogExporter({ url: r.grpcUrl }) },
    { name: 'grpc, gzip', exporter: (r) => new GrpcLogExporter({ url: r.grpcUrl, compression: CompressionAlgorithm.GZIP }) },
  ];

  for (const { name, exporter } of transports) {
    it(`${name}: the same usage events as Claude Code's JSON body`, async () => {
      const reference = await fromCapturedJson();
      expect(reference).toHaveLength(1);
      const r = await receivers();
      const result = await send(exporter(r), await captureRecords());
      expect(result.error?.message).toBeUndefined();
      expect(result.code).toBe(SUCCESS);
      expect(r.events()).toEqual(reference);
    });
  }

  it('grpc: a wrong key is UNAUTHENTICATED with the reason, and nothing is published', async () => {
    const config = parseConfig(`
org: acme
ingest: { auth: keys }
sources:
  - name: laptops
    keys: [{ sha256: ${keyHash('brk_right')} }]
teams:
  - id: payments
    members: [alice@acme.com]
`);
    const r = await receivers(config);
    const metadata = new Metadata();
    metadata.set('authorization', 'Bearer brk_wrong');
    const result = await send(new GrpcLogExporter({ url: r.grpcUrl, metadata }), await captureRecords());
    expect(result.code).not.toBe(SUCCESS);
    expect(result.error?.message).toMatch(/the key is not a key of any source in burnrate.yaml/);
    expect(r.events()).toEqual([]);

    const allowed = new Metadata();
    allowed.set('authorization', 'Bearer brk_right');
    expect((await send(new GrpcLogExporter({ url: r.grpcUrl, metadata: allowed }), await captureRecords())).code).toBe(SUCCESS);
    expect(r.events()).toHaveLength(1);
  });
});

/** A raw unary call to an OTLP Export method, for the answers an exporter would hide behind its retries. */
async function rawCall(url: string, path: string, body: Buffer): Promise<ServiceError | null> {
  const client = new Client(url.replace('http://', ''), credentials.createInsecure());
  try {
    return await new Promise<ServiceError | null>((resolve) => {
      client.makeUnaryRequest(
        path,
        (b: Buffer) => b,
        (b: Buffer) => b,
        body,
        (err) => resolve(err ?? null),
      );
    });
  } finally {
    client.close();
  }
}

describe('OTLP/gRPC answers', () => {
  const LOGS = '/opentelemetry.proto.collector.logs.v1.LogsService/Export';

  it('refuses bytes that are not an export request as INVALID_ARGUMENT, naming the message it expected', async () => {
    const r = await receivers();
    const err = await rawCall(r.grpcUrl, LOGS, Buffer.from('not protobuf at all'));
    expect(err?.code).toBe(status.INVALID_ARGUMENT);
    expect(err?.details).toMatch(/^request body is not an OTLP ExportLogsServiceRequest in protobuf/);
  });

  it('answers UNAVAILABLE, which exporters retry, while the bus cannot take the events', async () => {
    const r = await receivers();
    r.producer.failWith = new Error('disk full');
    const records = await captureRecords();
    const { ProtobufLogsSerializer } = await import('@opentelemetry/otlp-transformer');
    const body = Buffer.from(ProtobufLogsSerializer.serializeRequest(records) as Uint8Array);
    const err = await rawCall(r.grpcUrl, LOGS, body);
    expect(err?.code).toBe(status.UNAVAILABLE);
    expect(err?.details).toBe('the event bus is unavailable, so nothing from this request was stored; retry later');
    r.producer.failWith = undefined;
    expect(await rawCall(r.grpcUrl, LOGS, body)).toBeNull();
    expect(r.events()).toHaveLength(1);
  });
});

describe('OTLP metrics from the official exporters', () => {
  /** A counter like claude_code.cost.usage, collected once and handed to `exporter`. */
  async function exportCost(exporter: PushMetricExporter): Promise<{ code: number; error?: Error }> {
    let collected: ResourceMetrics | undefined;
    const capture: PushMetricExporter = {
      export: (metrics, done) => {
        collected = metrics;
        done({ code: SUCCESS });
      },
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
      selectAggregationTemporality: () => AggregationTemporality.DELTA,
    };
    const { PeriodicExportingMetricReader } = await import('@opentelemetry/sdk-metrics');
    const reader = new PeriodicExportingMetricReader({ exporter: capture, exportIntervalMillis: 3_600_000 });
    const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'claude-code' }), readers: [reader] });
    provider
      .getMeter('com.anthropic.claude_code', '2.1.197')
      .createCounter('claude_code.cost.usage', { unit: 'USD' })
      .add(0.02895, { 'session.id': '28b333cc-5c7f-40da-90a0-4dca26f1b4f5', model: 'claude-sonnet-4-5', 'user.email': 'alice@acme.com' });
    await provider.forceFlush();
    await provider.shutdown();
    return send(exporter as Exporter<ResourceMetrics>, collected as ResourceMetrics);
  }

  it('takes http/protobuf and grpc metrics exports, the cost of each interval as a claude_code_metrics event', async () => {
    // The SDK stamps points with the real time.
    const r = await receivers(testConfig, systemClock);
    expect((await exportCost(new ProtoMetricExporter({ url: `${r.httpUrl}/v1/metrics` }))).code).toBe(SUCCESS);
    expect((await exportCost(new GrpcMetricExporter({ url: r.grpcUrl, compression: CompressionAlgorithm.GZIP }))).code).toBe(SUCCESS);
    const metric = {
      source: 'claude_code_metrics',
      granularity: '1m',
      developer: 'alice@acme.com',
      session_id: '28b333cc-5c7f-40da-90a0-4dca26f1b4f5',
      model: 'claude-sonnet-4-5',
      cost_usd: 0.02895,
    };
    expect(r.events()).toEqual([expect.objectContaining(metric), expect.objectContaining(metric)]);
  });
});
