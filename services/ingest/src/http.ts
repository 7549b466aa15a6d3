import type { Producer } from '@burnrate/bus';
import {
  BurnrateError,
  type Clock,
  type Config,
  type ConfigSource,
  type HttpResponse,
  type IncomingRequest,
  type Logger,
  type Route,
} from '@burnrate/core';
import { createPriceCatalog, type PriceCatalog } from '@burnrate/pricing';
import type { DlqRecord, UsageEvent } from '@burnrate/schemas';
import { type Attributor, createAttributor } from './attribution.ts';
import type { IngestGate, IngestPrincipal } from './auth.ts';
import type { EventLedger, Verdict } from './ledger.ts';
import { type NormalizeContext, normalizeRecord, type RecordIssue } from './normalize.ts';
import { CLAUDE_CODE_OTEL_SOURCE, countLogRecords, otlpLogsToUsageEvents } from './otlp-logs.ts';
import { bodyText, parseJsonDocument, parseJsonRecords, parseNdjsonRecords, type PostedItem } from './parse-body.ts';
import { publishBatch, toDlqRecord } from './publish.ts';

export const HTTP_EVENTS_SOURCE = 'http_events';

const JSON_TYPES = new Set(['application/json']);
const NDJSON_TYPES = new Set(['application/x-ndjson', 'application/ndjson', 'application/jsonl']);
const PROTOBUF_TYPES = new Set(['application/x-protobuf', 'application/protobuf']);

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
}

/** One problem of one rejected record in a /v1/events response. */
export interface RejectedEntry {
  index: number;
  field: string;
  message: string;
}

export interface EventsResponse {
  /** Records taken, resends of already accepted ones included. */
  accepted: number;
  /** Of those, resends of events already accepted: counted once, not published again. */
  duplicates: number;
  rejected: RejectedEntry[];
  /** Present when some records were rejected, so clients that only read `error` still see why. */
  error?: { code: 'INPUT_INVALID'; message: string; retriable: false };
}

function unsupportedType(path: string, got: string, accepted: readonly string[]): BurnrateError {
  return new BurnrateError(
    'UNSUPPORTED_MEDIA_TYPE',
    `Content-Type ${got ? `"${got}"` : '(none)'} is not accepted on ${path}; send ${accepted.join(' or ')}`,
    { details: { accepted_content_types: [...accepted] } },
  );
}

function requireOtlpJson(req: IncomingRequest): void {
  if (JSON_TYPES.has(req.contentType)) return;
  if (PROTOBUF_TYPES.has(req.contentType)) {
    throw new BurnrateError(
      'UNSUPPORTED_MEDIA_TYPE',
      `OTLP protobuf is not supported yet on ${req.path}; set OTEL_EXPORTER_OTLP_PROTOCOL=http/json (or the per-signal OTEL_EXPORTER_OTLP_LOGS_PROTOCOL / OTEL_EXPORTER_OTLP_METRICS_PROTOCOL) so the exporter sends application/json`,
      { details: { accepted_content_types: ['application/json'] } },
    );
  }
  throw unsupportedType(req.path, req.contentType, ['application/json (OTLP/HTTP JSON)']);
}

/**
 * The HTTP receivers: `POST /v1/events` (normalised records) and OTLP/HTTP JSON `POST /v1/logs`
 * and `/v1/metrics`. Every response that says "accepted" is sent only after the events and the
 * rejected records are durable on the bus; if the bus fails the answer is 503, never 2xx.
 */
export function createIngestRoutes(options: IngestRoutesOptions): Route[] {
  const { producer, clock, log } = options;
  const currentConfig = (): Config => options.config.current();
  // Built once per config: the price catalog holds the config's own price rows.
  const derived = new WeakMap<Config, { attribute: Attributor; catalog: PriceCatalog }>();

  const { gate, ledger } = options;

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

  /**
   * Publishes the new events, skips resends, and dead-letters reused ids with other content.
   * Resolves with each event's verdict once the new ones are durable; the ledger forgets them if
   * the publish fails, so the client's retry is new again.
   */
  const publishChecked = async (
    events: readonly UsageEvent[],
    dlq: DlqRecord[],
    conflict: (event: UsageEvent, index: number, issue: RecordIssue) => void,
  ): Promise<Verdict[]> => {
    const entries = events.map((e) => ({ event_id: e.event_id, fingerprint: e.fingerprint ?? '' }));
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
    return verdicts;
  };

  const postEvents = async (req: IncomingRequest): Promise<HttpResponse> => {
    const principal = gate.admit(req);
    const ndjson = NDJSON_TYPES.has(req.contentType);
    if (!ndjson && !JSON_TYPES.has(req.contentType)) {
      throw unsupportedType(req.path, req.contentType, [
        'application/json (an array of records or one record)',
        'application/x-ndjson (one record per line)',
      ]);
    }
    const text = bodyText(await req.body(), 'send a JSON array of usage records, one record, or NDJSON');
    const items = ndjson ? parseNdjsonRecords(text) : parseJsonRecords(text);
    if (items.length === 0) throw new BurnrateError('INPUT_INVALID', 'request body holds no records');
    refusePast(items.length, 'records');

    const ctx = context(HTTP_EVENTS_SOURCE, principal);
    const receivedAt = clock.now();
    const events: UsageEvent[] = [];
    const eventItems: PostedItem[] = [];
    const dlq: DlqRecord[] = [];
    const rejected: RejectedEntry[] = [];
    const forbidden: RejectedEntry[] = [];
    const reject = (item: PostedItem, issues: readonly RecordIssue[]): void => {
      rejected.push(...issues.map((issue) => ({ index: item.index, ...issue })));
      const raw = item.text ?? JSON.stringify(item.value);
      dlq.push(toDlqRecord({ source: HTTP_EVENTS_SOURCE, index: item.index, issues, raw, receivedAt }));
    };
    for (const item of items) {
      const result =
        item.text !== undefined
          ? { ok: false as const, issues: [{ field: '(record)', message: item.error }] }
          : normalizeRecord(item.value, ctx);
      if (result.ok) {
        events.push(result.event);
        eventItems.push(item);
      } else if ('forbidden' in result) forbidden.push(...result.issues.map((issue) => ({ index: item.index, ...issue })));
      else reject(item, result.issues);
    }
    if (forbidden.length > 0) refuseOverClaims(principal, forbidden, items.length);

    const verdicts = await publishChecked(events, dlq, (_event, i, issue) => reject(eventItems[i] as PostedItem, [issue]));
    rejected.sort((a, b) => a.index - b.index);
    const duplicates = verdicts.filter((v) => v.kind === 'duplicate').length;
    const accepted = verdicts.filter((v) => v.kind !== 'conflict').length;

    if (dlq.length === 0) return { status: 200, body: { accepted, duplicates, rejected: [] } satisfies EventsResponse };
    log.info({ source: principal.source, accepted, duplicates, rejected: dlq.length }, 'rejected some posted usage records');
    // 400, not 207: a client that only checks for 2xx must notice that records were refused.
    // The good ones are already published, and resending the whole batch is safe because
    // event ids are deterministic, so the 400 costs a careless client nothing but a duplicate.
    return {
      status: 400,
      body: {
        accepted,
        duplicates,
        rejected,
        error: {
          code: 'INPUT_INVALID',
          message: `${dlq.length} of ${items.length} records were rejected (see rejected); the other ${accepted} were accepted`,
          retriable: false,
        },
      } satisfies EventsResponse,
    };
  };

  const postLogs = async (req: IncomingRequest): Promise<HttpResponse> => {
    const principal = gate.admit(req);
    requireOtlpJson(req);
    const body = parseJsonDocument(bodyText(await req.body(), 'send an OTLP ExportLogsServiceRequest as JSON'));
    refusePast(countLogRecords(body), 'log records');
    const conversion = otlpLogsToUsageEvents(body, context(CLAUDE_CODE_OTEL_SOURCE, principal));
    if (conversion.forbidden.length > 0) {
      refuseOverClaims(
        principal,
        conversion.forbidden.flatMap((r) => r.issues.map((issue) => ({ index: r.index, ...issue }))),
        conversion.total,
      );
    }
    const receivedAt = clock.now();
    const toDlq = (r: { index: number; issues: readonly RecordIssue[]; raw: string }): DlqRecord =>
      toDlqRecord({ source: CLAUDE_CODE_OTEL_SOURCE, index: r.index, issues: r.issues, raw: r.raw, receivedAt });
    const rejectedRecords = [...conversion.rejected];
    const dlq = rejectedRecords.map(toDlq);

    await publishChecked(conversion.events, dlq, (event, i, issue) => {
      const origin = conversion.origins[i] as { index: number; raw: () => string };
      const record = { index: origin.index, issues: [issue], raw: origin.raw() };
      rejectedRecords.push(record);
      dlq.push(toDlq(record));
    });

    log.debug(
      {
        source: principal.source,
        records: conversion.total,
        events: conversion.events.length,
        rejected: dlq.length,
        ignored: conversion.ignored,
      },
      'otlp logs received',
    );
    if (dlq.length === 0) return { status: 200, body: { partialSuccess: {} } };
    // OTLP: a partly rejected export is still a 200, with partialSuccess; a non-2xx would make the
    // exporter retry records we have already published. int64 counts are strings in OTLP JSON.
    const first = rejectedRecords
      .slice(0, 3)
      .map((r) => `record ${r.index}: ${r.issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`)
      .join(' | ');
    return {
      status: 200,
      body: {
        partialSuccess: {
          rejectedLogRecords: String(dlq.length),
          errorMessage: `${dlq.length} api_request log records rejected (kept in the dead-letter queue): ${first}`,
        },
      },
    };
  };

  // Metrics are parsed (so a bad body is a 400) and acknowledged, but not turned into events:
  // the api_request log events carry the same spend per request, and counting both would
  // double every dollar. Double counting is worse than not counting.
  const postMetrics = async (req: IncomingRequest): Promise<HttpResponse> => {
    gate.admit(req);
    requireOtlpJson(req);
    const value = parseJsonDocument(bodyText(await req.body(), 'send an OTLP ExportMetricsServiceRequest as JSON'));
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new BurnrateError('INPUT_INVALID', 'expected an OTLP ExportMetricsServiceRequest: a JSON object with resourceMetrics');
    }
    const resourceMetrics = (value as { resourceMetrics?: unknown }).resourceMetrics;
    if (resourceMetrics !== undefined && !Array.isArray(resourceMetrics))
      throw new BurnrateError('INPUT_INVALID', 'resourceMetrics: expected an array');
    return { status: 200, body: { partialSuccess: {} } };
  };

  return [
    { method: 'POST', path: '/v1/events', handler: postEvents },
    { method: 'POST', path: '/v1/logs', handler: postLogs },
    { method: 'POST', path: '/v1/metrics', handler: postMetrics },
  ];
}
