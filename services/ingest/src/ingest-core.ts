import type { Producer } from '@burnrate/bus';
import { BurnrateError, type Clock, type Config, type ConfigSource, type Logger } from '@burnrate/core';
import { createPriceCatalog, type PriceCatalog } from '@burnrate/pricing';
import type { DlqRecord, UsageEvent } from '@burnrate/schemas';
import { type Attributor, createAttributor } from './attribution.ts';
import type { IngestGate, IngestPrincipal } from './auth.ts';
import { createIngestTally, type IngestTally } from './ingest-tally.ts';
import type { EventLedger, Verdict } from './ledger.ts';
import type { NormalizeContext, RecordIssue } from './normalize.ts';
import { publishBatch } from './publish.ts';

export interface IngestRoutesOptions {
  /** Read per request, so a reloaded config (members, ownership, prices, limits) applies to the next one. */
  config: ConfigSource;
  producer: Producer;
  clock: Clock;
  log: Logger;
  /** Most records one request may carry; more is a 413. Overrides `ingest.limits.max_records_per_request`. */
  maxBatch?: number;
  /** Who may post (keys, claims, rate limits). */
  gate: IngestGate;
  /** Event ids accepted recently: resends are duplicates, reused ids with other content are refused. */
  ledger: EventLedger;
  /** Where published records are counted by source and outcome (for /metrics); one per process, shared like the ledger. */
  tally?: IngestTally;
}

/** One problem of one rejected record in a /v1/events response. */
export interface RejectedEntry {
  index: number;
  field: string;
  message: string;
}

/** What every receiver (HTTP, OTLP over HTTP or gRPC) does with what it was sent. */
export interface IngestCore {
  /** The normalisation context for a request from `principal`, under the current config. */
  context: (source: string, principal: IngestPrincipal) => NormalizeContext;
  /** Throws INPUT_TOO_LARGE when a request holds more than the per-request limit. */
  refusePast: (count: number, what: string) => void;
  /** Refuses the whole request (403) for records that claim more than the sender may. */
  refuseOverClaims: (principal: IngestPrincipal, forbidden: readonly RejectedEntry[], total: number) => never;
  /**
   * Publishes the new events, skips resends, and dead-letters reused ids with other content.
   * Resolves with each event's verdict once the new ones are durable; the ledger forgets them if
   * the publish fails, so the client's retry is new again.
   */
  publishChecked: (
    events: readonly UsageEvent[],
    dlq: DlqRecord[],
    conflict: (event: UsageEvent, index: number, issue: RecordIssue) => void,
  ) => Promise<Verdict[]>;
}

export function createIngestCore(options: IngestRoutesOptions): IngestCore {
  const { producer, clock } = options;
  const currentConfig = (): Config => options.config.current();
  // Built once per config: the price catalog holds the config's own price rows.
  const derived = new WeakMap<Config, { attribute: Attributor; catalog: PriceCatalog }>();

  const { gate, ledger } = options;
  const tally = options.tally ?? createIngestTally();

  const context = (source: string, principal: IngestPrincipal): NormalizeContext => {
    const config = currentConfig();
    let forConfig = derived.get(config);
    if (!forConfig) {
      forConfig = { attribute: createAttributor(config), catalog: createPriceCatalog(config.pricing.prices) };
      derived.set(config, forConfig);
    }
    const { attribute, catalog } = forConfig;
    return {
      org: config.org,
      source,
      catalog,
      attribute,
      clock,
      limits: config.ingest.limits,
      ...(principal.claims !== undefined ? { claims: principal.claims } : {}),
    };
  };

  const refusePast = (count: number, what: string): void => {
    const max = options.maxBatch ?? currentConfig().ingest.limits.max_records_per_request;
    if (count <= max) return;
    throw new BurnrateError(
      'INPUT_TOO_LARGE',
      `request holds ${count} ${what}; the limit is ${max} per request (ingest.limits.max_records_per_request), split it`,
      { details: { max_records: max } },
    );
  };

  /** A request whose records over-claim is refused whole: nothing of it is published. */
  const refuseOverClaims = (principal: IngestPrincipal, forbidden: readonly RejectedEntry[], total: number): never => {
    gate.count('over_claiming', principal);
    throw new BurnrateError(
      'FORBIDDEN',
      `${forbidden.length} of ${total} records claim more than source "${principal.source}" may; nothing from this request was accepted`,
      { details: { rejected: forbidden.slice(0, 100) } },
    );
  };

  const publishChecked = async (
    events: readonly UsageEvent[],
    dlq: DlqRecord[],
    conflict: (event: UsageEvent, index: number, issue: RecordIssue) => void,
  ): Promise<Verdict[]> => {
    const entries = events.map((e) => ({ event_id: e.event_id, fingerprint: e.fingerprint ?? '' }));
    // What the caller dead-lettered as invalid; the conflicts below are added after them.
    const invalid = dlq.length;
    const verdicts = await ledger.reserve(entries);
    const fresh: UsageEvent[] = [];
    verdicts.forEach((verdict, i) => {
      const event = events[i] as UsageEvent;
      if (verdict.kind === 'new') fresh.push(event);
      else if (verdict.kind === 'conflict') {
        conflict(event, i, {
          field: 'event_id',
          message: `${event.event_id} was already accepted with other content (first at ${verdict.firstSeenAt}); events are immutable, send a correction under a new event_id`,
        });
      }
    });
    try {
      await publishBatch(producer, fresh, dlq);
    } catch (err) {
      ledger.settle(entries, verdicts, false);
      throw err;
    }
    ledger.settle(entries, verdicts, true);
    verdicts.forEach((verdict, i) => {
      const outcome = verdict.kind === 'new' ? 'accepted' : verdict.kind;
      tally.events((events[i] as UsageEvent).source, outcome, 1);
    });
    dlq.forEach((record, i) => {
      if (i < invalid) tally.events(record.source, 'rejected', 1);
      tally.deadLetter(record, i < invalid ? 'invalid_record' : 'conflict');
    });
    return verdicts;
  };

  return { context, refusePast, refuseOverClaims, publishChecked };
}
