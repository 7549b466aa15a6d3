import { createHash } from 'node:crypto';
import { BurnrateError, type Logger } from '@burnrate/core';
import type { Anomaly, Severity } from '@burnrate/schemas';
import { z } from 'zod';
import {
  anomalyUrl,
  type Channel,
  type ChannelDefinition,
  EnvVarField,
  type Notification,
  ReceiverNameField,
  receiverOf,
  secretFromEnv,
} from '../channel.ts';
import { groupTitle, formatMeasure, headline, oneLine, truncate } from '../format.ts';
import { answerDetail, postJson, statusError } from '../http-post.ts';

/**
 * `{ channel: pagerduty, name, routing_key_env }`: PagerDuty Events API v2 on the service whose
 * integration key (routing key) is in the variable `routing_key_env` names.
 */
export const PagerDutyReceiver = z
  .object({
    channel: z.literal('pagerduty').describe('Trigger, and resolve, PagerDuty incidents through the Events API v2.'),
    name: ReceiverNameField,
    routing_key_env: EnvVarField.meta({
      description: "The environment variable that holds the PagerDuty service's Events API v2 routing key.",
      examples: ['PD_PAYMENTS_ROUTING_KEY'],
    }),
  })
  .strict();
export type PagerDutyReceiver = z.infer<typeof PagerDutyReceiver>;

/** Where events go unless PAGERDUTY_EVENTS_URL says otherwise (an EU account, a proxy, tests). */
export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

export type PagerDutyAction = 'trigger' | 'acknowledge' | 'resolve';

/** An Events API v2 alert event, as PagerDuty documents it. */
export interface PagerDutyEvent {
  routing_key: string;
  event_action: PagerDutyAction;
  dedup_key: string;
  /** Trigger only. */
  payload?: {
    summary: string;
    source: string;
    severity: 'critical' | 'error' | 'warning' | 'info';
    timestamp: string;
    component?: string;
    group: string;
    class: string;
    custom_details: Record<string, unknown>;
  };
  links?: { href: string; text: string }[];
  client?: string;
  client_url?: string;
}

// PagerDuty's limits: a longer summary or dedup_key is refused with a 400.
const SUMMARY_MAX = 1024;
const DEDUP_KEY_MAX = 255;

const SEVERITY: Record<Severity, NonNullable<PagerDutyEvent['payload']>['severity']> = {
  critical: 'critical',
  warning: 'warning',
  info: 'info',
};

/**
 * The dedup_key of an anomaly: its id, so every version lands on one PagerDuty alert and a resolve
 * closes it. An id longer than PagerDuty allows becomes `burnrate:<sha256 of the id>`.
 */
export function pagerDutyDedupKey(anomalyId: string): string {
  return anomalyId.length <= DEDUP_KEY_MAX ? anomalyId : `burnrate:${createHash('sha256').update(anomalyId).digest('hex')}`;
}

/** trigger for an open version, resolve for the version that ends the episode. */
export function pagerDutyAction(n: Pick<Notification, 'anomaly' | 'reason'>): PagerDutyAction {
  return n.anomaly.status === 'resolved' || n.reason === 'resolved' ? 'resolve' : 'trigger';
}

/**
 * What a decision in Burnrate does to the PagerDuty alerts of a message: acknowledged →
 * acknowledge, resolved by a human → resolve. Nothing otherwise: the Events API cannot snooze
 * or take back an acknowledgement (a trigger does not re-open an acknowledged alert), and
 * PagerDuty's own snooze is a REST API call with a user's key, which Burnrate does not hold.
 */
export function pagerDutyUpdateAction(n: Pick<Notification, 'lifecycle'>): PagerDutyAction | undefined {
  switch (n.lifecycle?.state) {
    case 'acknowledged':
      return 'acknowledge';
    case 'resolved':
      return 'resolve';
    default:
      return undefined;
  }
}

/** Every anomaly a notification is about: the members of a group, or the one anomaly. */
const membersOf = (n: Pick<Notification, 'anomaly' | 'group'>): readonly Anomaly[] =>
  n.group && n.group.length > 1 ? n.group : [n.anomaly];

// custom_details lists at most this many ids of a group's members; the count is always there.
const GROUP_IDS_MAX = 50;

/**
 * The event for one notification. A trigger carries the anomaly (summary, severity mapped 1:1,
 * team as group, kind as class, the figures and the identity in custom_details) and a link to
 * its page when public_url is set; acknowledge and resolve carry only the keys, as documented.
 */
export function renderPagerDuty(
  n: Notification,
  options: { routingKey: string; action?: PagerDutyAction; publicUrl?: string | undefined },
): PagerDutyEvent {
  const a: Anomaly = n.anomaly;
  const action = options.action ?? pagerDutyAction(n);
  const base = { routing_key: options.routingKey, event_action: action, dedup_key: pagerDutyDedupKey(a.id) };
  if (action !== 'trigger') return base;
  const link = anomalyUrl(options.publicUrl, a.id);
  return {
    ...base,
    payload: {
      summary: truncate(oneLine(`${headline(a)}: ${a.summary}`), SUMMARY_MAX),
      source: `burnrate/${a.subject.org}/${a.subject.team}`,
      severity: SEVERITY[a.severity],
      timestamp: a.detected_at,
      ...(a.subject.model ? { component: a.subject.model } : {}),
      group: a.subject.team,
      class: a.kind,
      custom_details: {
        anomaly_id: a.id,
        version: a.version,
        reason: n.reason,
        receiver: receiverOf('pagerduty', n),
        ...(n.group && n.group.length > 1
          ? {
              group: {
                title: groupTitle(n.group),
                size: n.group.length,
                anomaly_ids: n.group.slice(0, GROUP_IDS_MAX).map((m) => m.id),
              },
            }
          : {}),
        ...(n.escalation
          ? { escalation: { to: n.escalation.to, unacknowledged_for_min: Math.round(n.escalation.unacknowledgedForMs / 60_000) } }
          : {}),
        subject: a.subject,
        observed: formatMeasure(a.observed),
        expected: formatMeasure(a.expected),
        impact_usd: a.impact_usd,
        projected_usd: a.projected_usd,
        window: a.window,
        summary: a.summary,
        advice: a.advice,
      },
    },
    ...(link ? { links: [{ href: link, text: 'Open in Burnrate' }] } : {}),
    client: 'Burnrate',
    ...(options.publicUrl ? { client_url: options.publicUrl } : {}),
  };
}

export interface PagerDutyService {
  name: string;
  routingKey: string;
}

export interface PagerDutyChannelOptions {
  services: readonly PagerDutyService[];
  log: Logger;
  /** Default PAGERDUTY_EVENTS_URL. */
  eventsUrl?: string;
  publicUrl?: string | undefined;
  /** Per request (default 10 s). */
  timeoutMs?: number;
}

/**
 * The PagerDuty channel (Events API v2): trigger for an open version, resolve for the resolved
 * one, `dedup_key` = anomaly id, so versions update one alert and a resend after a crash is
 * folded into it by PagerDuty. A group message is one event per member, each on its own alert,
 * so a member's later version and its resolve land on it whether they come grouped or alone
 * (the trigger's custom_details name the group). `update` acknowledges or resolves the alerts of
 * every anomaly a message carried when a human did so in Burnrate (`pagerDutyUpdateAction`).
 * 202 is accepted; 400 is refused for good; 429 and 5xx are retried by the notifier with
 * backoff. Events are idempotent on dedup_key, so a retry after a partial group send only
 * repeats what PagerDuty already folded in.
 */
export function createPagerDutyChannel(options: PagerDutyChannelOptions): Channel {
  const services = new Map(options.services.map((s) => [s.name, s]));
  const eventsUrl = options.eventsUrl ?? PAGERDUTY_EVENTS_URL;
  const timeoutMs = options.timeoutMs ?? 10_000;

  function serviceOf(n: Pick<Notification, 'to'>): PagerDutyService {
    const [name, ...extra] = n.to;
    const service = name === undefined || extra.length > 0 ? undefined : services.get(name);
    if (!service) throw new BurnrateError('NOTIFY_REJECTED', `no pagerduty receiver named ${JSON.stringify(n.to.join(','))} is configured`);
    return service;
  }

  async function post(n: Notification, service: PagerDutyService, action: PagerDutyAction): Promise<{ id: string }> {
    const event = renderPagerDuty(n, { routingKey: service.routingKey, action, publicUrl: options.publicUrl });
    const where = `PagerDuty ${action} for ${JSON.stringify(service.name)}`;
    const answer = await postJson(where, { url: eventsUrl, body: JSON.stringify(event), timeoutMs });
    const error = statusError(where, answer.status, pagerDutyProblem(answer.text), answer.retryAfterMs);
    if (error) throw error;
    options.log.debug(
      { anomalyId: n.anomaly.id, version: n.anomaly.version, action, service: service.name },
      'PagerDuty accepted the event',
    );
    return { id: `${action}:${event.dedup_key}` };
  }

  return {
    name: 'pagerduty',
    async send(n) {
      const service = serviceOf(n);
      const members = membersOf(n);
      if (members.length === 1) return post(n, service, pagerDutyAction(n));
      // The message's id is its first event's; each member's alert is found by its own dedup_key.
      const sent = [];
      for (const member of members) {
        sent.push(await post({ ...n, anomaly: member }, service, member.status === 'resolved' ? 'resolve' : 'trigger'));
      }
      return sent[0] ?? { id: '' };
    },
    async update(_messageId, n) {
      const action = pagerDutyUpdateAction(n);
      if (!action) return;
      const service = serviceOf(n);
      for (const member of membersOf(n)) await post({ ...n, anomaly: member, reason: 'updated' }, service, action);
    },
    async close() {},
  };
}

/** `invalid event: Event object is invalid (payload.summary: …)` from PagerDuty's JSON answer, else the text. */
function pagerDutyProblem(text: string): string {
  try {
    const answer = JSON.parse(text) as { status?: unknown; message?: unknown; errors?: unknown };
    const errors = Array.isArray(answer.errors) ? answer.errors.map(String) : [];
    const message = [answer.status, answer.message].filter((s) => typeof s === 'string').join(': ');
    return answerDetail(`${message}${errors.length > 0 ? ` (${errors.join('; ')})` : ''}`);
  } catch {
    return answerDetail(text);
  }
}

export const pagerduty: ChannelDefinition<PagerDutyReceiver> = {
  name: 'pagerduty',
  receiver: PagerDutyReceiver,
  to: (r) => [r.name],
  secrets: (r) => [{ field: 'routing_key_env', variable: r.routing_key_env }],
  create(receivers, context) {
    if (receivers.length === 0) return { off: 'no pagerduty receivers' };
    const services = new Map<string, PagerDutyService>();
    for (const { receiver: r } of receivers) {
      services.set(r.name, { name: r.name, routingKey: secretFromEnv(context, r.routing_key_env, `pagerduty receiver "${r.name}"`) });
    }
    const channel = createPagerDutyChannel({
      services: [...services.values()],
      log: context.log.child({ component: 'pagerduty' }),
      eventsUrl: context.env.PAGERDUTY_EVENTS_URL || PAGERDUTY_EVENTS_URL,
      publicUrl: context.publicUrl,
    });
    return { channel, status: `on (${services.size} receiver${services.size === 1 ? '' : 's'})` };
  },
};
