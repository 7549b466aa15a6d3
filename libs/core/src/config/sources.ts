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
    sha256: Sha256Hex.describe('The SHA-256 of the key (burnrate keys new prints it); the key itself is never written here.'),
    label: z
      .string()
      .max(200)
      .optional()
      .meta({ description: 'Who holds it or where it is deployed, for the person rotating it.', examples: ['payments laptops'] }),
    expires_at: Instant.optional().meta({
      description: "From this instant the key is refused as expired: the end of a rotation's overlap.",
      examples: ['2026-12-31T00:00:00Z'],
    }),
    // Kept in the file (rather than deleted) so attempts with it are counted as revoked, not as unknown.
    revoked_at: Instant.optional().describe('A leaked key: refused from this instant, and the refusal says it was revoked.'),
  })
  .strict();

/** One key of a source (its hash, or the hash with dates); several may be valid at once while a key is rotated. */
export const SourceKey = z
  .union([Sha256Hex.transform((sha256): z.infer<typeof KeyObject> => ({ sha256 })), KeyObject])
  .describe('A key: its SHA-256, or { sha256, label, expires_at, revoked_at }.');

const Domain = z.string().regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, {
  message: 'expected a lower-case domain such as acme.com',
});

const RateLimit = z
  .object({
    requests_per_second: z
      .number()
      .positive()
      .max(1_000_000)
      .meta({ description: 'Requests per second, on average.', examples: [50] }),
    burst: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .meta({ description: 'Requests at once after a quiet spell (an exporter flushing a backlog).', examples: [200] }),
  })
  .strict();

export const Source = z
  .object({
    name: Id.meta({ description: "The source's name, in logs and refusals.", examples: ['claude-code-payments'] }),
    keys: z
      .array(SourceKey)
      .min(1, { message: 'a source needs at least one key' })
      .max(16)
      .describe('Its keys; several are valid at once while a key is rotated.'),
    team: Id.optional().meta({
      description:
        "The team this source speaks for: every record it sends must belong to this team, and identities the config cannot place become this team's.",
      examples: ['payments'],
    }),
    emitter: z
      .string()
      .min(1)
      .max(100)
      .optional()
      .meta({
        description: "The tool this source speaks for (a record's tool): a record naming another tool is refused.",
        examples: ['claude-code'],
      }),
    domains: z
      .array(Domain)
      .min(1)
      .optional()
      .meta({
        description: 'The email domains it may claim: a record naming a developer outside them is refused.',
        examples: [['acme.com']],
      }),
    rate_limit: RateLimit.optional().describe("This source's own limit, when it is busier than the default (a proxy for a whole org)."),
    // The sender knows the team, the config does not know the person.
    trust_team_id: z
      .boolean()
      .optional()
      .describe(
        "Trust the team a record declares (Claude Code's team.id, a LiteLLM key's team) for identities the config places nowhere, when it names a configured team; members and ownership rules still win.",
      ),
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
  // `burnrate start` warns when `none` listens beyond loopback.
  auth: IngestAuth.default('keys').describe(
    "keys: every request needs a source's key. none: anyone who reaches the port may post (only for a trial on loopback).",
  ),
  rate_limit: RateLimit.default({ requests_per_second: 50, burst: 200 }).describe(
    'The limit per source (per client address under auth: none, and for requests without a valid key).',
  ),
  dedupe_window: Duration.default(48 * 3_600_000).meta({
    description:
      'How long an accepted event_id is remembered: a resend within it is a duplicate (accepted, counted once), the same id with other content is refused.',
    examples: ['48h'],
  }),
};

export type SourceConfig = z.infer<typeof Source>;
export type SourceKeyConfig = z.infer<typeof SourceKey>;
export type IngestAuthMode = z.infer<typeof IngestAuth>;
