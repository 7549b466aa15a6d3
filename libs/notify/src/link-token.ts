import { createHmac, timingSafeEqual } from 'node:crypto';
import { BurnrateError } from '@burnrate/core';

/**
 * Signed, expiring links: what an email's Acknowledge / Snooze / Resolve links and the anomaly
 * page's forms carry, so that whoever holds the link (and nobody else) can act on the anomalies
 * it names until it expires, without an account or an API token.
 *
 * A token is `<payload>.<signature>`: the payload is base64url JSON
 * `{ a: anomaly id, g?: more anomaly ids (a group), x: action, b: who it was made for, e: expiry epoch s,
 * c?: 'console' when the anomaly page made it }`,
 * the signature base64url HMAC-SHA256 of the payload text with BURNRATE_LINK_SECRET. Nothing in
 * it is secret (the anomaly id and the receiver's address are in the email anyway); it only has
 * to be unforgeable.
 */

/** What a link does when its form is posted. */
export const LINK_ACTIONS = [
  'ack',
  'snooze:1h',
  'snooze:tomorrow',
  'snooze:1w',
  'resolve:expected',
  'resolve:real',
  'resolve:noise',
] as const;
export type LinkAction = (typeof LINK_ACTIONS)[number];

/**
 * A link that only opens the anomaly page and lets its holder use the page's forms (which carry
 * fresh action tokens for the same person); it never acts by itself.
 */
export const VIEW_LINK = 'view';
export type LinkPurpose = LinkAction | typeof VIEW_LINK;

export interface LinkClaims {
  /** The anomalies it acts on: one, or every anomaly of a group message. At least one. */
  anomalyIds: readonly string[];
  action: LinkPurpose;
  /** Who it was made for (the email's addresses): recorded as the decision's `by`. */
  by: string;
  /** Epoch seconds after which it is refused. */
  expiresAt: number;
  /** Where the decision is said to come from: an email (the default) or the anomaly page (`console`). */
  via?: 'email' | 'console';
}

/** How long an email's links work: a week covers a holiday weekend and a slow inbox. */
export const DEFAULT_LINK_LIFETIME_S = 7 * 24 * 3600;

/** The shortest BURNRATE_LINK_SECRET accepted: a guessable key would let anyone forge links. */
export const MIN_LINK_SECRET_LENGTH = 32;

/**
 * Checks BURNRATE_LINK_SECRET once at start-up: undefined when it is unset, the secret when it
 * is usable, and a CONFIG_INVALID error naming the variable when it is too short (a process
 * that would sign forgeable links does not start).
 */
export function linkSecretFrom(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const secret = env.BURNRATE_LINK_SECRET;
  if (secret === undefined || secret === '') return undefined;
  if (secret.length < MIN_LINK_SECRET_LENGTH) {
    throw new BurnrateError(
      'CONFIG_INVALID',
      `BURNRATE_LINK_SECRET is ${secret.length} characters; it needs at least ${MIN_LINK_SECRET_LENGTH} (e.g. openssl rand -base64 32)`,
    );
  }
  return secret;
}

interface Payload {
  a: string;
  g?: string[];
  x: string;
  b: string;
  e: number;
  c?: 'console';
}

const mac = (secret: string, payload: string): Buffer => createHmac('sha256', secret).update(payload).digest();

export function signLinkToken(secret: string, claims: LinkClaims): string {
  const [first, ...rest] = claims.anomalyIds;
  if (first === undefined) throw new BurnrateError('INPUT_INVALID', 'a link token names at least one anomaly');
  const payload: Payload = {
    a: first,
    ...(rest.length > 0 ? { g: [...rest] } : {}),
    x: claims.action,
    b: claims.by,
    e: claims.expiresAt,
    ...(claims.via === 'console' ? { c: 'console' as const } : {}),
  };
  const text = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
  return `${text}.${mac(secret, text).toString('base64url')}`;
}

export type LinkVerdict =
  | { ok: true; claims: LinkClaims }
  /** `malformed`: not a token at all; `forged`: the signature does not match (tampered, or another secret); `expired`: genuine but too old. */
  | { ok: false; problem: 'malformed' | 'forged'; message: string }
  | { ok: false; problem: 'expired'; message: string; claims: LinkClaims };

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Reads a token back: the signature is checked (in constant time) before anything in the
 * payload is trusted, then the expiry against `now`.
 */
export function verifyLinkToken(secret: string, token: string, now: Date): LinkVerdict {
  const dot = token.indexOf('.');
  const text = token.slice(0, dot);
  const signature = token.slice(dot + 1);
  if (dot <= 0 || !BASE64URL.test(text) || !BASE64URL.test(signature)) {
    return { ok: false, problem: 'malformed', message: 'this link is incomplete or not a Burnrate link' };
  }
  const given = Buffer.from(signature, 'base64url');
  const wanted = mac(secret, text);
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) {
    return { ok: false, problem: 'forged', message: 'this link was changed or was not made by this Burnrate' };
  }
  const claims = claimsOf(text);
  if (!claims) return { ok: false, problem: 'malformed', message: 'this link is signed but its content is not understood' };
  if (claims.expiresAt * 1000 <= now.getTime()) {
    return { ok: false, problem: 'expired', message: `this link expired on ${new Date(claims.expiresAt * 1000).toISOString()}`, claims };
  }
  return { ok: true, claims };
}

function claimsOf(text: string): LinkClaims | undefined {
  let p: Partial<Record<keyof Payload, unknown>>;
  try {
    p = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as typeof p;
  } catch {
    return undefined;
  }
  if (typeof p !== 'object' || p === null) return undefined;
  const rest = p.g === undefined ? [] : p.g;
  if (typeof p.a !== 'string' || p.a === '' || !Array.isArray(rest) || !rest.every((id) => typeof id === 'string' && id !== ''))
    return undefined;
  if (typeof p.x !== 'string' || !(p.x === VIEW_LINK || (LINK_ACTIONS as readonly string[]).includes(p.x))) return undefined;
  if (typeof p.b !== 'string' || p.b === '' || typeof p.e !== 'number' || !Number.isFinite(p.e)) return undefined;
  if (p.c !== undefined && p.c !== 'console') return undefined;
  return { anomalyIds: [p.a, ...(rest as string[])], action: p.x as LinkPurpose, by: p.b, expiresAt: p.e, ...(p.c ? { via: p.c } : {}) };
}

/** What people read for each action, on buttons, links and pages. */
export const LINK_ACTION_LABELS: Readonly<Record<LinkAction, string>> = {
  ack: 'Acknowledge',
  'snooze:1h': 'Snooze 1 hour',
  'snooze:tomorrow': 'Snooze until tomorrow morning',
  'snooze:1w': 'Snooze 1 week',
  'resolve:expected': 'Resolve: expected',
  'resolve:real': 'Resolve: real problem',
  'resolve:noise': 'Resolve: noise',
};

/** The action link for a token under public_url: `<public_url>/act/<token>`. */
export function actionLinkUrl(publicUrl: string, token: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/act/${token}`;
}
