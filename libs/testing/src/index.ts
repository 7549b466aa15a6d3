export { startSmtpServer, type ReceivedMail, type SmtpServerOptions, type TestSmtpServer } from './smtp-server.ts';
export {
  startSlackStandIn,
  channelId,
  type SlackCall,
  type SlackFailure,
  type SlackMessage,
  type SlackMessageMetadata,
  type SlackStandIn,
  type SlackStandInOptions,
} from './slack-stand-in.ts';
export { usageEvent, anomaly } from './builders.ts';
export { tempDir, type TempDir } from './temp-dir.ts';
export { seededRandom } from './seeded-random.ts';
export { settled, waitUntil, type WaitUntilOptions } from './wait-until.ts';
export {
  startHttpStandIn,
  jsonAnswer,
  type HttpAnswer,
  type HttpFailure,
  type HttpStandIn,
  type ReceivedRequest,
} from './http-stand-in.ts';
export {
  startWebhookReceiver,
  verifyWebhookSignature,
  type WebhookDelivery,
  type WebhookReceiver,
  type WebhookReceiverOptions,
} from './webhook-receiver.ts';
export {
  startPagerDutyStandIn,
  type PagerDutyAlert,
  type PagerDutyEventReceived,
  type PagerDutyStandIn,
  type PagerDutyStandInOptions,
} from './pagerduty-stand-in.ts';
export { startMsTeamsStandIn, type MsTeamsCard, type MsTeamsStandIn, type MsTeamsStandInOptions } from './msteams-stand-in.ts';
export {
  ANTHROPIC_COST_PATH,
  anthropicCostRow,
  ANTHROPIC_USAGE_PATH,
  CLAUDE_CODE_ANALYTICS_PATH,
  CURSOR_DAILY_PATH,
  CURSOR_EVENTS_PATH,
  type CursorStandIn,
  GITHUB_API_VERSION,
  type GitHubStandIn,
  OPENAI_COMPLETIONS_PATH,
  OPENAI_COSTS_PATH,
  startAnthropicStandIn,
  startCursorStandIn,
  startGitHubStandIn,
  startOpenAiStandIn,
  type UsageApiStandIn,
} from './usage-api-stand-in.ts';
export { freePort } from './free-port.ts';
