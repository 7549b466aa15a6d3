import { signSlackRequest } from '@burnrate/api';
import { slackActionValue, type SlackAction } from '@burnrate/notify';

/** The Slack message a press is made on: its channel id, ts and text, as the stand-in recorded them. */
export interface PressedMessage {
  channel: string;
  ts: string;
  text: string;
}

/** The form body Slack posts for a press on one of a Burnrate message's controls (a `block_actions` payload). */
export function slackPressBody(
  message: PressedMessage,
  action: SlackAction,
  user: string,
  actionTs = (Date.now() / 1000).toFixed(6),
): string {
  return new URLSearchParams({
    payload: JSON.stringify({
      type: 'block_actions',
      user: { id: user, username: user.toLowerCase(), team_id: 'T0000TEST' },
      container: { type: 'message', message_ts: message.ts, channel_id: message.channel, is_ephemeral: false },
      channel: { id: message.channel },
      message: { ts: message.ts, text: message.text },
      actions: [{ action_id: `burnrate_${action.verb}`, type: 'button', value: slackActionValue(action), action_ts: actionTs }],
    }),
  }).toString();
}

/** Headers signed as Slack signs a request now, with `secret`. */
export function signedNow(secret: string, body: string): Record<string, string> {
  return signSlackRequest(secret, Math.floor(Date.now() / 1000), body);
}

/** Posts a press body to a burnrate's interactivity endpoint with the given headers (signed or not). */
export function postSlackPress(baseUrl: string, body: string, headers: Record<string, string>): Promise<Response> {
  return fetch(`${baseUrl}/slack/interactions`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body,
  });
}
