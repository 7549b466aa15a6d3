import { BurnrateError, type HttpResponse, type IncomingRequest, type Route } from '@burnrate/core';
import type { DlqRecord, UsageEvent } from '@burnrate/schemas';
import { createIngestCore, type IngestRoutesOptions, type RejectedEntry } from './ingest-core.ts';
import { LITELLM_SOURCE, normalizeLiteLlm } from './litellm.ts';
import { type NormalizeContext, type NormalizeResult, normalizeRecord, type RecordIssue } from './normalize.ts';
import { createOtlpExports } from './otlp-export.ts';
import { bodyText, parseJsonRecords, parseNdjsonRecords, type PostedItem } from './parse-body.ts';
import { toDlqRecord } from './publish.ts';

export type { IngestRoutesOptions, RejectedEntry } from './ingest-core.ts';

export const HTTP_EVENTS_SOURCE = 'http_events';

const JSON_TYPES = new Set(['application/json']);
const NDJSON_TYPES = new Set(['application/x-ndjson', 'application/ndjson', 'application/jsonl']);

export interface EventsResponse {
  /** Records taken, resends of already accepted ones included. */
  accepted: number;
  /** Of those, resends of events already accepted: counted once, not published again. */
  duplicates: number;
  /** Records that are no spend (a LiteLLM failure or response-cache hit), by reason; absent when none. */
  ignored?: Record<string, number>;
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

/**
 * The HTTP receivers: `POST /v1/events` (normalised records) and OTLP/HTTP `POST /v1/logs` and
 * `/v1/metrics` (JSON or protobuf, see otlp-export.ts). Every response that says "accepted" is sent
 * only after the events and the rejected records are durable on the bus; if the bus fails the
 * answer is 503, never 2xx.
 */
export function createIngestRoutes(options: IngestRoutesOptions): Route[] {
  const { clock, log, gate } = options;
  const { context, refusePast, refuseOverClaims, publishChecked } = createIngestCore(options);
  const otlp = createOtlpExports(options);

  /**
   * A receiver of records, one normalised at a time: JSON (an array or one) or NDJSON in; each
   * record published, dead-lettered with its reasons, or (for a source whose records may be no
   * spend at all) ignored by reason.
   */
  const recordsRoute =
    (source: string, normalize: (raw: unknown, ctx: NormalizeContext) => NormalizeResult | { ignored: string }, hint: string) =>
    async (req: IncomingRequest): Promise<HttpResponse> => {
      const principal = gate.admit(req);
      const ndjson = NDJSON_TYPES.has(req.contentType);
      if (!ndjson && !JSON_TYPES.has(req.contentType)) {
        throw unsupportedType(req.path, req.contentType, [
          'application/json (an array of records or one record)',
          'application/x-ndjson (one record per line)',
        ]);
      }
      const text = bodyText(await req.body(), hint);
      const items = ndjson ? parseNdjsonRecords(text) : parseJsonRecords(text);
      if (items.length === 0) throw new BurnrateError('INPUT_INVALID', 'request body holds no records');
      refusePast(items.length, 'records');

      const ctx = context(source, principal);
      const receivedAt = clock.now();
      const events: UsageEvent[] = [];
      const eventItems: PostedItem[] = [];
      const dlq: DlqRecord[] = [];
      const rejected: RejectedEntry[] = [];
      const forbidden: RejectedEntry[] = [];
      const reject = (item: PostedItem, issues: readonly RecordIssue[]): void => {
        rejected.push(...issues.map((issue) => ({ index: item.index, ...issue })));
        const raw = item.text ?? JSON.stringify(item.value);
        dlq.push(toDlqRecord({ source, index: item.index, issues, raw, receivedAt }));
      };
      const ignored: Record<string, number> = {};
      for (const item of items) {
        const result =
          item.text !== undefined
            ? { ok: false as const, issues: [{ field: '(record)', message: item.error }] }
            : normalize(item.value, ctx);
        if ('ignored' in result) ignored[result.ignored] = (ignored[result.ignored] ?? 0) + 1;
        else if (result.ok) {
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

      const skipped = Object.keys(ignored).length > 0 ? { ignored } : {};
      if (dlq.length === 0) return { status: 200, body: { accepted, duplicates, rejected: [], ...skipped } satisfies EventsResponse };
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
          ...skipped,
          error: {
            code: 'INPUT_INVALID',
            message: `${dlq.length} of ${items.length} records were rejected (see rejected); ${accepted} were accepted`,
            retriable: false,
          },
        } satisfies EventsResponse,
      };
    };

  return [
    {
      method: 'POST',
      path: '/v1/events',
      handler: recordsRoute(HTTP_EVENTS_SOURCE, normalizeRecord, 'send a JSON array of usage records, one record, or NDJSON'),
    },
    {
      method: 'POST',
      path: '/v1/litellm',
      handler: recordsRoute(
        LITELLM_SOURCE,
        normalizeLiteLlm,
        "send LiteLLM's generic API logger payloads (log_format json_array, ndjson or single)",
      ),
    },
    { method: 'POST', path: '/v1/logs', handler: (req) => otlp.http('logs', req) },
    { method: 'POST', path: '/v1/metrics', handler: (req) => otlp.http('metrics', req) },
  ];
}
