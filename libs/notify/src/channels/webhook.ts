import { createHash, createHmac } from 'node:crypto';
import { BurnrateError, type Logger } from '@burnrate/core';
import type { Anomaly, AnomalyLifecycle } from '@burnrate/schemas';
import { z } from 'zod';
import {
  anomalyUrl,
  type Channel,
  type ChannelDefinition,
  EnvVarField,
  type NotificationEscalation,
  type NotificationReason,
  notificationVariant,
  ReceiverNameField,
  receiverOf,
  secretFromEnv,
} from '../channel.ts';
import { answerDetail, postJson, statusError } from '../http-post.ts';

/**
 * `{ channel: webhook, name, url | url_env, secret_env }`: a JSON POST of each anomaly version to
 * `url`, signed with the secret in `secret_env`. `url_env` keeps a URL that carries a token out of
 * the file.
 */
export const WebhookReceiver = z
  .object({
    channel: z.literal('webhook').describe('POST each anomaly version as signed JSON to a URL.'),
    name: ReceiverNameField,
    url: z
      .url({ protocol: /^https?$/, message: 'expected an http(s) URL' })
      .meta({
        description: 'Where the POST goes. A URL that carries a token belongs in url_env instead.',
        examples: ['https://hooks.acme.internal/burnrate'],
      })
      .optional(),
    url_env: EnvVarField.meta({
      description: 'The environment variable that holds the URL, for a URL that carries a token (give url or url_env).',
      examples: ['OPS_WEBHOOK_URL'],
    }).optional(),
    secret_env: EnvVarField.meta({
      description: 'The environment variable that holds the secret each POST is signed with (header burnrate-signature, HMAC-SHA256).',
      examples: ['OPS_WEBHOOK_SECRET'],
    }),
  })
  .strict()
  .refine((r) => (r.url === undefined) !== (r.url_env === undefined), { message: 'give the webhook one of url or url_env' });
export type WebhookReceiver = z.infer<typeof WebhookReceiver>;

/** The header that signs a request: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export const SIGNATURE_HEADER = 'burnrate-signature';
/** The header that names a delivery: the same for every attempt of one anomaly version to one receiver. */
export const IDEMPOTENCY_HEADER = 'idempotency-key';

/** What Burnrate POSTs: the anomaly version as it is on anomalies.v1, and why it is sent. */
export interface WebhookBody {
  type: 'anomaly';
  /** `new`, `escalated`, `grown`, `updated`, `resolved`, `reminder` (still open, nothing changed) or `snooze_ended`. */
  reason: NotificationReason;
  /** `webhook:<name>`. */
  receiver: string;
  /** The anomaly version; in a group, the first of `group`. */
  anomaly: Anomaly;
  /** The anomaly's page, when public_url is set. */
  anomaly_url?: string;
  /** A group message: every anomaly version it carries, `anomaly` first, each as on anomalies.v1. */
  group?: Anomaly[];
  /** What the humans decided so far (acknowledged by, snoozed until, resolved as), when anything. */
  lifecycle?: AnomalyLifecycle;
  /** Sent because nobody acknowledged in time: to whom, after how long. */
  escalation?: { to: NotificationEscalation['to']; unacknowledged_for_ms: number };
}

/** `t=<unix>,v1=<hex>`: HMAC-SHA256 with the secret over `<t>.<body>`, the body byte for byte. */
export function webhookSignature(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/**
 * The Idempotency-Key of (anomaly id, version, receiver): a hash, since an anomaly id may hold
 * characters a header cannot. A receiver that keeps the keys it processed (a day is plenty)
 * ignores a resend after a crash. `variant` (`notificationVariant`: a reminder, a group's
 * members) is hashed in too when set, so such a message is not dropped as a resend of the first.
 */
export function webhookIdempotencyKey(anomalyId: string, version: number, receiver: string, variant?: string): string {
  const identity = `${anomalyId}\u0000${version}\u0000${receiver}${variant === undefined ? '' : `\u0000${variant}`}`;
  return `burnrate-${createHash('sha256').update(identity).digest('hex').slice(0, 40)}`;
}

export interface WebhookEndpoint {
  name: string;
  url: string;
  secret: string;
}

export interface WebhookChannelOptions {
  endpoints: readonly WebhookEndpoint[];
  log: Logger;
  publicUrl?: string | undefined;
  /** Per request (default 10 s). */
  timeoutMs?: number;
  /** For the signature's timestamp; tests pin it. */
  now?: () => Date;
}

/**
 * The webhook channel: one signed JSON POST per notification to the endpoint named in `to`.
 * Each attempt is signed afresh (its own timestamp) and carries the same Idempotency-Key. A 2xx
 * is delivered; 429 (with Retry-After), 408 and 5xx are retried by the notifier with backoff;
 * a redirect and other 4xx are refused for good. No `reconcile`: an endpoint cannot be asked
 * what it received, so a crash between its 2xx and the delivery record resends, with the same
 * Idempotency-Key. No `update`: a POST cannot be taken back, and a receiver that wants to follow
 * acknowledgements reads them from Burnrate's API (GET /api/anomalies/:id) or anomaly-state.v1
 * rather than from a second kind of webhook event.
 */
export function createWebhookChannel(options: WebhookChannelOptions): Channel {
  const endpoints = new Map(options.endpoints.map((e) => [e.name, e]));
  const timeoutMs = options.timeoutMs ?? 10_000;
  const now = options.now ?? (() => new Date());
  return {
    name: 'webhook',
    async send(n) {
      const [name, ...extra] = n.to;
      const endpoint = name === undefined || extra.length > 0 ? undefined : endpoints.get(name);
      if (!endpoint)
        throw new BurnrateError('NOTIFY_REJECTED', `no webhook receiver named ${JSON.stringify(n.to.join(','))} is configured`);
      const receiver = receiverOf('webhook', n);
      const link = anomalyUrl(options.publicUrl, n.anomaly.id);
      const payload: WebhookBody = {
        type: 'anomaly',
        reason: n.reason,
        receiver,
        anomaly: n.anomaly,
        ...(link ? { anomaly_url: link } : {}),
        ...(n.group && n.group.length > 1 ? { group: [...n.group] } : {}),
        ...(n.lifecycle ? { lifecycle: n.lifecycle } : {}),
        ...(n.escalation ? { escalation: { to: n.escalation.to, unacknowledged_for_ms: n.escalation.unacknowledgedForMs } } : {}),
      };
      const body = JSON.stringify(payload);
      const key = webhookIdempotencyKey(n.anomaly.id, n.anomaly.version, receiver, notificationVariant(n));
      const where = `webhook ${JSON.stringify(endpoint.name)}`;
      const answer = await postJson(where, {
        url: endpoint.url,
        body,
        timeoutMs,
        headers: {
          [IDEMPOTENCY_HEADER]: key,
          [SIGNATURE_HEADER]: webhookSignature(endpoint.secret, body, Math.floor(now().getTime() / 1000)),
        },
      });
      const error = statusError(where, answer.status, answerDetail(answer.text), answer.retryAfterMs);
      if (error) throw error;
      options.log.debug({ anomalyId: n.anomaly.id, version: n.anomaly.version, receiver, status: answer.status }, 'webhook delivered');
      return { id: key };
    },
    async close() {},
  };
}

export const webhook: ChannelDefinition<WebhookReceiver> = {
  name: 'webhook',
  receiver: WebhookReceiver,
  to: (r) => [r.name],
  secrets: (r) => [...(r.url_env ? [{ field: 'url_env', variable: r.url_env }] : []), { field: 'secret_env', variable: r.secret_env }],
  create(receivers, context) {
    if (receivers.length === 0) return { off: 'no webhook receivers' };
    const endpoints = new Map<string, WebhookEndpoint>();
    for (const { receiver: r } of receivers) {
      const who = `webhook receiver "${r.name}"`;
      const url = r.url ?? secretFromEnv(context, r.url_env ?? '', who);
      if (!/^https?:\/\//.test(url)) {
        throw new BurnrateError('CONFIG_INVALID', `${who}: ${r.url_env} does not hold an http(s) URL`);
      }
      endpoints.set(r.name, { name: r.name, url, secret: secretFromEnv(context, r.secret_env, who) });
    }
    const channel = createWebhookChannel({
      endpoints: [...endpoints.values()],
      log: context.log.child({ component: 'webhook' }),
      publicUrl: context.publicUrl,
    });
    return { channel, status: `on (${endpoints.size} receiver${endpoints.size === 1 ? '' : 's'})` };
  },
};
