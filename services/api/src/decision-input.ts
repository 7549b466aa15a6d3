import { formatDuration, parseDuration } from '@burnrate/core';
import { AnomalyState, AnomalyStateReason, Instant } from '@burnrate/schemas';
import { API_IDENTITY, describeValue, invalidField, optionalText, refuseUnknownFields } from './request.ts';

/** The verbs of `POST /api/anomalies/:id/<verb>` and the decision each records. */
export const DECISION_VERBS = {
  ack: 'acknowledged',
  unack: 'unacknowledged',
  snooze: 'snoozed',
  resolve: 'resolved',
} as const satisfies Record<string, AnomalyState['action']>;
export type DecisionVerb = keyof typeof DECISION_VERBS;

/**
 * The longest snooze: past it an anomaly is not snoozed but ignored, which is what resolve (with
 * reason `noise`) or a silence says — and what the precision report then counts.
 */
export const MAX_SNOOZE_MS = 30 * 86_400_000;

/** The channels a caller of the API may say it is: the CLI and the console talk to the API too. */
const CALLER_CHANNELS = ['api', 'cli', 'console'] as const;

const COMMON_FIELDS = ['by', 'note', 'channel'];
const FIELDS: Record<DecisionVerb, readonly string[]> = {
  ack: COMMON_FIELDS,
  unack: COMMON_FIELDS,
  snooze: [...COMMON_FIELDS, 'until', 'for'],
  resolve: [...COMMON_FIELDS, 'reason'],
};

/**
 * The decision a request body asks for: `{ by?, note?, channel? }`, plus `until` (an instant) or
 * `for` (a duration such as 4h) for a snooze, and `reason` (expected, real, noise) for a resolve.
 * `by` defaults to the API token's identity; `at` is now. Throws INPUT_INVALID naming the field.
 */
export function decisionFromBody(anomalyId: string, verb: DecisionVerb, body: Record<string, unknown>, now: Date): AnomalyState {
  refuseUnknownFields(body, FIELDS[verb], `POST /api/anomalies/:id/${verb}`);
  const decision: AnomalyState = {
    anomaly_id: anomalyId,
    action: DECISION_VERBS[verb],
    by: optionalText(body, 'by', 254) ?? API_IDENTITY,
    channel: callerChannel(body.channel),
    at: now.toISOString(),
  };
  const note = optionalText(body, 'note', 2000);
  if (note !== undefined) decision.note = note;
  if (verb === 'snooze') decision.snoozed_until = snoozeEnd(body, now);
  if (verb === 'resolve' && body.reason !== undefined && body.reason !== null) {
    const reason = AnomalyStateReason.safeParse(body.reason);
    if (!reason.success) throw invalidField('reason', `must be one of expected, real, noise, not ${describeValue(body.reason)}`);
    decision.reason = reason.data;
  }
  return AnomalyState.parse(decision);
}

function callerChannel(value: unknown): AnomalyState['channel'] {
  if (value === undefined || value === null) return 'api';
  if (typeof value === 'string' && (CALLER_CHANNELS as readonly string[]).includes(value)) return value as AnomalyState['channel'];
  throw invalidField('channel', `must be one of ${CALLER_CHANNELS.join(', ')}, not ${describeValue(value)}`);
}

function snoozeEnd(body: Record<string, unknown>, now: Date): string {
  const { until, for: duration } = body;
  if (until !== undefined && duration !== undefined)
    throw invalidField('until', 'and for cannot both be given: say until when or for how long');
  let end: number;
  let field: string;
  if (until !== undefined) {
    field = 'until';
    const instant = Instant.safeParse(until);
    if (!instant.success) {
      throw invalidField('until', `must be an ISO-8601 instant with an offset such as 2026-11-28T09:00:00Z, not ${describeValue(until)}`);
    }
    end = Date.parse(instant.data);
    if (end <= now.getTime()) throw invalidField('until', `must be in the future (now is ${now.toISOString()}), not ${instant.data}`);
  } else if (duration !== undefined) {
    field = 'for';
    const ms = typeof duration === 'string' ? parseDuration(duration) : undefined;
    if (ms === undefined || ms <= 0) throw invalidField('for', `must be a duration such as 30m, 4h or 2d, not ${describeValue(duration)}`);
    end = now.getTime() + ms;
  } else {
    throw invalidField('until', 'or for is needed to snooze: until an instant (2026-11-28T09:00:00Z) or for a duration (4h)');
  }
  if (end - now.getTime() > MAX_SNOOZE_MS) {
    throw invalidField(
      field,
      `snoozes at most ${formatDuration(MAX_SNOOZE_MS)}; to stop hearing about it, resolve it (reason noise or expected) or add a silence`,
    );
  }
  return new Date(end).toISOString();
}
