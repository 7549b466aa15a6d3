import { BurnrateError, createLogger } from '@burnrate/core';
import { anomaly, startPagerDutyStandIn, type PagerDutyStandIn } from '@burnrate/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPagerDutyChannel } from './pagerduty.ts';

const log = createLogger({ level: 'silent' });
const PAYMENTS = 'R0123456789abcdef0123456789abcde';
const RESEARCH = 'R1111111111abcdef0123456789abcde';

describe('PagerDuty channel against an Events API v2 stand-in', () => {
  let pd: PagerDutyStandIn;
  beforeAll(async () => {
    pd = await startPagerDutyStandIn({ routingKeys: [PAYMENTS, RESEARCH] });
  });
  afterAll(async () => {
    await pd.close();
  });
  beforeEach(() => {
    pd.requests.length = 0;
    pd.events.length = 0;
    pd.alerts.length = 0;
  });

  const channel = () =>
    createPagerDutyChannel({
      services: [
        { name: 'payments', routingKey: PAYMENTS },
        { name: 'research', routingKey: RESEARCH },
      ],
      eventsUrl: pd.url,
      log,
      publicUrl: 'https://burnrate.acme.internal',
    });

  it('opens one alert per anomaly, updates it with each open version and resolves it with the resolved one', async () => {
    const c = channel();
    const v1 = anomaly({ id: 'pd-ep-1', version: 1, severity: 'warning' });
    const v2 = anomaly({ id: 'pd-ep-1', version: 2, severity: 'critical' });
    const v3 = anomaly({ id: 'pd-ep-1', version: 3, severity: 'critical', status: 'resolved' });
    await expect(c.send({ anomaly: v1, reason: 'new', to: ['payments'] })).resolves.toEqual({ id: 'trigger:pd-ep-1' });
    await c.send({ anomaly: v2, reason: 'escalated', to: ['payments'] });
    await expect(c.send({ anomaly: v3, reason: 'resolved', to: ['payments'] })).resolves.toEqual({ id: 'resolve:pd-ep-1' });

    expect(pd.requests.map((r) => [r.status, r.problems])).toEqual([
      [202, []],
      [202, []],
      [202, []],
    ]);
    expect(pd.alerts).toHaveLength(1);
    expect(pd.alerts[0]).toMatchObject({ routingKey: PAYMENTS, dedupKey: 'pd-ep-1', status: 'resolved' });
    expect(pd.alerts[0]?.events.map((e) => [e.event_action, (e.payload as { severity?: string } | undefined)?.severity])).toEqual([
      ['trigger', 'warning'],
      ['trigger', 'critical'],
      ['resolve', undefined],
    ]);
    expect(pd.events[0]?.links).toEqual([{ href: 'https://burnrate.acme.internal/anomalies/pd-ep-1', text: 'Open in Burnrate' }]);
  });

  it('folds a resend after a crash into the same alert', async () => {
    const a = anomaly({ id: 'pd-again' });
    await channel().send({ anomaly: a, reason: 'new', to: ['payments'] });
    await channel().send({ anomaly: a, reason: 'new', to: ['payments'] });
    expect(pd.alerts).toHaveLength(1);
    expect(pd.alerts[0]?.events).toHaveLength(2);
  });

  it('acknowledges the alert of an anomaly', async () => {
    const a = anomaly({ id: 'pd-ack' });
    const c = channel();
    await c.send({ anomaly: a, reason: 'new', to: ['research'] });
    await expect(c.acknowledge({ anomaly: a, to: ['research'] })).resolves.toEqual({ id: 'acknowledge:pd-ack' });
    expect(pd.alerts[0]).toMatchObject({ routingKey: RESEARCH, status: 'acknowledged' });
  });

  it('keys an alert by routing key: the same anomaly on two services is two alerts', async () => {
    const a = anomaly({ id: 'pd-two' });
    await channel().send({ anomaly: a, reason: 'new', to: ['payments'] });
    await channel().send({ anomaly: a, reason: 'new', to: ['research'] });
    expect(pd.alerts.map((x) => x.routingKey)).toEqual([PAYMENTS, RESEARCH]);
  });

  it.each([
    ['429', { status: 429, retryAfterSec: 2 }, { code: 'NOTIFY_RATE_LIMITED', retriable: true, retryAfterMs: 2_000 }],
    ['429 without Retry-After', { status: 429 }, { code: 'NOTIFY_RATE_LIMITED', retriable: true, retryAfterMs: undefined }],
    ['500', { status: 500 }, { code: 'NOTIFY_UNAVAILABLE', retriable: true }],
    ['502', { status: 502 }, { code: 'NOTIFY_UNAVAILABLE', retriable: true }],
    ['403', { status: 403 }, { code: 'NOTIFY_REJECTED', retriable: false }],
  ])('classifies %s', async (_name, failure, expected) => {
    pd.failNext(1, failure);
    const err = await channel()
      .send({ anomaly: anomaly(), reason: 'new', to: ['payments'] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BurnrateError);
    expect(err).toMatchObject(expected);
  });

  it('is refused for good, with PagerDuty’s reasons, when the event is invalid (an unknown routing key)', async () => {
    const stranger = createPagerDutyChannel({
      services: [{ name: 'x', routingKey: 'R9999999999abcdef0123456789abcde' }],
      eventsUrl: pd.url,
      log,
    });
    await expect(stranger.send({ anomaly: anomaly(), reason: 'new', to: ['x'] })).rejects.toMatchObject({
      code: 'NOTIFY_REJECTED',
      message:
        'PagerDuty trigger for "x" was refused with HTTP 400: invalid event: Event object is invalid (routing_key: no integration with this key)',
    });
  });

  it('never puts the routing key in an error', async () => {
    pd.failNext(1, { status: 400, body: 'nope' });
    const err = (await channel()
      .send({ anomaly: anomaly(), reason: 'new', to: ['payments'] })
      .catch((e: unknown) => e)) as Error;
    expect(err.message).not.toContain(PAYMENTS);
  });
});
