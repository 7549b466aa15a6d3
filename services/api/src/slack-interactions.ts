import { BurnrateError, type Clock, type ConfigSource, type HttpResponse, jsonResponse, type Logger, type Route } from '@burnrate/core';
import { ALL_IN_MESSAGE, parseSlackActionValue, SLACK_ACTIONS, type SlackAction } from '@burnrate/notify';
import { type Anomaly, AnomalyState } from '@burnrate/schemas';
import type { Store } from '@burnrate/store';
import { z } from 'zod';
import { slackSignatureProblem } from './slack-signature.ts';
import type { SlackUserDirectory } from './slack-users.ts';
import { snoozeUntil } from './snooze.ts';
import type { StateRecorder } from './state-recorder.ts';

export { signSlackRequest, SLACK_SIGNATURE_WINDOW_S, type SlackSignedHeaders } from './slack-signature.ts';

export interface SlackInteractionsDeps {
  config: ConfigSource;
  store: Pick<Store, 'getAnomaly' | 'listDeliveries'>;
  recorder: StateRecorder;
  users: SlackUserDirectory;
  clock: Clock;
  log: Logger;
  /** SLACK_SIGNING_SECRET (the app's Basic Information page); without it the endpoint is off. */
  signingSecret: string | undefined;
}

// A block_actions payload carries the whole message; a group message of 30 anomalies stays far below this.
const BODY_LIMIT_BYTES = 1024 * 1024;

// The part of Slack's block_actions payload Burnrate reads; Slack adds fields freely, so unknown keys pass.
const SlackActionPayload = z.object({
  action_id: z.string(),
  value: z.string().optional(),
  selected_option: z.object({ value: z.string() }).loose().nullish(),
  action_ts: z.string().optional(),
});
const BlockActions = z
  .object({
    type: z.literal('block_actions'),
    user: z.object({ id: z.string().min(1), username: z.string().optional() }).loose(),
    container: z.object({ channel_id: z.string().optional(), message_ts: z.string().optional() }).loose().optional(),
    channel: z.object({ id: z.string() }).loose().optional(),
    message: z.object({ ts: z.string() }).loose().optional(),
    actions: z.array(SlackActionPayload.loose()),
  })
  .loose();
type BlockActions = z.infer<typeof BlockActions>;

const BURNRATE_ACTION_IDS = new Set<string>(Object.values(SLACK_ACTIONS));
// Recent presses (user, action_ts, value) → the `by` recorded, so a Slack retry records exactly
// what the first attempt did even if users.info answers differently in between.
const RECENT_PRESSES = 1_000;

/**
 * POST <slack.interactions_path> (default /slack/interactions): what Slack calls when someone
 * presses a Burnrate button or picks a Snooze / Resolve option.
 *
 * The request must carry Slack's v0 signature over its raw body (SLACK_SIGNING_SECRET), with a
 * timestamp within 5 minutes; anything else is a 401 and nothing is recorded. A press becomes
 * one decision per anomaly it is about (the message's own, or with ref `*` every anomaly the
 * message carries, found in the delivery log by its channel and ts), recorded through the
 * StateRecorder with channel `slack`, `by` the member's email, and `at` the press's action_ts —
 * so a retry by Slack of the same press collapses onto the first. The notifier then edits the
 * message in place (chat.update) from anomaly-state.v1.
 *
 * Answers 200 quickly: Slack shows the person an error after 3 s. An anomaly Burnrate does not
 * know is a 200 whose ephemeral text Slack shows only to the presser.
 */
export function slackInteractionsRoute(deps: SlackInteractionsDeps): Route {
  const log = deps.log.child({ component: 'slack-interactions' });
  const path = deps.config.current().slack.interactions_path;
  const recent = new Map<string, string>();

  return {
    method: 'POST',
    path,
    handler: async (req) => {
      const secret = deps.signingSecret;
      if (!secret) {
        throw new BurnrateError(
          'NOT_FOUND',
          `Slack interactivity is off on this Burnrate: set SLACK_SIGNING_SECRET (the Slack app's signing secret) and restart`,
        );
      }
      const body = await req.body(BODY_LIMIT_BYTES);
      const problem = slackSignatureProblem(
        secret,
        { timestamp: header(req.headers['x-slack-request-timestamp']), signature: header(req.headers['x-slack-signature']) },
        body,
        deps.clock.now(),
      );
      if (problem) {
        log.warn({ reason: problem, remoteAddress: req.remoteAddress }, 'refused a request that is not signed by Slack');
        return jsonResponse(401, {
          error: { code: 'UNAUTHORIZED', message: 'the request is not signed by Slack with this app’s signing secret', retriable: false },
        });
      }

      const payload = parsePayload(body, req.contentType);
      if (payload === undefined) {
        log.debug('ignored a Slack interaction that is not a button press (not block_actions)');
        return { status: 200 };
      }
      const retry = header(req.headers['x-slack-retry-num']);
      return handlePresses(payload, retry);
    },
  };

  async function handlePresses(payload: BlockActions, retry: string | undefined): Promise<HttpResponse> {
    const presses = payload.actions
      .filter((a) => BURNRATE_ACTION_IDS.has(a.action_id))
      .map((a) => ({ raw: a, value: a.value ?? a.selected_option?.value ?? '' }));
    if (presses.length === 0) return ephemeral('Burnrate does not know this control.');

    const states: AnomalyState[] = [];
    for (const { raw, value } of presses) {
      const action = parseSlackActionValue(value);
      if (!action) {
        log.warn({ actionId: raw.action_id, value }, 'a Slack control carried a value Burnrate did not draw');
        return ephemeral(
          'Burnrate does not understand this button; the message may be from an older version. Use `burnrate anomalies` instead.',
        );
      }
      const anomalies = await anomaliesOf(action, payload);
      if (anomalies.length === 0) {
        log.info({ ref: action.ref, slackUser: payload.user.id }, 'a Slack press about an anomaly Burnrate does not know');
        return ephemeral(
          action.ref === ALL_IN_MESSAGE
            ? 'Burnrate has no record of the anomalies in this message, so nothing was changed.'
            : `Burnrate does not know the anomaly ${action.ref}, so nothing was changed.`,
        );
      }
      const at = pressedAt(raw.action_ts);
      const key = `${payload.user.id}|${raw.action_ts ?? ''}|${value}`;
      const by = recent.get(key) ?? (await deps.users.identify(payload.user.id));
      if (recent.size >= RECENT_PRESSES) recent.delete(recent.keys().next().value as string);
      recent.set(key, by);
      for (const anomaly of anomalies) states.push(decision(action, anomaly, by, at));
    }
    await deps.recorder.record(states);
    log.info({ slackUser: payload.user.id, decisions: states.length, ...(retry ? { slackRetry: retry } : {}) }, 'recorded a Slack press');
    return { status: 200 };
  }

  async function anomaliesOf(action: SlackAction, payload: BlockActions): Promise<Anomaly[]> {
    if (action.ref !== ALL_IN_MESSAGE) {
      const anomaly = await deps.store.getAnomaly(action.ref);
      return anomaly ? [anomaly] : [];
    }
    const channel = payload.container?.channel_id ?? payload.channel?.id;
    const ts = payload.container?.message_ts ?? payload.message?.ts;
    if (!channel || !ts) return [];
    const carried = await deps.store.listDeliveries({ status: 'sent', detail: `${channel}:${ts}` });
    const ids = [...new Set(carried.map((d) => d.anomaly_id))];
    const found = await Promise.all(ids.map((id) => deps.store.getAnomaly(id)));
    return found.filter((a): a is Anomaly => a !== undefined);
  }

  function decision(action: SlackAction, anomaly: Anomaly, by: string, at: Date): AnomalyState {
    const base = { anomaly_id: anomaly.id, by, channel: 'slack' as const, at: at.toISOString() };
    switch (action.verb) {
      case 'ack':
        return AnomalyState.parse({ ...base, action: 'acknowledged' });
      case 'unack':
        return AnomalyState.parse({ ...base, action: 'unacknowledged' });
      case 'snooze':
        return AnomalyState.parse({
          ...base,
          action: 'snoozed',
          snoozed_until: snoozeUntil(action.choice, at, deps.config.current(), anomaly.subject.team).toISOString(),
        });
      case 'resolve':
        return AnomalyState.parse({ ...base, action: 'resolved', reason: action.reason });
    }
  }

  /** The press's own time (Slack's action_ts, seconds.micros), the same on every retry of it. */
  function pressedAt(actionTs: string | undefined): Date {
    const seconds = actionTs === undefined ? Number.NaN : Number(actionTs);
    if (Number.isFinite(seconds) && seconds > 0) return new Date(Math.floor(seconds * 1000));
    return deps.clock.now();
  }
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The block_actions payload; undefined for another kind of interaction. Throws INPUT_INVALID for a body that is none. */
function parsePayload(body: Buffer, contentType: string): BlockActions | undefined {
  if (contentType !== 'application/x-www-form-urlencoded') {
    throw new BurnrateError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Slack sends interactions as application/x-www-form-urlencoded, not ${contentType || 'no Content-Type'}`,
    );
  }
  const text = new URLSearchParams(body.toString('utf8')).get('payload');
  if (text === null) throw new BurnrateError('INPUT_INVALID', 'the form has no payload field');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new BurnrateError('INPUT_INVALID', 'the payload field is not JSON');
  }
  if ((json as { type?: unknown } | null)?.type !== 'block_actions') return undefined;
  const parsed = BlockActions.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BurnrateError(
      'INPUT_INVALID',
      `the block_actions payload is not understood: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim(),
    );
  }
  return parsed.data;
}

/** A 200 whose text Slack shows only to the person who pressed. */
function ephemeral(text: string): HttpResponse {
  return jsonResponse(200, { response_type: 'ephemeral', replace_original: false, text });
}
