import { BurnrateError, type IncomingRequest } from '@burnrate/core';

/** The console's forms are a few fields; a pasted config proposal is the largest. */
export const FORM_LIMIT_BYTES = 256 * 1024;

/** A urlencoded form body; another media type is a clear 415. */
export async function readForm(req: IncomingRequest, limitBytes = FORM_LIMIT_BYTES): Promise<URLSearchParams> {
  const raw = await req.body(limitBytes);
  if (raw.length === 0) return new URLSearchParams();
  if (req.contentType !== 'application/x-www-form-urlencoded') {
    throw new BurnrateError(
      'UNSUPPORTED_MEDIA_TYPE',
      `console forms are posted as application/x-www-form-urlencoded, not ${JSON.stringify(req.contentType || '(none)')}`,
    );
  }
  return new URLSearchParams(raw.toString('utf8'));
}
