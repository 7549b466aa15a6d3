import { ConfigError, parseConfig } from '@burnrate/core';
import { verifyWebhookSignature } from '@burnrate/testing';
import { describe, expect, it } from 'vitest';
import { receiverSchema } from '../registry.ts';
import { webhook, webhookIdempotencyKey, webhookSignature } from './webhook.ts';

/** `path (line n): message` of every problem with one receiver of a team; empty when it loads. */
function receiverIssues(receiver: string): string[] {
  try {
    parseConfig(`org: acme\nteams:\n  - id: payments\n    receivers:\n      - ${receiver}\n`, '<inline>', { receiver: receiverSchema });
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.issues.map((i) => `${i.path}${i.line ? ` (line ${i.line})` : ''}: ${i.message}`);
  }
}

describe('webhook signature', () => {
  const body = '{"type":"anomaly","anomaly":{"id":"a1","version":2}}';
  const now = Date.parse('2026-11-27T14:05:00Z');
  const t = Math.floor(now / 1000);

  it('is t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">, which the documented check accepts', () => {
    const header = webhookSignature('whsec_test', body, t);
    expect(header).toMatch(new RegExp(`^t=${t},v1=[0-9a-f]{64}$`));
    expect(verifyWebhookSignature(header, body, 'whsec_test', 300, now)).toBe(true);
  });

  it('fails the check for another secret, another body or a timestamp outside the replay window', () => {
    const header = webhookSignature('whsec_test', body, t);
    expect(verifyWebhookSignature(header, body, 'whsec_other', 300, now)).toBe(false);
    expect(verifyWebhookSignature(header, body.replace('"version":2', '"version":3'), 'whsec_test', 300, now)).toBe(false);
    expect(verifyWebhookSignature(header, body, 'whsec_test', 300, now + 301_000)).toBe(false);
    expect(verifyWebhookSignature(webhookSignature('whsec_test', body, t - 600), body, 'whsec_test', 300, now)).toBe(false);
    expect(verifyWebhookSignature(undefined, body, 'whsec_test', 300, now)).toBe(false);
  });
});

describe('webhookIdempotencyKey', () => {
  it('is fixed by anomaly id, version and receiver, and header-safe for any id', () => {
    const key = webhookIdempotencyKey('a1', 2, 'webhook:ops');
    expect(key).toMatch(/^burnrate-[0-9a-f]{40}$/);
    expect(webhookIdempotencyKey('a1', 2, 'webhook:ops')).toBe(key);
    expect(webhookIdempotencyKey('a1', 3, 'webhook:ops')).not.toBe(key);
    expect(webhookIdempotencyKey('a1', 2, 'webhook:audit')).not.toBe(key);
    expect(webhookIdempotencyKey('session ✓ \n x', 1, 'webhook:ops')).toMatch(/^burnrate-[0-9a-f]{40}$/);
  });
});

describe('webhook receivers in burnrate.yaml', () => {
  it('reads a URL or the variable that holds one, and the variable that holds the signing secret', () => {
    expect(
      receiverIssues('{ channel: webhook, name: ops-bus, url: "https://hooks.acme.internal/burnrate", secret_env: OPS_SECRET }'),
    ).toEqual([]);
    expect(receiverIssues('{ channel: webhook, name: ops-bus, url_env: OPS_URL, secret_env: OPS_SECRET }')).toEqual([]);
    expect(webhook.to(webhook.receiver.parse({ channel: 'webhook', name: 'ops-bus', url_env: 'U', secret_env: 'S' }))).toEqual(['ops-bus']);
  });

  it.each([
    [
      'no secret',
      '{ channel: webhook, name: w, url: "https://x.example" }',
      ['teams[0].receivers[0].secret_env (line 5): is required (string)'],
    ],
    [
      'a secret in the file',
      '{ channel: webhook, name: w, url: "https://x.example", secret: abc, secret_env: S }',
      ['teams[0].receivers[0] (line 5): unknown key "secret"'],
    ],
    [
      'url and url_env',
      '{ channel: webhook, name: w, url: "https://x.example", url_env: U, secret_env: S }',
      ['teams[0].receivers[0] (line 5): give the webhook one of url or url_env'],
    ],
    [
      'neither url nor url_env',
      '{ channel: webhook, name: w, secret_env: S }',
      ['teams[0].receivers[0] (line 5): give the webhook one of url or url_env'],
    ],
    [
      'a URL that is not http(s)',
      '{ channel: webhook, name: w, url: "ftp://x.example", secret_env: S }',
      ['teams[0].receivers[0].url (line 5): expected an http(s) URL'],
    ],
    [
      'no name',
      '{ channel: webhook, url: "https://x.example", secret_env: S }',
      ['teams[0].receivers[0].name (line 5): is required (string)'],
    ],
    [
      'a name with a comma',
      '{ channel: webhook, name: "a,b", url: "https://x.example", secret_env: S }',
      ['teams[0].receivers[0].name (line 5): expected a lowercase name of letters, digits, ., - and _ (e.g. payments-oncall)'],
    ],
  ])('names the problem for %s', (_name, receiver, expected) => {
    expect(receiverIssues(receiver)).toEqual(expected);
  });
});
