export {
  anomalyUrl,
  EnvVarField,
  groupKey,
  notificationVariant,
  ReceiverNameField,
  receiverName,
  receiverOf,
  secretFromEnv,
  type Channel,
  type ChannelBuild,
  type ChannelContext,
  type ChannelDefinition,
  type ChannelEnv,
  type ChannelName,
  type Notification,
  type NotificationEscalation,
  type NotificationReason,
  type NotificationThread,
  type ReceiverAt,
} from './channel.ts';
export { CHANNELS, channelDefinition, receiverSchema } from './registry.ts';
export {
  createSlackChannel,
  translateSlackError,
  slackLogger,
  slackTs,
  SLACK_EVENT_TYPE,
  SlackReceiver,
  type SlackAnomalyPayload,
  type SlackChannelOptions,
} from './channels/slack.ts';
export {
  createEmailChannel,
  emailLinks,
  translateSmtpError,
  anomalyMessageId,
  EmailReceiver,
  type EmailChannelOptions,
  type EmailLinkSettings,
} from './channels/email.ts';
export {
  actionLinkUrl,
  DEFAULT_LINK_LIFETIME_S,
  LINK_ACTION_LABELS,
  LINK_ACTIONS,
  linkSecretFrom,
  MIN_LINK_SECRET_LENGTH,
  signLinkToken,
  verifyLinkToken,
  VIEW_LINK,
  type LinkAction,
  type LinkClaims,
  type LinkPurpose,
  type LinkVerdict,
} from './link-token.ts';
export { renderSlack, escapeMrkdwn, type SlackMessage, type RenderSlackOptions } from './render-slack.ts';
export { renderEmail, escapeHtml, type EmailLinks, type EmailMessage, type RenderEmailOptions } from './render-email.ts';
export {
  formatEvidenceValue,
  formatInstant,
  formatUsd,
  formatMeasure,
  formatWindow,
  relativeToExpected,
  sparkline,
  headline,
  kindTitle,
  subjectLabel,
  groupTitle,
  formatDuration,
} from './format.ts';
export { createMemoryChannel, type MemoryChannel, type MemoryChannelOptions } from './memory-channel.ts';
export {
  ALL_IN_MESSAGE,
  parseSlackActionValue,
  RESOLVE_REASONS,
  SLACK_ACTIONS,
  slackActionValue,
  SNOOZE_CHOICES,
  type ResolveReason,
  type SlackAction,
  type SlackActionId,
  type SnoozeChoice,
} from './slack-actions.ts';
export { byLikelyCause, follows, type IncidentAt, joinAction } from './incidents.ts';
