import { z } from 'zod';
import { parseDuration } from '../duration.ts';

export const Duration = z
  .string()
  .refine((s) => parseDuration(s) !== undefined, { message: 'expected a duration such as 10s, 5m, 4h or 1d' })
  .transform((s) => parseDuration(s) as number);

export const TimeZone = z.string().refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  },
  { message: 'expected an IANA time zone such as Europe/Berlin or America/New_York' },
);

export const Id = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]*$/, { message: 'expected a lowercase id of letters, digits, - and _ (e.g. payments)' });

export const Email = z.email({ message: 'expected an email address such as alice@acme.com' }).transform((s) => s.toLowerCase());

export const SlackChannel = z
  .string()
  .regex(/^(#[a-z0-9][a-z0-9._-]*|[CGD][A-Z0-9]{6,})$/, { message: 'expected a channel like #name (or a channel id like C0123ABCD)' });

export const Money = z.number().finite().nonnegative();

/**
 * Options for a check across fields of one object, so it runs whenever the fields it reads are
 * valid, even if others are not: zod skips an object's checks after any problem inside it, and
 * `burnrate config check` would then reveal them only on a second run. An object that is not an
 * object at all is never checked.
 */
export function readsFields(...keys: string[]): { when: (payload: z.core.ParsePayload) => boolean } {
  return {
    when: (payload) =>
      !payload.issues.some((issue) => {
        const path = issue.path ?? [];
        return path.length === 0 ? issue.code !== 'unrecognized_keys' : keys.includes(String(path[0]));
      }),
  };
}
