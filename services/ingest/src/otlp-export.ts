import { BurnrateError, errorResponse, type HttpResponse, type IncomingRequest, isBurnrateError } from '@burnrate/core';
import type { DlqRecord } from '@burnrate/schemas';
import type { IngestPrincipal } from './auth.ts';
import { createIngestCore, type IngestRoutesOptions } from './ingest-core.ts';
import { CLAUDE_CODE_OTEL_SOURCE, countLogRecords, otlpLogsToUsageEvents } from './otlp-logs.ts';
import { CLAUDE_CODE_METRICS_SOURCE, otlpMetricsToUsageEvents } from './otlp-metrics.ts';
import { decodeOtlp, encodeOtlpResponse, encodeStatus, type OtlpSignal } from './otlp-proto.ts';
import { bodyText, parseJsonDocument } from './parse-body.ts';
import { toDlqRecord } from './publish.ts';
import type { RecordIssue } from './normalize.ts';

/** An Export…ServiceResponse in its JSON shape: empty `partialSuccess` when everything was taken. */
export interface OtlpExportResponse {
  partialSuccess: { rejectedLogRecords?: string; rejectedDataPoints?: string; errorMessage?: string };
}

/** How a request reached us, for the refusal log. */
export interface OtlpCaller {
  transport: 'http' | 'grpc';
  remoteAddress: string;
  principal?: IngestPrincipal;
}

export interface OtlpExports {
  /**
   * Takes an ExportLogsServiceRequest (OTLP/HTTP JSON shape, however it arrived): one usage event
   * per Claude Code `api_request`; resolves once they and the rejected records are durable.
   */
  logs(body: unknown, principal: IngestPrincipal): Promise<OtlpExportResponse>;
  /** Takes an ExportMetricsServiceRequest: Claude Code's cost and token metrics as claude_code_metrics events (otlp-metrics.ts). */
  metrics(body: unknown, principal: IngestPrincipal): Promise<OtlpExportResponse>;
  /** The OTLP/HTTP receiver of one signal: JSON or protobuf in, the same encoding out. */
  http(signal: OtlpSignal, req: IncomingRequest): Promise<HttpResponse>;
  /** Logs a refused export at warn, at most once a minute per sender, signal and reason. */
  refused(signal: OtlpSignal, caller: OtlpCaller, err: unknown): void;
}

const JSON_TYPE = 'application/json';
const PROTOBUF_TYPES: ReadonlySet<string> = new Set(['application/x-protobuf', 'application/protobuf']);
const REFUSAL_LOG_EVERY_MS = 60_000;

/** Refusals the ingest gate already counts and logs (missing or bad keys, rate limits, over-claiming). */
const LOGGED_BY_GATE: ReadonlySet<string> = new Set(['UNAUTHORIZED', 'RATE_LIMITED', 'FORBIDDEN']);

/**
 * The gRPC status code for an HTTP status, for the `google.rpc.Status` of an OTLP/HTTP protobuf
 * error and for the OTLP/gRPC receivers. Retryable answers (429, 503) become UNAVAILABLE, which
 * every OTLP exporter retries with backoff; refusals become codes it does not retry.
 */
export function grpcCodeOf(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
    case 415:
      return 3; // INVALID_ARGUMENT
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 404:
      return 5; // NOT_FOUND
    case 413:
      return 8; // RESOURCE_EXHAUSTED (without RetryInfo: not retried)
    case 429:
    case 503:
      return 14; // UNAVAILABLE
    default:
      return 13; // INTERNAL
  }
}

const SIGNAL_MESSAGE: Record<OtlpSignal, string> = {
  logs: 'ExportLogsServiceRequest',
  metrics: 'ExportMetricsServiceRequest',
};

/**
 * The OTLP receivers' work, shared by OTLP/HTTP (JSON and protobuf) and OTLP/gRPC: each transport
 * decodes into the OTLP/HTTP JSON shape and hands it here, so a record becomes the same event with
 * the same id whichever way it came.
 */
export function createOtlpExports(options: IngestRoutesOptions): OtlpExports {
  const { clock, log, gate } = options;
  const { context, refusePast, refuseOverClaims, publishChecked } = createIngestCore(options);
  const lastLogged = new Map<string, { at: number; since: number }>();

  const logs = async (body: unknown, principal: IngestPrincipal): Promise<OtlpExportResponse> => {
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
    if (dlq.length === 0) return { partialSuccess: {} };
    // OTLP: a partly rejected export is still a success, with partialSuccess; an error would make
    // the exporter retry records we have already published. int64 counts are strings in OTLP JSON.
    const first = rejectedRecords
      .slice(0, 3)
      .map((r) => `record ${r.index}: ${r.issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`)
      .join(' | ');
    return {
      partialSuccess: {
        rejectedLogRecords: String(dlq.length),
        errorMessage: `${dlq.length} api_request log records rejected (kept in the dead-letter queue): ${first}`,
      },
    };
  };

  // Claude Code's cost and token metrics become claude_code_metrics bucket events (otlp-metrics.ts):
  // a report of the spend the api_request log events carry, which source precedence keeps out of
  // detection where those events arrive, and the reconciliation compares with them.
  const metrics = async (body: unknown, principal: IngestPrincipal): Promise<OtlpExportResponse> => {
    const conversion = otlpMetricsToUsageEvents(body, context(CLAUDE_CODE_METRICS_SOURCE, principal));
    refusePast(conversion.points, 'metric data points');
    const receivedAt = clock.now();
    const toDlq = (r: { index: number; issues: readonly RecordIssue[]; raw: string }): DlqRecord =>
      toDlqRecord({ source: CLAUDE_CODE_METRICS_SOURCE, index: r.index, issues: r.issues, raw: r.raw, receivedAt });
    const rejected = [...conversion.rejected];
    const dlq = rejected.map(toDlq);
    await publishChecked(conversion.events, dlq, (event, _i, issue) => {
      const record = { index: -1, issues: [issue], raw: JSON.stringify(event) };
      rejected.push(record);
      dlq.push(toDlq(record));
    });
    log.debug(
      {
        source: principal.source,
        points: conversion.points,
        events: conversion.events.length,
        rejected: dlq.length,
        cumulative: conversion.cumulative,
      },
      'otlp metrics received',
    );
    const problems: string[] = [];
    if (dlq.length > 0) {
      const first = rejected
        .slice(0, 3)
        .map((r) => `data point ${r.index}: ${r.issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`)
        .join(' | ');
      problems.push(`${dlq.length} claude_code cost intervals rejected (kept in the dead-letter queue): ${first}`);
    }
    if (conversion.cumulative > 0) {
      problems.push(
        `${conversion.cumulative} cumulative data points not read: set OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta (Claude Code's default)`,
      );
    }
    if (problems.length === 0) return { partialSuccess: {} };
    return { partialSuccess: { rejectedDataPoints: String(dlq.length + conversion.cumulative), errorMessage: problems.join('; ') } };
  };

  const refused = (signal: OtlpSignal, caller: OtlpCaller, err: unknown): void => {
    if (!isBurnrateError(err) || LOGGED_BY_GATE.has(err.code) || errorResponse(err).status >= 500) return;
    const who = caller.principal?.source ?? caller.remoteAddress;
    const key = `${who}\u001f${signal}\u001f${err.code}`;
    const t = clock.now().getTime();
    const last = lastLogged.get(key);
    if (last !== undefined && t - last.at < REFUSAL_LOG_EVERY_MS) {
      last.since += 1;
      return;
    }
    lastLogged.set(key, { at: t, since: 0 });
    log.warn(
      {
        transport: caller.transport,
        signal,
        source: caller.principal?.source,
        remoteAddress: caller.remoteAddress,
        code: err.code,
        ...(last !== undefined ? { alsoSinceLastLog: last.since } : {}),
      },
      `OTLP ${signal} export refused: ${err.message}`,
    );
  };

  const http = async (signal: OtlpSignal, req: IncomingRequest): Promise<HttpResponse> => {
    const protobuf = PROTOBUF_TYPES.has(req.contentType);
    let principal: IngestPrincipal | undefined;
    try {
      principal = gate.admit(req);
      if (!protobuf && req.contentType !== JSON_TYPE) {
        throw new BurnrateError(
          'UNSUPPORTED_MEDIA_TYPE',
          `Content-Type ${req.contentType ? `"${req.contentType}"` : '(none)'} is not accepted on ${req.path}; send application/x-protobuf (OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf) or application/json (http/json)`,
          { details: { accepted_content_types: ['application/x-protobuf', JSON_TYPE] } },
        );
      }
      const raw = await req.body();
      const body = protobuf ? decodeOtlp(signal, raw) : parseJsonDocument(bodyText(raw, `send an OTLP ${SIGNAL_MESSAGE[signal]} as JSON`));
      const answer = signal === 'logs' ? await logs(body, principal) : await metrics(body, principal);
      if (!protobuf) return { status: 200, body: answer };
      return { status: 200, headers: { 'content-type': 'application/x-protobuf' }, body: encodeOtlpResponse(signal, answer) };
    } catch (err) {
      refused(signal, { transport: 'http', remoteAddress: req.remoteAddress, ...(principal ? { principal } : {}) }, err);
      if (!protobuf) throw err;
      // OTLP/HTTP protobuf: an error's body is a google.rpc.Status in protobuf, status and headers kept.
      const answer = errorResponse(err, log);
      const message = (answer.body as { error?: { message?: string } } | undefined)?.error?.message ?? 'error';
      return {
        status: answer.status,
        headers: { ...answer.headers, 'content-type': 'application/x-protobuf' },
        body: encodeStatus(grpcCodeOf(answer.status), message),
      };
    }
  };

  return { logs, metrics, http, refused };
}
