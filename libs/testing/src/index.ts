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
export { waitUntil, type WaitUntilOptions } from './wait-until.ts';
