import { z } from 'zod';
import { Duration, Id, readsFields } from './primitives.ts';

// Who may post usage to Burnrate. A source is one emitter (a Claude Code fleet, a LiteLLM proxy, an
// export script) holding API keys. The file stores only each key's SHA-256: it is checked into
// repositories and shown in reviews, and a hash there lets nobody post.

export const Sha256Hex = z
  .string()
  .regex(/^[0-9a-f]{64}$/, { message: 'expected the SHA-256 of the key as 64 lower-case hex digits (burnrate keys new prints it)' });

const Instant = z.iso.datetime({ offset: true, message: 'expected an ISO-8601 instant such as 2026-12-31T00:00:00Z' });

const KeyObject = z
  .object({
    sha256: Sha256Hex,
    // Who holds it or where it is deployed, for the person rotating it.
    label: z.string().max(200).optional(),
    // From this instant the key is refused as expired: the end of a rotation's overlap.
    expires_at: Instant.optional(),
    // A leaked key: refused from this instant, and the refusal says it was revoked. Kept in the
    // file (rather than deleted) so attempts with it are counted as revoked, not as unknown.
    revoked_at: Instant.optional(),
  })
  .strict();

/** One key of a source (its hash, or the hash with dates); several may be valid at once while a key is rotated. */
export const SourceKey = z.union([Sha256Hex.transform((sha256): z.infer<typeof KeyObject> => ({ sha256 })), KeyObject]);

const Domain = z.string().regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, {
  message: 'expected a lower-case domain such as acme.com',
});

const RateLimit = z
  .object({
    // Requests a source may make per second, on average.
    requests_per_second: z.number().positive().max(1_000_000),
    // Requests it may make at once after a quiet spell (an exporter flushing a backlog).
    burst: z.number().int().min(1).max(1_000_000),
  })
  .strict();

export const Source = z
  .object({
    name: Id,
    keys: z.array(SourceKey).min(1, { message: 'a source needs at least one key' }).max(16),
    // The team this source speaks for: every record it sends must be attributed to this team, and
    // identities the config cannot place are attributed to it instead of `unattributed`.
    team: Id.optional(),
    // The tool this source speaks for (a record's `tool`, e.g. claude-code): a record naming
    // another tool is refused.
    emitter: z.string().min(1).max(100).optional(),
    // The email domains it may claim: a record naming a developer outside them is refused.
    domains: z.array(Domain).min(1).optional(),
    // This source's own limit, when it is busier than the default (a proxy for a whole org).
    rate_limit: RateLimit.optional(),
    // Trust the team a record declares (Claude Code's `team.id` resource attribute, a LiteLLM
    // key's team, a posted `team`) for identities the config places nowhere, when it names a
    // configured team: the sender knows the team, the config does not know the person. Members
    // and ownership rules still win.
    trust_team_id: z.boolean().optional(),
  })
  .strict()
  .superRefine(
    (source, ctx) => {
      if (source.trust_team_id === true && source.team !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['trust_team_id'],
          message: `source "${source.name}" speaks for team "${source.team}" already; trust_team_id would never apply, remove one`,
        });
      }
    },
    readsFields('trust_team_id', 'team', 'name'),
  );

export const IngestAuth = z.enum(['keys', 'none']);

export const IngestTrustConfig = {
  // `keys`: every request needs a source's key. `none`: anyone who reaches the port may post —
  // only for a trial on loopback; `burnrate start` warns when it listens beyond loopback.
  auth: IngestAuth.default('keys'),
  // Per source (per client address under `auth: none`, and for requests without a valid key).
  rate_limit: RateLimit.default({ requests_per_second: 50, burst: 200 }),
  // How long an accepted event_id is remembered: a resend within it is recognised as a duplicate
  // (answered as accepted, counted once), and the same id with other content is refused.
  dedupe_window: Duration.default(48 * 3_600_000),
};

export type SourceConfig = z.infer<typeof Source>;
export type SourceKeyConfig = z.infer<typeof SourceKey>;
export type IngestAuthMode = z.infer<typeof IngestAuth>;
