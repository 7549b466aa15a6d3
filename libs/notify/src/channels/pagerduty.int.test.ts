import { BurnrateError, createLogger } from '@burnrate/core';
import { type AnomalyState, lifecycleOf } from '@burnrate/schemas';
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

  describe('update', () => {
    const decided = (action: AnomalyState['action'], extra: Partial<AnomalyState> = {}) =>
      lifecycleOf([{ anomaly_id: 'pd-up', action, by: 'bob@acme.com', channel: 'slack', at: '2026-11-27T14:10:00.000Z', ...extra }], NOW);
    const NOW = new Date('2026-11-27T14:30:00.000Z');

    it('acknowledges the alert when a human acknowledged, then resolves it when a human resolved', async () => {
      const a = anomaly({ id: 'pd-up' });
      const c = channel();
      const { id } = await c.send({ anomaly: a, reason: 'new', to: ['research'] });
      await c.update?.(id, { anomaly: a, reason: 'new', to: ['research'], lifecycle: decided('acknowledged') });
      expect(pd.alerts[0]).toMatchObject({ routingKey: RESEARCH, dedupKey: 'pd-up', status: 'acknowledged' });
      await c.update?.(id, { anomaly: a, reason: 'new', to: ['research'], lifecycle: decided('resolved', { reason: 'expected' }) });
      expect(pd.alerts[0]?.status).toBe('resolved');
      expect(pd.events.map((e) => [e.event_action, e.dedup_key, e.payload])).toEqual([
        ['trigger', 'pd-up', expect.any(Object)],
        ['acknowledge', 'pd-up', undefined],
        ['resolve', 'pd-up', undefined],
      ]);
    });

    it('sends nothing for a snooze, an acknowledgement taken back, or no decision: the Events API has no such event', async () => {
      const a = anomaly({ id: 'pd-up' });
      const c = channel();
      const { id } = await c.send({ anomaly: a, reason: 'new', to: ['research'] });
      await c.update?.(id, {
        anomaly: a,
        reason: 'new',
        to: ['research'],
        lifecycle: decided('snoozed', { snoozed_until: '2026-11-27T15:10:00.000Z' }),
      });
      await c.update?.(id, { anomaly: a, reason: 'new', to: ['research'], lifecycle: decided('unacknowledged') });
      await c.update?.(id, { anomaly: a, reason: 'new', to: ['research'] });
      expect(pd.requests).toHaveLength(1);
      expect(pd.alerts[0]?.status).toBe('triggered');
    });

    it('fails like a send: a 429 is retriable with its delay, an unknown receiver is refused', async () => {
      const a = anomaly({ id: 'pd-up' });
      const c = channel();
      pd.failNext(1, { status: 429, retryAfterSec: 4 });
      await expect(
        c.update?.('trigger:pd-up', { anomaly: a, reason: 'new', to: ['research'], lifecycle: decided('acknowledged') }),
      ).rejects.toMatchObject({
        code: 'NOTIFY_RATE_LIMITED',
        retryAfterMs: 4_000,
      });
      await expect(
        c.update?.('trigger:pd-up', { anomaly: a, reason: 'new', to: ['nobody'], lifecycle: decided('acknowledged') }),
      ).rejects.toMatchObject({
        code: 'NOTIFY_REJECTED',
      });
    });
  });

  describe('groups', () => {
    const members = [
      anomaly({ id: 'pd-g-0', severity: 'critical' }),
      anomaly({ id: 'pd-g-1', subject: { developer: 'bob@acme.com' } }),
      anomaly({ id: 'pd-g-2', status: 'resolved' }),
    ];
    const first = members[0] ?? anomaly();

    it('sends one event per member, each on its alert, naming the group', async () => {
      const { id } = await channel().send({ anomaly: first, group: members, reason: 'new', to: ['payments'] });
      expect(id).toBe('trigger:pd-g-0');
      expect(pd.events.map((e) => [e.event_action, e.dedup_key])).toEqual([
        ['trigger', 'pd-g-0'],
        ['trigger', 'pd-g-1'],
        ['resolve', 'pd-g-2'],
      ]);
      expect((pd.events[1]?.payload as { custom_details: Record<string, unknown> }).custom_details.group).toEqual({
        title: '3 session cost anomalies for team payments',
        size: 3,
        anomaly_ids: ['pd-g-0', 'pd-g-1', 'pd-g-2'],
      });
      expect(pd.alerts.map((a) => [a.dedupKey, a.status])).toEqual([
        ['pd-g-0', 'triggered'],
        ['pd-g-1', 'triggered'],
      ]);
    });

    it('acknowledges the alert of every member when the group is acknowledged', async () => {
      const c = channel();
      const open = members.slice(0, 2);
      const { id } = await c.send({ anomaly: first, group: open, reason: 'new', to: ['payments'] });
      const lifecycle = lifecycleOf(
        [{ anomaly_id: 'pd-g-0', action: 'acknowledged', by: 'bob@acme.com', channel: 'slack', at: '2026-11-27T14:10:00.000Z' }],
        new Date('2026-11-27T14:30:00.000Z'),
      );
      await c.update?.(id, { anomaly: first, group: open, reason: 'new', to: ['payments'], lifecycle });
      expect(pd.alerts.map((a) => [a.dedupKey, a.status])).toEqual([
        ['pd-g-0', 'acknowledged'],
        ['pd-g-1', 'acknowledged'],
      ]);
    });
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
