import { type HttpFailure, type ReceivedRequest, jsonAnswer, startHttpStandIn } from './http-stand-in.ts';
import { waitUntil } from './wait-until.ts';

/** An Events API v2 event the stand-in accepted. */
export interface PagerDutyEventReceived {
  routing_key: string;
  event_action: 'trigger' | 'acknowledge' | 'resolve';
  dedup_key: string;
  payload?: Record<string, unknown>;
  links?: { href: string; text?: string }[];
  [key: string]: unknown;
}

/** An alert as PagerDuty keeps it: one per (routing key, dedup_key) while it is open. */
export interface PagerDutyAlert {
  routingKey: string;
  dedupKey: string;
  status: 'triggered' | 'acknowledged' | 'resolved';
  /** Every event applied to it, in order. */
  events: PagerDutyEventReceived[];
}

export interface PagerDutyStandInOptions {
  /** When set, events for other routing keys answer 400 (an unknown integration key). */
  routingKeys?: readonly string[];
}

export interface PagerDutyStandIn {
  /** The events endpoint: `http://127.0.0.1:PORT/v2/enqueue` (PAGERDUTY_EVENTS_URL). */
  url: string;
  requests: ReceivedRequest[];
  /** Accepted events, in order. */
  events: PagerDutyEventReceived[];
  /** Alerts by `<routing key>/<dedup_key>`; a trigger after a resolve opens a new one, as PagerDuty does. */
  alerts: PagerDutyAlert[];
  failNext(n: number, failure: HttpFailure): void;
  waitFor(predicate: (e: PagerDutyEventReceived) => boolean, timeoutMs?: number): Promise<PagerDutyEventReceived>;
  close(): Promise<void>;
}

const ACTIONS = new Set(['trigger', 'acknowledge', 'resolve']);
const SEVERITIES = new Set(['critical', 'error', 'warning', 'info']);
// Documented limits of the Events API v2.
const SUMMARY_MAX = 1024;
const DEDUP_KEY_MAX = 255;
const PAYLOAD_MAX_BYTES = 512 * 1024;
const ROUTING_KEY_LENGTH = 32;

/**
 * A local stand-in for PagerDuty's Events API v2 (`POST /v2/enqueue`) that holds every event to
 * the documented shape: `routing_key` a 32-character string, `event_action` trigger / acknowledge
 * / resolve, `dedup_key` at most 255 characters (required for acknowledge and resolve); for a
 * trigger, `payload` with `summary` (at most 1,024 characters), `source`, `severity` (critical,
 * error, warning, info), an ISO-8601 `timestamp` when present, string `component` / `group` /
 * `class` and an object `custom_details`; `links` of `{ href, text? }`; at most 512 KB. A good
 * event answers 202 `{ status: 'success', message: 'Event processed', dedup_key }`; a bad one 400
 * `{ status: 'invalid event', message: 'Event object is invalid', errors: [...] }`, as PagerDuty
 * does. Alerts follow PagerDuty's de-duplication: events with a dedup_key apply to its open alert;
 * acknowledge and resolve without one are dropped.
 */
export async function startPagerDutyStandIn(options: PagerDutyStandInOptions = {}): Promise<PagerDutyStandIn> {
  const events: PagerDutyEventReceived[] = [];
  const alerts: PagerDutyAlert[] = [];
  const standIn = await startHttpStandIn((req) => {
    if (req.method !== 'POST' || req.path !== '/v2/enqueue') return jsonAnswer(404, { status: 'not found' });
    const errors = eventProblems(req.json, req.bytes);
    const event = req.json as PagerDutyEventReceived;
    if (errors.length === 0 && options.routingKeys && !options.routingKeys.includes(event.routing_key)) {
      errors.push('routing_key: no integration with this key');
    }
    if (errors.length > 0) return jsonAnswer(400, { status: 'invalid event', message: 'Event object is invalid', errors }, errors);
    events.push(event);
    const open = alerts.find((a) => a.routingKey === event.routing_key && a.dedupKey === event.dedup_key && a.status !== 'resolved');
    if (event.event_action === 'trigger') {
      if (open) open.events.push(event);
      else alerts.push({ routingKey: event.routing_key, dedupKey: event.dedup_key, status: 'triggered', events: [event] });
    } else if (open) {
      open.status = event.event_action === 'acknowledge' ? 'acknowledged' : 'resolved';
      open.events.push(event);
    }
    return jsonAnswer(202, { status: 'success', message: 'Event processed', dedup_key: event.dedup_key });
  });
  return {
    url: `${standIn.origin}/v2/enqueue`,
    requests: standIn.requests,
    events,
    alerts,
    failNext: standIn.failNext,
    waitFor: (predicate, timeoutMs = 5_000) =>
      waitUntil(() => events.find(predicate), {
        timeoutMs,
        message: `no PagerDuty event matched within ${timeoutMs} ms (got ${events.length})`,
      }),
    close: standIn.close,
  };
}

function eventProblems(json: unknown, bytes: number): string[] {
  if (bytes > PAYLOAD_MAX_BYTES) return [`the event is ${bytes} bytes; the limit is 512 KB`];
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return ['the body is not a JSON object'];
  const e = json as Record<string, unknown>;
  const errors: string[] = [];
  if (typeof e.routing_key !== 'string' || e.routing_key.length !== ROUTING_KEY_LENGTH)
    errors.push('routing_key must be a 32-character string');
  if (typeof e.event_action !== 'string' || !ACTIONS.has(e.event_action))
    errors.push('event_action must be trigger, acknowledge or resolve');
  if (e.dedup_key !== undefined && (typeof e.dedup_key !== 'string' || e.dedup_key.length === 0 || e.dedup_key.length > DEDUP_KEY_MAX)) {
    errors.push('dedup_key must be a string of 1 to 255 characters');
  }
  // The stand-in is stricter than PagerDuty here: Burnrate always names the alert, so a trigger
  // without a dedup_key (PagerDuty would make a new alert each time) is a bug.
  if (e.dedup_key === undefined) errors.push('dedup_key is required');
  if (e.event_action === 'trigger') {
    const p = e.payload as Record<string, unknown> | undefined;
    if (typeof p !== 'object' || p === null) errors.push('payload is required for a trigger');
    else {
      if (typeof p.summary !== 'string' || p.summary.length === 0) errors.push('payload.summary is required');
      else if (p.summary.length > SUMMARY_MAX) errors.push(`payload.summary is ${p.summary.length} characters; the limit is 1024`);
      if (typeof p.source !== 'string' || p.source.length === 0) errors.push('payload.source is required');
      if (typeof p.severity !== 'string' || !SEVERITIES.has(p.severity))
        errors.push('payload.severity must be critical, error, warning or info');
      if (p.timestamp !== undefined && (typeof p.timestamp !== 'string' || Number.isNaN(Date.parse(p.timestamp)))) {
        errors.push('payload.timestamp must be an ISO-8601 timestamp');
      }
      for (const field of ['component', 'group', 'class'] as const) {
        if (p[field] !== undefined && typeof p[field] !== 'string') errors.push(`payload.${field} must be a string`);
      }
      if (
        p.custom_details !== undefined &&
        (typeof p.custom_details !== 'object' || p.custom_details === null || Array.isArray(p.custom_details))
      ) {
        errors.push('payload.custom_details must be an object');
      }
    }
  } else if (e.payload !== undefined && e.event_action !== undefined) {
    // Stricter than PagerDuty, which ignores it: the documented acknowledge and resolve carry keys only.
    errors.push(`payload is only for a trigger, not ${JSON.stringify(e.event_action)}`);
  }
  if (e.links !== undefined) {
    if (!Array.isArray(e.links)) errors.push('links must be an array');
    else {
      e.links.forEach((l: unknown, i) => {
        const link = l as { href?: unknown; text?: unknown } | null;
        if (typeof link?.href !== 'string' || !/^https?:\/\//.test(link.href)) errors.push(`links[${i}].href must be a URL`);
        if (link?.text !== undefined && typeof link.text !== 'string') errors.push(`links[${i}].text must be a string`);
      });
    }
  }
  return errors;
}
