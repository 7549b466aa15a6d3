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
import { formatMeasure, headline, oneLine, truncate } from '../format.ts';
import { answerDetail, postJson, statusError } from '../http-post.ts';

/**
 * `{ channel: pagerduty, name, routing_key_env }`: PagerDuty Events API v2 on the service whose
 * integration key (routing key) is in the variable `routing_key_env` names.
 */
export const PagerDutyReceiver = z
  .object({
    channel: z.literal('pagerduty'),
    name: ReceiverNameField,
    routing_key_env: EnvVarField,
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

export interface PagerDutyChannel extends Channel {
  /**
   * Acknowledges the alert of an anomaly on the named service (`to`: its receiver's name), for
   * when someone acknowledged it in Burnrate. Rejects like `send`.
   */
  acknowledge(n: Pick<Notification, 'anomaly' | 'to'>): Promise<{ id: string }>;
}

/**
 * The PagerDuty channel (Events API v2): trigger for an open version, resolve for the resolved
 * one, `dedup_key` = anomaly id, so versions update one alert and a resend after a crash is
 * folded into it by PagerDuty. 202 is accepted; 400 is refused for good; 429 and 5xx are retried
 * by the notifier with backoff.
 */
export function createPagerDutyChannel(options: PagerDutyChannelOptions): PagerDutyChannel {
  const services = new Map(options.services.map((s) => [s.name, s]));
  const eventsUrl = options.eventsUrl ?? PAGERDUTY_EVENTS_URL;
  const timeoutMs = options.timeoutMs ?? 10_000;

  async function post(n: Pick<Notification, 'anomaly' | 'to' | 'reason'>, action: PagerDutyAction): Promise<{ id: string }> {
    const [name, ...extra] = n.to;
    const service = name === undefined || extra.length > 0 ? undefined : services.get(name);
    if (!service) throw new BurnrateError('NOTIFY_REJECTED', `no pagerduty receiver named ${JSON.stringify(n.to.join(','))} is configured`);
    const event = renderPagerDuty({ ...n, to: n.to }, { routingKey: service.routingKey, action, publicUrl: options.publicUrl });
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
    send: (n) => post(n, pagerDutyAction(n)),
    acknowledge: (n) => post({ ...n, reason: 'updated' }, 'acknowledge'),
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
