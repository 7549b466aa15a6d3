import { BurnrateError, hasBearerToken, type IncomingRequest } from '@burnrate/core';

/** Who a request acts as when it does not say: the API token stands for one caller, not a person. */
export const API_IDENTITY = 'api';

/** The API's requests are a few fields; anything near this is a mistake or an attack. */
const BODY_LIMIT_BYTES = 64 * 1024;

/**
 * Refuses a request without `Authorization: Bearer <token>` when a token is configured. Without
 * one the API is open, as `burnrate start` on loopback is by default.
 */
export function authorize(req: Pick<IncomingRequest, 'headers'>, token: string | undefined): void {
  if (!token) return;
  if (!hasBearerToken(req, token))
    throw new BurnrateError('UNAUTHORIZED', 'this endpoint needs Authorization: Bearer <BURNRATE_API_TOKEN>');
}

/**
 * The request's JSON object body; an empty body is `{}` (a bare `curl -X POST …/ack` acknowledges).
 * A body that is not a JSON object is a 400 saying so; another media type a 415.
 */
export async function readJsonObject(req: IncomingRequest, limitBytes = BODY_LIMIT_BYTES): Promise<Record<string, unknown>> {
  const raw = await req.body(limitBytes);
  if (raw.length === 0 || raw.toString('utf8').trim() === '') return {};
  if (req.contentType !== 'application/json') {
    throw new BurnrateError(
      'UNSUPPORTED_MEDIA_TYPE',
      `send the body as JSON with Content-Type: application/json, not ${JSON.stringify(req.contentType || '(none)')}`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new BurnrateError('INPUT_INVALID', 'the body is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new BurnrateError('INPUT_INVALID', 'the body must be a JSON object, e.g. {"note":"looking into it"}');
  }
  return value as Record<string, unknown>;
}

/** Refuses fields the route does not know, so a typo (`resaon`) is not silently ignored. */
export function refuseUnknownFields(body: Record<string, unknown>, known: readonly string[], what: string): void {
  const unknown = Object.keys(body).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    throw new BurnrateError(
      'INPUT_INVALID',
      `${what} does not take ${unknown.map((k) => JSON.stringify(k)).join(', ')}; it takes ${known.join(', ')}`,
      { details: { fields: unknown } },
    );
  }
}

/** An optional string field: absent, or a non-empty string of at most `max` characters (trimmed). */
export function optionalText(body: Record<string, unknown>, field: string, max: number): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalidField(field, `must be a string, not ${describeValue(value)}`);
  const text = value.trim();
  if (text.length === 0) throw invalidField(field, 'must not be empty');
  if (text.length > max) throw invalidField(field, `must be at most ${max} characters, not ${text.length}`);
  return text;
}

export function invalidField(field: string, problem: string): BurnrateError {
  return new BurnrateError('INPUT_INVALID', `${field} ${problem}`, { details: { field } });
}

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return JSON.stringify(value);
}
