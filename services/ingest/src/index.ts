export { createIngestRoutes, HTTP_EVENTS_SOURCE, type EventsResponse, type IngestRoutesOptions, type RejectedEntry } from './http.ts';
export {
  buildUsageEvent,
  normalizeRecord,
  type NormalizeContext,
  type NormalizeResult,
  type RecordIssue,
  type UsageFields,
} from './normalize.ts';
export { createAttributor, type Attribution, type Attributor, type Identity } from './attribution.ts';
export {
  CLAUDE_CODE_OTEL_SOURCE,
  countLogRecords,
  otlpLogsToUsageEvents,
  type OtlpLogsConversion,
  type RejectedLogRecord,
} from './otlp-logs.ts';
export { CLAUDE_CODE_METRICS_SOURCE, otlpMetricsToUsageEvents, type OtlpMetricsConversion } from './otlp-metrics.ts';
export { LITELLM_SOURCE, normalizeLiteLlm } from './litellm.ts';
export { deterministicEventId } from './event-id.ts';
export { createIngestCore, type IngestCore } from './ingest-core.ts';
export { publishBatch, toDlqRecord } from './publish.ts';
export { createIngestGate, keyHash, type IngestGate, type IngestGateStats, type IngestPrincipal, type Refusal } from './auth.ts';
export { createEventLedger, warmLedger, type AcceptedEventIds, type EventLedger, type LedgerStats, type Verdict } from './ledger.ts';
export { createOtlpExports, grpcCodeOf, type OtlpCaller, type OtlpExportResponse, type OtlpExports } from './otlp-export.ts';
export { createOtlpGrpcServer, DEFAULT_OTLP_GRPC_PORT, type OtlpGrpcServer, type OtlpGrpcServerOptions } from './otlp-grpc.ts';
export { decodeOtlp, otlpTypes, type OtlpSignal } from './otlp-proto.ts';
export {
  createTranscriptDeduper,
  readTranscriptLine,
  TRANSCRIPT_SOURCE,
  type PostedUsageRecord,
  type TranscriptIdentity,
  type TranscriptLine,
} from './claude-transcript.ts';
export { CSV_FORMATS, CSV_SOURCES, csvRowRecord, type CsvFormat, type CsvRecord, type CsvRow } from './csv-records.ts';
export { createIngestTally, type IngestCount, type IngestOutcome, type IngestTally } from './ingest-tally.ts';
export { registerIngestMetrics } from './ingest-metrics.ts';
export { createDlqReplayer } from './dlq-replay.ts';
