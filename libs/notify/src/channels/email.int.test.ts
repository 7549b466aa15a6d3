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
    expect(mail?.subject).toBe('[Burnrate] Session cost for alice@acme.com (payments)');
    expect(mail?.headers['x-burnrate-severity']).toBe('critical');
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
    expect(mail?.subject).toBe('[Burnrate] Session cost for mallory@acme.com Bcc: all@acme.com X-Injected: yes (payments)');
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

  describe('threads', () => {
    const receiver = 'email:leads@acme.com';
    const to = ['leads@acme.com'];

    it('threads the messages of one episode: the same subject, Re: on replies, References and In-Reply-To the first', async () => {
      const v1 = anomaly({ id: 'ep-1', version: 1, severity: 'warning' });
      const v2 = anomaly({ id: 'ep-1', version: 2, severity: 'critical', observed: { value: 104.2, unit: 'usd' } });
      const v3 = anomaly({ id: 'ep-1', version: 3, severity: 'critical', status: 'resolved' });
      const email = channel();
      const first = await email.send({ anomaly: v1, reason: 'new', to, receiver });
      const thread = { parentId: first.id, broadcast: false };
      const second = await email.send({ anomaly: v2, reason: 'escalated', to, receiver, thread });
      await email.send({ anomaly: v3, reason: 'resolved', to, receiver, thread });
      await email.close();

      expect(smtp.messages.map((m) => m.subject)).toEqual([
        '[Burnrate] Session cost for alice@acme.com (payments)',
        'Re: [Burnrate] Session cost for alice@acme.com (payments)',
        'Re: [Burnrate] Session cost for alice@acme.com (payments)',
      ]);
      const [m1, m2, m3] = smtp.messages;
      expect(smtp.messages.map((m) => m.headers['x-burnrate-severity'])).toEqual(['warning', 'critical', 'resolved']);
      expect(m1?.headers['in-reply-to']).toBeUndefined();
      expect(m1?.headers.references).toBeUndefined();
      expect(m2?.messageId).toBe(second.id);
      for (const reply of [m2, m3]) {
        expect(reply?.headers['in-reply-to']).toBe(first.id);
        expect(reply?.headers.references).toBe(first.id);
      }
      expect(new Set(smtp.messages.map((m) => m.messageId)).size).toBe(3);
    });

    it('names the count in a group’s subject and gives a grown group a Message-ID of its own', async () => {
      const members = Array.from({ length: 3 }, (_, i) => anomaly({ id: `grp-${i}`, subject: { developer: `dev${i}@acme.com` } }));
      const first = members[0] ?? anomaly();
      const email = channel();
      const small = await email.send({ anomaly: first, group: members.slice(0, 2), reason: 'new', to, receiver });
      const grown = await email.send({
        anomaly: first,
        group: members,
        reason: 'grown',
        to,
        receiver,
        thread: { parentId: small.id, broadcast: false },
      });
      await email.close();
      expect(smtp.messages.map((m) => m.subject)).toEqual([
        '[Burnrate] 2 session cost anomalies for team payments',
        'Re: [Burnrate] 3 session cost anomalies for team payments',
      ]);
      expect(grown.id).not.toBe(small.id);
      expect(smtp.messages[1]?.headers.references).toBe(small.id);
    });

    it('refuses a parent that is not a Message-ID, so nothing can be added to the headers', async () => {
      const email = channel();
      const err = await email
        .send({ anomaly: anomaly(), reason: 'grown', to, receiver, thread: { parentId: '<a@b>\r\nBcc: all@acme.com', broadcast: false } })
        .catch((e: unknown) => e);
      await email.close();
      expect(err).toMatchObject({ code: 'NOTIFY_REJECTED', retriable: false });
      expect(smtp.messages).toHaveLength(0);
    });
  });
});
