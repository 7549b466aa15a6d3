import { createHmac, timingSafeEqual } from 'node:crypto';
import { type HttpFailure, type HttpStandIn, type ReceivedRequest, jsonAnswer, startHttpStandIn } from './http-stand-in.ts';
import { waitUntil } from './wait-until.ts';

export interface WebhookReceiverOptions {
  /** The shared secret the sender signs with. */
  secret: string;
  /** Oldest signature timestamp accepted, in seconds either side of now (default 300). */
  toleranceSec?: number;
}

/** One delivery the receiver accepted. */
export interface WebhookDelivery {
  idempotencyKey: string;
  body: Record<string, unknown>;
  /** Whether an earlier delivery had the same Idempotency-Key (a resend). */
  repeat: boolean;
}

export interface WebhookReceiver {
  /** Where to POST: `http://127.0.0.1:PORT/hooks/burnrate`. */
  url: string;
  requests: ReceivedRequest[];
  /** Accepted deliveries, in order, repeats included. */
  deliveries: WebhookDelivery[];
  failNext(n: number, failure: HttpFailure): void;
  waitFor(predicate: (d: WebhookDelivery) => boolean, timeoutMs?: number): Promise<WebhookDelivery>;
  close(): Promise<void>;
}

/**
 * Checks `Burnrate-Signature: t=<unix>,v1=<hex>` the way the notify README tells a receiver to:
 * HMAC-SHA256 of `<t>.<raw body>` with the secret, compared in constant time, and `t` within
 * `toleranceSec` of now so a captured request cannot be replayed later.
 */
export function verifyWebhookSignature(
  header: string | undefined,
  rawBody: string,
  secret: string,
  toleranceSec = 300,
  now = Date.now(),
): boolean {
  if (!header) return false;
  const fields = new Map(
    header.split(',').map((part) => [part.slice(0, part.indexOf('=')).trim(), part.slice(part.indexOf('=') + 1).trim()]),
  );
  const t = Number(fields.get('t'));
  if (!Number.isInteger(t) || Math.abs(now / 1000 - t) > toleranceSec) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${rawBody}`).digest();
  const given = Buffer.from(fields.get('v1') ?? '', 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * A webhook endpoint such as a customer would run: accepts a Burnrate delivery (POST, JSON,
 * a valid signature within the replay window, an Idempotency-Key, a body with `type`, `reason`,
 * `receiver` and the anomaly's `id` and `version`) with 200, answers 401 for a bad signature and
 * 400 for a malformed body, and remembers Idempotency-Keys to tell resends apart.
 */
export async function startWebhookReceiver(options: WebhookReceiverOptions): Promise<WebhookReceiver> {
  const deliveries: WebhookDelivery[] = [];
  const seen = new Set<string>();
  const standIn: HttpStandIn = await startHttpStandIn((req) => {
    if (req.method !== 'POST' || req.path !== '/hooks/burnrate') return { status: 404, body: 'not found' };
    if (!req.headers['content-type']?.startsWith('application/json'))
      return { status: 415, body: 'expected application/json', problems: ['content-type'] };
    if (!verifyWebhookSignature(req.headers['burnrate-signature'], req.body, options.secret, options.toleranceSec)) {
      return { status: 401, body: 'bad signature', problems: ['burnrate-signature'] };
    }
    const key = req.headers['idempotency-key'];
    const problems = [...(key ? [] : ['idempotency-key header is missing']), ...bodyProblems(req.json)];
    if (problems.length > 0) return jsonAnswer(400, { error: 'malformed delivery', problems }, problems);
    deliveries.push({ idempotencyKey: key as string, body: req.json as Record<string, unknown>, repeat: seen.has(key as string) });
    seen.add(key as string);
    return jsonAnswer(200, { received: true });
  });
  return {
    url: `${standIn.origin}/hooks/burnrate`,
    requests: standIn.requests,
    deliveries,
    failNext: standIn.failNext,
    waitFor: (predicate, timeoutMs = 5_000) =>
      waitUntil(() => deliveries.find(predicate), {
        timeoutMs,
        message: `no webhook delivery matched within ${timeoutMs} ms (got ${deliveries.length})`,
      }),
    close: standIn.close,
  };
}

function bodyProblems(json: unknown): string[] {
  if (typeof json !== 'object' || json === null) return ['the body is not a JSON object'];
  const body = json as Record<string, unknown>;
  const problems: string[] = [];
  if (body.type !== 'anomaly') problems.push('type must be "anomaly"');
  if (typeof body.reason !== 'string') problems.push('reason must be a string');
  if (typeof body.receiver !== 'string' || !body.receiver.startsWith('webhook:')) problems.push('receiver must be "webhook:<name>"');
  const anomaly = body.anomaly as Record<string, unknown> | undefined;
  if (typeof anomaly !== 'object' || anomaly === null) problems.push('anomaly must be an object');
  else {
    if (typeof anomaly.id !== 'string') problems.push('anomaly.id must be a string');
    if (!Number.isInteger(anomaly.version)) problems.push('anomaly.version must be an integer');
  }
  return problems;
}
