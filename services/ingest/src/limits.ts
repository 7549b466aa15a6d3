import { formatDuration, type IngestLimits } from '@burnrate/core';

// The checks every source's records go through (see `boundIssues` in normalize.ts), as pure
// functions: each answers with a message, or undefined when the value is within its bound. A
// message quotes the value shortened and escaped, so a hostile value never reaches a response,
// a log line or the dead-letter queue whole.

/** RFC 5321's limit on a forward path: a longer address cannot be delivered to. */
export const MAX_EMAIL_LENGTH = 254;

/** Attributes on one event: they are a small descriptive map, not a payload. */
export const MAX_ATTRIBUTES = 64;

/**
 * How a text field is held:
 * - `identifier`: names that key state, route alerts and are shown to people (model, session_id,
 *   developer, attribute keys…). No control character at all, tab included, no line or paragraph
 *   separator, no bidirectional override (it reorders what a reader sees in Slack or email).
 * - `email`: an identifier of at most 254 characters.
 * - `description`: attribute values. Tab is allowed, as in any pasted text; other control
 *   characters and separators are not.
 */
export type TextKind = 'identifier' | 'email' | 'description';

// C0 controls, DEL, C1 controls, U+2028/U+2029, and for identifiers the bidi embeddings,
// overrides and isolates. Matching control characters is the point of these two patterns.
// eslint-disable-next-line no-control-regex
const NOT_IN_IDENTIFIER = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;
// eslint-disable-next-line no-control-regex
const NOT_IN_DESCRIPTION = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/u;

const PREVIEW_LENGTH = 40;

const hex = (code: number): string => code.toString(16).toUpperCase().padStart(4, '0');

/**
 * The value quoted for a message: at most 40 characters (then `…`), as a JSON string, with C1
 * controls, separators and bidi controls escaped too, so the message is printable, valid Unicode
 * and short.
 */
export function preview(value: string): string {
  let cut = value;
  if (value.length > PREVIEW_LENGTH) {
    const end = /[\ud800-\udbff]/.test(value.charAt(PREVIEW_LENGTH - 1)) ? PREVIEW_LENGTH - 1 : PREVIEW_LENGTH;
    cut = `${value.slice(0, end)}…`;
  }
  return JSON.stringify(cut).replace(/[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu, (c) => `\\u${hex(c.charCodeAt(0))}`);
}

/** A value as short JSON for a message (`{"stringValue":"lots"}`), cut at 60 characters, escaped as `preview` does. */
export function shortJson(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  const cut = json.length > 60 ? `${json.slice(0, /[\ud800-\udbff]/.test(json.charAt(59)) ? 59 : 60)}…` : json;
  return cut.replace(/[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu, (c) => `\\u${hex(c.charCodeAt(0))}`);
}

/** Where a lone surrogate sits, or -1. Only called once `isWellFormed` said there is one. */
function loneSurrogateAt(value: string): number {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i += 1;
      else return i;
    } else if (c >= 0xdc00 && c <= 0xdfff) return i;
  }
  return -1;
}

function limitOf(kind: TextKind, limits: IngestLimits): { max: number; name: string } {
  if (kind === 'email') return { max: Math.min(MAX_EMAIL_LENGTH, limits.max_text_length), name: 'the limit for an email address' };
  if (kind === 'description') return { max: limits.max_attribute_length, name: 'ingest.limits.max_attribute_length' };
  return { max: limits.max_text_length, name: 'ingest.limits.max_text_length' };
}

/**
 * Why `value` cannot be a text field of this kind, or undefined. Length first, so a huge value is
 * refused without being scanned; then Unicode (a lone surrogate cannot be stored as UTF-8, and
 * ClickHouse refuses the whole insert that holds one); then control characters.
 */
export function textIssue(value: string, kind: TextKind, limits: IngestLimits): string | undefined {
  const { max, name } = limitOf(kind, limits);
  if (value.length > max) {
    return `${preview(value)} is ${value.length.toLocaleString('en-US')} characters long; the limit is ${max} (${name})`;
  }
  if (!value.isWellFormed()) {
    const at = loneSurrogateAt(value);
    return `is not valid Unicode: a lone surrogate (U+${hex(value.charCodeAt(at))}) at character ${at + 1} of ${preview(value)}`;
  }
  const bad = (kind === 'description' ? NOT_IN_DESCRIPTION : NOT_IN_IDENTIFIER).exec(value);
  if (bad !== null) {
    const what = kind === 'description' ? 'text (tab is the one control character allowed)' : 'an identifier';
    return `holds a control character (U+${hex(bad[0].charCodeAt(0))}) at character ${bad.index + 1} of ${preview(value)}; not allowed in ${what}`;
  }
  return undefined;
}

/**
 * Keys that, as a plain object's own property, either vanish (`__proto__` sets the prototype, and
 * JSON tools drop it) or shadow what code reads off every object. An attribute named so is
 * refused rather than dropped.
 */
const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export function reservedKeyIssue(key: string): string | undefined {
  return RESERVED_KEYS.has(key)
    ? `"${key}" is a reserved name (JavaScript objects treat it as their prototype or constructor); rename the attribute`
    : undefined;
}

/** Why a cost cannot be taken, or undefined. `what` says whose cost it is when it was computed. */
export function costIssue(value: number, limits: IngestLimits, what = ''): string | undefined {
  if (value <= limits.max_cost_usd_per_event) return undefined;
  return `${what}${String(value)} USD is above the limit of ${limits.max_cost_usd_per_event} USD per event (ingest.limits.max_cost_usd_per_event)`;
}

/** Why a token count or request count cannot be taken, or undefined. */
export function countIssue(value: number, limits: IngestLimits): string | undefined {
  if (value <= limits.max_tokens_per_event) return undefined;
  return `${String(value)} is above the limit of ${limits.max_tokens_per_event} per event (ingest.limits.max_tokens_per_event)`;
}

function isoOf(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString();
}

/**
 * Why an event time cannot be taken, or undefined: it must be within [now − max_age,
 * now + max_future] of the ingest clock. Older events would fall out of the store on arrival
 * (max_age is at most its retention); later ones are a broken clock or a made-up time.
 */
export function timeIssue(ms: number, nowMs: number, limits: IngestLimits): string | undefined {
  if (ms < nowMs - limits.max_age) {
    return `${isoOf(ms)} is more than ${formatDuration(limits.max_age)} before the ingest clock (${isoOf(nowMs)}); the limit is ingest.limits.max_age`;
  }
  if (ms > nowMs + limits.max_future) {
    return `${isoOf(ms)} is more than ${formatDuration(limits.max_future)} after the ingest clock (${isoOf(nowMs)}); the limit is ingest.limits.max_future`;
  }
  return undefined;
}
