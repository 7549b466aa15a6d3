import type { Producer } from '@burnrate/bus';
import { BurnrateError, type Clock, type Config, type HttpResponse, type IncomingRequest, type Logger, type Route } from '@burnrate/core';
import type { PriceCatalog } from '@burnrate/pricing';
import type { DlqRecord, UsageEvent } from '@burnrate/schemas';
import { type Attributor, createAttributor } from './attribution.ts';
import { type NormalizeContext, normalizeRecord } from './normalize.ts';
import { CLAUDE_CODE_OTEL_SOURCE, countLogRecords, otlpLogsToUsageEvents } from './otlp-logs.ts';
import { bodyText, parseJsonDocument, parseJsonRecords, parseNdjsonRecords } from './parse-body.ts';
import { publishBatch, toDlqRecord } from './publish.ts';

export const HTTP_EVENTS_SOURCE = 'http_events';

const JSON_TYPES = new Set(['application/json']);
const NDJSON_TYPES = new Set(['application/x-ndjson', 'application/ndjson', 'application/jsonl']);
const PROTOBUF_TYPES = new Set(['application/x-protobuf', 'application/protobuf']);

export interface IngestRoutesOptions {
  /** A function when the config can be reloaded: each request uses the current one. */
  config: Config | (() => Config);
  catalog: PriceCatalog | (() => PriceCatalog);
  producer: Producer;
  clock: Clock;
  log: Logger;
  /** Most records one request may carry; more is a 413. Overrides `ingest.limits.max_records_per_request`. */
  maxBatch?: number;
}

/** One problem of one rejected record in a /v1/events response. */
export interface RejectedEntry {
  index: number;
  field: string;
  message: string;
}

export interface EventsResponse {
  accepted: number;
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
  const currentConfig = typeof options.config === 'function' ? options.config : () => options.config as Config;
  const currentCatalog = typeof options.catalog === 'function' ? options.catalog : () => options.catalog as PriceCatalog;
  const attributors = new WeakMap<Config, Attributor>();

  const context = (source: string): NormalizeContext => {
    const config = currentConfig();
    let attribute = attributors.get(config);
    if (!attribute) {
      attribute = createAttributor(config);
      attributors.set(config, attribute);
    }
    return { org: config.org, source, catalog: currentCatalog(), attribute, clock, limits: config.ingest.limits };
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

  const postEvents = async (req: IncomingRequest): Promise<HttpResponse> => {
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

    const ctx = context(HTTP_EVENTS_SOURCE);
    const receivedAt = clock.now();
    const events: UsageEvent[] = [];
    const dlq: DlqRecord[] = [];
    const rejected: RejectedEntry[] = [];
    for (const item of items) {
      const result =
        item.text !== undefined
          ? { ok: false as const, issues: [{ field: '(record)', message: item.error }] }
          : normalizeRecord(item.value, ctx);
      if (result.ok) {
        events.push(result.event);
        continue;
      }
      rejected.push(...result.issues.map((issue) => ({ index: item.index, ...issue })));
      const raw = item.text ?? JSON.stringify(item.value);
      dlq.push(toDlqRecord({ source: HTTP_EVENTS_SOURCE, index: item.index, issues: result.issues, raw, receivedAt }));
    }

    await publishBatch(producer, events, dlq);

    if (dlq.length === 0) return { status: 200, body: { accepted: events.length, rejected: [] } satisfies EventsResponse };
    log.info({ accepted: events.length, rejected: dlq.length }, 'rejected some posted usage records');
    // 400, not 207: a client that only checks for 2xx must notice that records were refused.
    // The good ones are already published, and resending the whole batch is safe because
    // event ids are deterministic, so the 400 costs a careless client nothing but a duplicate.
    return {
      status: 400,
      body: {
        accepted: events.length,
        rejected,
        error: {
          code: 'INPUT_INVALID',
          message: `${dlq.length} of ${items.length} records were rejected (see rejected); the other ${events.length} were accepted`,
          retriable: false,
        },
      } satisfies EventsResponse,
    };
  };

  const postLogs = async (req: IncomingRequest): Promise<HttpResponse> => {
    requireOtlpJson(req);
    const body = parseJsonDocument(bodyText(await req.body(), 'send an OTLP ExportLogsServiceRequest as JSON'));
    refusePast(countLogRecords(body), 'log records');
    const conversion = otlpLogsToUsageEvents(body, context(CLAUDE_CODE_OTEL_SOURCE));
    const receivedAt = clock.now();
    const dlq = conversion.rejected.map((r) =>
      toDlqRecord({ source: CLAUDE_CODE_OTEL_SOURCE, index: r.index, issues: r.issues, raw: r.raw, receivedAt }),
    );

    await publishBatch(producer, conversion.events, dlq);

    log.debug(
      { records: conversion.total, events: conversion.events.length, rejected: dlq.length, ignored: conversion.ignored },
      'otlp logs received',
    );
    if (dlq.length === 0) return { status: 200, body: { partialSuccess: {} } };
    // OTLP: a partly rejected export is still a 200, with partialSuccess; a non-2xx would make the
    // exporter retry records we have already published. int64 counts are strings in OTLP JSON.
    const first = conversion.rejected
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
