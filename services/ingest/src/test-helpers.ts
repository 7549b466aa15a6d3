// Shared by this package's tests only; not exported from index.ts.
import type { OutgoingMessage, Producer } from '@burnrate/bus';
import { type Config, createLogger, fixedClock, fixedConfig, parseConfig } from '@burnrate/core';
import { createPriceCatalog } from '@burnrate/pricing';
import { readFileSync } from 'node:fs';
import { createAttributor } from './attribution.ts';
import { createIngestGate, type IngestGate } from './auth.ts';
import { createEventLedger, type EventLedger } from './ledger.ts';
import type { NormalizeContext } from './normalize.ts';

export const NOW = new Date('2026-11-28T21:40:00.000Z');

// Open ingest: these tests are about parsing and publishing; auth.test.ts and http-trust.test.ts use keys.
export const testConfig: Config = parseConfig(`
org: acme
ingest: { auth: none }
teams:
  - id: payments
    members: [alice@acme.com]
  - id: platform
ownership:
  - match: { team_id: platform }
    team: platform
`);

export function testContext(source = 'http_events'): NormalizeContext {
  return {
    org: 'acme',
    source,
    catalog: createPriceCatalog(),
    attribute: createAttributor(testConfig),
    clock: fixedClock(NOW),
    limits: testConfig.ingest.limits,
  };
}

export function readFixture(name: 'logs.json' | 'metrics.json'): string {
  return readFileSync(new URL(`../fixtures/claude-code-otlp/${name}`, import.meta.url), 'utf8');
}

/** An in-memory Producer: records what was sent; can be told to fail or to hold sends open. */
export function fakeProducer(): Producer & {
  sent: { topic: string; messages: OutgoingMessage[] }[];
  failWith: Error | undefined;
  messages(topic: string): unknown[];
} {
  const fake = {
    sent: [] as { topic: string; messages: OutgoingMessage[] }[],
    failWith: undefined as Error | undefined,
    send(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
      if (fake.failWith) return Promise.reject(fake.failWith);
      fake.sent.push({ topic, messages: [...messages] });
      return Promise.resolve();
    },
    messages(topic: string): unknown[] {
      return fake.sent.filter((s) => s.topic === topic).flatMap((s) => s.messages.map((m) => JSON.parse(m.value) as unknown));
    },
  };
  return fake;
}

/** The gate and ledger createIngestRoutes needs, over `config`, at the fixed test clock unless told otherwise. */
export function trust(config: Config, now: () => number = () => NOW.getTime()): { gate: IngestGate; ledger: EventLedger } {
  const log = createLogger({ level: 'silent' });
  return {
    gate: createIngestGate({ config: fixedConfig(config), now, log }),
    ledger: createEventLedger({ windowMs: config.ingest.dedupe_window, now }),
  };
}
