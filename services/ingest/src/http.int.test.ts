import { type Batch, type Bus, createInProcessBus } from '@burnrate/bus';
import { createHttpServer, createLogger, fixedClock, type HttpServer, fixedConfig } from '@burnrate/core';
import { TOPICS, UsageEvent } from '@burnrate/schemas';
import { waitUntil } from '@burnrate/testing';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { createIngestRoutes } from './http.ts';
import { NOW, readFixture, testConfig, trust } from './test-helpers.ts';

const log = createLogger({ level: 'silent' });
const cleanup: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function start(): Promise<{ url: string; bus: Bus; server: HttpServer }> {
  const dir = await mkdtemp(join(tmpdir(), 'burnrate-ingest-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const bus = createInProcessBus({ dir, log });
  cleanup.push(() => bus.close());
  await bus.ensureTopics([TOPICS.usageEvents.name, TOPICS.usageDlq.name]);
  const routes = createIngestRoutes({
    config: fixedConfig(testConfig),
    producer: bus.producer(),
    clock: fixedClock(NOW),
    log,
    ...trust(testConfig),
  });
  const server = createHttpServer({ routes, log, bodyLimitBytes: 1024 * 1024 });
  cleanup.push(() => server.close());
  const { port } = await server.listen(0, '127.0.0.1');
  return { url: `http://127.0.0.1:${port}`, bus, server };
}

async function readTopic(bus: Bus, topic: string, count: number): Promise<string[]> {
  const values: string[] = [];
  const sub = bus.subscribe({
    groupId: `test-${topic}`,
    topics: [topic],
    handleBatch: (batch: Batch) => {
      values.push(...batch.messages.map((m) => m.value));
      return Promise.resolve();
    },
  });
  await sub.start();
  try {
    await waitUntil(() => values.length >= count, { message: `${count} messages on ${topic}, got ${values.length}` });
  } finally {
    await sub.stop();
  }
  return values;
}

describe('ingest over HTTP into the in-process bus', () => {
  it('an OTLP gzip export from Claude Code is on usage.events.v1 once the 200 arrives', async () => {
    const { url, bus } = await start();
    const res = await fetch(`${url}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(readFixture('logs.json')),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ partialSuccess: {} });

    const values = await readTopic(bus, TOPICS.usageEvents.name, 1);
    expect(values).toHaveLength(1);
    expect(UsageEvent.parse(JSON.parse(values[0] ?? ''))).toMatchObject({
      source: 'claude_code_otel',
      cost_usd: 0.02895,
      input_tokens: 1200,
    });
  });

  it('a partly bad /v1/events batch lands on both topics', async () => {
    const { url, bus } = await start();
    const good = { occurred_at: '2026-11-28T10:00:00Z', developer: 'bob', model: 'gpt-5', cost_usd: 0.5 };
    const res = await fetch(`${url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: `${JSON.stringify(good)}\n{"model": "gpt-5"}\n`,
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      accepted: 1,
      rejected: [
        { index: 1, field: 'occurred_at', message: 'is required' },
        { index: 1, field: 'developer_email', message: 'a record needs developer_email or developer' },
      ],
    });
    expect(await readTopic(bus, TOPICS.usageEvents.name, 1)).toHaveLength(1);
    const dlq = await readTopic(bus, TOPICS.usageDlq.name, 1);
    expect(JSON.parse(dlq[0] ?? '')).toMatchObject({ source: 'http_events', index: 1 });
  });

  it('a hostile batch over the real port: the good records on usage.events.v1, each bad one on the DLQ, no 5xx', async () => {
    const { url, bus } = await start();
    const good = (i: number) => ({ occurred_at: '2026-11-28T10:00:00Z', developer: `dev-${i}`, model: 'gpt-5', cost_usd: 0.5 });
    const bad = [
      { ...good(1), cost_usd: 1e308 },
      { ...good(2), occurred_at: '9999-12-31T23:59:59Z' },
      { ...good(3), developer: 'x\ud800' },
      { ...good(4), attributes: { constructor: 'x' } },
    ];
    const deep = `${'['.repeat(5_000)}${']'.repeat(5_000)}`;
    const body = `[${JSON.stringify(good(0))},${bad.map((r) => JSON.stringify(r)).join(',')},${deep},${JSON.stringify(good(5))}]`;
    const res = await fetch(`${url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(400);
    const answer = (await res.json()) as { accepted: number; rejected: { index: number; field: string }[] };
    expect(answer.accepted).toBe(2);
    expect(answer.rejected.map((r) => [r.index, r.field])).toEqual([
      [1, 'cost_usd'],
      [2, 'occurred_at'],
      [3, 'developer'],
      [4, 'attributes.constructor'],
      [5, '(record)'],
    ]);
    const events = (await readTopic(bus, TOPICS.usageEvents.name, 2)).map((v) => UsageEvent.parse(JSON.parse(v)));
    expect(events.map((e) => e.developer)).toEqual(['dev-0', 'dev-5']);
    const dead = (await readTopic(bus, TOPICS.usageDlq.name, 5)).map((v) => JSON.parse(v) as { index: number; raw: string });
    expect(dead.map((d) => d.index)).toEqual([1, 2, 3, 4, 5]);
    expect(dead[4]?.raw).toBe(deep);
  });
});
