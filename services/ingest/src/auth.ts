import { hash } from 'node:crypto';
import { BurnrateError, type Config, type ConfigSource, type IncomingRequest, type Logger, type SourceConfig } from '@burnrate/core';
import { UNATTRIBUTED } from '@burnrate/schemas';
import type { Attribution } from './attribution.ts';
import type { ClaimCheck } from './normalize.ts';
import { createTokenBuckets, type RateLimit } from './rate-limit.ts';

/** Who sent a request, as far as ingest is concerned. */
export interface IngestPrincipal {
  /** The source's name from the config; `open` when `ingest.auth` is none. */
  source: string;
  /** What the source may claim; undefined when it may claim anything. */
  claims: ClaimCheck | undefined;
}

export const REFUSALS = ['missing_key', 'unknown_key', 'revoked_key', 'expired_key', 'over_claiming', 'rate_limited'] as const;
export type Refusal = (typeof REFUSALS)[number];

export interface IngestGateStats {
  /** Requests refused since start, by why. */
  refused: Record<Refusal, number>;
  /** Requests let in since start, by source. */
  admitted: Record<string, number>;
}

export interface IngestGate {
  /** The request's sender; throws UNAUTHORIZED (401) without a valid key, RATE_LIMITED (429) past its limit. */
  admit(req: IncomingRequest): IngestPrincipal;
  /** Counts a request refused after admission (a record over-claiming: 403). */
  count(refusal: Refusal, principal: IngestPrincipal): void;
  stats(): IngestGateStats;
}

export interface IngestGateOptions {
  /** Read per request, so a reloaded config's keys and limits apply at once. */
  config: ConfigSource;
  now: () => number;
  log: Logger;
}

/** SHA-256 hex of a key, as `sources[].keys[].sha256` holds it. */
export const keyHash = (key: string): string => hash('sha256', key, 'hex');

interface KeyEntry {
  source: SourceConfig;
  revokedAt?: number;
  expiresAt?: number;
  claims: ClaimCheck | undefined;
}

/**
 * The key index of one config: key hash → source. A lookup by the hash of what was presented
 * leaks nothing about stored keys through timing (the attacker cannot steer the hash), so no
 * constant-time comparison is needed.
 */
function indexKeys(config: Config): Map<string, KeyEntry> {
  const index = new Map<string, KeyEntry>();
  const teamIds = new Set(config.teams.map((t) => t.id));
  for (const source of config.sources) {
    const claims = claimCheck(source, teamIds);
    for (const key of source.keys) {
      index.set(key.sha256, {
        source,
        claims,
        ...(key.revoked_at !== undefined ? { revokedAt: Date.parse(key.revoked_at) } : {}),
        ...(key.expires_at !== undefined ? { expiresAt: Date.parse(key.expires_at) } : {}),
      });
    }
  }
  return index;
}

const HOW: Record<Attribution['matched_by'], string> = {
  member: 'a member of it',
  alias: 'an alias of one of its members',
  ownership: 'by an ownership rule',
  source: 'by the source',
  unattributed: 'unattributed',
};

function inDomains(email: string, domains: readonly string[]): boolean {
  const at = email.lastIndexOf('@');
  const domain = email.slice(at + 1).toLowerCase();
  return domains.some((d) => domain === d || domain.endsWith(`.${d}`));
}

/** The claims a source's key carries, or undefined when it may claim anything. */
export function claimCheck(source: SourceConfig, teamIds: ReadonlySet<string>): ClaimCheck | undefined {
  const { name, team, emitter, domains } = source;
  const trustTeamId = source.trust_team_id === true;
  if (team === undefined && emitter === undefined && domains === undefined && !trustTeamId) return undefined;
  return ({ identity, tool }, who) => {
    if (emitter !== undefined && tool !== emitter) {
      return { ok: false, issue: { field: 'tool', message: `is "${tool}"; source "${name}" may only send usage of ${emitter}` } };
    }
    if (domains !== undefined) {
      for (const email of [identity.email, who.developer_email]) {
        if (email !== undefined && email.trim() !== '' && !inDomains(email.trim(), domains)) {
          return {
            ok: false,
            issue: {
              field: 'developer_email',
              message: `${email} is outside the domains source "${name}" may claim (${domains.join(', ')})`,
            },
          };
        }
      }
    }
    if (team !== undefined) {
      if (who.team === UNATTRIBUTED) return { ok: true, who: { ...who, team, matched_by: 'source' } };
      if (who.team !== team) {
        return {
          ok: false,
          issue: {
            field: 'team',
            message: `the record belongs to team "${who.team}" (${who.developer} is ${HOW[who.matched_by]}); source "${name}" may only send for team "${team}"`,
          },
        };
      }
    }
    if (trustTeamId && who.team === UNATTRIBUTED) {
      const declared = identity.team_id?.trim().toLowerCase();
      if (declared !== undefined && teamIds.has(declared)) return { ok: true, who: { ...who, team: declared, matched_by: 'source' } };
    }
    return { ok: true, who };
  };
}

/** The key a request presents: `Authorization: Bearer <key>` or `X-Burnrate-Key: <key>`. */
function presentedKey(req: IncomingRequest): string | undefined {
  const authorization = req.headers.authorization;
  if (typeof authorization === 'string' && authorization.trim() !== '') {
    // `%20`: OTEL_EXPORTER_OTLP_HEADERS values are URL-encoded, and some exporters send them as is.
    const bearer = /^Bearer(?:\s+|%20)(\S+)\s*$/i.exec(authorization.trim());
    if (bearer) return bearer[1];
    throw new BurnrateError('UNAUTHORIZED', 'the Authorization header must be "Bearer <key>" with a source key from burnrate.yaml');
  }
  const header = req.headers['x-burnrate-key'];
  if (typeof header === 'string' && header.trim() !== '') return header.trim();
  return undefined;
}

const OPEN: IngestPrincipal = { source: 'open', claims: undefined };

/**
 * Authentication and rate limits for the ingest routes. Under `ingest.auth: keys` a request must
 * present a key whose SHA-256 is a source's, not revoked or expired; the source's claims then
 * bound what its records may say. Each source has a token bucket; requests without a valid key
 * share one per client address, so guessing keys is slow and cannot crowd out real senders.
 * Refusals are counted by reason and logged at most once a minute each.
 */
export function createIngestGate(options: IngestGateOptions): IngestGate {
  const { now, log } = options;
  const indexes = new WeakMap<Config, Map<string, KeyEntry>>();
  const buckets = createTokenBuckets();
  const refused = Object.fromEntries(REFUSALS.map((r) => [r, 0])) as Record<Refusal, number>;
  const admitted: Record<string, number> = {};
  const lastLogged = new Map<Refusal, { at: number; since: number }>();

  const count = (refusal: Refusal, principal: IngestPrincipal | undefined, req?: IncomingRequest): void => {
    refused[refusal] += 1;
    const t = now();
    const last = lastLogged.get(refusal);
    if (last !== undefined && t - last.at < 60_000) {
      last.since += 1;
      return;
    }
    lastLogged.set(refusal, { at: t, since: 0 });
    log.warn(
      {
        refusal,
        source: principal?.source,
        remoteAddress: req?.remoteAddress,
        path: req?.path,
        ...(last !== undefined ? { alsoSinceLastLog: last.since } : {}),
      },
      'ingest request refused',
    );
  };

  const limit = (key: string, rate: RateLimit, principal: IngestPrincipal | undefined, req: IncomingRequest): void => {
    const taken = buckets.take(key, rate, now());
    if (taken.ok) return;
    count('rate_limited', principal, req);
    throw new BurnrateError(
      'RATE_LIMITED',
      `too many requests from ${principal ? `source "${principal.source}"` : 'this address'}; retry later`,
      {
        retryAfterMs: taken.retryAfterMs,
      },
    );
  };

  const refuse = (refusal: Refusal, message: string, req: IncomingRequest, rate: RateLimit): never => {
    // A refused attempt costs the address a token, so guessing keys is as slow as the limit.
    limit(`address:${req.remoteAddress}`, rate, undefined, req);
    count(refusal, undefined, req);
    throw new BurnrateError('UNAUTHORIZED', message);
  };

  return {
    admit(req) {
      const config = options.config.current();
      const rate = config.ingest.rate_limit;
      if (config.ingest.auth === 'none') {
        limit(`address:${req.remoteAddress}`, rate, OPEN, req);
        admitted.open = (admitted.open ?? 0) + 1;
        return OPEN;
      }
      let key: string | undefined;
      try {
        key = presentedKey(req);
      } catch (err) {
        return refuse('missing_key', (err as Error).message, req, rate);
      }
      if (key === undefined) {
        return refuse(
          'missing_key',
          'ingest needs a source key: send Authorization: Bearer <key> (OTLP exporters: OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer%20<key>")',
          req,
          rate,
        );
      }
      let index = indexes.get(config);
      if (index === undefined) {
        index = indexKeys(config);
        indexes.set(config, index);
      }
      const entry = index.get(keyHash(key));
      if (entry === undefined) return refuse('unknown_key', 'the key is not a key of any source in burnrate.yaml', req, rate);
      const t = now();
      if (entry.revokedAt !== undefined && t >= entry.revokedAt) {
        return refuse('revoked_key', `the key was revoked at ${new Date(entry.revokedAt).toISOString()}`, req, rate);
      }
      if (entry.expiresAt !== undefined && t >= entry.expiresAt) {
        return refuse('expired_key', `the key expired at ${new Date(entry.expiresAt).toISOString()}`, req, rate);
      }
      const principal: IngestPrincipal = { source: entry.source.name, claims: entry.claims };
      limit(`source:${entry.source.name}`, entry.source.rate_limit ?? rate, principal, req);
      admitted[principal.source] = (admitted[principal.source] ?? 0) + 1;
      return principal;
    },
    count: (refusal, principal) => count(refusal, principal),
    stats: () => ({ refused: { ...refused }, admitted: { ...admitted } }),
  };
}
