import { createHmac, timingSafeEqual } from 'node:crypto';

/** How far a request's timestamp may be from now: Slack's own advice, and what bounds a replay. */
export const SLACK_SIGNATURE_WINDOW_S = 5 * 60;

// A type, not an interface, so it spreads into any headers record.
export type SlackSignedHeaders = {
  'x-slack-request-timestamp': string;
  'x-slack-signature': string;
};

/**
 * The headers Slack sends with a request: `v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<body>` with
 * the app's signing secret. `timestamp` is epoch seconds. For tests and `burnrate slack sign`.
 */
export function signSlackRequest(secret: string, timestamp: number, body: string | Buffer): SlackSignedHeaders {
  return {
    'x-slack-request-timestamp': String(timestamp),
    'x-slack-signature': `v0=${slackMac(secret, String(timestamp), typeof body === 'string' ? Buffer.from(body, 'utf8') : body).toString('hex')}`,
  };
}

function slackMac(secret: string, timestamp: string, body: Buffer): Buffer {
  return createHmac('sha256', secret).update(`v0:${timestamp}:`).update(body).digest();
}

/** Why a request is not from Slack; undefined when it is. Said in the log, never to the caller. */
export function slackSignatureProblem(
  secret: string,
  headers: { timestamp: string | undefined; signature: string | undefined },
  body: Buffer,
  now: Date,
): string | undefined {
  const { timestamp, signature } = headers;
  if (timestamp === undefined || timestamp === '') return 'no X-Slack-Request-Timestamp header';
  if (signature === undefined || signature === '') return 'no X-Slack-Signature header';
  if (!/^\d{1,12}$/.test(timestamp)) return 'X-Slack-Request-Timestamp is not epoch seconds';
  const skewS = Math.abs(now.getTime() / 1000 - Number(timestamp));
  // Checked before the signature too: a captured request replayed later is refused however genuine.
  if (skewS > SLACK_SIGNATURE_WINDOW_S)
    return `X-Slack-Request-Timestamp is ${Math.round(skewS)} s from now (more than ${SLACK_SIGNATURE_WINDOW_S} s): a replay or a clock far off`;
  const match = /^v0=([0-9a-f]{64})$/.exec(signature);
  if (!match?.[1]) return 'X-Slack-Signature is not v0=<64 hex digits>';
  const given = Buffer.from(match[1], 'hex');
  if (!timingSafeEqual(given, slackMac(secret, timestamp, body)))
    return 'X-Slack-Signature does not match the body (another signing secret, or a changed body)';
  return undefined;
}
