// Shared by this package's tests only; not exported from index.ts.
import { readFileSync } from 'node:fs';
import type { OutgoingMessage, Producer } from '@burnrate/bus';
import { type Clock, type Config, createLogger, fixedConfig, parseConfig } from '@burnrate/core';
import { createEventLedger, createIngestCore, createIngestGate, type IngestCore, type NormalizeContext } from '@burnrate/ingest';
import { TOPICS, type DlqRecord, type UsageEvent } from '@burnrate/schemas';
import type { ProviderHttp, ProviderPost, ProviderRequest } from './provider-http.ts';
import type { PremiumUsageItem } from './sources/copilot.ts';

export const testConfig: Config = parseConfig(`
org: acme
ingest: { auth: none }
teams:
  - id: payments
    members:
      - email: alice@acme.com
        aliases: [user_01WCz1FkmYMm4gnmykNKUu3Q, user-alice, alice-octo]
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
  | 'cursor-filtered-usage-events.json'
  | 'cursor-daily-usage-data.json'
  | 'github-premium-request-usage.json'
  | 'github-copilot-users-1-day.ndjson';

export function readFixture(name: FixtureName): unknown {
  return JSON.parse(readFixtureText(name)) as unknown;
}

/** A fixture's text, for one that is not a JSON document (NDJSON). */
export function readFixtureText(name: FixtureName): string {
  return readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
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

/** An item of GitHub's premium-request usage: `requests` of the fixture's `model`, `net` USD of them beyond the allowance. */
export function premiumItem(model: string, requests: number, net: number): PremiumUsageItem {
  const page = readFixture('github-premium-request-usage.json') as { usageItems: PremiumUsageItem[] };
  const template = page.usageItems.find((i) => i.model === model);
  if (template === undefined) throw new Error(`no ${model} in the premium usage fixture`);
  const price = template.pricePerUnit ?? 0.04;
  // To 1e-10, as GitHub's decimals: 0.1 / 0.04 is 2.5, not 2.5000000000000004.
  const round = (n: number): number => Math.round(n * 1e10) / 1e10;
  return {
    ...template,
    grossQuantity: requests,
    grossAmount: round(requests * price),
    discountQuantity: round(requests - net / price),
    discountAmount: round(requests * price - net),
    netQuantity: round(net / price),
    netAmount: net,
  };
}

/** A Copilot seat of GitHub's listing, assigned to `login`. */
export function copilotSeat(login: string, lastActivityAt: string | null): Record<string, unknown> {
  return {
    created_at: '2026-01-05T10:00:00Z',
    last_activity_at: lastActivityAt,
    last_activity_editor: 'vscode/1.106.2/copilot-chat/0.33.1',
    plan_type: 'business',
    assignee: { login, id: 1000 + login.length, type: 'User' },
  };
}
