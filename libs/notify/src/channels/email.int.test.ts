import { createLogger } from '@burnrate/core';
import { anomaly, startSmtpServer, type TestSmtpServer } from '@burnrate/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { verifyLinkToken } from '../link-token.ts';
import { createEmailChannel } from './email.ts';

const log = createLogger({ level: 'silent' });
const LINK_SECRET = 'link-secret-of-at-least-32-characters!';
const NOW = new Date('2026-11-27T14:10:00Z');

describe('email channel against a real SMTP server', () => {
  let smtp: TestSmtpServer;
  beforeAll(async () => {
    smtp = await startSmtpServer({ auth: { user: 'burnrate', pass: 's3cret' } });
  });
  afterAll(async () => {
    await smtp.close();
  });
  beforeEach(() => {
    smtp.messages.length = 0;
  });

  const channel = (url = smtp.url) =>
    createEmailChannel({
      url,
      from: 'Burnrate <burnrate@acme.com>',
      log,
      links: { publicUrl: 'https://burnrate.acme.internal/', secret: LINK_SECRET, now: () => NOW },
    });

  it('sends one message to every address, with HTML, text and signed action links', async () => {
    const a = anomaly({ id: 'anom-9', severity: 'critical', observed: { value: 104.2, unit: 'usd' } });
    const email = channel();
    const { id } = await email.send({ anomaly: a, reason: 'new', to: ['leads@acme.com', 'oncall@acme.com'] });
    await email.close();

    expect(smtp.messages).toHaveLength(1);
    const [mail] = smtp.messages;
    expect(mail?.to).toEqual(['leads@acme.com', 'oncall@acme.com']);
    expect(mail?.toHeader).toEqual(['leads@acme.com', 'oncall@acme.com']);
    expect(mail?.from).toBe('burnrate@acme.com');
    expect(mail?.user).toBe('burnrate');
    expect(mail?.subject).toBe('[Burnrate][critical] Session cost $104.20 for alice@acme.com (payments)');
    expect(mail?.messageId).toBe(id);
    // The link a reader clicks carries a token for this anomaly, this action and these receivers, for a week.
    const ack = /^Acknowledge: https:\/\/burnrate\.acme\.internal\/act\/(\S+)$/m.exec(mail?.text ?? '')?.[1] as string;
    expect(verifyLinkToken(LINK_SECRET, ack, NOW)).toEqual({
      ok: true,
      claims: { anomalyIds: ['anom-9'], action: 'ack', by: 'leads@acme.com,oncall@acme.com', expiresAt: NOW.getTime() / 1000 + 7 * 86_400 },
    });
    expect(mail?.html).toContain(`href="https://burnrate.acme.internal/act/${ack}"`);
    const snooze = /^Snooze 1 hour: \S+\/act\/(\S+)$/m.exec(mail?.text ?? '')?.[1] as string;
    expect(verifyLinkToken(LINK_SECRET, snooze, NOW)).toMatchObject({ ok: true, claims: { action: 'snooze:1h' } });
    const view = /^Open in Burnrate: https:\/\/burnrate\.acme\.internal\/anomalies\/anom-9\?t=(\S+)$/m.exec(
      mail?.text ?? '',
    )?.[1] as string;
    expect(verifyLinkToken(LINK_SECRET, view, NOW)).toMatchObject({ ok: true, claims: { anomalyIds: ['anom-9'], action: 'view' } });
  });

  it('sends a group as one message whose links act on every anomaly in it', async () => {
    const group = ['g1', 'g2', 'g3'].map((id, i) => anomaly({ id, subject: { session: `sess-${i}` } }));
    const email = channel();
    await email.send({ anomaly: group[0]!, group, reason: 'new', to: ['leads@acme.com'] });
    await email.close();

    expect(smtp.messages).toHaveLength(1);
    const text = smtp.messages[0]?.text ?? '';
    for (const a of group) expect(text).toContain(`https://burnrate.acme.internal/anomalies/${a.id}?t=`);
    const ack = /^Acknowledge: \S+\/act\/(\S+)$/m.exec(text)?.[1] as string;
    expect(verifyLinkToken(LINK_SECRET, ack, NOW)).toMatchObject({
      ok: true,
      claims: { anomalyIds: ['g1', 'g2', 'g3'], by: 'leads@acme.com' },
    });
  });

  it('lets nothing from an event add a header or a recipient', async () => {
    const a = anomaly({
      id: 'anom-11',
      subject: { developer: 'mallory@acme.com\r\nBcc: all@acme.com\r\nX-Injected: yes', team: 'payments' },
      summary: 'line one\r\n.\r\nMAIL FROM:<x@evil.example>',
    });
    const email = channel();
    await email.send({ anomaly: a, reason: 'new', to: ['leads@acme.com'] });
    await email.close();

    expect(smtp.messages).toHaveLength(1);
    const [mail] = smtp.messages;
    expect(mail?.to).toEqual(['leads@acme.com']);
    expect(Object.keys(mail?.headers ?? {}).filter((k) => /^(bcc|x-injected)$/i.test(k))).toEqual([]);
    expect(mail?.subject).toBe('[Burnrate][warning] Session cost $31.20 for mallory@acme.com Bcc: all@acme.com X-Injected: yes (payments)');
    expect(mail?.text).toContain('MAIL FROM:<x@evil.example>');
  });

  it('gives every send of one anomaly version to one receiver the same Message-ID', async () => {
    const a = anomaly({ id: 'anom-10', version: 2 });
    const receiver = 'email:leads@acme.com';
    const email = channel();
    const first = await email.send({ anomaly: a, reason: 'new', to: ['leads@acme.com'], receiver });
    const again = await email.send({ anomaly: a, reason: 'new', to: ['leads@acme.com'], receiver });
    const next = await email.send({ anomaly: { ...a, version: 3 }, reason: 'escalated', to: ['leads@acme.com'], receiver });
    const other = await email.send({ anomaly: a, reason: 'new', to: ['oncall@acme.com'], receiver: 'email:oncall@acme.com' });
    await email.close();

    expect(smtp.messages.map((m) => m.messageId)).toEqual([first.id, first.id, next.id, other.id]);
    expect(again.id).toBe(first.id);
    expect(first.id).toMatch(/^<burnrate\.anom-10\.v2\.[0-9a-f]{12}@acme\.com>$/);
    expect(new Set([first.id, next.id, other.id]).size).toBe(3);
  });

  it('turns an SMTP 4xx into retriable NOTIFY_UNAVAILABLE', async () => {
    smtp.failNext(1, 451);
    const err = await channel()
      .send({ anomaly: anomaly(), reason: 'new', to: ['leads@acme.com'] })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NOTIFY_UNAVAILABLE', retriable: true });
    expect(smtp.messages).toHaveLength(0);
  });

  it('turns an SMTP 5xx into NOTIFY_REJECTED', async () => {
    smtp.failNext(1, 550, 'mailbox unavailable');
    const err = await channel()
      .send({ anomaly: anomaly(), reason: 'new', to: ['leads@acme.com'] })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NOTIFY_REJECTED', retriable: false });
  });

  it('turns bad credentials into NOTIFY_REJECTED without leaking the password', async () => {
    const err = await channel(`smtp://burnrate:wrong@127.0.0.1:${smtp.port}`)
      .send({ anomaly: anomaly(), reason: 'new', to: ['leads@acme.com'] })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NOTIFY_REJECTED' });
    expect((err as Error).message).not.toContain('wrong');
  });

  it('turns a refused connection into retriable NOTIFY_UNAVAILABLE', async () => {
    const err = await channel('smtp://127.0.0.1:1')
      .send({ anomaly: anomaly(), reason: 'new', to: ['leads@acme.com'] })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NOTIFY_UNAVAILABLE', retriable: true });
  });
});
