import { BurnrateError, createLogger } from '@burnrate/core';
import { anomaly, startMsTeamsStandIn, type MsTeamsStandIn } from '@burnrate/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createMsTeamsChannel, msTeamsCardId } from './msteams.ts';

const log = createLogger({ level: 'silent' });

describe.each(['incoming-webhook', 'workflow'] as const)('Teams channel against a %s stand-in', (kind) => {
  let teams: MsTeamsStandIn;
  beforeAll(async () => {
    teams = await startMsTeamsStandIn({ kind });
  });
  afterAll(async () => {
    await teams.close();
  });
  beforeEach(() => {
    teams.requests.length = 0;
    teams.cards.length = 0;
  });

  const channel = () =>
    createMsTeamsChannel({ webhooks: [{ name: 'payments', url: teams.url }], log, publicUrl: 'https://burnrate.acme.internal' });
  const to = ['payments'];
  const receiver = 'msteams:payments';

  it('posts an Adaptive Card the webhook accepts, carrying the identity of the anomaly version', async () => {
    const a = anomaly({ id: 'tm-int', version: 3, severity: 'critical' });
    const { id } = await channel().send({ anomaly: a, reason: 'escalated', to, receiver });
    expect(teams.requests.map((r) => [r.status, r.problems])).toEqual([[kind === 'workflow' ? 202 : 200, []]]);
    const [card] = teams.cards;
    expect(card?.ids).toEqual([msTeamsCardId('tm-int', 3, receiver)]);
    expect(id).toBe(msTeamsCardId('tm-int', 3, receiver));
    expect(card?.texts).toContain('Escalated to critical: Session cost');
    expect(card?.urls).toEqual(['https://burnrate.acme.internal/anomalies/tm-int']);
  });

  it('posts one card for a group, each member linked to its page', async () => {
    const members = Array.from({ length: 3 }, (_, i) => anomaly({ id: `tm-g-${i}`, subject: { developer: `dev${i}@acme.com` } }));
    await channel().send({ anomaly: members[0] ?? anomaly(), group: members, reason: 'new', to, receiver });
    expect(teams.requests.map((r) => r.problems)).toEqual([[]]);
    const [card] = teams.cards;
    expect(card?.texts[0]).toBe('Warning: 3 session cost anomalies for team payments');
    expect(card?.urls).toEqual(members.map((m) => `https://burnrate.acme.internal/anomalies/${m.id}`));
  });

  it('posts a card within Teams’ size limit for an anomaly with huge texts', async () => {
    const huge = '€'.repeat(50_000);
    await channel().send({ anomaly: anomaly({ summary: huge, advice: huge }), reason: 'new', to, receiver });
    expect(teams.requests[0]?.problems).toEqual([]);
    expect(teams.cards).toHaveLength(1);
  });

  it.each([
    ['429 with Retry-After', { status: 429, retryAfterSec: 3 }, { code: 'NOTIFY_RATE_LIMITED', retriable: true, retryAfterMs: 3_000 }],
    ['503', { status: 503 }, { code: 'NOTIFY_UNAVAILABLE', retriable: true }],
    ['404 (a deleted webhook)', { status: 404 }, { code: 'NOTIFY_REJECTED', retriable: false }],
  ])('classifies %s', async (_name, failure, expected) => {
    teams.failNext(1, failure);
    const err = await channel()
      .send({ anomaly: anomaly(), reason: 'new', to, receiver })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BurnrateError);
    expect(err).toMatchObject(expected);
    expect((err as Error).message).not.toContain('token-abc123');
  });

  it.each([
    [429, { code: 'NOTIFY_RATE_LIMITED', retriable: true }],
    [502, { code: 'NOTIFY_UNAVAILABLE', retriable: true }],
    [413, { code: 'NOTIFY_REJECTED', retriable: false }],
  ])('classifies a refusal with %i from Teams, however the webhook reports it', async (status, expected) => {
    teams.refuseInBodyNext(1, status);
    await expect(channel().send({ anomaly: anomaly(), reason: 'new', to, receiver })).rejects.toMatchObject(expected);
    expect(teams.cards).toHaveLength(0);
  });
});
