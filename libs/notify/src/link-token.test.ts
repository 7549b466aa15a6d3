import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { actionLinkUrl, LINK_ACTIONS, linkSecretFrom, signLinkToken, verifyLinkToken } from './link-token.ts';

const SECRET = 'a-link-secret-of-at-least-32-characters';
const NOW = new Date('2026-11-27T10:00:00Z');
const IN_A_WEEK = NOW.getTime() / 1000 + 7 * 86_400;

describe('link tokens', () => {
  it('round-trips every action, one anomaly or a group', () => {
    for (const action of [...LINK_ACTIONS, 'view'] as const) {
      const token = signLinkToken(SECRET, { anomalyIds: ['a1'], action, by: 'leads@acme.com', expiresAt: IN_A_WEEK });
      expect(verifyLinkToken(SECRET, token, NOW)).toEqual({
        ok: true,
        claims: { anomalyIds: ['a1'], action, by: 'leads@acme.com', expiresAt: IN_A_WEEK },
      });
    }
    const group = signLinkToken(SECRET, { anomalyIds: ['a1', 'a2', 'a3'], action: 'ack', by: 'x@acme.com', expiresAt: IN_A_WEEK });
    expect(verifyLinkToken(SECRET, group, NOW)).toMatchObject({ ok: true, claims: { anomalyIds: ['a1', 'a2', 'a3'] } });
    const fromPage = signLinkToken(SECRET, { anomalyIds: ['a1'], action: 'ack', by: 'web', expiresAt: IN_A_WEEK, via: 'console' });
    expect(verifyLinkToken(SECRET, fromPage, NOW)).toMatchObject({ ok: true, claims: { via: 'console' } });
  });

  it('is base64url JSON { a, x, b, e } and a base64url HMAC-SHA256 of it', () => {
    const token = signLinkToken(SECRET, { anomalyIds: ['a1'], action: 'snooze:1h', by: 'b@acme.com', expiresAt: 1_800_000_000 });
    const [payload, signature] = token.split('.') as [string, string];
    expect(JSON.parse(Buffer.from(payload, 'base64url').toString())).toEqual({
      a: 'a1',
      x: 'snooze:1h',
      b: 'b@acme.com',
      e: 1_800_000_000,
    });
    expect(signature).toBe(createHmac('sha256', SECRET).update(payload).digest('base64url'));
    // Safe in a path segment and in a query string without escaping.
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  });

  it('refuses a token past its expiry, but says whose it was', () => {
    const token = signLinkToken(SECRET, { anomalyIds: ['a1'], action: 'ack', by: 'b@acme.com', expiresAt: NOW.getTime() / 1000 });
    const verdict = verifyLinkToken(SECRET, token, NOW);
    expect(verdict).toMatchObject({ ok: false, problem: 'expired', claims: { anomalyIds: ['a1'] } });
    expect(verifyLinkToken(SECRET, token, new Date(NOW.getTime() - 1000)).ok).toBe(true);
  });

  it('refuses a changed payload, a changed signature, another secret and garbage', () => {
    const token = signLinkToken(SECRET, { anomalyIds: ['a1'], action: 'ack', by: 'b@acme.com', expiresAt: IN_A_WEEK });
    const [payload, signature] = token.split('.') as [string, string];
    // Someone turns an ack into a resolve, or points it at another anomaly, keeping the signature.
    const edited = Buffer.from(JSON.stringify({ a: 'other', x: 'resolve:noise', b: 'b@acme.com', e: IN_A_WEEK + 1e6 })).toString(
      'base64url',
    );
    expect(verifyLinkToken(SECRET, `${edited}.${signature}`, NOW)).toMatchObject({ ok: false, problem: 'forged' });
    const flipped = `${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`;
    expect(verifyLinkToken(SECRET, `${payload}.${flipped}`, NOW)).toMatchObject({ ok: false, problem: 'forged' });
    expect(verifyLinkToken(`${SECRET}-rotated`, token, NOW)).toMatchObject({ ok: false, problem: 'forged' });
    expect(verifyLinkToken(SECRET, `${payload}.${signature.slice(0, 20)}`, NOW)).toMatchObject({ ok: false, problem: 'forged' });
    for (const junk of ['', '.', 'abc', `${payload}.`, `.${signature}`, `${payload}.${signature}.x`, 'a b.c', '<script>.x']) {
      expect(verifyLinkToken(SECRET, junk, NOW).ok, junk).toBe(false);
    }
  });

  it('refuses a genuine signature over content it does not understand', () => {
    const sign = (payload: unknown) => {
      const text = Buffer.from(JSON.stringify(payload)).toString('base64url');
      return `${text}.${createHmac('sha256', SECRET).update(text).digest('base64url')}`;
    };
    for (const bad of [
      { a: 'a1', x: 'delete', b: 'b', e: IN_A_WEEK },
      { a: '', x: 'ack', b: 'b', e: IN_A_WEEK },
      { a: 'a1', g: [1], x: 'ack', b: 'b', e: IN_A_WEEK },
      { a: 'a1', x: 'ack', e: IN_A_WEEK },
      { a: 'a1', x: 'ack', b: 'b', e: 'soon' },
      { a: 'a1', x: 'ack', b: 'b', e: IN_A_WEEK, c: 'slack' },
      'just a string',
    ]) {
      expect(verifyLinkToken(SECRET, sign(bad), NOW)).toMatchObject({ ok: false, problem: 'malformed' });
    }
  });

  it('puts the token under public_url', () => {
    expect(actionLinkUrl('https://burnrate.acme.internal/', 'p.s')).toBe('https://burnrate.acme.internal/act/p.s');
  });

  it('takes BURNRATE_LINK_SECRET only when it is long enough to resist guessing', () => {
    expect(linkSecretFrom({})).toBeUndefined();
    expect(linkSecretFrom({ BURNRATE_LINK_SECRET: '' })).toBeUndefined();
    expect(linkSecretFrom({ BURNRATE_LINK_SECRET: SECRET })).toBe(SECRET);
    expect(() => linkSecretFrom({ BURNRATE_LINK_SECRET: 'short' })).toThrow(/BURNRATE_LINK_SECRET is 5 characters; it needs at least 32/);
  });
});
