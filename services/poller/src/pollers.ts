import { join } from 'node:path';
import { BurnrateError, type Clock, type Logger } from '@burnrate/core';
import type { IngestCore } from '@burnrate/ingest';
import { createPoller, type Poller, type PollerHealth } from './poller.ts';
import { stateFile } from './poller-state.ts';
import { createProviderHttp, type ProviderHttpOptions } from './provider-http.ts';
import type { PollerSettings } from './settings.ts';
import type { UsageSource } from './source.ts';
import { anthropicCostReport, anthropicHeaders, anthropicUsageReport } from './sources/anthropic.ts';
import { claudeCodeAnalytics } from './sources/claude-code-analytics.ts';
import { COPILOT_PREMIUM_SOURCE, copilotMetricsReports, copilotPremiumUsage, githubHeaders } from './sources/copilot.ts';
import { cursorDailyUsage, cursorHeaders, cursorUsageEvents } from './sources/cursor.ts';
import { openaiCompletionsUsage, openaiCosts, openaiHeaders } from './sources/openai.ts';

const USER_AGENT = 'burnrate-poller/0.1';

/** A provider: the setting that turns it on, how to call it, and the reports read from it. */
interface Provider {
  name: string;
  key: (settings: PollerSettings) => string | undefined;
  baseUrl: (settings: PollerSettings) => string;
  headers: (key: string) => Record<string, string>;
  sources: (settings: PollerSettings, log: Logger) => readonly UsageSource[];
}

/** Every provider the poller knows. A new report of a known provider is one entry in its `sources`. */
const PROVIDERS: readonly Provider[] = [
  {
    name: 'anthropic',
    key: (s) => s.ANTHROPIC_ADMIN_API_KEY,
    baseUrl: (s) => s.ANTHROPIC_API_URL,
    headers: (key) => anthropicHeaders(key, USER_AGENT),
    sources: () => [anthropicUsageReport, anthropicCostReport, claudeCodeAnalytics],
  },
  {
    name: 'openai',
    key: (s) => s.OPENAI_ADMIN_KEY,
    baseUrl: (s) => s.OPENAI_API_URL,
    headers: (key) => openaiHeaders(key, USER_AGENT),
    sources: () => [openaiCompletionsUsage, openaiCosts],
  },
  {
    name: 'cursor',
    key: (s) => s.CURSOR_ADMIN_API_KEY,
    baseUrl: (s) => s.CURSOR_API_URL,
    headers: (key) => cursorHeaders(key, USER_AGENT),
    sources: () => [cursorUsageEvents, cursorDailyUsage],
  },
  {
    name: 'github',
    key: (s) => s.GITHUB_COPILOT_TOKEN,
    baseUrl: (s) => s.GITHUB_API_URL,
    headers: (token) => githubHeaders(token, USER_AGENT),
    sources: (s, log) => {
      // readPollerSettings refuses a token without an organization; this is for settings built otherwise.
      if (s.GITHUB_ORG === undefined) throw new BurnrateError('CONFIG_INVALID', 'GITHUB_ORG is required when GITHUB_COPILOT_TOKEN is set');
      return [
        copilotPremiumUsage({ org: s.GITHUB_ORG, perUser: s.GITHUB_COPILOT_PER_USER, log: log.child({ source: COPILOT_PREMIUM_SOURCE }) }),
        copilotMetricsReports({ org: s.GITHUB_ORG }),
      ];
    },
  },
];

export interface PollersOptions {
  settings: PollerSettings;
  /** Where each poller keeps its cursor (`<source>.json`). */
  dir: string;
  ingest: IngestCore;
  clock: Clock;
  log: Logger;
  /** Overrides of the HTTP retry behaviour, for tests. */
  http?: Pick<ProviderHttpOptions, 'sleep' | 'random' | 'maxAttempts' | 'maxRetryAfterMs'>;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export interface Pollers {
  /** The pollers that run: those of providers whose admin key is set. */
  readonly pollers: readonly Poller[];
  start(): Promise<void>;
  stop(): Promise<void>;
  /** One line per running poller. */
  health(): PollerHealth[];
}

/** The pollers of every provider whose admin key is set; none when no key is. */
export function createPollers(options: PollersOptions): Pollers {
  const { settings } = options;
  const pollers: Poller[] = [];
  for (const provider of PROVIDERS) {
    const key = provider.key(settings);
    if (key === undefined) continue;
    const log = options.log.child({ component: 'poller', provider: provider.name });
    const http = createProviderHttp({
      provider: provider.name,
      baseUrl: provider.baseUrl(settings),
      headers: provider.headers(key),
      log,
      ...options.http,
    });
    for (const source of provider.sources(settings, log)) {
      if (!settings.BURNRATE_POLL_SOURCES.has(source.source)) continue;
      pollers.push(
        createPoller({
          source,
          http,
          state: stateFile(join(options.dir, `${source.source}.json`)),
          ingest: options.ingest,
          clock: options.clock,
          log: log.child({ source: source.source }),
          intervalMs: Math.max(settings.BURNRATE_POLL_INTERVAL, source.minIntervalMs ?? 0),
          overlapBuckets: settings.BURNRATE_POLL_OVERLAP_BUCKETS,
          backfillMs: settings.BURNRATE_POLL_BACKFILL,
          ...(options.sleep ? { sleep: options.sleep } : {}),
        }),
      );
    }
  }
  return {
    pollers,
    start: async () => {
      for (const p of pollers) await p.start();
    },
    stop: async () => {
      await Promise.all(pollers.map((p) => p.stop()));
    },
    health: () => pollers.map((p) => p.health()),
  };
}
