// A restart that refuses nothing: while Claude Code's exporters (which never retry a refused
// export) send every 100 ms over OTLP/HTTP protobuf and OTLP/gRPC, and a script posts to
// /v1/events, a second `burnrate start` on the same data directory takes over from the first.
import { Metadata } from '@grpc/grpc-js';
import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemoryLogRecordExporter, LoggerProvider, type ReadableLogRecord, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@burnrate/core';
import { createChdbStore } from '@burnrate/store';
import { freePort, waitUntil } from '@burnrate/testing';
import {
  type BurnrateProcess,
  INGEST_AUTH,
  startBurnrate,
  startSurroundings,
  type Surroundings,
  TEST_INGEST_KEY,
} from '../test-support/burnrate-process.ts';

const EXPORT_EVERY_MS = 100;
const SUCCESS = 0;

/** One `api_request` record as Claude Code's SDK emits it, with its own request id. */
async function apiRequest(requestId: string): Promise<ReadableLogRecord[]> {
  const memory = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': 'claude-code', 'service.version': '2.1.197' }),
    processors: [new SimpleLogRecordProcessor({ exporter: memory })],
  });
  const now = new Date();
  provider.getLogger('com.anthropic.claude_code.events', '2.1.197').emit({
    timestamp: now,
    body: 'claude_code.api_request',
    attributes: {
      'user.email': 'alice@acme.com',
      'session.id': 'handover-session',
      'event.name': 'api_request',
      'event.timestamp': now.toISOString(),
      request_id: requestId,
      model: 'claude-sonnet-4-5',
      input_tokens: 1200,
      output_tokens: 40,
      cost_usd: 0.02,
    },
  });
  await provider.forceFlush();
  return memory.getFinishedLogRecords();
}

interface Exporter {
  export(items: ReadableLogRecord[], done: (result: { code: number; error?: Error }) => void): void;
  shutdown(): Promise<void>;
}

/**
 * Calls `send` every 100 ms until stopped (and at most 1,200 times: 2 minutes); `send` answers
 * undefined when its export was accepted, else why not, which is kept.
 */
function everyTick(send: (i: number) => Promise<string | undefined>) {
  const refused: string[] = [];
  let accepted = 0;
  let stopped = false;
  const done = (async () => {
    for (let i = 0; i < 1200 && !stopped; i++) {
      const started = performance.now();
      const refusal = await send(i);
      if (refusal === undefined) accepted += 1;
      else refused.push(refusal);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, EXPORT_EVERY_MS - (performance.now() - started))));
    }
  })();
  return {
    refused,
    accepted: () => accepted,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

/** One record an export, through an official OpenTelemetry exporter. */
function exportLoop(name: string, exporter: Exporter) {
  const loop = everyTick(async (i) => {
    const records = await apiRequest(`req_handover_${name}_${i}`);
    const result = await new Promise<{ code: number; error?: Error }>((resolve) => exporter.export(records, resolve));
    return result.code === SUCCESS ? undefined : `${name} #${i}: ${result.error?.message ?? 'failed'}`;
  });
  return { ...loop, stop: () => loop.stop().then(() => exporter.shutdown()) };
}

/** One event a post to /v1/events, over a kept-alive connection (fetch's pool). */
function postLoop(url: () => string) {
  return everyTick(async (i) => {
    try {
      const res = await fetch(`${url()}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...INGEST_AUTH },
        body: JSON.stringify({
          event_id: `handover-post-${i}`,
          occurred_at: new Date().toISOString(),
          developer_email: 'bob@acme.com',
          model: 'claude-sonnet-4-5',
          session_id: 'handover-posts',
          cost_usd: 0.01,
        }),
      });
      const text = await res.text();
      return res.ok ? undefined : `post #${i}: ${res.status} ${text.slice(0, 200)}`;
    } catch (err) {
      return `post #${i}: ${String((err as Error).cause ?? err)}`;
    }
  });
}

describe('burnrate start hands its ports over to a successor', () => {
  let around: Surroundings;
  const running: BurnrateProcess[] = [];

  beforeAll(async () => {
    around = await startSurroundings();
  });

  afterAll(async () => {
    for (const p of running) if (p.child.exitCode === null) await p.stop();
    await around?.close();
  });

  it('refuses no export while a second burnrate start takes over, and stores every accepted one once', async () => {
    const [port, grpcPort] = [await freePort(), await freePort()];
    const env = { ...around.env, BURNRATE_PORT: String(port), BURNRATE_OTLP_GRPC_PORT: String(grpcPort) };
    const first = await startBurnrate(env);
    running.push(first);
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${TEST_INGEST_KEY}`);
    const loops = [
      exportLoop('proto', new ProtoLogExporter({ url: `${first.url}/v1/logs`, headers: INGEST_AUTH })),
      exportLoop('grpc', new GrpcLogExporter({ url: `http://127.0.0.1:${grpcPort}`, metadata })),
      postLoop(() => first.url),
    ];
    await waitUntil(() => loops.every((l) => l.accepted() >= 5), { timeoutMs: 20_000, message: 'every client exporting' });

    const second = await startBurnrate(env, 60_000);
    running.push(second);
    const firstExit = await new Promise<number | null>((resolve) => {
      if (first.child.exitCode !== null) resolve(first.child.exitCode);
      else first.child.once('exit', (code) => resolve(code));
    });
    expect(firstExit).toBe(0);
    expect(first.logs.join('\n')).toMatch(/"signal":"SIGUSR2"/);
    expect(second.logs.join('\n')).toMatch(/taking over from the running burnrate start/);
    expect(second.port).toBe(port);

    // Exports go on against the second process for a while.
    const before = loops.map((l) => l.accepted());
    await waitUntil(() => loops.every((l, i) => l.accepted() >= (before[i] ?? 0) + 10), {
      timeoutMs: 20_000,
      message: 'every client exporting to the successor',
    });
    await Promise.all(loops.map((l) => l.stop()));
    expect(loops.flatMap((l) => l.refused)).toEqual([]);

    const accepted = loops.reduce((sum, l) => sum + l.accepted(), 0);
    expect(await second.stop()).toBe(0);
    const store = await createChdbStore({ dataDir: around.chdbDir, log: createLogger({ level: 'silent' }) });
    try {
      expect(await store.countUsageEvents()).toBe(accepted);
    } finally {
      await store.close();
    }
  });
});
