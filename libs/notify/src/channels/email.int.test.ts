import { createLogger } from '@burnrate/core';
import { anomaly, startSmtpServer, type TestSmtpServer } from '@burnrate/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { consoleAcknowledgeUrl, createEmailChannel } from './email.ts';

const log = createLogger({ level: 'silent' });

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
      acknowledgeUrl: consoleAcknowledgeUrl('https://burnrate.acme.internal/'),
    });

  it('sends one message to every address, with HTML, text and an acknowledge link', async () => {
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
    expect(mail?.text).toContain('Acknowledge: https://burnrate.acme.internal/anomalies/anom-9#acknowledge');
    expect(mail?.html).toContain('href="https://burnrate.acme.internal/anomalies/anom-9#acknowledge"');
    expect(mail?.messageId).toBe(id);
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
