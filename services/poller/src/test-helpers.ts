// Shared by this package's tests only; not exported from index.ts.
import { readFileSync } from 'node:fs';
import type { OutgoingMessage, Producer } from '@burnrate/bus';
import { type Clock, type Config, createLogger, fixedConfig, parseConfig } from '@burnrate/core';
import { createEventLedger, createIngestCore, createIngestGate, type IngestCore, type NormalizeContext } from '@burnrate/ingest';
import { TOPICS, type DlqRecord, type UsageEvent } from '@burnrate/schemas';
import type { ProviderHttp, ProviderPost, ProviderRequest } from './provider-http.ts';

export const testConfig: Config = parseConfig(`
org: acme
ingest: { auth: none }
teams:
  - id: payments
    members:
      - email: alice@acme.com
        aliases: [user_01WCz1FkmYMm4gnmykNKUu3Q, user-alice]
  - id: platform
ownership:
  - match: { project: wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ }
    team: platform
  - match: { project: proj_abc123 }
    team: platform
`);

export const silentLog = createLogger({ level: 'silent' });

export type FixtureName =
  | 'anthropic-usage-report.json'
  | 'anthropic-cost-report.json'
  | 'claude-code-analytics.json'
  | 'openai-usage-completions.json'
  | 'openai-costs.json'
  | 'cursor-filtered-usage-events.json';

export function readFixture(name: FixtureName): unknown {
  return JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')) as unknown;
}

/**
 * A ProviderHttp that answers each request (a GET, a POST or a download) with the next of `pages`
 * and records what was asked; a page that is an Error is thrown instead.
 */
export function pagesHttp(pages: unknown[]): ProviderHttp & { requests: ProviderRequest[]; posts: ProviderPost[]; downloads: string[] } {
  const requests: ProviderRequest[] = [];
  const posts: ProviderPost[] = [];
  const downloads: string[] = [];
  const next = <T>(): Promise<T> => {
    const page = pages.shift();
    return page instanceof Error ? Promise.reject(page) : Promise.resolve(page as T);
  };
  return {
    requests,
    posts,
    downloads,
    getJson: (request) => {
      requests.push(request);
      return next();
    },
    postJson: (request) => {
      posts.push(request);
      return next();
    },
    download: (url) => {
      downloads.push(url);
      return next<string>();
    },
  };
}

/** A Producer that records what was sent, and fails while `failWith` is set. */
export function recordingProducer(): Producer & { failWith: Error | undefined; events(): UsageEvent[]; dlq(): DlqRecord[] } {
  const sent: { topic: string; messages: OutgoingMessage[] }[] = [];
  const parsed = (topic: string): unknown[] =>
    sent.filter((s) => s.topic === topic).flatMap((s) => s.messages.map((m) => JSON.parse(m.value) as unknown));
  const producer = {
    failWith: undefined as Error | undefined,
    send(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
      if (producer.failWith) return Promise.reject(producer.failWith);
      sent.push({ topic, messages: [...messages] });
      return Promise.resolve();
    },
    events: () => parsed(TOPICS.usageEvents.name) as UsageEvent[],
    dlq: () => parsed(TOPICS.usageDlq.name) as DlqRecord[],
  };
  return producer;
}

/** The ingest core a poller publishes through, over the test config, with its own ledger. */
export function testIngest(producer: Producer, clock: Clock): IngestCore {
  const config = fixedConfig(testConfig);
  const now = (): number => clock.now().getTime();
  return createIngestCore({
    config,
    producer,
    clock,
    log: silentLog,
    gate: createIngestGate({ config, now, log: silentLog }),
    ledger: createEventLedger({ windowMs: testConfig.ingest.dedupe_window, now }),
  });
}

export function testContext(ingest: IngestCore, source: string): NormalizeContext {
  return ingest.context(source, { source: 'poller', claims: undefined });
}
