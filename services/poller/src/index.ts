export { createPollers, type Pollers, type PollersOptions } from './pollers.ts';
export { createPoller, type Poller, type PollerHealth, type PollResult } from './poller.ts';
export { PollerEnv, readPollerSettings, type PollerSettings } from './settings.ts';
export { ANTHROPIC_COST_REPORT_SOURCE, ANTHROPIC_USAGE_REPORT_SOURCE } from './sources/anthropic.ts';
export { CLAUDE_CODE_ANALYTICS_SOURCE } from './sources/claude-code-analytics.ts';
export { COPILOT_METRICS_SOURCE, COPILOT_PREMIUM_SOURCE } from './sources/copilot.ts';
export { OPENAI_COSTS_SOURCE, OPENAI_USAGE_SOURCE } from './sources/openai.ts';
export { benchSources, type BenchSource } from './bench-sources.ts';
