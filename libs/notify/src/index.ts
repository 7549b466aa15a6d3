export type { Channel, ChannelName, Notification, NotificationReason } from './channel.ts';
export { createSlackChannel, translateSlackError, slackLogger, type SlackChannelOptions } from './slack-channel.ts';
export { createEmailChannel, consoleAcknowledgeUrl, translateSmtpError, type EmailChannelOptions } from './email-channel.ts';
export { renderSlack, escapeMrkdwn, ackActionId, snoozeActionId, type SlackMessage, type RenderSlackOptions } from './render-slack.ts';
export { renderEmail, escapeHtml, type EmailMessage, type RenderEmailOptions } from './render-email.ts';
export { formatUsd, formatMeasure, relativeToExpected, sparkline, headline, kindTitle, subjectLabel } from './format.ts';
export { createMemoryChannel, type MemoryChannel } from './memory-channel.ts';
