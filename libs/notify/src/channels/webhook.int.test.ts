import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BurnrateError, createLogger } from '@burnrate/core';
import { lifecycleOf } from '@burnrate/schemas';
import { anomaly, startWebhookReceiver, type WebhookReceiver } from '@burnrate/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createWebhookChannel, webhookIdempotencyKey } from './webhook.ts';

const log = createLogger({ level: 'silent' });
const SECRET = 'whsec_3b1f0c9e7a2d';

describe('webhook channel against a receiver that verifies signatures', () => {
  let hook: WebhookReceiver;
  beforeAll(async () => {
    hook = await startWebhookReceiver({ secret: SECRET });
  });
  afterAll(async () => {
    await hook.close();
  });
  beforeEach(() => {
    hook.requests.length = 0;
    hook.deliveries.length = 0;
  });

  const channel = (overrides: { secret?: string; url?: string; timeoutMs?: number } = {}) =>
    createWebhookChannel({
      endpoints: [{ name: 'ops-bus', url: overrides.url ?? hook.url, secret: overrides.secret ?? SECRET }],
      log,
      publicUrl: 'https://burnrate.acme.internal',
      ...(overrides.timeoutMs ? { timeoutMs: overrides.timeoutMs } : {}),
    });
  const to = ['ops-bus'];
  const receiver = 'webhook:ops-bus';

  it('POSTs the anomaly version as signed JSON with an Idempotency-Key, and the receiver accepts it', async () => {
    const a = anomaly({ id: 'wh-1', version: 2, severity: 'critical' });
    const { id } = await channel().send({ anomaly: a, reason: 'escalated', to, receiver });

    const [delivery] = hook.deliveries;
    expect(delivery?.body).toEqual({
      type: 'anomaly',
      reason: 'escalated',
      receiver,
      anomaly: JSON.parse(JSON.stringify(a)),
      anomaly_url: 'https://burnrate.acme.internal/anomalies/wh-1',
    });
    expect(delivery?.idempotencyKey).toBe(webhookIdempotencyKey('wh-1', 2, receiver));
    expect(id).toBe(delivery?.idempotencyKey);
    const [request] = hook.requests;
    expect(request?.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(request?.headers['burnrate-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
  });

  it('carries a group’s members, the decisions and the escalation, and keys a grown group apart', async () => {
    const members = [anomaly({ id: 'wh-g-0' }), anomaly({ id: 'wh-g-1', subject: { developer: 'bob@acme.com' } })];
    const first = members[0] ?? anomaly();
    const lifecycle = lifecycleOf(
      [
        {
          anomaly_id: 'wh-g-0',
          action: 'snoozed',
          by: 'bob@acme.com',
          channel: 'api',
          at: '2026-11-27T14:10:00.000Z',
          snoozed_until: '2026-11-27T15:10:00.000Z',
        },
      ],
      new Date('2026-11-27T14:30:00.000Z'),
    );
    const escalation = { to: 'oncall' as const, unacknowledgedForMs: 1_800_000 };
    await channel().send({ anomaly: first, group: members, reason: 'new', to, receiver, lifecycle, escalation });
    await channel().send({ anomaly: first, group: [...members, anomaly({ id: 'wh-g-2' })], reason: 'grown', to, receiver });

    const [delivery, grown] = hook.deliveries;
    expect(delivery?.body).toMatchObject({
      anomaly: { id: 'wh-g-0' },
      group: JSON.parse(JSON.stringify(members)) as unknown,
      lifecycle: { state: 'snoozed', snoozed_until: '2026-11-27T15:10:00.000Z', decision: { by: 'bob@acme.com' } },
      escalation: { to: 'oncall', unacknowledged_for_ms: 1_800_000 },
    });
    expect((grown?.body as { group: unknown[] }).group).toHaveLength(3);
    expect(hook.deliveries.map((d) => d.repeat)).toEqual([false, false]);
    expect(delivery?.idempotencyKey).not.toBe(webhookIdempotencyKey('wh-g-0', 1, receiver));
  });

  it('sends the same Idempotency-Key again on a resend, so the receiver can drop it', async () => {
    const a = anomaly({ id: 'wh-2' });
    await channel().send({ anomaly: a, reason: 'new', to, receiver });
    await channel().send({ anomaly: a, reason: 'new', to, receiver });
    expect(hook.deliveries.map((d) => d.repeat)).toEqual([false, true]);
  });

  it.each([
    ['429 with Retry-After', { status: 429, retryAfterSec: 7 }, { code: 'NOTIFY_RATE_LIMITED', retriable: true, retryAfterMs: 7_000 }],
    ['503', { status: 503 }, { code: 'NOTIFY_UNAVAILABLE', retriable: true }],
    ['408', { status: 408 }, { code: 'NOTIFY_UNAVAILABLE', retriable: true }],
    ['400', { status: 400, body: 'unknown field' }, { code: 'NOTIFY_REJECTED', retriable: false }],
    ['a redirect', { status: 301 }, { code: 'NOTIFY_REJECTED', retriable: false }],
  ])('classifies %s', async (_name, failure, expected) => {
    hook.failNext(1, failure);
    const err = await channel()
      .send({ anomaly: anomaly(), reason: 'new', to, receiver })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BurnrateError);
    expect(err).toMatchObject(expected);
    expect((err as Error).message).toMatch(/^webhook "ops-bus"/);
    expect((err as Error).message).not.toContain(hook.url);
  });

  it('is refused for good when the receiver rejects the signature (wrong secret)', async () => {
    await expect(channel({ secret: 'whsec_wrong' }).send({ anomaly: anomaly(), reason: 'new', to, receiver })).rejects.toMatchObject({
      code: 'NOTIFY_REJECTED',
      message: 'webhook "ops-bus" was refused with HTTP 401: bad signature',
    });
    expect(hook.deliveries).toHaveLength(0);
  });

  it('rejects a notification for a webhook it was not built with', async () => {
    await expect(channel().send({ anomaly: anomaly(), reason: 'new', to: ['elsewhere'] })).rejects.toMatchObject({
      code: 'NOTIFY_REJECTED',
    });
  });

  describe('when the endpoint is down or hangs', () => {
    let hanging: Server;
    let hangingUrl: string;
    beforeAll(async () => {
      // Reads the request and never answers.
      hanging = createServer(() => {});
      await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
      hangingUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/hooks`;
    });
    afterAll(async () => {
      hanging.closeAllConnections();
      await new Promise<void>((resolve) => hanging.close(() => resolve()));
    });

    it('turns a timeout into a retriable NOTIFY_UNAVAILABLE', async () => {
      await expect(
        channel({ url: hangingUrl, timeoutMs: 200 }).send({ anomaly: anomaly(), reason: 'new', to, receiver }),
      ).rejects.toMatchObject({
        code: 'NOTIFY_UNAVAILABLE',
        retriable: true,
        message: 'webhook "ops-bus" timed out after 200 ms',
      });
    });

    it('turns a refused connection into a retriable NOTIFY_UNAVAILABLE', async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/hooks`;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      await expect(channel({ url }).send({ anomaly: anomaly(), reason: 'new', to, receiver })).rejects.toMatchObject({
        code: 'NOTIFY_UNAVAILABLE',
        retriable: true,
      });
    });
  });
});
