export { receiverOf, type Channel, type ChannelName, type Notification, type NotificationReason } from './channel.ts';
export {
  createSlackChannel,
  translateSlackError,
  slackLogger,
  slackTs,
  SLACK_EVENT_TYPE,
  type SlackAnomalyPayload,
  type SlackChannelOptions,
} from './channels/slack.ts';
export {
  createEmailChannel,
  consoleAcknowledgeUrl,
  translateSmtpError,
  anomalyMessageId,
  type EmailChannelOptions,
} from './channels/email.ts';
export { renderSlack, escapeMrkdwn, ackActionId, snoozeActionId, type SlackMessage, type RenderSlackOptions } from './render-slack.ts';
export { renderEmail, escapeHtml, type EmailMessage, type RenderEmailOptions } from './render-email.ts';
export { formatUsd, formatMeasure, relativeToExpected, sparkline, headline, kindTitle, subjectLabel } from './format.ts';
export { createMemoryChannel, type MemoryChannel, type MemoryChannelOptions } from './memory-channel.ts';
